"""The rail's API: auth, accounts, transfers, idempotency, failures and validation."""

from __future__ import annotations

import pytest
import requests


def test_a_transfer_settles_at_once_and_takes_the_money(api):
    transfer = api.transfer("pay-1", 2_500)

    assert transfer["id"] == "pay-1"
    assert transfer["source_account_id"] == "acct-1"
    assert (transfer["amount"], transfer["currency"]) == (2_500, "USD")
    assert transfer["description"] == "Card payment"
    assert (transfer["status"], transfer["failure_code"], transfer["return_code"]) == (
        "SETTLED",
        None,
        None,
    )
    assert transfer["settled_at"] == transfer["created"]
    assert transfer["created"].endswith("Z") and transfer["returned_at"] is None
    assert api.balance() == 7_500
    assert api.call("GET", "/v1/transfers/pay-1") == transfer


def test_an_account_is_shown_with_its_balance_and_status(api):
    api.account("acct-2", 123, status="CLOSED")

    assert api.call("GET", "/v1/accounts/acct-2") == {
        "id": "acct-2",
        "available_balance": 123,
        "currency": "USD",
        "status": "CLOSED",
    }


def test_the_same_id_and_body_replays_the_transfer_once(api):
    first = api.transfer("pay-1", 2_500)

    again = api.transfer("pay-1", 2_500, expect=200)

    assert again == first
    assert api.balance() == 7_500


def test_a_description_left_out_is_the_same_as_null(api):
    first = api.transfer("pay-1", 100, description=None)
    body = {"id": "pay-1", "source_account_id": "acct-1", "amount": 100, "currency": "USD"}

    assert api.call("POST", "/v1/transfers", json=body) == first


@pytest.mark.parametrize(
    "change",
    [{"amount": 2_501}, {"description": "Other"}, {"source_account_id": "acct-2"}],
)
def test_the_same_id_with_another_body_is_a_409(api, change):
    api.account("acct-2", 10_000)
    api.transfer("pay-1", 2_500)
    body = {
        "id": "pay-1",
        "source_account_id": "acct-1",
        "amount": 2_500,
        "currency": "USD",
        "description": "Card payment",
        **change,
    }

    error = api.call("POST", "/v1/transfers", expect=409, json=body)

    assert error["code"] == "IDEMPOTENCY_CONFLICT"
    assert error["error"]
    assert api.balance() == 7_500


def test_insufficient_funds_make_a_failed_transfer_not_an_error(api):
    failed = api.transfer("pay-1", 10_001)

    assert (failed["status"], failed["failure_code"]) == ("FAILED", "INSUFFICIENT_FUNDS")
    assert failed["settled_at"] is None
    assert api.balance() == 10_000
    # The outcome is kept: a replay answers the same failure even once money has arrived.
    api.account("acct-1", 50_000)
    assert api.transfer("pay-1", 10_001, expect=200) == failed


def test_the_whole_balance_can_be_taken(api):
    assert api.transfer("pay-1", 10_000)["status"] == "SETTLED"
    assert api.balance() == 0


def test_a_closed_account_makes_a_failed_transfer(api):
    api.account("acct-1", 10_000, status="CLOSED")

    failed = api.transfer("pay-1", 100)

    assert (failed["status"], failed["failure_code"]) == ("FAILED", "ACCOUNT_CLOSED")
    assert api.balance() == 10_000


def test_unknown_accounts_and_transfers_are_404s(api):
    error = api.call("GET", "/v1/accounts/nobody", expect=404)
    assert error["code"] == "ACCOUNT_NOT_FOUND"

    body = {"id": "pay-9", "source_account_id": "nobody", "amount": 1, "currency": "USD"}
    assert api.call("POST", "/v1/transfers", expect=404, json=body)["code"] == "ACCOUNT_NOT_FOUND"
    assert api.call("GET", "/v1/transfers/pay-9", expect=404)["code"] == "TRANSFER_NOT_FOUND"
    assert api.call("GET", "/v1/nothing", expect=404)["code"] == "NOT_FOUND"
    assert api.call("DELETE", "/v1/transfers/pay-9", expect=405)["code"] == "METHOD_NOT_ALLOWED"


GOOD = {"id": "pay-1", "source_account_id": "acct-1", "amount": 100, "currency": "USD"}


@pytest.mark.parametrize(
    "change, message",
    [
        ({"id": None}, "id is required"),
        ({"id": ""}, "id must be 1-64"),
        ({"id": "x" * 65}, "id must be 1-64"),
        ({"id": "a/b"}, "id must be 1-64"),
        ({"id": "a b"}, "id must be 1-64"),
        ({"id": 7}, "id is required and must be a string"),
        ({"source_account_id": None}, "source_account_id is required"),
        ({"amount": None}, "amount must be a positive integer"),
        ({"amount": 0}, "amount must be a positive integer"),
        ({"amount": -5}, "amount must be a positive integer"),
        ({"amount": 10.5}, "amount must be a positive integer"),
        ({"amount": "100"}, "amount must be a positive integer"),
        ({"amount": True}, "amount must be a positive integer"),
        ({"currency": None}, "currency is required and must be USD"),
        ({"currency": "EUR"}, "currency is required and must be USD"),
        ({"description": 5}, "description must be a string"),
        ({"description": "x" * 501}, "description must be at most 500"),
    ],
)
def test_bad_transfer_bodies_are_400s(api, change, message):
    body = {**GOOD, **change}

    error = api.call("POST", "/v1/transfers", expect=400, json=body)

    assert error["code"] == "INVALID_REQUEST"
    assert message in error["error"]


@pytest.mark.parametrize("raw", [b"{not json", b"[1, 2]"])
def test_a_body_that_is_not_a_json_object_is_a_400(api, raw):
    error = api.call(
        "POST",
        "/v1/transfers",
        expect=400,
        data=raw,
        headers={"Content-Type": "application/json"},
    )

    assert error["code"] == "INVALID_REQUEST"


def test_an_id_of_64_characters_is_accepted(api):
    transfer_id = "p" * 63 + "9"

    assert api.transfer(transfer_id, 1)["id"] == transfer_id
    assert api.call("GET", f"/v1/transfers/{transfer_id}")["id"] == transfer_id


@pytest.mark.parametrize(
    "header, message",
    [
        (None, "Bearer"),
        ("{key}", "Bearer"),
        ("Bearer ", "Bearer"),
        ("Bearer wrong-key", "Unknown API key"),
        ("Basic {key}", "Bearer"),
    ],
)
def test_requests_without_a_known_bearer_key_are_401s(rail, api_key, header, message):
    headers = {"Authorization": header.format(key=api_key)} if header else {}
    for method, path in (("GET", "/v1/accounts/acct-1"), ("POST", "/v1/transfers")):
        response = requests.request(method, rail.url + path, headers=headers, json={}, timeout=5)

        assert response.status_code == 401
        assert response.json()["code"] == "UNAUTHORIZED"
        assert message in response.json()["error"]


def test_any_configured_key_is_accepted(make_rail, make_api):
    rail = make_rail(api_keys=("old-key", "new-key"))
    make_api(rail.url).account("acct-1", 5)

    for key in ("old-key", "new-key"):
        assert make_api(rail.url, key).balance() == 5
