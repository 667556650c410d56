"""The ledger: append-only holds and postings per credit account, and what they must add up to."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass

import peewee

from app.accounts.models import CreditAccount
from app.db import execute, new_id, utcnow
from app.transactions.models import HOLD, POSTED, CardTransaction, LedgerEntry, TransactionEvent

logger = logging.getLogger(__name__)

# Transactions that give money back to the cardholder rather than take it.
CREDIT_OPENERS = {
    "CREDIT_AUTHORIZATION",
    "CREDIT_AUTHORIZATION_ADVICE",
    "FINANCIAL_CREDIT_AUTHORIZATION",
    "RETURN",
}
APPROVAL_TYPES = {"AUTHORIZATION", "AUTHORIZATION_ADVICE", "FINANCIAL_AUTHORIZATION"}


@dataclass(frozen=True)
class Target:
    """What a transaction must weigh in the ledger, given every event we know of it."""

    held: int
    posted: int
    cleared_without_approval: bool


def target(events: Iterable[TransactionEvent]) -> Target:
    """Replay the events in Lithic's order (their position in the transaction's list).

    Amounts are read as magnitudes and the event type gives the direction, so the result does
    not depend on how a sender signs credits.
    """
    ordered = sorted(events, key=lambda e: e.position)
    credit = bool(ordered) and ordered[0].type in CREDIT_OPENERS
    held = posted = 0
    approved = cleared = False
    for event in ordered:
        if event.result != "APPROVED":
            continue
        amount = abs(event.amount)
        kind = event.type
        if kind in ("AUTHORIZATION", "AUTHORIZATION_ADVICE"):
            held, approved = amount, True
        elif kind == "CLEARING":
            cleared = True
            if credit:
                posted -= amount
            else:
                posted += amount
                held = max(held - amount, 0)
        elif kind == "AUTHORIZATION_REVERSAL":
            held = max(held - amount, 0)
        elif kind == "AUTHORIZATION_EXPIRY":
            held = 0
        elif kind == "FINANCIAL_AUTHORIZATION":
            posted, approved = posted + amount, True
        elif kind in ("RETURN", "FINANCIAL_CREDIT_AUTHORIZATION", "CORRECTION_CREDIT"):
            posted -= amount
        elif kind in ("RETURN_REVERSAL", "CORRECTION_DEBIT"):
            posted += amount
        # BALANCE_INQUIRY and pending credits (CREDIT_AUTHORIZATION*) weigh nothing.
    return Target(held, posted, cleared and not approved and not credit)


def append(
    account: CreditAccount,
    kind: str,
    amount: int,
    reason: str,
    *,
    card_id: str | None = None,
    transaction_token: str | None = None,
    source_id: str | None = None,
) -> None:
    """Append one entry and move the account's running total with it (same transaction)."""
    if amount == 0:
        return
    execute(
        "INSERT INTO ledger_entry (id, account_id, card_id, transaction_token, kind, amount,"
        " reason, source_id, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            new_id(),
            account.id,
            card_id,
            transaction_token,
            kind,
            amount,
            reason[:40],
            source_id,
            utcnow(),
        ),
    )
    column = "pending_holds" if kind == HOLD else "posted_balance"
    statement = f"UPDATE credit_account SET {column} = {column} + ? WHERE id = ?"  # noqa: S608
    execute(statement, (amount, account.id))
    if kind == HOLD:
        account.pending_holds += amount
    else:
        account.posted_balance += amount


def available_credit(account: CreditAccount) -> int:
    return account.credit_limit - account.posted_balance - account.pending_holds


def check_invariants() -> list[str]:
    """Every mismatch between the ledger, the running totals and the transactions' events."""
    problems: list[str] = []
    sums = {
        (row.account_id, row.kind): row.total
        for row in LedgerEntry.select(
            LedgerEntry.account, LedgerEntry.kind, peewee.fn.SUM(LedgerEntry.amount).alias("total")
        ).group_by(LedgerEntry.account, LedgerEntry.kind)
    }
    for account in CreditAccount.select():
        for kind, total in ((HOLD, account.pending_holds), (POSTED, account.posted_balance)):
            ledger_total = int(sums.get((account.id, kind)) or 0)
            if ledger_total != total:
                problems.append(
                    f"account {account.id}: {kind} total {total} but ledger sums to {ledger_total}"
                )
        if account.pending_holds < 0:
            problems.append(f"account {account.id}: negative holds {account.pending_holds}")

    by_token = {
        (row.transaction_token, row.kind): int(row.total)
        for row in LedgerEntry.select(
            LedgerEntry.transaction_token,
            LedgerEntry.kind,
            peewee.fn.SUM(LedgerEntry.amount).alias("total"),
        )
        .where(LedgerEntry.transaction_token.is_null(False))
        .group_by(LedgerEntry.transaction_token, LedgerEntry.kind)
    }
    for transaction in CardTransaction.select():
        expected = target(transaction.events)
        held = by_token.get((transaction.token, HOLD), 0)
        posted = by_token.get((transaction.token, POSTED), 0)
        if (held, posted) != (expected.held, expected.posted):
            problems.append(
                f"transaction {transaction.token}: ledger holds {held} and posts {posted}, "
                f"its events say {expected.held} and {expected.posted}"
            )
        if (transaction.held_amount, transaction.posted_amount) != (held, posted):
            problems.append(f"transaction {transaction.token}: stored amounts differ from ledger")
    return problems
