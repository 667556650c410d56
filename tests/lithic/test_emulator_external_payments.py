"""External payments through the SDK: lifecycle, idempotent tokens, webhooks, balance effect."""

from __future__ import annotations

import uuid

import lithic
import pytest
import requests
from standardwebhooks import Webhook

from app.lithic.emulator.statements import ledger

WEBHOOK_SECRET = "whsec_zlFsbBZ8Xcodlpcu6NDTdSzZRLSdhkst"
TODAY = "2025-03-10"


@pytest.fixture
def financial_account(client, account_holder) -> str:
    """The ISSUING financial account of the test account holder."""
    accounts = client.financial_accounts.list(account_token=account_holder.account_token)
    return next(a.token for a in accounts if a.type == "ISSUING")


def deposit(client, financial_account: str, amount: int = 5000, **extra):
    return client.external_payments.create(
        amount=amount,
        category="EXTERNAL_ACH",
        effective_date=TODAY,
        financial_account_token=financial_account,
        payment_type="DEPOSIT",
        **extra,
    )


def owed(emulator, financial_account: str) -> int:
    """What the financial account owes now, by the emulator's running figure."""
    with emulator.emulator.lock:
        return ledger(emulator.emulator, financial_account).balance()


def test_a_new_payment_is_pending_with_an_initiated_event(client, financial_account):
    payment = deposit(client, financial_account, 5000, memo="Card payment", user_defined_id="p-1")

    assert (payment.status, payment.result, payment.family) == (
        "PENDING",
        "APPROVED",
        "EXTERNAL_PAYMENT",
    )
    assert (payment.pending_amount, payment.settled_amount) == (5000, 0)
    assert (payment.category, payment.payment_type, payment.currency) == (
        "EXTERNAL_ACH",
        "DEPOSIT",
        "USD",
    )
    assert payment.user_defined_id == "p-1"
    assert [(e.type, e.amount, e.memo, str(e.effective_date)) for e in payment.events] == [
        ("EXTERNAL_ACH_INITIATED", 5000, "Card payment", TODAY)
    ]
    assert client.external_payments.retrieve(payment.token).status == "PENDING"


def test_settle_then_reverse_moves_the_owed_balance_and_back(emulator, client, financial_account):
    payment = deposit(client, financial_account, 3000)
    assert owed(emulator, financial_account) == 0

    settled = client.external_payments.settle(payment.token, effective_date=TODAY)

    assert (settled.status, settled.pending_amount, settled.settled_amount) == ("SETTLED", 0, 3000)
    assert [e.type for e in settled.events] == ["EXTERNAL_ACH_INITIATED", "EXTERNAL_ACH_SETTLED"]
    assert owed(emulator, financial_account) == -3000

    reversed_ = client.external_payments.reverse(payment.token, effective_date=TODAY, memo="R01")

    assert (reversed_.status, reversed_.settled_amount) == ("REVERSED", 0)
    assert reversed_.events[-1].type == "EXTERNAL_ACH_REVERSED"
    assert reversed_.events[-1].memo == "R01"
    assert owed(emulator, financial_account) == 0


def test_state_rules_refuse_out_of_order_and_repeated_actions(client, financial_account):
    payment = deposit(client, financial_account)

    with pytest.raises(lithic.UnprocessableEntityError):
        client.external_payments.reverse(payment.token, effective_date=TODAY)
    with pytest.raises(lithic.UnprocessableEntityError):
        client.external_payments.release(payment.token, effective_date=TODAY)
    client.external_payments.settle(payment.token, effective_date=TODAY)
    with pytest.raises(lithic.UnprocessableEntityError):
        client.external_payments.settle(payment.token, effective_date=TODAY)
    with pytest.raises(lithic.UnprocessableEntityError):
        client.external_payments.cancel(payment.token, effective_date=TODAY)
    released = client.external_payments.release(payment.token, effective_date=TODAY)
    assert (released.status, released.events[-1].type) == ("SETTLED", "EXTERNAL_ACH_RELEASED")
    with pytest.raises(lithic.UnprocessableEntityError):
        client.external_payments.release(payment.token, effective_date=TODAY)
    client.external_payments.reverse(payment.token, effective_date=TODAY)
    with pytest.raises(lithic.UnprocessableEntityError):
        client.external_payments.reverse(payment.token, effective_date=TODAY)


def test_a_canceled_payment_never_moves_money(emulator, client, financial_account):
    payment = deposit(client, financial_account)

    canceled = client.external_payments.cancel(payment.token, effective_date=TODAY)

    assert (canceled.status, canceled.pending_amount, canceled.settled_amount) == (
        "CANCELED",
        0,
        0,
    )
    with pytest.raises(lithic.UnprocessableEntityError):
        client.external_payments.settle(payment.token, effective_date=TODAY)
    assert owed(emulator, financial_account) == 0


def test_progress_to_settles_or_releases_at_creation(emulator, client, financial_account):
    settled = deposit(client, financial_account, 1000, progress_to="SETTLED")
    released = deposit(client, financial_account, 500, progress_to="RELEASED")

    assert settled.status == "SETTLED"
    assert [e.type for e in settled.events] == ["EXTERNAL_ACH_INITIATED", "EXTERNAL_ACH_SETTLED"]
    assert released.events[-1].type == "EXTERNAL_ACH_RELEASED"
    assert owed(emulator, financial_account) == -1500


def test_settle_with_progress_to_released_also_releases(client, financial_account):
    payment = deposit(client, financial_account)

    done = client.external_payments.settle(
        payment.token, effective_date=TODAY, progress_to="RELEASED"
    )

    assert done.status == "SETTLED"
    assert [e.type for e in done.events][-2:] == ["EXTERNAL_ACH_SETTLED", "EXTERNAL_ACH_RELEASED"]


def test_a_withdrawal_adds_to_what_is_owed(emulator, client, financial_account):
    client.external_payments.create(
        amount=700,
        category="EXTERNAL_WIRE",
        effective_date=TODAY,
        financial_account_token=financial_account,
        payment_type="WITHDRAWAL",
        progress_to="SETTLED",
    )

    assert owed(emulator, financial_account) == 700


def test_the_same_token_and_body_returns_the_payment_and_creates_nothing(
    client, financial_account, receiver, emulator
):
    token = str(uuid.uuid4())
    first = deposit(client, financial_account, 2500, token=token, memo="Card payment")
    client.external_payments.settle(token, effective_date=TODAY)

    again = client.external_payments.with_raw_response.create(
        amount=2500,
        category="EXTERNAL_ACH",
        effective_date=TODAY,
        financial_account_token=financial_account,
        payment_type="DEPOSIT",
        token=token,
        memo="Card payment",
    )

    assert first.token == token
    assert again.status_code == 200
    replay = again.parse()
    assert (replay.token, replay.status) == (token, "SETTLED")
    assert [p.token for p in client.external_payments.list()] == [token]
    emulator.emulator.webhooks.wait_idle(5)
    created = [d.json() for d in receiver.of_type("external_payment.created")]
    assert [body["token"] for body in created] == [token]


def test_the_same_token_with_another_body_is_a_409(client, financial_account):
    token = str(uuid.uuid4())
    deposit(client, financial_account, 2500, token=token)

    with pytest.raises(lithic.ConflictError) as caught:
        deposit(client, financial_account, 2600, token=token)

    assert caught.value.status_code == 409
    assert set(caught.value.body) == {"debugging_request_id", "message"}
    assert client.external_payments.retrieve(token).pending_amount == 2500


def test_each_change_is_delivered_as_a_signed_flattened_webhook(
    emulator, client, financial_account, receiver
):
    payment = deposit(client, financial_account, 4200)
    client.external_payments.settle(payment.token, effective_date=TODAY)

    receiver.wait_for(
        lambda ds: any(d.json()["event_type"] == "external_payment.updated" for d in ds)
    )
    created = receiver.of_type("external_payment.created")[0]
    updated = receiver.of_type("external_payment.updated")[0]
    body = Webhook(WEBHOOK_SECRET).verify(updated.body, updated.headers)
    assert body["event_type"] == "external_payment.updated"
    assert (body["token"], body["status"], body["settled_amount"]) == (
        payment.token,
        "SETTLED",
        4200,
    )
    assert created.json()["status"] == "PENDING"
    parsed = client.webhooks.parse(updated.body, headers=updated.headers, secret=WEBHOOK_SECRET)
    assert parsed.event_type == "external_payment.updated"


def test_the_list_filters_and_pages(client, financial_account, account_holder):
    other = client.financial_accounts.create(
        nickname="ops", type="OPERATING", account_token=account_holder.account_token
    ).token
    ach = deposit(client, financial_account, 100)
    wire = client.external_payments.create(
        amount=200,
        category="EXTERNAL_WIRE",
        effective_date=TODAY,
        financial_account_token=financial_account,
        payment_type="DEPOSIT",
        progress_to="SETTLED",
    )
    elsewhere = deposit(client, other, 300)

    def tokens(**filters) -> list[str]:
        return [p.token for p in client.external_payments.list(**filters)]

    assert tokens() == [elsewhere.token, wire.token, ach.token]
    assert tokens(financial_account_token=financial_account) == [wire.token, ach.token]
    assert tokens(category="EXTERNAL_WIRE") == [wire.token]
    assert tokens(status="PENDING") == [elsewhere.token, ach.token]
    assert tokens(status="SETTLED", category="EXTERNAL_ACH") == []
    first = client.external_payments.list(page_size=1)
    assert (first.data[0].token, first.has_more) == (elsewhere.token, True)
    # The SDK follows the cursors through every page.
    assert tokens(page_size=1) == [elsewhere.token, wire.token, ach.token]
    with pytest.raises(lithic.BadRequestError):
        client.external_payments.list(status="LOST")


@pytest.mark.parametrize(
    "override, message",
    [
        ({"category": "EXTERNAL_STABLECOIN"}, "category must be one of"),
        ({"amount": 0}, "amount must be greater than or equal to 1"),
        ({"amount": "10"}, "amount must be an integer"),
        ({"payment_type": "SIDEWAYS"}, "payment_type must be one of"),
        ({"effective_date": "10/03/2025"}, "effective_date must be a date"),
        ({"token": "not-a-uuid"}, "token must be a valid UUID"),
        ({"progress_to": "PENDING"}, "progress_to must be one of"),
    ],
)
def test_bad_bodies_are_400s(emulator, api_key, financial_account, override, message):
    body = {
        "amount": 100,
        "category": "EXTERNAL_ACH",
        "effective_date": TODAY,
        "financial_account_token": financial_account,
        "payment_type": "DEPOSIT",
        **override,
    }
    response = requests.post(
        f"{emulator.url}/v1/external_payments",
        json=body,
        headers={"Authorization": api_key},
        timeout=5,
    )

    assert response.status_code == 400
    assert message in response.json()["message"]


def test_unknown_tokens_are_404s_and_actions_need_an_effective_date(client, financial_account):
    with pytest.raises(lithic.NotFoundError):
        client.external_payments.retrieve(str(uuid.uuid4()))
    with pytest.raises(lithic.NotFoundError):
        client.external_payments.settle(str(uuid.uuid4()), effective_date=TODAY)
    with pytest.raises(lithic.NotFoundError):
        deposit(client, str(uuid.uuid4()))
    payment = deposit(client, financial_account)
    with pytest.raises(lithic.BadRequestError):
        client.post(
            f"/v1/external_payments/{payment.token}/settle",
            cast_to=object,
            body={"memo": "no date"},
        )
