"""Statements closed through `/_emulator/statements/close` and read back with the SDK."""

from __future__ import annotations

import datetime as dt
import uuid

import lithic
import pytest
import requests
from standardwebhooks import Webhook

WEBHOOK_SECRET = "whsec_zlFsbBZ8Xcodlpcu6NDTdSzZRLSdhkst"


@pytest.fixture
def financial_account(client, account_holder) -> str:
    """The ISSUING financial account of the test account holder, with a $10,000 limit."""
    accounts = client.financial_accounts.list(account_token=account_holder.account_token)
    token = next(a.token for a in accounts if a.type == "ISSUING")
    client.financial_accounts.credit_configuration.update(token, credit_limit=1_000_000)
    return token


@pytest.fixture
def card(client, account_holder):
    return client.cards.create(type="VIRTUAL", account_token=account_holder.account_token)


def close(emulator, expect: int = 201, **body) -> dict:
    response = requests.post(f"{emulator.url}/_emulator/statements/close", json=body, timeout=5)
    assert response.status_code == expect, response.text
    return response.json()


def purchase(client, card, amount: int) -> None:
    token = client.transactions.simulate_authorization(
        amount=amount, descriptor="BOOK SHOP", pan=card.pan
    ).token
    client.transactions.simulate_clearing(token=token)


def pay(client, financial_account: str, amount: int, settle: bool = True):
    return client.external_payments.create(
        amount=amount,
        category="EXTERNAL_ACH",
        effective_date="2025-02-10",
        financial_account_token=financial_account,
        payment_type="DEPOSIT",
        **({"progress_to": "SETTLED"} if settle else {}),
    )


def test_two_closes_carry_the_balance_and_count_purchases_and_payments(
    emulator, client, card, financial_account
):
    purchase(client, card, 40_000)
    purchase(client, card, 10_000)
    client.transactions.simulate_return(amount=5_000, descriptor="BOOK SHOP", pan=card.pan)
    # A hold is not owed until it settles.
    client.transactions.simulate_authorization(amount=99_999, descriptor="HOTEL", pan=card.pan)

    first = close(
        emulator, financial_account_token=financial_account, statement_end_date="2025-01-31"
    )

    assert (first["starting_balance"], first["ending_balance"]) == (0, 45_000)
    assert first["period_totals"]["purchases"] == 45_000
    assert first["period_totals"]["payments"] == 0
    assert first["amount_due"] == {"amount": 2_500, "past_due": 0}
    assert first["statement_end_date"] == "2025-01-31"
    assert first["payment_due_date"] == "2025-02-25"
    assert first["next_statement_end_date"] == "2025-02-28"
    assert first["next_payment_due_date"] == "2025-03-25"
    assert (first["credit_limit"], first["available_credit"]) == (1_000_000, 955_000)
    assert first["statement_type"] == "PERIOD_END"
    assert first["account_standing"]["period_number"] == 1

    pay(client, financial_account, 30_000)
    pay(client, financial_account, 1_000, settle=False)
    returned = pay(client, financial_account, 2_000)
    client.external_payments.reverse(returned.token, effective_date="2025-02-12")
    purchase(client, card, 7_000)

    second = close(
        emulator,
        financial_account_token=financial_account,
        statement_end_date="2025-02-28",
        payment_due_date="2025-03-20",
    )

    assert second["statement_start_date"] == "2025-02-01"
    assert second["days_in_billing_cycle"] == 28
    assert (second["starting_balance"], second["ending_balance"]) == (45_000, 22_000)
    assert second["period_totals"]["purchases"] == 7_000
    assert second["period_totals"]["payments"] == 30_000
    assert second["ytd_totals"]["purchases"] == 52_000
    assert second["ytd_totals"]["payments"] == 30_000
    assert second["payment_due_date"] == "2025-03-20"
    standing = second["account_standing"]
    assert standing["period_number"] == 2
    assert standing["consecutive_minimum_payments_made"] == 1
    assert standing["consecutive_full_payments_made"] == 0
    assert standing["has_grace"] is False


def test_the_minimum_payment_rules(emulator, client, card, financial_account):
    purchase(client, card, 1_000)
    small = close(
        emulator, financial_account_token=financial_account, statement_end_date="2025-01-31"
    )
    purchase(client, card, 499_000)
    large = close(
        emulator, financial_account_token=financial_account, statement_end_date="2025-02-28"
    )
    pay(client, financial_account, 600_000)
    credit = close(
        emulator, financial_account_token=financial_account, statement_end_date="2025-03-31"
    )
    given = close(
        emulator,
        financial_account_token=financial_account,
        statement_end_date="2025-04-30",
        minimum_payment=0,
    )

    # Never more than the balance; else max($25, 1%); nothing when nothing is owed.
    assert small["amount_due"]["amount"] == 1_000
    assert large["amount_due"]["amount"] == 5_000
    assert (credit["ending_balance"], credit["amount_due"]["amount"]) == (-100_000, 0)
    assert credit["account_standing"]["consecutive_full_payments_made"] == 1
    assert credit["account_standing"]["has_grace"] is True
    assert given["amount_due"]["amount"] == 0


def test_defaults_are_today_and_25_days_later(emulator, financial_account):
    statement = close(emulator, financial_account_token=financial_account)

    today = dt.datetime.now(dt.UTC).date()
    assert statement["statement_end_date"] == today.isoformat()
    assert statement["payment_due_date"] == (today + dt.timedelta(days=25)).isoformat()
    assert statement["statement_start_date"] == today.isoformat()
    assert statement["days_in_billing_cycle"] == 1


def test_the_sdk_lists_and_retrieves_statements(emulator, client, card, financial_account):
    purchase(client, card, 1_234)
    first = close(
        emulator, financial_account_token=financial_account, statement_end_date="2025-01-31"
    )
    second = close(
        emulator, financial_account_token=financial_account, statement_end_date="2025-02-28"
    )

    listed = client.financial_accounts.statements.list(financial_account)
    fetched = client.financial_accounts.statements.retrieve(
        first["token"], financial_account_token=financial_account
    )

    assert [s.token for s in listed] == [second["token"], first["token"]]
    assert fetched.ending_balance == 1_234
    assert fetched.statement_end_date == dt.date(2025, 1, 31)
    assert fetched.amount_due.amount == 1_234
    paged = client.financial_accounts.statements.list(financial_account, page_size=1)
    assert [s.token for s in paged] == [second["token"], first["token"]]
    in_february = client.financial_accounts.statements.list(
        financial_account, begin="2025-02-01", end="2025-02-28"
    )
    assert [s.token for s in in_february] == [second["token"]]


def test_a_statement_of_another_account_is_not_found(
    emulator, client, account_holder, financial_account
):
    statement = close(emulator, financial_account_token=financial_account)
    other = client.financial_accounts.create(
        nickname="ops", type="OPERATING", account_token=account_holder.account_token
    ).token

    with pytest.raises(lithic.NotFoundError):
        client.financial_accounts.statements.retrieve(
            statement["token"], financial_account_token=other
        )
    with pytest.raises(lithic.NotFoundError):
        client.financial_accounts.statements.list(str(uuid.uuid4()))
    assert list(client.financial_accounts.statements.list(other)) == []


def test_closing_emits_a_signed_statements_created_webhook(emulator, receiver, financial_account):
    statement = close(emulator, financial_account_token=financial_account)

    receiver.wait_for(lambda ds: any(d.json()["event_type"] == "statements.created" for d in ds))
    delivery = receiver.of_type("statements.created")[0]
    body = Webhook(WEBHOOK_SECRET).verify(delivery.body, delivery.headers)
    assert body == {"event_type": "statements.created", **statement}


@pytest.mark.parametrize(
    "body, status, message",
    [
        ({"financial_account_token": None}, 400, "financial_account_token is required"),
        ({"financial_account_token": "nope"}, 400, "must be a valid UUID"),
        ({"financial_account_token": str(uuid.uuid4())}, 404, "not found"),
        ({"statement_end_date": "2025-13-01"}, 400, "YYYY-MM-DD"),
        ({"payment_due_date": "2024-12-31", "statement_end_date": "2025-01-31"}, 400, "before"),
        ({"minimum_payment": -1}, 400, "minimum_payment"),
    ],
)
def test_bad_close_requests(emulator, financial_account, body, status, message):
    body = {"financial_account_token": financial_account, **body}

    error = close(emulator, expect=status, **body)

    assert message in error["message"]


def test_a_close_must_end_after_the_last_one(emulator, financial_account):
    close(emulator, financial_account_token=financial_account, statement_end_date="2025-01-31")

    error = close(
        emulator,
        expect=422,
        financial_account_token=financial_account,
        statement_end_date="2025-01-31",
    )

    assert "after the last statement" in error["message"]
