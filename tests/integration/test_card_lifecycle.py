"""The card lifecycle end to end: gunicorn, dramatiq, PostgreSQL, RabbitMQ, the emulator."""

from __future__ import annotations

import base64
import datetime as dt
import json
import re
import sys
import uuid

import pika
import pytest
import requests

from tests.support import api
from tests.support.lithic import EmulatorClient
from tests.support.lithic import signed_post as sign_and_post
from tests.support.stack import BIN, JWT_SECRET, WEBHOOK_SECRET, wait_until
from tests.support.tcp_proxy import TcpProxy

pytestmark = [pytest.mark.postgres, pytest.mark.rabbitmq, pytest.mark.slow]


def emulator_cards(stack) -> list[dict]:
    return EmulatorClient(stack.emulator_url).cards()


def replacements_at_lithic(stack) -> list[dict]:
    return [c for c in emulator_cards(stack) if c.get("replacement_for")]


def inject_fault(stack, **fault) -> None:
    EmulatorClient(stack.emulator_url).fault(**fault)


def setup_physical_card(stack):
    customer, customer_id = api.onboard(stack.url)
    card_id = api.order_physical(customer)
    return customer, card_id


def test_demo_scenario_runs_through_http_with_a_real_worker(stack):
    result = stack.run([str(BIN / "ccs"), "demo"], CCS_URL=stack.url, JWT_SECRET=JWT_SECRET)

    assert result.returncode == 0, result.stdout + result.stderr + stack.logs()
    assert "demo passed" in result.stdout
    assert len(replacements_at_lithic(stack)) == 1


def test_replace_message_delivered_twice_makes_one_card_at_lithic(stack):
    customer, card_id = setup_physical_card(stack)
    worker = next(p for p in stack.processes if p.name == "worker")
    worker.stop()

    replacement = api.replace(customer, card_id)

    # Copy the queued message, so RabbitMQ holds the same delivery twice.
    connection = pika.BlockingConnection(pika.URLParameters(stack.rabbitmq_url))
    channel = connection.channel()
    method, properties, body = wait_until(
        lambda: (lambda got: got if got[0] else None)(channel.basic_get("replace_credit_card")),
        what="the replace message in RabbitMQ",
    )
    channel.basic_publish("", "replace_credit_card", body, properties)
    channel.basic_nack(method.delivery_tag, requeue=True)
    connection.close()

    def queued() -> int:
        with pika.BlockingConnection(pika.URLParameters(stack.rabbitmq_url)) as conn:
            return (
                conn.channel()
                .queue_declare("replace_credit_card", passive=True)
                .method.message_count
            )

    wait_until(lambda: queued() == 2, what="two copies of the message in the queue")

    stack.start_worker()
    api.operation_done(customer, replacement["operation"]["id"])
    wait_until(
        lambda: "duplicate" in stack.logs(), what="the second delivery to be skipped", timeout=30
    )

    assert len(replacements_at_lithic(stack)) == 1
    assert api.card(customer, card_id)["state"] == "CLOSED"


def test_worker_killed_mid_actor_redelivers_and_replaces_once(stack):
    customer, card_id = setup_physical_card(stack)
    cards_before = len(emulator_cards(stack))
    # Lithic creates the card, then takes 8 s to answer: the worker dies while it waits.
    inject_fault(
        stack, method="POST", path="^/v1/cards$", status=200, when="after", delay=8, count=1
    )

    replacement = api.replace(customer, card_id)
    wait_until(lambda: len(emulator_cards(stack)) > cards_before, what="the card at Lithic")
    worker = next(p for p in stack.processes if p.name == "worker")
    worker.kill()
    EmulatorClient(stack.emulator_url).clear_faults()
    stack.start_worker()

    api.operation_done(customer, replacement["operation"]["id"])
    assert len(replacements_at_lithic(stack)) == 1
    assert len(emulator_cards(stack)) == cards_before + 1
    assert api.card(customer, card_id)["state"] == "CLOSED"
    assert api.card(customer, replacement["card"]["id"])["state"] in (
        "PENDING_FULFILLMENT",
        "PENDING_ACTIVATION",
    )


def test_lithic_500_then_200_is_retried_into_one_card(stack):
    customer, card_id = setup_physical_card(stack)
    # The card is made, but the answer is lost as a 500: only the Idempotency-Key saves us.
    inject_fault(stack, method="POST", path="^/v1/cards$", status=500, when="after", count=1)

    replacement = api.replace(customer, card_id)

    api.operation_done(customer, replacement["operation"]["id"])
    assert len(replacements_at_lithic(stack)) == 1
    assert api.card(customer, card_id)["state"] == "CLOSED"


def test_lithic_400_becomes_a_dead_letter_with_the_error(stack):
    customer, card_id = setup_physical_card(stack)
    inject_fault(stack, method="POST", path="^/v1/cards$", status=400, when="before", count=1)

    replacement = api.replace(customer, card_id)

    def failed():
        op = customer(
            "query($id: ID!) { operation(id: $id) { status error } }",
            id=replacement["operation"]["id"],
        )["operation"]
        return op if op["status"] == "FAILED" else None

    operation = wait_until(failed, what="the operation to fail")
    assert "Lithic 400" in operation["error"]
    listing = stack.run([str(BIN / "ccs"), "dead-letters", "list"])
    letters = [json.loads(line) for line in listing.stdout.splitlines()]
    assert len(letters) == 1
    assert letters[0]["actor"] == "replace_credit_card"
    assert letters[0]["error_type"] == "LithicPermanentError"
    assert "debugging_request_id" in letters[0]["error"]
    assert letters[0]["retries"] == 0
    assert replacements_at_lithic(stack) == []


def signed_post(stack, payload: dict, webhook_id: str, at: dt.datetime | None = None, secret=None):
    return sign_and_post(
        f"{stack.url}/webhooks/lithic", payload, webhook_id, secret or WEBHOOK_SECRET, at
    )


@pytest.fixture
def manual_fulfilment_stack(stack_parts):
    """A stack whose emulator ships nothing by itself."""
    return stack_parts.start()


def test_forged_stale_and_replayed_webhooks_are_refused_or_ignored(manual_fulfilment_stack):
    stack = manual_fulfilment_stack
    customer, card_id = setup_physical_card(stack)
    token = emulator_cards(stack)[0]["token"]
    shipped = {
        "event_type": "card.shipped",
        "card_token": token,
        "shipping_method": "USPS priority",
        "tracking_number": "TRACK-123",
        "bulk_order_token": None,
    }
    forged_secret = "whsec_" + base64.b64encode(b"not-the-secret-at-all-0123456").decode()

    forged = signed_post(stack, shipped, "msg_forged", secret=forged_secret)
    stale = signed_post(
        stack, shipped, "msg_stale", at=dt.datetime.now(dt.UTC) - dt.timedelta(minutes=10)
    )
    unsigned = requests.post(f"{stack.url}/webhooks/lithic", json=shipped, timeout=10)

    assert (forged.status_code, stale.status_code, unsigned.status_code) == (401, 401, 401)
    assert api.card(customer, card_id)["trackingNumber"] is None

    webhook_id = f"msg_{uuid.uuid4().hex}"
    first = signed_post(stack, shipped, webhook_id)
    replayed = signed_post(stack, shipped, webhook_id)

    assert first.status_code == 200 and first.json()["duplicate"] is False
    assert replayed.status_code == 200 and replayed.json()["duplicate"] is True
    card = wait_until(
        lambda: (lambda c: c if c["trackingNumber"] == "TRACK-123" else None)(
            api.card(customer, card_id)
        ),
        what="the card.shipped webhook to apply",
    )
    assert card["state"] == "PENDING_ACTIVATION"
    events = customer("query($id: ID!) { creditCard(id: $id) { events { kind } } }", id=card_id)[
        "creditCard"
    ]["events"]
    assert [e["kind"] for e in events].count("SHIPPED") == 1


def test_unknown_event_types_are_acknowledged_and_recorded(manual_fulfilment_stack):
    stack = manual_fulfilment_stack

    response = signed_post(stack, {"event_type": "tokenization.updated"}, "msg_unknown")

    assert response.status_code == 200
    assert response.json() == {"received": True, "duplicate": False}


def test_replace_card_succeeds_while_rabbitmq_is_unreachable(stack_parts):
    stack = stack_parts
    rabbit_port = pika.URLParameters(stack.rabbitmq_url).port
    proxy = TcpProxy(rabbit_port).start()
    proxied_url = stack.rabbitmq_url.replace(f":{rabbit_port}/", f":{proxy.port}/")
    stack.fulfilment_delay = None
    stack.start_emulator()
    stack.migrate()
    stack.start_web(RABBITMQ_URL=proxied_url)
    stack.start_worker()
    customer, card_id = setup_physical_card(stack)

    proxy.stop()
    replacement = api.replace(customer, card_id)

    assert replacement["operation"]["status"] == "PENDING"
    assert api.card(customer, card_id)["state"] != "CLOSED"

    proxy.start()
    relay = stack.run([str(BIN / "ccs"), "relay", "--min-age", "0"], RABBITMQ_URL=proxied_url)
    assert relay.returncode == 0, relay.stderr
    # The replace message, and any webhook message the outage also held back.
    assert re.search(r"published [1-9]\d* message", relay.stdout), relay.stdout

    api.operation_done(customer, replacement["operation"]["id"])
    assert api.card(customer, card_id)["state"] == "CLOSED"
    assert len(replacements_at_lithic(stack)) == 1
    proxy.stop()


if __name__ == "__main__":
    sys.exit(pytest.main([__file__, "-x", "-v"]))
