"""Event delivery: Standard-Webhooks signatures, flattened bodies, retries, filters."""

from __future__ import annotations

import time

import lithic
import pytest
import requests
from standardwebhooks import Webhook

WEBHOOK_SECRET = "whsec_zlFsbBZ8Xcodlpcu6NDTdSzZRLSdhkst"


def test_deliveries_are_signed_and_carry_the_flattened_resource(client, receiver, account_holder):
    card = client.cards.create(type="VIRTUAL", account_token=account_holder.account_token)

    receiver.wait_for(lambda ds: any(d.json()["event_type"] == "card.created" for d in ds))
    delivery = receiver.of_type("card.created")[0]

    assert Webhook(WEBHOOK_SECRET).verify(delivery.body, delivery.headers) == {
        "event_type": "card.created",
        "card_token": card.token,
        "replacement_for": None,
    }
    event = client.events.list(event_types=["card.created"]).data[0]
    assert delivery.headers["webhook-id"] == event.token
    assert event.token.startswith("msg_")
    # The SDK's own verifier accepts the delivery too.
    client.webhooks.verify_signature(delivery.body, delivery.headers, secret=WEBHOOK_SECRET)


def test_account_holder_creation_is_delivered(receiver, account_holder):
    receiver.wait_for(
        lambda ds: any(d.json()["event_type"] == "account_holder.created" for d in ds)
    )

    body = receiver.of_type("account_holder.created")[0].json()

    assert body["token"] == account_holder.token
    assert body["status"] == "ACCEPTED"


def test_a_failing_receiver_gets_retries_with_the_same_webhook_id(
    emulator, client, receiver, account_holder
):
    emulator.emulator.webhooks.wait_idle(5)
    receiver.statuses = [500, 500]
    receiver.deliveries.clear()

    card = client.cards.create(type="VIRTUAL", account_token=account_holder.account_token)

    deliveries = receiver.wait_for(lambda ds: len([d for d in ds if _card(d) == card.token]) >= 3)
    mine = [d for d in deliveries if _card(d) == card.token]
    assert len({d.headers["webhook-id"] for d in mine}) == 1
    for delivery in mine:
        Webhook(WEBHOOK_SECRET).verify(delivery.body, delivery.headers)
    event_token = mine[0].headers["webhook-id"]
    _wait(lambda: len(client.events.list_attempts(event_token).data) == 3)
    attempts = client.events.list_attempts(event_token).data
    assert [a.status for a in attempts] == ["SUCCESS", "FAILED", "FAILED"]
    assert [a.response_status_code for a in attempts] == [200, 500, 500]


def test_delivery_stops_after_the_retry_schedule(emulator, client, receiver, account_holder):
    emulator.emulator.webhooks.wait_idle(5)
    receiver.deliveries.clear()
    receiver.statuses = [500] * 10

    client.cards.create(type="VIRTUAL", account_token=account_holder.account_token)
    emulator.emulator.webhooks.wait_idle(5)

    # One first attempt plus one per entry of the (two-step) retry schedule.
    assert len(receiver.deliveries) == 3
    token = receiver.deliveries[0].headers["webhook-id"]
    failed = client.events.subscriptions.list_attempts(
        "ep_emulatorconfiguredsubscription", status="FAILED"
    ).data
    assert sum(1 for a in failed if a.event_token == token) == 3


def test_failed_events_can_be_recovered(emulator, client, receiver, account_holder):
    emulator.emulator.webhooks.wait_idle(5)
    receiver.statuses = [500] * 3
    receiver.deliveries.clear()
    client.cards.create(type="VIRTUAL", account_token=account_holder.account_token)
    emulator.emulator.webhooks.wait_idle(5)
    assert len(receiver.deliveries) == 3

    client.events.subscriptions.recover("ep_emulatorconfiguredsubscription")
    emulator.emulator.webhooks.wait_idle(5)

    assert len(receiver.deliveries) == 4


def test_a_receiver_that_does_not_answer_in_time_is_retried(make_emulator, receiver, api_key):
    running = make_emulator(
        webhook_url=receiver.url, webhook_secret=WEBHOOK_SECRET, webhook_timeout=0.2
    )
    slow = {"first": True}

    def reply(delivery):
        if slow.pop("first", False):
            time.sleep(0.5)
        return 200, {}

    receiver.reply = reply
    sdk = lithic.Lithic(api_key=api_key, base_url=running.url, max_retries=0)
    sdk.account_holders.create(
        workflow="KYC_EXEMPT",
        kyc_exemption_type="AUTHORIZED_USER",
        first_name="A",
        last_name="B",
        email="a@example.com",
        phone_number="+12125550000",
        address={"address1": "1", "city": "c", "country": "USA", "postal_code": "1", "state": "NY"},
    )
    running.emulator.webhooks.wait_idle(5)

    first = receiver.deliveries[0].headers["webhook-id"]
    assert [d.headers["webhook-id"] for d in receiver.deliveries].count(first) == 2
    attempts = sdk.events.list_attempts(first).data
    assert [a.response_status_code for a in attempts] == [200, 0]


def test_deliveries_happen_off_the_request_thread(client, receiver, account_holder):
    def slow_reply(delivery):
        time.sleep(0.5)
        return 200, {}

    receiver.reply = slow_reply

    started = time.monotonic()
    client.cards.create(type="VIRTUAL", account_token=account_holder.account_token)

    assert time.monotonic() - started < 0.4


def test_subscriptions_get_only_their_event_types(emulator, client, make_receiver, account_holder):
    other = make_receiver()
    client.events.subscriptions.create(url=other.url, event_types=["card.updated"])

    card = client.cards.create(type="VIRTUAL", account_token=account_holder.account_token)
    client.cards.update(card.token, state="PAUSED")
    emulator.emulator.webhooks.wait_idle(5)

    assert [d.json()["event_type"] for d in other.deliveries] == ["card.updated"]


def test_disabled_subscriptions_get_nothing(emulator, client, receiver, account_holder):
    emulator.emulator.webhooks.wait_idle(5)
    receiver.deliveries.clear()
    client.events.subscriptions.update(
        "ep_emulatorconfiguredsubscription", url=receiver.url, disabled=True
    )

    client.cards.create(type="VIRTUAL", account_token=account_holder.account_token)
    emulator.emulator.webhooks.wait_idle(5)

    assert receiver.deliveries == []


def test_after_a_secret_rotation_both_secrets_verify(emulator, client, receiver, account_holder):
    token = "ep_emulatorconfiguredsubscription"
    client.events.subscriptions.rotate_secret(token)
    new_secret = client.events.subscriptions.retrieve_secret(token).secret
    emulator.emulator.webhooks.wait_idle(5)
    receiver.deliveries.clear()

    client.cards.create(type="VIRTUAL", account_token=account_holder.account_token)
    emulator.emulator.webhooks.wait_idle(5)

    delivery = receiver.deliveries[0]
    Webhook(new_secret).verify(delivery.body, delivery.headers)
    Webhook(WEBHOOK_SECRET).verify(delivery.body, delivery.headers)


def test_a_resend_delivers_the_event_again_with_the_same_id(
    emulator, client, receiver, account_holder
):
    client.cards.create(type="VIRTUAL", account_token=account_holder.account_token)
    emulator.emulator.webhooks.wait_idle(5)
    event = client.events.list(event_types=["card.created"]).data[0]
    receiver.deliveries.clear()

    client.events.resend(event.token, event_subscription_token="ep_emulatorconfiguredsubscription")
    emulator.emulator.webhooks.wait_idle(5)

    assert [d.headers["webhook-id"] for d in receiver.deliveries] == [event.token]


def test_the_configured_subscription_survives_a_reset(emulator, client, receiver):
    client.events.subscriptions.create(url=receiver.url)

    requests.post(f"{emulator.url}/_emulator/reset", timeout=5).raise_for_status()

    tokens = [s.token for s in client.events.subscriptions.list()]
    assert tokens == ["ep_emulatorconfiguredsubscription"]
    assert client.events.subscriptions.retrieve_secret(tokens[0]).secret == WEBHOOK_SECRET


def _card(delivery) -> str | None:
    return delivery.json().get("card_token")


def _wait(predicate, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            pytest.fail("condition not met in time")
        time.sleep(0.02)
