"""Emulator responses validated against Lithic's published OpenAPI description."""

from __future__ import annotations

import functools
import os
import uuid
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml
from openapi_schema_validator import OAS31Validator, oas31_format_checker, validate

REPO_ROOT = Path(__file__).resolve().parents[2]


def openapi_dir() -> Path | None:
    """Where the OpenAPI files are: $LITHIC_OPENAPI_DIR, else ../shared/lithic-openapi."""
    configured = os.environ.get("LITHIC_OPENAPI_DIR")
    path = Path(configured) if configured else REPO_ROOT.parent / "shared" / "lithic-openapi"
    return path if path.is_dir() else None


@pytest.fixture(scope="module")
def spec_dir() -> Path:
    path = openapi_dir()
    if path is None:
        message = "Lithic OpenAPI files not found (set LITHIC_OPENAPI_DIR)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return path


@functools.cache
def _load(path: Path) -> dict[str, Any]:
    return _nullable_refs(yaml.safe_load(path.read_text()))


def _nullable_refs(node: Any) -> Any:
    """Read `oneOf: [null, $ref]` as `anyOf`, which is what the spec means.

    NOTE: where the referenced schema itself allows null (token_info), a null value matches
    both branches and strict oneOf rejects the very null the spec documents.
    """
    if isinstance(node, list):
        return [_nullable_refs(item) for item in node]
    if not isinstance(node, dict):
        return node
    node = {key: _nullable_refs(value) for key, value in node.items()}
    branches = node.get("oneOf")
    if isinstance(branches, list) and {"type": "null"} in branches and len(branches) == 2:
        node["anyOf"] = node.pop("oneOf")
    return node


def _resolve(spec: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node and node["$ref"].startswith("#/components/responses/"):
        node = spec["components"]["responses"][node["$ref"].rsplit("/", 1)[1]]
    return node


def assert_matches(
    spec_dir: Path, file: str, path: str, method: str, status: int, body: Any
) -> None:
    """Validate `body` against the documented response of one operation and status."""
    spec = _load(spec_dir / f"lithic-{file}-api-openapi.yml")
    responses = spec["paths"][path][method]["responses"]
    response = _resolve(spec, responses[str(status)])
    schema = dict(response["content"]["application/json"]["schema"])
    # Local $refs (#/components/...) resolve against this root.
    schema["components"] = spec["components"]
    validate(body, schema, cls=OAS31Validator, format_checker=oas31_format_checker)


class Api:
    """Raw HTTP access, so the exact JSON is validated rather than SDK models."""

    def __init__(self, url: str, key: str):
        self.url = url
        self.headers = {"Authorization": key}

    def call(self, method: str, path: str, expect: int = 200, **kwargs: Any) -> Any:
        headers = {**self.headers, **kwargs.pop("headers", {})}
        response = requests.request(method, self.url + path, headers=headers, timeout=5, **kwargs)
        assert response.status_code == expect, response.text
        return response.json() if response.content else None


@pytest.fixture
def api(emulator, api_key) -> Api:
    return Api(emulator.url, api_key)


@pytest.fixture
def holder(api: Api, individual) -> dict[str, Any]:
    return api.call(
        "POST",
        "/v1/account_holders",
        json={
            "workflow": "KYC_BASIC",
            "individual": individual(),
            "tos_timestamp": "2024-01-01T00:00:00Z",
            "external_id": "customer-1",
        },
    )


def test_account_holder_responses_match_the_spec(spec_dir, api, holder, individual):
    assert_matches(spec_dir, "account-holder", "/v1/account_holders", "post", 200, holder)
    rejected = api.call(
        "POST",
        "/v1/account_holders",
        json={
            "workflow": "KYC_BASIC",
            "individual": individual("000-00-0001"),
            "tos_timestamp": "2024-01-01T00:00:00Z",
        },
    )
    assert_matches(spec_dir, "account-holder", "/v1/account_holders", "post", 200, rejected)

    fetched = api.call("GET", f"/v1/account_holders/{holder['token']}")
    assert_matches(
        spec_dir,
        "account-holder",
        "/v1/account_holders/{account_holder_token}",
        "get",
        200,
        fetched,
    )
    listed = api.call("GET", "/v1/account_holders")
    assert_matches(spec_dir, "account-holder", "/v1/account_holders", "get", 200, listed)


def test_account_responses_match_the_spec(spec_dir, api, holder):
    account = api.call("GET", f"/v1/accounts/{holder['account_token']}")
    assert_matches(spec_dir, "account", "/v1/accounts/{account_token}", "get", 200, account)

    patched = api.call(
        "PATCH", f"/v1/accounts/{holder['account_token']}", json={"monthly_spend_limit": 100}
    )
    assert_matches(spec_dir, "account", "/v1/accounts/{account_token}", "patch", 200, patched)
    assert_matches(spec_dir, "account", "/v1/accounts", "get", 200, api.call("GET", "/v1/accounts"))
    limits = api.call("GET", f"/v1/accounts/{holder['account_token']}/spend_limits")
    assert_matches(
        spec_dir, "account", "/v1/accounts/{account_token}/spend_limits", "get", 200, limits
    )


def test_financial_account_responses_match_the_spec(spec_dir, api, holder):
    listed = api.call("GET", f"/v1/financial_accounts?account_token={holder['account_token']}")
    assert_matches(spec_dir, "financial-account", "/v1/financial_accounts", "get", 200, listed)
    token = listed["data"][0]["token"]

    one = "/v1/financial_accounts/{financial_account_token}"
    fetched = api.call("GET", f"/v1/financial_accounts/{token}")
    assert_matches(spec_dir, "financial-account", one, "get", 200, fetched)
    config_path = one + "/credit_configuration"
    patched = api.call(
        "PATCH", f"/v1/financial_accounts/{token}/credit_configuration", json={"credit_limit": 5}
    )
    assert_matches(spec_dir, "financial-account", config_path, "patch", 200, patched)
    config = api.call("GET", f"/v1/financial_accounts/{token}/credit_configuration")
    assert_matches(spec_dir, "financial-account", config_path, "get", 200, config)
    created = api.call(
        "POST",
        "/v1/financial_accounts",
        json={"nickname": "ops", "type": "OPERATING", "account_token": holder["account_token"]},
        headers={"Idempotency-Key": str(uuid.uuid4())},
    )
    assert_matches(spec_dir, "financial-account", "/v1/financial_accounts", "post", 200, created)


def test_card_responses_match_the_spec(spec_dir, api, holder, shipping_address):
    virtual = api.call(
        "POST",
        "/v1/cards",
        json={"type": "VIRTUAL", "account_token": holder["account_token"], "memo": "v"},
    )
    assert_matches(spec_dir, "card", "/v1/cards", "post", 200, virtual)
    physical = api.call(
        "POST",
        "/v1/cards",
        json={
            "type": "PHYSICAL",
            "account_token": holder["account_token"],
            "shipping_address": shipping_address,
        },
    )
    assert_matches(spec_dir, "card", "/v1/cards", "post", 200, physical)

    one = "/v1/cards/{card_token}"
    fetched = api.call("GET", f"/v1/cards/{virtual['token']}")
    assert_matches(spec_dir, "card", one, "get", 200, fetched)
    patched = api.call("PATCH", f"/v1/cards/{virtual['token']}", json={"state": "PAUSED"})
    assert_matches(spec_dir, "card", one, "patch", 200, patched)
    reissued = api.call("POST", f"/v1/cards/{physical['token']}/reissue", json={})
    assert_matches(spec_dir, "card", one + "/reissue", "post", 200, reissued)
    renewed = api.call(
        "POST", f"/v1/cards/{physical['token']}/renew", json={"shipping_address": shipping_address}
    )
    assert_matches(spec_dir, "card", one + "/renew", "post", 200, renewed)
    limits = api.call("GET", f"/v1/cards/{virtual['token']}/spend_limits")
    assert_matches(spec_dir, "card", one + "/spend_limits", "get", 200, limits)


def test_the_card_list_matches_the_spec_and_holds_no_pan(spec_dir, api, holder):
    for _ in range(3):
        api.call(
            "POST", "/v1/cards", json={"type": "VIRTUAL", "account_token": holder["account_token"]}
        )

    page = api.call("GET", "/v1/cards?page_size=2")

    assert_matches(spec_dir, "card", "/v1/cards", "get", 200, page)
    assert page["has_more"] is True
    assert all("pan" not in card and "cvv" not in card for card in page["data"])


def test_event_and_subscription_responses_match_the_spec(spec_dir, api, holder, receiver):
    created = api.call("POST", "/v1/event_subscriptions", expect=201, json={"url": receiver.url})
    assert_matches(spec_dir, "event", "/v1/event_subscriptions", "post", 201, created)
    one = "/v1/event_subscriptions/{event_subscription_token}"
    fetched = api.call("GET", f"/v1/event_subscriptions/{created['token']}")
    assert_matches(spec_dir, "event", one, "get", 200, fetched)
    listed = api.call("GET", "/v1/event_subscriptions")
    assert_matches(spec_dir, "event", "/v1/event_subscriptions", "get", 200, listed)

    events = api.call("GET", "/v1/events")
    assert_matches(spec_dir, "event", "/v1/events", "get", 200, events)
    event = api.call("GET", f"/v1/events/{events['data'][0]['token']}")
    assert_matches(spec_dir, "event", "/v1/events/{event_token}", "get", 200, event)
    secret = api.call("GET", f"/v1/event_subscriptions/{created['token']}/secret")
    assert_matches(spec_dir, "event", one + "/secret", "get", 200, secret)

    api.call(
        "POST", "/v1/cards", json={"type": "VIRTUAL", "account_token": holder["account_token"]}
    )
    api.call("POST", "/_emulator/webhooks/wait", json={"timeout": 5})
    attempts = api.call("GET", f"/v1/event_subscriptions/{created['token']}/attempts")
    assert attempts["data"]
    assert_matches(spec_dir, "event", one + "/attempts", "get", 200, attempts)


@pytest.mark.parametrize(
    "method, path, body, status, file, documented_path",
    [
        ("GET", "/v1/cards/not-a-uuid", None, 400, "card", "/v1/cards/{card_token}"),
        ("GET", f"/v1/cards/{uuid.uuid4()}", None, 404, "card", "/v1/cards/{card_token}"),
        ("POST", "/v1/cards", {"type": "NOPE"}, 400, "card", "/v1/cards"),
        (
            "GET",
            f"/v1/accounts/{uuid.uuid4()}",
            None,
            404,
            "account",
            "/v1/accounts/{account_token}",
        ),
    ],
)
def test_error_responses_match_the_spec(
    spec_dir, api, method, path, body, status, file, documented_path
):
    error = api.call(method, path, expect=status, json=body)

    assert_matches(spec_dir, file, documented_path, method.lower(), status, error)


def test_401_and_422_match_the_spec(spec_dir, api, holder, emulator):
    unauthorized = requests.get(
        f"{emulator.url}/v1/cards", headers={"Authorization": "wrong"}, timeout=5
    )
    assert unauthorized.status_code == 401
    assert_matches(spec_dir, "card", "/v1/cards", "get", 401, unauthorized.json())

    card = api.call(
        "POST", "/v1/cards", json={"type": "VIRTUAL", "account_token": holder["account_token"]}
    )
    unprocessable = api.call("POST", f"/v1/cards/{card['token']}/reissue", expect=422, json={})
    assert_matches(spec_dir, "card", "/v1/cards/{card_token}/reissue", "post", 422, unprocessable)


def test_transaction_responses_match_the_spec(spec_dir, api, holder):
    card = api.call(
        "POST", "/v1/cards", json={"type": "VIRTUAL", "account_token": holder["account_token"]}
    )
    approved = api.call(
        "POST",
        "/v1/simulate/authorize",
        json={"amount": 500, "descriptor": "S", "pan": card["pan"]},
    )
    api.call("POST", "/v1/simulate/clearing", json={"token": approved["token"], "amount": 200})
    api.call(
        "POST", "/v1/simulate/return", json={"amount": 50, "descriptor": "S", "pan": card["pan"]}
    )
    api.call("PATCH", f"/v1/cards/{card['token']}", json={"state": "PAUSED"})
    api.call(
        "POST", "/v1/simulate/authorize", json={"amount": 5, "descriptor": "S", "pan": card["pan"]}
    )

    listed = api.call("GET", "/v1/transactions")
    assert len(listed["data"]) == 3
    assert_matches(spec_dir, "transaction", "/v1/transactions", "get", 200, listed)
    one = api.call("GET", f"/v1/transactions/{approved['token']}")
    assert_matches(spec_dir, "transaction", "/v1/transactions/{transaction_token}", "get", 200, one)


@pytest.fixture
def issuing_account(api: Api, holder) -> str:
    listed = api.call("GET", f"/v1/financial_accounts?account_token={holder['account_token']}")
    return next(a["token"] for a in listed["data"] if a["type"] == "ISSUING")


def test_external_payment_responses_match_the_spec(spec_dir, api, issuing_account):
    body = {
        "amount": 1500,
        "category": "EXTERNAL_ACH",
        "effective_date": "2025-03-10",
        "financial_account_token": issuing_account,
        "payment_type": "DEPOSIT",
        "token": str(uuid.uuid4()),
        "memo": "Card payment",
    }
    created = api.call("POST", "/v1/external_payments", json=body)
    assert_matches(spec_dir, "external-payments", "/v1/external_payments", "post", 200, created)
    replay = api.call("POST", "/v1/external_payments", json=body)
    assert replay == created

    one = "/v1/external_payments/{external_payment_token}"
    token = created["token"]
    date = {"effective_date": "2025-03-11"}
    for action in ("settle", "release", "reverse"):
        changed = api.call("POST", f"/v1/external_payments/{token}/{action}", json=date)
        assert_matches(spec_dir, "external-payments", f"{one}/{action}", "post", 200, changed)
    other = api.call("POST", "/v1/external_payments", json={**body, "token": None})
    canceled = api.call("POST", f"/v1/external_payments/{other['token']}/cancel", json=date)
    assert_matches(spec_dir, "external-payments", f"{one}/cancel", "post", 200, canceled)

    fetched = api.call("GET", f"/v1/external_payments/{token}")
    assert fetched["status"] == "REVERSED"
    assert_matches(spec_dir, "external-payments", one, "get", 200, fetched)
    listed = api.call("GET", "/v1/external_payments")
    assert len(listed["data"]) == 2
    assert_matches(spec_dir, "external-payments", "/v1/external_payments", "get", 200, listed)

    bad = api.call("POST", "/v1/external_payments", expect=400, json={**body, "amount": "1"})
    assert_matches(spec_dir, "external-payments", "/v1/external_payments", "post", 400, bad)
    missing = api.call("GET", f"/v1/external_payments/{uuid.uuid4()}", expect=404)
    assert_matches(spec_dir, "external-payments", one, "get", 404, missing)


def test_statement_responses_match_the_spec(spec_dir, api, holder, issuing_account):
    card = api.call(
        "POST", "/v1/cards", json={"type": "VIRTUAL", "account_token": holder["account_token"]}
    )
    api.call(
        "POST",
        "/v1/simulate/authorize",
        json={
            "amount": 5000,
            "descriptor": "S",
            "pan": card["pan"],
            "status": "FINANCIAL_AUTHORIZATION",
        },
    )
    for end in ("2025-01-31", "2025-02-28"):
        closed = api.call(
            "POST",
            "/_emulator/statements/close",
            expect=201,
            json={"financial_account_token": issuing_account, "statement_end_date": end},
        )

    many = "/v1/financial_accounts/{financial_account_token}/statements"
    listed = api.call("GET", f"/v1/financial_accounts/{issuing_account}/statements")
    assert [s["token"] for s in listed["data"]][0] == closed["token"]
    assert_matches(spec_dir, "statements", many, "get", 200, listed)
    fetched = api.call(
        "GET", f"/v1/financial_accounts/{issuing_account}/statements/{closed['token']}"
    )
    assert fetched == closed
    assert_matches(spec_dir, "statements", many + "/{statement_token}", "get", 200, fetched)
