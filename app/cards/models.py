"""Cards and their history."""

from __future__ import annotations

import peewee

from app.accounts.models import CreditAccount, Customer
from app.db import UUIDKeyModel, new_id, utcnow

VIRTUAL, PHYSICAL = "VIRTUAL", "PHYSICAL"
# Our own state before Lithic knows the card; afterwards we mirror Lithic's card states.
REQUESTED = "REQUESTED"
OPEN, PAUSED, CLOSED = "OPEN", "PAUSED", "CLOSED"
PENDING_FULFILLMENT, PENDING_ACTIVATION = "PENDING_FULFILLMENT", "PENDING_ACTIVATION"
FAILED = "FAILED"


class Card(UUIDKeyModel):
    customer = peewee.ForeignKeyField(Customer, backref="cards")
    account = peewee.ForeignKeyField(CreditAccount, backref="cards")
    type = peewee.CharField(max_length=16)
    state = peewee.CharField(max_length=24, default=REQUESTED, index=True)
    substatus = peewee.CharField(max_length=32, null=True)
    lithic_token = peewee.CharField(max_length=36, null=True, unique=True)
    last_four = peewee.CharField(max_length=4, null=True)
    exp_month = peewee.CharField(max_length=2, null=True)
    exp_year = peewee.CharField(max_length=4, null=True)
    memo = peewee.CharField(max_length=128, null=True)
    spend_limit = peewee.BigIntegerField(default=0)  # cents; 0 = no card-level limit
    spend_limit_duration = peewee.CharField(max_length=16, default="TRANSACTION")
    replacement_for = peewee.ForeignKeyField("self", null=True, backref="replacements")
    # The Idempotency-Key sent to Lithic when ordering this card: retries reuse it.
    order_key = peewee.CharField(max_length=36, default=new_id, unique=True)
    shipping_name = peewee.CharField(max_length=64, null=True)
    shipping_address = peewee.TextField(null=True)  # JSON: address1, city, state, postal_code…
    shipping_method = peewee.CharField(max_length=32, null=True)
    tracking_number = peewee.CharField(max_length=64, null=True)
    shipped_at = peewee.DateTimeField(null=True)
    activated_at = peewee.DateTimeField(null=True)
    activation_reminded_at = peewee.DateTimeField(null=True)
    failure = peewee.TextField(null=True)
    created_at = peewee.DateTimeField(default=utcnow)
    updated_at = peewee.DateTimeField(default=utcnow)


class CardEvent(UUIDKeyModel):
    """One thing that happened to a card, from us or from Lithic; never holds a PAN or CVV."""

    card = peewee.ForeignKeyField(Card, backref="events", on_delete="CASCADE")
    kind = peewee.CharField(max_length=48)
    detail = peewee.TextField(default="{}")  # JSON of non-sensitive fields
    source_id = peewee.CharField(max_length=64, null=True)  # message or webhook id
    created_at = peewee.DateTimeField(default=utcnow)

    class Meta:
        indexes = ((("card", "kind", "source_id"), True),)
