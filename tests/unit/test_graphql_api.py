"""The GraphQL endpoint's guards: auth, JSON only, limits, masked errors, ownership."""

from __future__ import annotations

import json

import pytest
from falcon import testing

from app.auth import ADMIN, CUSTOMER, INTERNAL, mint_token
from app.cards.models import Card


@pytest.fixture
def http(clean_db):
    return testing.TestClient(clean_db.app)


def post(http, query, token=None, variables=None, config=None, **kwargs):
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    return http.simulate_post(
        "/graphql",
        body=json.dumps({"query": query, "variables": variables or {}}),
        headers=headers,
        **kwargs,
    )


def token(runtime, subject="cust-1", role=CUSTOMER):
    return mint_token(runtime.config, subject, role)


def test_a_request_without_a_token_is_unauthorized(http):
    response = post(http, "{ creditCards { id } }")

    assert response.status_code == 401


def test_a_token_signed_with_another_secret_is_unauthorized(http, runtime):
    from dataclasses import replace

    forged = mint_token(replace(runtime.config, jwt_secret="another-secret-" * 4), "cust-1")

    assert post(http, "{ creditCards { id } }", forged).status_code == 401


def test_malformed_json_is_a_clear_400(http, runtime):
    response = http.simulate_post(
        "/graphql",
        body="{not json",
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {token(runtime)}"},
    )

    assert response.status_code == 400
    assert "not valid JSON" in response.json["description"]


def test_form_posts_are_refused(http, runtime):
    response = http.simulate_post(
        "/graphql",
        body="query=%7BcreditCards%7Bid%7D%7D",
        headers={
            "Content-Type": "application/x-www-form-urlencoded",
            "Authorization": f"Bearer {token(runtime)}",
        },
    )

    assert response.status_code == 415


def test_a_chunked_body_without_length_gets_411_not_an_empty_body(runtime):
    import requests

    def chunks():
        yield b'{"query": "{ creditCards { id } }"}'

    response = requests.post(
        f"{runtime.url}/graphql",
        data=chunks(),
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {token(runtime)}"},
        timeout=5,
    )

    assert response.status_code == 411


def test_a_body_over_the_limit_gets_413(http, runtime):
    query = "{ creditCards { id } }" + " " * (runtime.config.max_body_bytes + 1)

    assert post(http, query, token(runtime)).status_code == 413


def test_malformed_graphql_is_a_clear_error(http, runtime):
    response = post(http, "{ creditCards { id ", token(runtime))

    assert response.status_code == 400
    assert "Syntax Error" in response.json["errors"][0]["message"]


def test_a_query_with_variables_under_the_cost_limit_runs(http, runtime):
    response = post(
        http, "query($id: ID!) { creditCard(id: $id) { id } }", token(runtime), {"id": "nope"}
    )

    assert response.status_code == 200
    assert response.json == {"data": {"creditCard": None}}


def test_a_query_over_the_cost_limit_is_refused(http, runtime):
    aliases = " ".join(f"c{i}: creditCards {{ id }}" for i in range(300))

    response = post(http, "{ " + aliases + " }", token(runtime))

    assert response.status_code == 400
    assert "cost" in response.json["errors"][0]["message"].lower()


def test_a_query_over_the_depth_limit_is_refused():
    from graphql import parse, validate

    from app.graphql.limits import depth_limit_rule
    from app.graphql.schema import build_schema

    document = parse("query { creditCards { events { kind } } }")

    errors = validate(build_schema(), document, [depth_limit_rule(2)])

    assert [e.message for e in errors] == ["Query depth 3 exceeds 2."]
    assert validate(build_schema(), document, [depth_limit_rule(3)]) == []


def test_an_internal_error_is_masked_with_an_error_id(http, runtime, monkeypatch, caplog):
    from app.cards import service

    def broken(customer_id):
        raise RuntimeError("connection to postgresql://admin:hunter2@db failed")

    monkeypatch.setattr(service, "cards_of", broken)

    response = post(http, "{ creditCards { id } }", token(runtime))

    error = response.json["errors"][0]
    assert error["message"] == "Internal server error"
    assert "hunter2" not in response.text
    assert error["extensions"]["code"] == "INTERNAL" and error["extensions"]["errorId"]
    assert error["extensions"]["errorId"] in caplog.text


def test_field_suggestions_are_not_leaked(http, runtime):
    response = post(http, "{ creditCardz { id } }", token(runtime))

    assert "Did you mean" not in response.text


def test_money_must_be_integer_cents(http, runtime):
    response = post(
        http,
        "mutation($input: OnboardCustomerInput!) { onboardCustomer(input: $input) { customerId } }",
        token(runtime, "svc", INTERNAL),
        {
            "input": {
                "externalId": "x",
                "firstName": "A",
                "lastName": "B",
                "email": "a@b.c",
                "phoneNumber": "+1555",
                "dob": "1990-01-01",
                "governmentId": "1",
                "address": {"address1": "1 St", "city": "NY", "state": "NY", "postalCode": "1"},
                "creditLimit": 12.5,
            }
        },
    )

    assert response.status_code == 400
    assert "integer number of cents" in response.json["errors"][0]["message"]


def test_a_customer_cannot_onboard_or_close_cards(http, runtime):
    onboard = post(
        http,
        'mutation { closeCard(cardId: "x") { id } }',
        token(runtime),
    )

    assert onboard.json["errors"][0]["extensions"]["code"] == "FORBIDDEN"


def test_an_admin_is_not_a_customer(http, runtime):
    response = post(http, "{ accountInfo { id } }", token(runtime, "ops", ADMIN))

    assert response.json["errors"][0]["extensions"]["code"] == "FORBIDDEN"


def test_a_customer_never_sees_another_customers_card(http, runtime):
    from app.accounts.models import CreditAccount, Customer
    from app.db import connection

    with connection():
        owner = Customer.create(
            external_id="o", first_name="O", last_name="W", email="o@x", phone_number="1"
        )
        account = CreditAccount.create(customer=owner, credit_limit=100, status="ACTIVE")
        card = Card.create(customer=owner, account=account, type="VIRTUAL", state="OPEN")

    mine = post(
        http,
        "query($id: ID!) { creditCard(id: $id) { id } }",
        token(runtime, owner.id),
        {"id": card.id},
    )
    theirs = post(
        http,
        "query($id: ID!) { creditCard(id: $id) { id } }",
        token(runtime, "intruder"),
        {"id": card.id},
    )
    freeze = post(
        http,
        "mutation($id: ID!) { freezeUnfreezeCard(cardId: $id, freeze: true) { id } }",
        token(runtime, "intruder"),
        {"id": card.id},
    )

    assert mine.json["data"]["creditCard"]["id"] == card.id
    assert theirs.json["data"]["creditCard"] is None
    assert freeze.json["errors"][0]["extensions"]["code"] == "NOT_FOUND"
