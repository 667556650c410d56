"""Card transactions, their events, ASA decisions and the append-only ledger."""

from __future__ import annotations

import peewee

from app.accounts.models import CreditAccount
from app.cards.models import Card
from app.db import UUIDKeyModel, utcnow

HOLD, POSTED = "HOLD", "POSTED"


class CardTransaction(UUIDKeyModel):
    """Our copy of a Lithic transaction: the newest snapshot we have seen of it."""

    token = peewee.CharField(max_length=36, unique=True)
    account = peewee.ForeignKeyField(CreditAccount, backref="transactions", null=True)
    card = peewee.ForeignKeyField(Card, backref="transactions", null=True)
    card_token = peewee.CharField(max_length=36, index=True)
    status = peewee.CharField(max_length=16, index=True)
    result = peewee.CharField(max_length=48)
    authorization_amount = peewee.BigIntegerField(default=0)
    settled_amount = peewee.BigIntegerField(default=0)
    held_amount = peewee.BigIntegerField(default=0)  # ledger view: what is still on hold
    posted_amount = peewee.BigIntegerField(default=0)  # ledger view: what the customer owes
    merchant_descriptor = peewee.CharField(max_length=64, default="")
    merchant_mcc = peewee.CharField(max_length=8, default="")
    merchant_city = peewee.CharField(max_length=64, default="")
    merchant_state = peewee.CharField(max_length=8, default="")
    merchant_country = peewee.CharField(max_length=8, default="")
    event_count = peewee.IntegerField(default=0)
    # Cleared without an approval of ours: a force post, or after our decline (blnk#182).
    flag = peewee.CharField(max_length=32, null=True)
    lithic_created = peewee.DateTimeField(index=True)
    lithic_updated = peewee.DateTimeField()
    created_at = peewee.DateTimeField(default=utcnow)


class TransactionEvent(UUIDKeyModel):
    transaction = peewee.ForeignKeyField(CardTransaction, backref="events", on_delete="CASCADE")
    token = peewee.CharField(max_length=36, unique=True)
    type = peewee.CharField(max_length=40)
    amount = peewee.BigIntegerField()  # cents, as Lithic sent it
    result = peewee.CharField(max_length=48)
    detailed_result = peewee.CharField(max_length=64, default="")
    position = peewee.IntegerField()  # index in Lithic's events list: the order of events
    lithic_created = peewee.DateTimeField()


class LedgerEntry(UUIDKeyModel):
    """Append-only: a hold or a posting (positive = the customer owes more); never updated."""

    account = peewee.ForeignKeyField(CreditAccount, backref="ledger")
    card = peewee.ForeignKeyField(Card, null=True, backref="ledger")
    transaction_token = peewee.CharField(max_length=36, index=True, null=True)
    kind = peewee.CharField(max_length=16)  # HOLD or POSTED
    amount = peewee.BigIntegerField()
    reason = peewee.CharField(max_length=40)  # the event type or ASA_APPROVAL
    source_id = peewee.CharField(max_length=64, null=True)
    created_at = peewee.DateTimeField(default=utcnow, index=True)


class AsaDecision(UUIDKeyModel):
    """The answer given to one ASA request; a resend of the token gets the same answer."""

    token = peewee.CharField(max_length=36, unique=True)
    card_token = peewee.CharField(max_length=36)
    account = peewee.ForeignKeyField(CreditAccount, null=True)
    amount = peewee.BigIntegerField()
    approved_amount = peewee.BigIntegerField(default=0)
    result = peewee.CharField(max_length=40)
    reason = peewee.CharField(max_length=64, default="")
    created_at = peewee.DateTimeField(default=utcnow)
