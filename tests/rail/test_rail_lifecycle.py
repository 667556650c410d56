"""Transfer lifecycle after creation: settle delay, returns, late failures, signed webhooks."""

from __future__ import annotations

import time

import pytest
from standardwebhooks import Webhook


@pytest.fixture
def slow(make_rail, make_api, receiver, webhook_secret):
    """HTTP access to a rail whose transfers settle 0.3 s after creation."""
    rail = make_rail(webhook_url=receiver.url, webhook_secret=webhook_secret, settle_delay=0.3)
    api = make_api(rail.url)
    api.account("acct-1", 10_000)
    api.rail = rail
    return api


def verified(delivery, secret: str) -> dict:
    """The webhook's body, once its Standard-Webhooks signature checks out."""
    return Webhook(secret).verify(delivery.body, delivery.headers)


def test_a_delayed_transfer_is_pending_then_settles_with_a_webhook(slow, receiver, webhook_secret):
    pending = slow.transfer("pay-1", 4_000)

    assert (pending["status"], pending["settled_at"]) == ("PENDING", None)
    # The money is taken at once, not at settlement.
    assert slow.balance() == 6_000
    delivery = receiver.wait_for(1)[0]
    body = verified(delivery, webhook_secret)
    assert body["type"] == "transfer.settled"
    settled = slow.call("GET", "/v1/transfers/pay-1")
    assert body["transfer"] == settled
    assert settled["status"] == "SETTLED" and settled["settled_at"] is not None
    assert settled["updated"] == settled["settled_at"]
    assert slow.balance() == 6_000


def test_settling_by_hand_beats_the_timer_and_sends_one_webhook(slow, receiver):
    slow.transfer("pay-1", 100)

    settled = slow.control("POST", "/transfers/pay-1/settle")

    assert settled["status"] == "SETTLED"
    time.sleep(0.5)
    slow.rail.rail.webhooks.wait_idle(5)
    assert [d.json()["type"] for d in receiver.deliveries] == ["transfer.settled"]
    error = slow.control("POST", "/transfers/pay-1/settle", expect=409)
    assert error["code"] == "INVALID_TRANSFER_STATE"


def test_nothing_is_sent_for_outcomes_known_at_creation(rail, api, receiver):
    api.transfer("pay-1", 100)
    api.transfer("pay-2", 1_000_000)

    rail.rail.webhooks.wait_idle(5)

    assert receiver.deliveries == []


def test_a_settled_transfer_can_be_returned_and_the_money_comes_back(
    rail, api, receiver, webhook_secret
):
    api.transfer("pay-1", 2_500)

    returned = api.control("POST", "/transfers/pay-1/return", json={"return_code": "R01"})

    assert (returned["status"], returned["return_code"]) == ("RETURNED", "R01")
    assert returned["returned_at"] is not None and returned["failure_code"] is None
    assert api.balance() == 10_000
    assert api.call("GET", "/v1/transfers/pay-1") == returned
    body = verified(receiver.wait_for(1)[0], webhook_secret)
    assert body == {"type": "transfer.returned", "transfer": returned}


def test_the_return_code_defaults_to_r01_and_must_look_like_one(api):
    api.transfer("pay-1", 100)

    error = api.control("POST", "/transfers/pay-1/return", expect=400, json={"return_code": "X"})
    assert error["code"] == "INVALID_REQUEST"

    assert api.control("POST", "/transfers/pay-1/return")["return_code"] == "R01"


def test_only_a_settled_transfer_can_be_returned(slow):
    slow.transfer("pending", 100)
    slow.transfer("failed", 1_000_000)

    for transfer_id in ("pending", "failed"):
        error = slow.control("POST", f"/transfers/{transfer_id}/return", expect=409)
        assert error["code"] == "INVALID_TRANSFER_STATE"
        assert "SETTLED" in error["error"]
    slow.control("POST", "/transfers/pending/settle")
    slow.control("POST", "/transfers/pending/return", json={"return_code": "R02"})
    assert slow.control("POST", "/transfers/pending/return", expect=409)["code"] == (
        "INVALID_TRANSFER_STATE"
    )
    assert slow.balance() == 10_000


def test_a_pending_transfer_can_fail_late_with_a_webhook(slow, receiver, webhook_secret):
    slow.transfer("pay-1", 700)

    failed = slow.control("POST", "/transfers/pay-1/fail", json={"failure_code": "R01"})

    assert (failed["status"], failed["failure_code"]) == ("FAILED", "R01")
    assert slow.balance() == 10_000
    body = verified(receiver.wait_for(1)[0], webhook_secret)
    assert body == {"type": "transfer.failed", "transfer": failed}
    time.sleep(0.4)
    assert slow.call("GET", "/v1/transfers/pay-1")["status"] == "FAILED"
    assert slow.control("POST", "/transfers/pay-1/fail", expect=409)["code"] == (
        "INVALID_TRANSFER_STATE"
    )


def test_test_actions_on_unknown_transfers_are_404s(api):
    for action in ("settle", "return", "fail"):
        error = api.control("POST", f"/transfers/nope/{action}", expect=404)
        assert error["code"] == "TRANSFER_NOT_FOUND"


def test_a_failing_receiver_gets_retries_with_the_same_webhook_id(
    rail, api, receiver, webhook_secret
):
    receiver.statuses = [500, 503]
    api.transfer("pay-1", 100)

    api.control("POST", "/transfers/pay-1/return")

    deliveries = receiver.wait_for(3)
    assert len({d.headers["webhook-id"] for d in deliveries}) == 1
    assert deliveries[0].headers["webhook-id"].startswith("msg_")
    for delivery in deliveries:
        assert verified(delivery, webhook_secret)["type"] == "transfer.returned"
    rail.rail.webhooks.wait_idle(5)
    assert len(receiver.deliveries) == 3


def test_delivery_stops_after_the_retry_schedule(rail, api, receiver):
    receiver.statuses = [500] * 10
    api.transfer("pay-1", 100)

    api.control("POST", "/transfers/pay-1/return")
    rail.rail.webhooks.wait_idle(5)

    # One first attempt plus one per entry of the (two-step) retry schedule.
    assert len(receiver.deliveries) == 3


def test_each_change_has_its_own_webhook_id(slow, receiver):
    slow.transfer("pay-1", 100)
    slow.control("POST", "/transfers/pay-1/settle")
    slow.control("POST", "/transfers/pay-1/return")

    deliveries = receiver.wait_for(2)

    assert [d.json()["type"] for d in deliveries] == ["transfer.settled", "transfer.returned"]
    assert deliveries[0].headers["webhook-id"] != deliveries[1].headers["webhook-id"]


def test_no_webhooks_without_a_url_and_secret(make_rail, make_api, receiver):
    rail = make_rail(webhook_url=receiver.url)
    api = make_api(rail.url)
    api.account("acct-1", 1_000)
    api.transfer("pay-1", 100)

    api.control("POST", "/transfers/pay-1/return")
    rail.rail.webhooks.wait_idle(5)

    assert receiver.deliveries == []


def test_webhooks_wait_reports_idle(api):
    assert api.control("POST", "/webhooks/wait", json={"timeout": 1}) == {"idle": True}
    assert api.control("POST", "/webhooks/wait", expect=400, json={"timeout": "x"})["code"] == (
        "INVALID_REQUEST"
    )
