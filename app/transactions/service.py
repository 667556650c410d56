"""Transaction webhooks into the ledger, and the customer's view of transactions."""

from __future__ import annotations

import base64
import datetime as dt
import logging

from app.accounts.models import CreditAccount
from app.cards.models import Card
from app.db import for_update
from app.errors import ValidationError
from app.transactions import ledger
from app.transactions.models import (
    HOLD,
    POSTED,
    AsaDecision,
    CardTransaction,
    LedgerEntry,
    TransactionEvent,
)

logger = logging.getLogger(__name__)

MERCHANT_FIELDS = ("descriptor", "mcc", "city", "state", "country")


def extract(payload: dict) -> dict:
    """The fields of a Transaction we keep: no PAN ever appears in one, and we keep no more."""
    merchant = payload.get("merchant") or {}
    return {
        "token": payload.get("token"),
        "card_token": payload.get("card_token"),
        "account_token": payload.get("account_token"),
        "status": payload.get("status"),
        "result": payload.get("result"),
        "authorization_amount": payload.get("authorization_amount") or 0,
        "settled_amount": payload.get("settled_amount") or 0,
        "created": payload.get("created"),
        "updated": payload.get("updated"),
        "merchant": {name: merchant.get(name) for name in MERCHANT_FIELDS},
        "events": [
            {
                "token": event.get("token"),
                "type": event.get("type"),
                "amount": event.get("amount") or 0,
                "result": event.get("result"),
                "detailed_result": (event.get("detailed_results") or [""])[0],
                "created": event.get("created"),
            }
            for event in payload.get("events") or []
        ],
    }


def _timestamp(value: str | None) -> dt.datetime:
    if not value:
        return dt.datetime.now(dt.UTC).replace(tzinfo=None)
    parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    if parsed.tzinfo is not None:
        parsed = parsed.astimezone(dt.UTC).replace(tzinfo=None)
    return parsed


def apply_transaction(data: dict, source_id: str) -> str | None:
    """Bring our copy of a transaction and its ledger entries up to what Lithic says.

    Runs inside the caller's transaction. Any order or repetition of a transaction's updates
    ends in the same state: events are kept by token, and the ledger is moved to the amounts
    that all known events add up to. Returns a note when the update could not be applied.
    """
    card = Card.get_or_none(Card.lithic_token == data.get("card_token"))
    if card is None:
        return "unknown card"
    account = for_update(CreditAccount.select().where(CreditAccount.id == card.account_id)).get()
    events = data.get("events") or []
    merchant = data.get("merchant") or {}
    transaction = CardTransaction.get_or_none(CardTransaction.token == data["token"])
    is_new = transaction is None
    if is_new:
        transaction = CardTransaction(
            token=data["token"],
            account=account,
            card=card,
            card_token=card.lithic_token,
            lithic_created=_timestamp(data.get("created")),
        )
    if is_new or len(events) >= transaction.event_count:
        # The snapshot with the most events is the newest: older ones never overwrite it.
        transaction.status = data.get("status") or "PENDING"
        transaction.result = data.get("result") or ""
        transaction.authorization_amount = int(data.get("authorization_amount") or 0)
        transaction.settled_amount = int(data.get("settled_amount") or 0)
        transaction.lithic_updated = _timestamp(data.get("updated"))
        transaction.event_count = len(events)
        for name in MERCHANT_FIELDS:
            setattr(transaction, f"merchant_{name}", str(merchant.get(name) or "")[:64])
    transaction.save(force_insert=is_new)

    if events:
        TransactionEvent.insert_many(
            [
                {
                    # The event token is the key: a repeat conflicts and is ignored.
                    "id": event["token"],
                    "transaction": transaction.id,
                    "token": event["token"],
                    "type": event["type"],
                    "amount": int(event["amount"]),
                    "result": event.get("result") or "",
                    "detailed_result": event.get("detailed_result") or "",
                    "position": position,
                    "lithic_created": _timestamp(event.get("created")),
                }
                for position, event in enumerate(events)
            ]
        ).on_conflict_ignore().execute()

    expected = ledger.target(transaction.events)
    # An existing row carries its ledger sums (ledger-check holds us to it); a new one may
    # already have the hold our ASA answer put on its token.
    if is_new:
        held, posted = _ledger_amounts(transaction.token)
    else:
        held, posted = transaction.held_amount, transaction.posted_amount
    reason = events[-1]["type"] if events else "UPDATE"
    ledger.append(
        account,
        HOLD,
        expected.held - held,
        reason,
        card_id=card.id,
        transaction_token=transaction.token,
        source_id=source_id,
    )
    ledger.append(
        account,
        POSTED,
        expected.posted - posted,
        reason,
        card_id=card.id,
        transaction_token=transaction.token,
        source_id=source_id,
    )
    transaction.held_amount, transaction.posted_amount = expected.held, expected.posted
    transaction.flag = _flag(transaction, expected)
    transaction.save()
    return None


def _ledger_amounts(token: str) -> tuple[int, int]:
    held = posted = 0
    for entry in LedgerEntry.select(LedgerEntry.kind, LedgerEntry.amount).where(
        LedgerEntry.transaction_token == token
    ):
        if entry.kind == HOLD:
            held += entry.amount
        else:
            posted += entry.amount
    return held, posted


def _flag(transaction: CardTransaction, expected: ledger.Target) -> str | None:
    if expected.posted <= 0:
        return transaction.flag
    decision = AsaDecision.get_or_none(AsaDecision.token == transaction.token)
    if decision is not None and decision.result != "APPROVED":
        return "CLEARED_AFTER_DECLINE"
    if expected.cleared_without_approval:
        return "FORCE_POST"
    return None


# Reading


def cursor_of(transaction: CardTransaction) -> str:
    """An opaque cursor for keyset pagination: (created, id) of the row."""
    raw = f"{transaction.lithic_created.isoformat()}|{transaction.id}"
    return base64.urlsafe_b64encode(raw.encode()).decode()


def _decode_cursor(cursor: str) -> tuple[dt.datetime, str]:
    try:
        created, ident = base64.urlsafe_b64decode(cursor.encode()).decode().split("|", 1)
        return dt.datetime.fromisoformat(created), ident
    except (ValueError, UnicodeDecodeError):
        raise ValidationError("after is not a cursor this API gave out") from None


def list_transactions(
    customer_id: str,
    first: int = 20,
    after: str | None = None,
    card_id: str | None = None,
    status: str | None = None,
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
) -> tuple[list[CardTransaction], bool]:
    """Newest first, keyset-paginated; returns (page, has_next_page)."""
    if not 1 <= first <= 100:
        raise ValidationError("first must be between 1 and 100")
    query = (
        CardTransaction.select()
        .join(Card)
        .where(Card.customer == customer_id)
        .order_by(CardTransaction.lithic_created.desc(), CardTransaction.id.desc())
    )
    if card_id:
        query = query.where(CardTransaction.card == card_id)
    if status:
        query = query.where(CardTransaction.status == status)
    if since:
        query = query.where(CardTransaction.lithic_created >= _naive(since))
    if until:
        query = query.where(CardTransaction.lithic_created < _naive(until))
    if after:
        created, ident = _decode_cursor(after)
        query = query.where(
            (CardTransaction.lithic_created < created)
            | ((CardTransaction.lithic_created == created) & (CardTransaction.id < ident))
        )
    rows = list(query.limit(first + 1))
    return rows[:first], len(rows) > first


def _naive(value: dt.datetime) -> dt.datetime:
    return value.astimezone(dt.UTC).replace(tzinfo=None) if value.tzinfo else value
