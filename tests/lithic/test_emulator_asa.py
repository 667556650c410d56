"""Auth Stream Access: the signed CardAuthorization call and how its answer decides."""

from __future__ import annotations

import time

import lithic
import pytest
from standardwebhooks import Webhook


@pytest.fixture
def asa(client, receiver):
    """The receiver enrolled as ASA responder; returns (receiver, secret)."""
    client.responder_endpoints.create(type="AUTH_STREAM_ACCESS", url=receiver.url)
    return receiver, client.auth_stream_enrollment.retrieve_secret().secret


@pytest.fixture
def card(client, account_holder):
    return client.cards.create(type="VIRTUAL", account_token=account_holder.account_token)


def answer(result: str, **extra):
    def reply(delivery):
        return 200, {"token": delivery.json()["token"], "result": result, **extra}

    return reply


def authorize(client, card, amount: int = 1000, **extra):
    token = client.transactions.simulate_authorization(
        amount=amount, descriptor="BOOK STORE", pan=card.pan, **extra
    ).token
    return client.transactions.retrieve(token)


def asa_calls(receiver):
    return [d for d in receiver.deliveries if "card" in d.json() and "status" in d.json()]


def test_enrolment_can_be_checked_and_removed(client, receiver):
    assert client.responder_endpoints.check_status(type="AUTH_STREAM_ACCESS").enrolled is False

    client.responder_endpoints.create(type="AUTH_STREAM_ACCESS", url=receiver.url)
    status = client.responder_endpoints.check_status(type="AUTH_STREAM_ACCESS")
    assert (status.enrolled, status.url) == (True, receiver.url)

    client.responder_endpoints.delete(type="AUTH_STREAM_ACCESS")
    assert client.responder_endpoints.check_status(type="AUTH_STREAM_ACCESS").enrolled is False


def test_the_responder_gets_a_signed_card_authorization_and_approves(client, card, asa):
    receiver, secret = asa
    receiver.reply = answer("APPROVED")

    transaction = authorize(client, card, 1500)

    assert transaction.status == "PENDING"
    call = asa_calls(receiver)[0]
    request = Webhook(secret).verify(call.body, call.headers)
    assert request["token"] == transaction.token
    assert request["amount"] == 1500
    assert request["card"]["token"] == card.token
    assert "pan" not in request["card"]


@pytest.mark.parametrize(
    "result, transaction_result, detailed",
    [
        ("INSUFFICIENT_FUNDS", "INSUFFICIENT_FUNDS", "INSUFFICIENT_FUNDS"),
        ("SUSPECTED_FRAUD", "SUSPECTED_FRAUD", "SUSPECTED_FRAUD"),
        ("SOMETHING_ELSE", "DECLINED", "CUSTOM_ASA_RESULT"),
    ],
)
def test_a_declining_answer_declines(client, card, asa, result, transaction_result, detailed):
    asa[0].reply = answer(result)

    transaction = authorize(client, card)

    assert (transaction.status, transaction.result) == ("DECLINED", transaction_result)
    assert transaction.events[0].detailed_results == [detailed]


def test_no_answer_in_time_declines_with_customer_asa_timeout(
    make_emulator, make_receiver, api_key, individual
):
    running = make_emulator(asa_timeout=0.2)
    client = lithic.Lithic(api_key=api_key, base_url=running.url, max_retries=0)
    responder = make_receiver()

    def slow(delivery):
        time.sleep(0.5)
        return 200, {"token": delivery.json()["token"], "result": "APPROVED"}

    responder.reply = slow
    client.responder_endpoints.create(type="AUTH_STREAM_ACCESS", url=responder.url)
    holder = client.account_holders.create(
        individual=individual(), tos_timestamp="2024-01-01T00:00:00Z", workflow="KYC_BASIC"
    )
    card = client.cards.create(type="VIRTUAL", account_token=holder.account_token)

    transaction = authorize(client, card)

    assert transaction.status == "DECLINED"
    assert transaction.events[0].detailed_results == ["CUSTOMER_ASA_TIMEOUT"]


def test_after_a_5xx_the_same_token_is_sent_once_more(client, card, asa):
    receiver = asa[0]
    approve = answer("APPROVED")
    receiver.reply = lambda d: (500, {}) if len(asa_calls(receiver)) == 1 else approve(d)

    transaction = authorize(client, card)

    calls = asa_calls(receiver)
    assert len(calls) == 2
    assert {c.json()["token"] for c in calls} == {transaction.token}
    assert transaction.status == "PENDING"


def test_a_malformed_answer_declines(client, card, asa):
    asa[0].reply = lambda d: (200, ["not", "an", "object"])

    transaction = authorize(client, card)

    assert transaction.events[0].detailed_results == ["MALFORMED_ASA_RESPONSE"]


def test_approved_amount_gives_a_partial_approval(client, card, asa):
    asa[0].reply = answer("APPROVED", approved_amount=600)

    transaction = authorize(client, card, 1000, partial_approval_capable=True)

    assert transaction.status == "PENDING"
    assert transaction.amounts.hold.amount == 600
    assert transaction.authorization_amount == 600


def test_lithic_declines_before_asking_the_responder(client, card, asa):
    receiver = asa[0]
    receiver.reply = answer("APPROVED")
    client.cards.update(card.token, state="PAUSED")

    transaction = authorize(client, card)

    assert transaction.result == "CARD_PAUSED"
    assert asa_calls(receiver) == []


def test_a_rotated_asa_secret_signs_the_next_call(client, card, asa):
    receiver, _ = asa
    receiver.reply = answer("APPROVED")
    client.auth_stream_enrollment.rotate_secret()
    secret = client.auth_stream_enrollment.retrieve_secret().secret

    authorize(client, card)

    call = asa_calls(receiver)[0]
    Webhook(secret).verify(call.body, call.headers)
