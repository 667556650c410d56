"""Test-only controls: injected faults, the request log, reset; and no PAN in any log line."""

from __future__ import annotations

import logging
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import lithic
import pytest
import requests


def arm(emulator, **fault) -> None:
    """Arm one fault on the emulator."""
    response = requests.post(f"{emulator.url}/_emulator/faults", json=fault, timeout=5)
    response.raise_for_status()


def cards_of(client) -> list[str]:
    return [card.token for card in client.cards.list()]


def test_a_fault_before_processing_changes_nothing(emulator, client, account_holder):
    arm(emulator, method="POST", path="^/v1/cards$", status=500, when="before")
    events_before = len(client.events.list().data)

    with pytest.raises(lithic.InternalServerError) as caught:
        client.cards.create(type="VIRTUAL", account_token=account_holder.account_token)

    assert set(caught.value.body) == {"debugging_request_id", "message"}
    assert cards_of(client) == []
    assert len(client.events.list().data) == events_before


def test_a_fault_after_processing_keeps_the_change_and_its_events(emulator, client, account_holder):
    arm(emulator, method="POST", path="^/v1/cards$", status=500, when="after")

    with pytest.raises(lithic.InternalServerError):
        client.cards.create(type="VIRTUAL", account_token=account_holder.account_token)

    assert len(cards_of(client)) == 1
    assert client.events.list(event_types=["card.created"]).data


def test_a_retry_with_the_same_idempotency_key_after_a_lost_answer_makes_one_card(
    emulator, api_key, account_holder
):
    arm(emulator, method="POST", path="^/v1/cards$", status=502, when="after")
    retrying = lithic.Lithic(api_key=api_key, base_url=emulator.url, max_retries=2)

    card = retrying.cards.create(
        type="VIRTUAL",
        account_token=account_holder.account_token,
        extra_headers={"Idempotency-Key": str(uuid.uuid4())},
    )

    assert cards_of(retrying) == [card.token]
    log = requests.get(f"{emulator.url}/_emulator/requests", timeout=5).json()
    posts = [entry for entry in log if entry["method"] == "POST" and entry["path"] == "/v1/cards"]
    assert [entry["status"] for entry in posts] == [502, 200]
    assert posts[0]["idempotency_key"] == posts[1]["idempotency_key"]


@pytest.mark.parametrize(
    "status, error",
    [
        (400, lithic.BadRequestError),
        (429, lithic.RateLimitError),
        (500, lithic.InternalServerError),
    ],
)
def test_faults_answer_with_the_status_asked_for(emulator, client, status, error):
    arm(emulator, method="GET", path="^/v1/cards$", status=status)

    with pytest.raises(error) as caught:
        client.cards.list()

    assert caught.value.status_code == status
    if status == 429:
        assert caught.value.response.headers["retry-after"] == "1"


def test_a_fault_only_matches_its_method_and_path(emulator, client, account_holder):
    arm(emulator, method="POST", path="^/v1/cards$", status=500)

    client.cards.list()
    client.accounts.retrieve(account_holder.account_token)

    with pytest.raises(lithic.InternalServerError):
        client.cards.create(type="VIRTUAL", account_token=account_holder.account_token)


def test_a_fault_lasts_for_its_count(emulator, client):
    arm(emulator, method="GET", path="^/v1/cards$", status=503, count=2)

    for _ in range(2):
        with pytest.raises(lithic.InternalServerError):
            client.cards.list()

    client.cards.list()


def test_a_fault_can_carry_its_own_body(emulator):
    arm(emulator, path="^/v1/status$", status=500, body={"message": "custom"})

    response = requests.get(f"{emulator.url}/v1/status", timeout=5)

    assert (response.status_code, response.json()) == (500, {"message": "custom"})


def test_a_delayed_fault_after_processing_answers_late_but_has_done_the_work(
    emulator, client, account_holder
):
    arm(emulator, method="POST", path="^/v1/cards$", status=500, when="after", delay=0.3)

    started = time.monotonic()
    with pytest.raises(lithic.InternalServerError):
        client.cards.create(type="VIRTUAL", account_token=account_holder.account_token)

    assert time.monotonic() - started >= 0.3
    assert len(cards_of(client)) == 1


def test_a_fault_below_400_only_adds_latency(emulator, client):
    arm(emulator, method="GET", path="^/v1/cards$", status=200, delay=0.2)

    started = time.monotonic()
    page = client.cards.list()

    assert time.monotonic() - started >= 0.2
    assert page.data == []


def test_faults_can_be_listed_and_cleared(emulator, client):
    arm(emulator, method="GET", path="^/v1/cards$", status=500)
    assert len(requests.get(f"{emulator.url}/_emulator/faults", timeout=5).json()["data"]) == 1

    requests.delete(f"{emulator.url}/_emulator/faults", timeout=5).raise_for_status()

    client.cards.list()


def test_the_request_log_records_requests_without_bodies(emulator, client, account_holder):
    requests.delete(f"{emulator.url}/_emulator/requests", timeout=5).raise_for_status()
    key = str(uuid.uuid4())

    client.cards.create(
        type="VIRTUAL",
        account_token=account_holder.account_token,
        extra_headers={"Idempotency-Key": key},
    )
    with pytest.raises(lithic.NotFoundError):
        client.cards.retrieve(str(uuid.uuid4()))

    log = requests.get(f"{emulator.url}/_emulator/requests", timeout=5).json()
    assert [(e["method"], e["path"], e["status"]) for e in log] == [
        ("POST", "/v1/cards", 200),
        ("GET", log[1]["path"], 404),
    ]
    assert log[0]["idempotency_key"] == key
    assert set(log[0]) == {"method", "path", "status", "idempotency_key", "at"}


def test_reset_empties_the_state(emulator, client, account_holder):
    client.cards.create(type="VIRTUAL", account_token=account_holder.account_token)

    requests.post(f"{emulator.url}/_emulator/reset", timeout=5).raise_for_status()

    assert cards_of(client) == []
    assert client.accounts.list().data == []
    assert client.events.list().data == []


def test_no_pan_or_cvv_reaches_the_logs(emulator, client, account_holder, caplog, shipping_address):
    caplog.set_level(logging.DEBUG)

    card = client.cards.create(
        type="PHYSICAL",
        account_token=account_holder.account_token,
        shipping_address=shipping_address,
    )
    client.cards.retrieve(card.token)
    client.cards.renew(card.token, shipping_address=shipping_address)
    renewed = client.cards.retrieve(card.token)
    requests.post(f"{emulator.url}/_emulator/fulfilment/run", timeout=5)
    emulator.emulator.webhooks.wait_idle(5)

    text = "\n".join(f"{record.getMessage()} {record.__dict__}" for record in caplog.records)
    assert caplog.records
    assert card.pan not in text
    for cvv in {card.cvv, renewed.cvv}:
        assert f"'{cvv}'" not in text and f'"{cvv}"' not in text


def test_concurrent_retries_with_the_same_keys_make_one_card_per_key(
    emulator, client, account_holder
):
    keys = [str(uuid.uuid4()) for _ in range(10)]

    def order(key: str) -> str:
        return client.cards.create(
            type="VIRTUAL",
            account_token=account_holder.account_token,
            extra_headers={"Idempotency-Key": key},
        ).token

    with ThreadPoolExecutor(max_workers=8) as pool:
        tokens = list(pool.map(order, keys * 4))

    assert len(set(tokens)) == 10
    assert len(cards_of(client)) == 10
