"""The card-lifecycle demo: onboard, virtual, physical, replace, ship, activate, freeze."""

from __future__ import annotations

import sys
import time
import uuid
from collections.abc import Callable

import requests

from app.auth import CUSTOMER, INTERNAL, mint_token
from app.config import Config

CARD_FIELDS = "id type state lastFour replacementFor trackingNumber"
OPERATION_FIELDS = "id kind status resourceId error"


class DemoFailed(Exception):
    """A step of the scenario did not give the expected result."""


class GraphQLClient:
    def __init__(self, url: str, token: str, timeout: float = 15.0) -> None:
        self.url = url.rstrip("/") + "/graphql"
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Bearer {token}"
        self.timeout = timeout

    def __call__(self, query: str, **variables) -> dict:
        response = self.session.post(
            self.url, json={"query": query, "variables": variables}, timeout=self.timeout
        )
        body = response.json()
        if body.get("errors"):
            raise DemoFailed(f"GraphQL errors: {body['errors']}")
        return body["data"]


def wait_for(step: Callable[[], object], what: str, timeout: float = 60.0) -> object:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = step()
        if value:
            return value
        time.sleep(0.2)
    raise DemoFailed(f"timed out waiting for {what}")


def operation_done(client: GraphQLClient, operation_id: str) -> dict:
    def check():
        op = client(
            f"query($id: ID!) {{ operation(id: $id) {{ {OPERATION_FIELDS} }} }}", id=operation_id
        )
        op = op["operation"]
        if op["status"] == "FAILED":
            raise DemoFailed(f"operation failed: {op['error']}")
        return op if op["status"] == "SUCCEEDED" else None

    return wait_for(check, f"operation {operation_id}")


def card(client: GraphQLClient, card_id: str) -> dict:
    return client(f"query($id: ID!) {{ creditCard(id: $id) {{ {CARD_FIELDS} }} }}", id=card_id)[
        "creditCard"
    ]


SHIPPING = {
    "firstName": "Ada",
    "lastName": "Lovelace",
    "address1": "1 Analytical Way",
    "city": "New York",
    "state": "NY",
    "postalCode": "10001",
}


def run(url: str, config: Config, log: Callable[[str], None] = print) -> dict:
    """Run every step against the service at `url`; returns the ids it made."""
    internal = GraphQLClient(url, mint_token(config, "demo", INTERNAL))
    ids: dict = {}

    def step(name: str, fn: Callable[[], object]):
        started = time.perf_counter()
        result = fn()
        log(f"{name:<40} ok  {1000 * (time.perf_counter() - started):8.1f} ms")
        return result

    def onboard():
        data = internal(
            """mutation($input: OnboardCustomerInput!) {
                 onboardCustomer(input: $input) { customerId accountId operation { id } } }""",
            input={
                "externalId": f"demo-{uuid.uuid4()}",
                "firstName": "Ada",
                "lastName": "Lovelace",
                "email": "ada@example.com",
                "phoneNumber": "+15555550100",
                "dob": "1985-12-10",
                "governmentId": "111-22-3333",
                "address": {k: SHIPPING[k] for k in ("address1", "city", "state", "postalCode")},
                "creditLimit": 500000,
            },
        )["onboardCustomer"]
        ids["customer"] = data["customerId"]
        operation_done(internal, data["operation"]["id"])

    step("onboard customer -> account at Lithic", onboard)
    log(f"customer id: {ids['customer']}  (.venv/bin/ccs token {ids['customer']})")
    customer = GraphQLClient(url, mint_token(config, ids["customer"], CUSTOMER))

    def account_active():
        info = customer("{ accountInfo { status creditLimit } }")["accountInfo"]
        if info["status"] != "ACTIVE":
            raise DemoFailed(f"account is {info['status']}")

    step("account is active", account_active)

    def virtual():
        data = customer(
            f"""mutation {{ createCard(input: {{type: VIRTUAL, memo: "online"}}) {{
                 card {{ {CARD_FIELDS} }} operation {{ status }} }} }}"""
        )["createCard"]
        if data["card"]["state"] != "OPEN" or not data["card"]["lastFour"]:
            raise DemoFailed(f"virtual card not open: {data['card']}")
        ids["virtual"] = data["card"]["id"]

    step("create virtual card (at Lithic on return)", virtual)

    def physical():
        data = customer(
            """mutation($input: CreateCardInput!) { createCard(input: $input) {
                 card { id } operation { id } } }""",
            input={"type": "PHYSICAL", "shippingAddress": SHIPPING},
        )["createCard"]
        ids["physical"] = data["card"]["id"]
        operation_done(customer, data["operation"]["id"])
        state = card(customer, ids["physical"])["state"]
        if state not in ("PENDING_FULFILLMENT", "PENDING_ACTIVATION"):
            raise DemoFailed(f"physical card is {state}")

    step("order physical card (queued)", physical)

    def replace():
        data = customer(
            """mutation($input: ReplaceCardInput!) { replaceCard(input: $input) {
                 card { id } operation { id } } }""",
            input={"cardId": ids["physical"], "reason": "LOST"},
        )["replaceCard"]
        ids["replacement"] = data["card"]["id"]
        operation_done(customer, data["operation"]["id"])
        if card(customer, ids["physical"])["state"] != "CLOSED":
            raise DemoFailed("the lost card is not closed")

    step("replace physical card as lost", replace)

    def shipped():
        wait_for(
            lambda: card(customer, ids["replacement"])["state"] == "PENDING_ACTIVATION",
            "the replacement to ship (card.shipped webhook)",
        )

    step("emulator ships it (card.shipped webhook)", shipped)

    def activate():
        state = customer(
            "mutation($id: ID!) { activateCreditCard(cardId: $id) { state } }",
            id=ids["replacement"],
        )["activateCreditCard"]["state"]
        if state != "OPEN":
            raise DemoFailed(f"activated card is {state}")

    step("activate replacement card", activate)

    for freeze, expected in ((True, "PAUSED"), (False, "OPEN")):

        def toggle(freeze=freeze, expected=expected):
            state = customer(
                "mutation($id: ID!, $f: Boolean!) {"
                " freezeUnfreezeCard(cardId: $id, freeze: $f) { state } }",
                id=ids["replacement"],
                f=freeze,
            )["freezeUnfreezeCard"]["state"]
            if state != expected:
                raise DemoFailed(f"card is {state}, expected {expected}")

        step("freeze card" if freeze else "unfreeze card", toggle)
    return ids


def main() -> int:
    import os

    url = os.environ.get("CCS_URL", "http://127.0.0.1:8000")
    try:
        run(url, Config.from_env())
    except (DemoFailed, requests.RequestException) as exc:
        print(f"demo FAILED: {exc}", file=sys.stderr)
        return 1
    print("demo passed")
    return 0
