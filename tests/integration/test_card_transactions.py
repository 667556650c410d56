"""Swipes end to end: Lithic asks our ASA endpoint, then webhooks feed the ledger."""

from __future__ import annotations

import json
import uuid

import pytest

from tests.support import api
from tests.support.lithic import EmulatorClient, signed_post
from tests.support.stack import BIN, WEBHOOK_SECRET, wait_until

pytestmark = [pytest.mark.postgres, pytest.mark.rabbitmq, pytest.mark.slow]

BALANCES = "{ accountInfo { creditLimit currentBalance pendingHolds availableCredit } }"


@pytest.fixture
def swiping(stack_parts):
    """A running stack whose emulator asks our ASA endpoint, and a customer with a virtual card."""
    stack = stack_parts
    stack.start_emulator()
    lithic = EmulatorClient(stack.emulator_url)
    asa_secret = lithic.enroll_asa(f"{stack.url}/asa/lithic")
    stack.migrate()
    stack.start_web()
    stack.start_worker()
    customer, customer_id = api.onboard(stack.url)
    card_id = customer(
        'mutation { createCard(input: {type: VIRTUAL, memo: "shopping"}) { card { id } } }'
    )["createCard"]["card"]["id"]
    token = lithic.cards()[0]["token"]
    pan = lithic("GET", f"/v1/cards/{token}")["pan"]
    return stack, lithic, customer, card_id, token, pan, asa_secret


def balances(customer) -> dict:
    return customer(BALANCES)["accountInfo"]


def settle(customer, **expected) -> dict:
    return wait_until(
        lambda: (lambda b: b if all(b[k] == v for k, v in expected.items()) else None)(
            balances(customer)
        ),
        what=f"balances {expected}",
    )


def ledger_check(stack) -> None:
    result = stack.run([str(BIN / "ccs"), "ledger-check"])
    assert result.returncode == 0, result.stdout + result.stderr


def test_a_swipe_is_approved_by_asa_held_then_cleared_into_the_balance(swiping):
    stack, lithic, customer, card_id, token, pan, _ = swiping

    transaction = lithic.authorize(pan, 12_345)

    assert lithic.transaction(transaction)["result"] == "APPROVED"
    assert balances(customer)["pendingHolds"] == 12_345  # recorded by the ASA answer itself
    lithic.simulate("clearing", token=transaction)
    info = settle(customer, currentBalance=12_345, pendingHolds=0)
    assert info["availableCredit"] == info["creditLimit"] - 12_345
    page = customer(
        """{ creditCardTransactions(first: 5) { edges { node {
             status settledAmount pendingAmount merchant { descriptor } events { type } } } } }"""
    )["creditCardTransactions"]["edges"]
    assert [edge["node"]["status"] for edge in page] == ["SETTLED"]
    assert [e["type"] for e in page[0]["node"]["events"]] == ["AUTHORIZATION", "CLEARING"]
    ledger_check(stack)


def test_declines_paused_closed_over_credit_over_limit_and_blocked_merchant(swiping):
    stack, lithic, customer, card_id, token, pan, _ = swiping
    limit = balances(customer)["creditLimit"]

    over_credit = lithic.authorize(pan, limit + 1)
    blocked = lithic.authorize(pan, 500, mcc="7995")
    customer(
        "mutation($id: ID!) { freezeUnfreezeCard(cardId: $id, freeze: true) { state } }", id=card_id
    )
    paused = lithic.authorize(pan, 500)
    customer(
        "mutation($id: ID!) { freezeUnfreezeCard(cardId: $id, freeze: false) { state } }",
        id=card_id,
    )
    api.admin(stack.url)("mutation($id: ID!) { closeCard(cardId: $id) { state } }", id=card_id)
    closed = lithic.authorize(pan, 500)

    results = {
        name: lithic.transaction(t)["result"]
        for name, t in {
            "over_credit": over_credit,
            "blocked": blocked,
            "paused": paused,
            "closed": closed,
        }.items()
    }
    assert results["over_credit"] == "INSUFFICIENT_FUNDS"
    assert results["blocked"] == "UNAUTHORIZED_MERCHANT"
    assert results["paused"] == "CARD_PAUSED"
    assert results["closed"] in ("CARD_CLOSED", "CARD_PAUSED")
    assert balances(customer)["pendingHolds"] == 0
    ledger_check(stack)


def test_over_the_cards_spend_limit_is_declined_by_our_rules(swiping):
    stack, lithic, customer, card_id, token, pan, asa_secret = swiping
    # Lithic itself would refuse first; ask our ASA endpoint directly, as Lithic would.
    lithic(
        "PATCH",
        f"/v1/cards/{token}",
        json={"spend_limit": 1_000, "spend_limit_duration": "TRANSACTION"},
    )
    wait_until(
        lambda: (
            stack.run([str(BIN / "python"), "-c", _spend_limit_probe(card_id)]).stdout.strip()
            == "1000"
        ),
        what="the card.updated webhook to carry the spend limit",
    )

    answer = signed_post(
        f"{stack.url}/asa/lithic", _asa_request(token, 1_001), f"msg_{uuid.uuid4().hex}", asa_secret
    ).json()

    assert answer["result"] == "VELOCITY_EXCEEDED"


def test_the_same_asa_token_twice_gets_the_same_answer_and_one_hold(swiping):
    stack, lithic, customer, card_id, token, pan, asa_secret = swiping
    request = _asa_request(token, 2_500)

    first = signed_post(f"{stack.url}/asa/lithic", request, "msg_a", asa_secret).json()
    again = signed_post(f"{stack.url}/asa/lithic", request, "msg_b", asa_secret).json()

    assert first["result"] == again["result"] == "APPROVED"
    assert balances(customer)["pendingHolds"] == 2_500


def test_a_forged_asa_request_is_refused(swiping):
    stack, lithic, customer, card_id, token, pan, asa_secret = swiping

    response = signed_post(
        f"{stack.url}/asa/lithic", _asa_request(token, 100), "msg_x", WEBHOOK_SECRET
    )

    assert response.status_code == 401


def test_partial_clearing_over_clearing_reversal_expiry_return_and_its_reversal(swiping):
    stack, lithic, customer, card_id, token, pan, _ = swiping

    partial = lithic.authorize(pan, 10_000)
    lithic.simulate("clearing", token=partial, amount=6_000)  # 4000 stays held
    over = lithic.authorize(pan, 5_000)
    lithic.simulate("clearing", token=over, amount=7_340)  # tip: more than authorized
    reversed_ = lithic.authorize(pan, 3_000)
    lithic.simulate("void", token=reversed_, amount=1_000)  # 2000 stays held
    expired = lithic.authorize(pan, 2_000)
    lithic.simulate("void", token=expired, type="AUTHORIZATION_EXPIRY")
    refund = lithic(
        "POST", "/v1/simulate/return", json={"pan": pan, "amount": 1_500, "descriptor": "REFUND"}
    )["token"]
    lithic.simulate("return_reversal", token=refund)
    refund_kept = lithic(
        "POST", "/v1/simulate/return", json={"pan": pan, "amount": 700, "descriptor": "REFUND"}
    )["token"]

    settle(customer, currentBalance=6_000 + 7_340 - 700, pendingHolds=4_000 + 2_000)
    statuses = {
        edge["node"]["id"]: edge["node"]["status"]
        for edge in customer(
            "{ creditCardTransactions(first: 20) { edges { node { id status } } } }"
        )["creditCardTransactions"]["edges"]
    }
    assert sorted(statuses.values()) == sorted(
        ["SETTLED", "SETTLED", "PENDING", "EXPIRED", "SETTLED", "SETTLED"]
    )
    assert refund_kept
    ledger_check(stack)


def test_a_force_post_is_recorded_flagged_and_charged(swiping):
    stack, lithic, customer, card_id, token, pan, _ = swiping
    transaction_token = str(uuid.uuid4())
    force_post = {
        "event_type": "card_transaction.updated",
        "token": transaction_token,
        "card_token": token,
        "account_token": None,
        "status": "SETTLED",
        "result": "APPROVED",
        "authorization_amount": 0,
        "settled_amount": 4_200,
        "created": "2026-12-01T10:00:00Z",
        "updated": "2026-12-01T10:00:00Z",
        "merchant": {"descriptor": "AIRLINE", "mcc": "4511", "country": "USA"},
        "events": [
            {
                "token": str(uuid.uuid4()),
                "type": "CLEARING",
                "amount": 4_200,
                "result": "APPROVED",
                "detailed_results": ["APPROVED"],
                "created": "2026-12-01T10:00:00Z",
            }
        ],
    }

    response = signed_post(f"{stack.url}/webhooks/lithic", force_post, "msg_force", WEBHOOK_SECRET)

    assert response.status_code == 200
    settle(customer, currentBalance=4_200)
    flagged = customer(
        "{ creditCardTransactions(first: 5) { edges { node { flag postedAmount } } } }"
    )["creditCardTransactions"]["edges"]
    assert flagged[0]["node"] == {"flag": "FORCE_POST", "postedAmount": 4_200}
    ledger_check(stack)


def _asa_request(card_token: str, amount: int) -> dict:
    return {
        "token": str(uuid.uuid4()),
        "status": "AUTHORIZATION",
        "amount": amount,
        "authorization_amount": amount,
        "card": {"token": card_token, "state": "OPEN", "type": "VIRTUAL"},
        "merchant": {"descriptor": "SHOP", "mcc": "5999", "country": "USA"},
        "pos": {
            "entry_mode": {"card": "NOT_PRESENT"},
            "terminal": {"partial_approval_capable": False},
        },
    }


def _spend_limit_probe(card_id: str) -> str:
    return (
        "from app.runtime import bootstrap\n"
        "from app.db import connection\n"
        "from app.cards.models import Card\n"
        "bootstrap()\n"
        "with connection():\n"
        f"    print(Card.get_by_id({json.dumps(card_id)}).spend_limit)\n"
    )
