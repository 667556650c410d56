"""Customers and their credit accounts."""

from __future__ import annotations

import peewee

from app.db import UUIDKeyModel, utcnow


class Customer(UUIDKeyModel):
    external_id = peewee.CharField(unique=True, max_length=128)
    first_name = peewee.CharField(max_length=64)
    last_name = peewee.CharField(max_length=64)
    email = peewee.CharField(max_length=254)
    phone_number = peewee.CharField(max_length=32)
    created_at = peewee.DateTimeField(default=utcnow)


class CreditAccount(UUIDKeyModel):
    """A customer's card account: the Lithic account holder, account and financial account."""

    PENDING, ACTIVE, REJECTED, FAILED = "PENDING", "ACTIVE", "REJECTED", "FAILED"

    customer = peewee.ForeignKeyField(Customer, unique=True, backref="credit_accounts")
    status = peewee.CharField(max_length=16, default=PENDING, index=True)
    credit_limit = peewee.BigIntegerField()  # cents
    # Running totals of the ledger, kept in the transaction that appends to it (checked by
    # `ccs ledger-check`), so an ASA decision reads one row instead of summing the ledger.
    posted_balance = peewee.BigIntegerField(default=0)
    pending_holds = peewee.BigIntegerField(default=0)
    lithic_account_holder_token = peewee.CharField(max_length=36, null=True, unique=True)
    lithic_account_token = peewee.CharField(max_length=36, null=True, unique=True)
    lithic_financial_account_token = peewee.CharField(max_length=36, null=True)
    status_reasons = peewee.TextField(default="")
    # KYC details Lithic needs once, Fernet-encrypted, wiped when the account holder exists.
    kyc_ciphertext = peewee.TextField(null=True)
    created_at = peewee.DateTimeField(default=utcnow)
    updated_at = peewee.DateTimeField(default=utcnow)
