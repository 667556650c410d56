"""Statements, payments, AutoPay instructions and the runs of the clock's jobs."""

from __future__ import annotations

import peewee

from app.accounts.models import CreditAccount, Customer
from app.db import BaseModel, UUIDKeyModel, utcnow

MANUAL, AUTOPAY = "MANUAL", "AUTOPAY"


class Statement(UUIDKeyModel):
    """A billing cycle Lithic closed: what is owed, the minimum and when."""

    account = peewee.ForeignKeyField(CreditAccount, backref="statements")
    token = peewee.CharField(max_length=36, unique=True)
    statement_start_date = peewee.DateField()
    statement_end_date = peewee.DateField(index=True)
    payment_due_date = peewee.DateField(index=True)
    ending_balance = peewee.BigIntegerField()  # the statement balance, cents
    minimum_payment = peewee.BigIntegerField()
    created_at = peewee.DateTimeField(default=utcnow)


class AutopayInstruction(UUIDKeyModel):
    MINIMUM_DUE, STATEMENT_BALANCE, FIXED_AMOUNT = (
        "MINIMUM_DUE",
        "STATEMENT_BALANCE",
        "FIXED_AMOUNT",
    )

    account = peewee.ForeignKeyField(CreditAccount, backref="autopay_instructions")
    mode = peewee.CharField(max_length=24)
    fixed_amount = peewee.BigIntegerField(null=True)
    source_account_id = peewee.CharField(max_length=64)
    agreed_at = peewee.DateTimeField()
    active = peewee.BooleanField(default=True, index=True)
    created_at = peewee.DateTimeField(default=utcnow)
    cancelled_at = peewee.DateTimeField(null=True)


class AutopayRun(UUIDKeyModel):
    """One instruction's payment for one due date: unique, so no clock can pay twice."""

    QUEUED, PAID, NOTHING_DUE, FAILED, GAVE_UP = (
        "QUEUED",
        "PAID",
        "NOTHING_DUE",
        "FAILED",
        "GAVE_UP",
    )

    instruction = peewee.ForeignKeyField(AutopayInstruction, backref="runs")
    due_date = peewee.DateField()
    status = peewee.CharField(max_length=16, default=QUEUED, index=True)
    attempts = peewee.IntegerField(default=0)
    failure = peewee.TextField(null=True)
    retry_at = peewee.DateTimeField(null=True, index=True)
    payment_id = peewee.CharField(max_length=36, null=True)
    created_at = peewee.DateTimeField(default=utcnow)
    updated_at = peewee.DateTimeField(default=utcnow)

    class Meta:
        indexes = ((("instruction", "due_date"), True),)


class Payment(UUIDKeyModel):
    """A card-bill payment: rail transfer, then an external payment at Lithic, exactly once."""

    PENDING = "PENDING"  # written, transfer not yet asked for
    TRANSFER_PENDING = "TRANSFER_PENDING"  # the rail took it; money not yet settled
    TRANSFER_SETTLED = "TRANSFER_SETTLED"  # money moved; Lithic not yet told
    SETTLED = "SETTLED"  # recorded and settled at Lithic; the ledger is credited
    FAILED = "FAILED"  # the rail refused it (insufficient funds, closed account)
    RETURNED = "RETURNED"  # returned after settlement; reversed at Lithic and in the ledger

    customer = peewee.ForeignKeyField(Customer, backref="payments")
    account = peewee.ForeignKeyField(CreditAccount, backref="payments")
    option = peewee.CharField(max_length=24)
    amount = peewee.BigIntegerField()
    source_account_id = peewee.CharField(max_length=64)
    origin = peewee.CharField(max_length=8, default=MANUAL, index=True)
    autopay_run = peewee.ForeignKeyField(AutopayRun, null=True, backref="payments")
    status = peewee.CharField(max_length=16, default=PENDING, index=True)
    failure = peewee.TextField(null=True)
    idempotency_key = peewee.CharField(max_length=128, null=True)
    request_fingerprint = peewee.CharField(max_length=64, null=True)
    created_at = peewee.DateTimeField(default=utcnow, index=True)
    updated_at = peewee.DateTimeField(default=utcnow)

    class Meta:
        indexes = ((("customer", "idempotency_key"), True),)


class PaymentEvent(UUIDKeyModel):
    payment = peewee.ForeignKeyField(Payment, backref="events", on_delete="CASCADE")
    kind = peewee.CharField(max_length=40)
    detail = peewee.TextField(default="")
    created_at = peewee.DateTimeField(default=utcnow)


class Notification(UUIDKeyModel):
    """Something the customer must be told (AutoPay failed); a notifier would send these."""

    customer = peewee.ForeignKeyField(Customer, backref="notifications")
    kind = peewee.CharField(max_length=40)
    message = peewee.TextField()
    created_at = peewee.DateTimeField(default=utcnow)


class JobRun(BaseModel):
    """A clock job's run for one date: the unique key stops a second clock or a DST re-fire."""

    job = peewee.CharField(max_length=48)
    run_date = peewee.DateField()
    started_at = peewee.DateTimeField(default=utcnow)

    class Meta:
        primary_key = peewee.CompositeKey("job", "run_date")
