"""Physical card fulfilment: automatic after a delay, or on demand, with `card.shipped`."""

from __future__ import annotations

import time

import lithic
import requests


def _physical(client, account_token, shipping_address, **extra):
    return client.cards.create(
        type="PHYSICAL", account_token=account_token, shipping_address=shipping_address, **extra
    )


def test_running_fulfilment_ships_pending_cards_and_emits_card_shipped(
    emulator, client, receiver, account_holder, shipping_address
):
    card = _physical(
        client, account_holder.account_token, shipping_address, shipping_method="PRIORITY"
    )
    virtual = client.cards.create(type="VIRTUAL", account_token=account_holder.account_token)

    shipped = requests.post(f"{emulator.url}/_emulator/fulfilment/run", timeout=5).json()

    assert shipped == {"shipped": [card.token]}
    assert client.cards.retrieve(card.token).state == "PENDING_ACTIVATION"
    assert client.cards.retrieve(virtual.token).state == "OPEN"
    receiver.wait_for(lambda ds: any(d.json()["event_type"] == "card.shipped" for d in ds))
    body = receiver.of_type("card.shipped")[0].json()
    assert body["card_token"] == card.token
    assert body["shipping_method"] == "USPS priority"
    assert body["tracking_number"]
    assert body["bulk_order_token"] is None
    updated = client.events.list(event_types=["card.updated"]).data[0].payload
    assert updated == {
        "card_token": card.token,
        "state": "PENDING_ACTIVATION",
        "previous_fields": {"state": "PENDING_FULFILLMENT"},
    }


def test_standard_shipping_has_no_tracking_number(
    emulator, client, account_holder, shipping_address
):
    card = _physical(client, account_holder.account_token, shipping_address)

    requests.post(f"{emulator.url}/_emulator/cards/{card.token}/ship", timeout=5).raise_for_status()

    payload = client.events.list(event_types=["card.shipped"]).data[0].payload
    assert payload["tracking_number"] is None
    assert payload["shipping_method"] == "USPS without tracking envelope"


def test_only_cards_awaiting_fulfilment_can_be_shipped(emulator, client, account_holder):
    card = client.cards.create(type="VIRTUAL", account_token=account_holder.account_token)

    response = requests.post(f"{emulator.url}/_emulator/cards/{card.token}/ship", timeout=5)

    assert response.status_code == 422
    assert set(response.json()) == {"debugging_request_id", "message"}


def test_with_a_fulfilment_delay_cards_ship_by_themselves(
    make_emulator, api_key, individual, shipping_address
):
    running = make_emulator(fulfilment_delay=0.1)
    client = lithic.Lithic(api_key=api_key, base_url=running.url, max_retries=0)
    holder = client.account_holders.create(
        individual=individual(), tos_timestamp="2024-01-01T00:00:00Z", workflow="KYC_BASIC"
    )
    card = _physical(client, holder.account_token, shipping_address)
    assert card.state == "PENDING_FULFILLMENT"

    deadline = time.monotonic() + 3
    while client.cards.retrieve(card.token).state != "PENDING_ACTIVATION":
        assert time.monotonic() < deadline, "card was not shipped"
        time.sleep(0.02)

    client.cards.update(card.token, state="OPEN")
    client.cards.reissue(card.token)
    assert client.cards.retrieve(card.token).state == "PENDING_FULFILLMENT"
    while client.cards.retrieve(card.token).state != "PENDING_ACTIVATION":
        assert time.monotonic() < deadline + 3, "reissued card was not shipped"
        time.sleep(0.02)
    assert len(client.events.list(event_types=["card.shipped"]).data) == 2
