"""The embedded default (SQLite, in-process broker and worker) under concurrent writers."""

from __future__ import annotations

import datetime as dt
import json
import threading
import time
import uuid

import requests
from standardwebhooks import Webhook

from app.demo import SHIPPING

THREADS = 8
CYCLES = 6


def onboarded_customer_with_cards(count: int) -> tuple[str, list[str]]:
    """A customer whose account the embedded worker opened, with `count` open virtual cards."""
    from app.accounts import service as accounts
    from app.accounts.models import CreditAccount
    from app.cards import service as cards
    from app.db import connection

    applicant = accounts.Applicant(
        external_id=f"ext-{uuid.uuid4()}",
        first_name="Grace",
        last_name="Hopper",
        email="grace@example.com",
        phone_number="+15555550123",
        dob="1980-01-02",
        government_id="111-22-3333",
        address=accounts.Address(
            address1=SHIPPING["address1"],
            city=SHIPPING["city"],
            state=SHIPPING["state"],
            postal_code=SHIPPING["postalCode"],
        ),
    )
    with connection():
        customer, account, _ = accounts.onboard_customer(applicant)
    deadline = time.monotonic() + 20
    while True:
        with connection():
            if CreditAccount.get_by_id(account.id).status == CreditAccount.ACTIVE:
                break
        assert time.monotonic() < deadline, "the account was not opened by the embedded worker"
        time.sleep(0.05)
    card_ids = []
    for _ in range(count):
        with connection():
            card, _ = cards.create_card(customer.id, "VIRTUAL")
        card_ids.append(card.id)
    return customer.id, card_ids


def signed_webhook(runtime, payload: dict) -> requests.Response:
    body = json.dumps(payload)
    webhook_id = f"msg_{uuid.uuid4().hex}"
    now = dt.datetime.now(dt.UTC)
    return requests.post(
        f"{runtime.url}/webhooks/lithic",
        data=body,
        headers={
            "content-type": "application/json",
            "webhook-id": webhook_id,
            "webhook-timestamp": str(int(now.timestamp())),
            "webhook-signature": Webhook(runtime.config.lithic_webhook_secret).sign(
                webhook_id, now, body
            ),
        },
        timeout=30,
    )


def test_eight_threads_freezing_cards_while_the_worker_writes_never_see_database_is_locked(
    clean_db,
):
    # Given the embedded default with eight open cards, and Lithic telling us about each change
    from app.cards import service as cards
    from app.cards.models import Card
    from app.db import connection
    from app.messaging.models import DeadLetter

    runtime = clean_db
    customer_id, card_ids = onboarded_customer_with_cards(THREADS)
    with connection():
        tokens = [Card.get_by_id(card_id).lithic_token for card_id in card_ids]
    errors: list[BaseException] = []
    start = threading.Barrier(THREADS + 1)

    def toggle(card_id: str) -> None:
        start.wait(timeout=10)
        for cycle in range(CYCLES):
            for freeze in (True, False):
                try:
                    with connection():
                        cards.freeze_unfreeze_card(customer_id, card_id, freeze)
                except Exception as exc:  # noqa: BLE001 (every failure is the finding)
                    errors.append(exc)

    def webhooks() -> None:
        start.wait(timeout=10)
        for cycle in range(CYCLES):
            for token in tokens:
                response = signed_webhook(
                    runtime, {"event_type": "card.updated", "card_token": token, "state": "OPEN"}
                )
                if response.status_code != 200:
                    errors.append(AssertionError(f"webhook {response.status_code}"))

    # When eight request threads update cards at once while the worker applies webhooks
    threads = [threading.Thread(target=toggle, args=(card_id,)) for card_id in card_ids]
    threads.append(threading.Thread(target=webhooks))
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    runtime.broker.join("process_credit_card_webhook", timeout=30_000, fail_fast=False)

    # Then no "database is locked" (or any other failure) reached a user or a dead letter
    assert [f"{type(e).__name__}: {e}" for e in errors] == []
    with connection():
        letters = [(d.actor_name, d.error) for d in DeadLetter.select()]
        states = {Card.get_by_id(card_id).state for card_id in card_ids}
    assert letters == []
    assert states <= {"OPEN", "PAUSED"}


def test_eight_concurrent_graphql_freezes_over_http_all_succeed(clean_db):
    # Given the embedded default's HTTP server and eight open cards of one customer
    from app.auth import mint_token

    runtime = clean_db
    customer_id, card_ids = onboarded_customer_with_cards(THREADS)
    token = mint_token(runtime.config, customer_id)
    results: list[tuple[int, dict]] = []
    start = threading.Barrier(THREADS)

    def freeze_and_unfreeze(card_id: str) -> None:
        session = requests.Session()
        session.headers["Authorization"] = f"Bearer {token}"
        start.wait(timeout=10)
        for cycle in range(CYCLES):
            for freeze in (True, False):
                response = session.post(
                    f"{runtime.url}/graphql",
                    json={
                        "query": "mutation($id: ID!, $f: Boolean!) { "
                        "freezeUnfreezeCard(cardId: $id, freeze: $f) { state } }",
                        "variables": {"id": card_id, "f": freeze},
                    },
                    timeout=30,
                )
                results.append((response.status_code, response.json()))

    # When eight clients freeze and unfreeze their cards at once
    threads = [threading.Thread(target=freeze_and_unfreeze, args=(c,)) for c in card_ids]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)

    # Then every request succeeded
    failures = [r for r in results if r[0] != 200 or r[1].get("errors")]
    assert failures == []
    assert len(results) == THREADS * CYCLES * 2
