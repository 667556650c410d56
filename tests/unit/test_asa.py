"""The ASA endpoint: signed requests only, idempotent per token, a policy decline on any fault."""

from __future__ import annotations

import datetime as dt
import json
import uuid

import pytest
from falcon import testing
from standardwebhooks import Webhook

from app.accounts.models import CreditAccount
from app.db import connection
from app.transactions import asa
from tests.support.factories import make_account, make_card


@pytest.fixture
def setup(clean_db):
    runtime = clean_db
    secret = runtime.lithic.request("GET", "/v1/auth_stream/secret")["secret"]
    with connection():
        card = make_card(make_account(credit_limit=10_000))
    return testing.TestClient(runtime.app), secret, card


def ask(client, secret, card, amount, token=None, **extra):
    body = json.dumps(
        {
            "token": token or str(uuid.uuid4()),
            "status": "AUTHORIZATION",
            "amount": amount,
            "card": {"token": card.lithic_token},
            "merchant": {"mcc": "5999", "country": "USA", **extra.pop("merchant", {})},
            **extra,
        }
    )
    now = dt.datetime.now(dt.UTC)
    msg_id = f"msg_{uuid.uuid4().hex}"
    return client.simulate_post(
        "/asa/lithic",
        body=body,
        headers={
            "content-type": "application/json",
            "webhook-id": msg_id,
            "webhook-timestamp": str(int(now.timestamp())),
            "webhook-signature": Webhook(secret).sign(msg_id, now, body),
        },
    )


def test_an_approval_holds_the_amount_and_reports_the_balance(setup):
    client, secret, card = setup

    answer = ask(client, secret, card, 2_500).json

    assert answer["result"] == "APPROVED"
    assert answer["balance"] == {"amount": 0, "available": 7_500}


def test_a_resent_token_gets_the_same_answer_and_one_hold(setup):
    client, secret, card = setup
    token = str(uuid.uuid4())

    first = ask(client, secret, card, 2_500, token=token).json
    again = ask(client, secret, card, 2_500, token=token).json

    assert first["result"] == again["result"] == "APPROVED"
    with connection():
        assert CreditAccount.get_by_id(card.account_id).pending_holds == 2_500


def test_a_blocked_country_is_an_unauthorized_merchant(setup):
    client, secret, card = setup

    assert ask(client, secret, card, 100, merchant={"country": "PRK"}).json["result"] == (
        "UNAUTHORIZED_MERCHANT"
    )


def test_partial_approval_when_the_terminal_allows_it(setup):
    client, secret, card = setup

    answer = ask(
        client, secret, card, 12_000, pos={"terminal": {"partial_approval_capable": True}}
    ).json

    assert answer["result"] == "APPROVED" and answer["approved_amount"] == 10_000


def test_an_internal_error_answers_a_policy_decline_not_a_500(setup, monkeypatch):
    client, secret, card = setup

    def broken(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(asa, "_rules", broken)

    response = ask(client, secret, card, 100)

    assert response.status_code == 200
    assert response.json["result"] == "ISSUER_ERROR"


def test_an_unsigned_request_is_refused(setup):
    client, _, card = setup

    response = client.simulate_post("/asa/lithic", json={"token": "x"})

    assert response.status_code == 401
