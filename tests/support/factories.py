"""Rows for in-process tests, made directly (no Lithic round trip)."""

from __future__ import annotations

import uuid

from app.accounts.models import CreditAccount, Customer
from app.cards.models import Card


def make_account(credit_limit: int = 100_000, **fields) -> CreditAccount:
    """An ACTIVE credit account of a new customer."""
    customer = Customer.create(
        external_id=str(uuid.uuid4()), first_name="A", last_name="B", email="a@b", phone_number="1"
    )
    return CreditAccount.create(
        customer=customer, credit_limit=credit_limit, status="ACTIVE", **fields
    )


def make_card(account: CreditAccount, **fields) -> Card:
    """An OPEN virtual card on the account, known to Lithic by a fresh token."""
    values = {"type": "VIRTUAL", "state": "OPEN", "lithic_token": str(uuid.uuid4()), **fields}
    return Card.create(customer=account.customer_id, account=account, **values)
