"""Spend velocity: what a card or account has spent within each limit window."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .state import Emulator


def _month_window_start(now: datetime) -> datetime:
    # Lithic's monthly window starts 6 days after the same calendar date one month earlier,
    # so payments that recur on slightly different days do not count twice.
    year, month = (now.year, now.month - 1) if now.month > 1 else (now.year - 1, 12)
    day = min(now.day, 28)
    return now.replace(year=year, month=month, day=day) + timedelta(days=6)


def _spent(emulator: Emulator, **match: str) -> list[tuple[datetime, int]]:
    """(created, amount) of each approved debit still held or settled."""
    rows = []
    for transaction in emulator.transactions.values():
        if any(getattr(transaction, name) != value for name, value in match.items()):
            continue
        if transaction.status not in ("PENDING", "SETTLED"):
            continue
        amount = transaction.hold + transaction.settled
        if amount > 0:
            rows.append((transaction.created, amount))
    return rows


def account_velocity(emulator: Emulator, account_token: str) -> dict[str, int]:
    """Approved spend of an account over the last day, month and its lifetime, in cents."""
    now = datetime.now().astimezone()
    rows = _spent(emulator, account_token=account_token)
    month_start = _month_window_start(now)
    return {
        "daily": sum(a for created, a in rows if created >= now - timedelta(days=1)),
        "monthly": sum(a for created, a in rows if created >= month_start),
        "lifetime": sum(a for _, a in rows),
    }


def card_velocity(emulator: Emulator, card_token: str) -> dict[str, int]:
    """Approved spend of a card over the trailing month, year and its lifetime, in cents."""
    now = datetime.now().astimezone()
    rows = _spent(emulator, card_token=card_token)
    month_start = _month_window_start(now)
    return {
        "monthly": sum(a for created, a in rows if created >= month_start),
        "annually": sum(a for created, a in rows if created >= now - timedelta(days=365)),
        "forever": sum(a for _, a in rows),
    }
