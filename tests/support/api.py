"""Drive a running service through its GraphQL API, as the mobile app and operators do."""

from __future__ import annotations

from app.auth import ADMIN, CUSTOMER, INTERNAL, mint_token
from app.config import Config
from app.demo import SHIPPING, GraphQLClient, card, operation_done
from tests.support.stack import JWT_SECRET

CONFIG = Config.from_env({"JWT_SECRET": JWT_SECRET})


def client(url: str, subject: str, role: str = CUSTOMER) -> GraphQLClient:
    return GraphQLClient(url, mint_token(CONFIG, subject, role))


def admin(url: str) -> GraphQLClient:
    return client(url, "ops@example.com", ADMIN)


def onboard(url: str, government_id: str = "111-22-3333", external_id: str | None = None):
    """A customer with an active account; returns (customer client, customer id)."""
    import uuid

    internal = client(url, "onboarding-service", INTERNAL)
    data = internal(
        """mutation($input: OnboardCustomerInput!) {
             onboardCustomer(input: $input) { customerId operation { id } } }""",
        input={
            "externalId": external_id or f"ext-{uuid.uuid4()}",
            "firstName": "Grace",
            "lastName": "Hopper",
            "email": "grace@example.com",
            "phoneNumber": "+15555550123",
            "dob": "1980-01-02",
            "governmentId": government_id,
            "address": {k: SHIPPING[k] for k in ("address1", "city", "state", "postalCode")},
            "creditLimit": 250000,
        },
    )["onboardCustomer"]
    operation_done(internal, data["operation"]["id"])
    return client(url, data["customerId"]), data["customerId"]


def order_physical(customer: GraphQLClient) -> str:
    data = customer(
        """mutation($input: CreateCardInput!) { createCard(input: $input) {
             card { id } operation { id } } }""",
        input={"type": "PHYSICAL", "shippingAddress": SHIPPING},
    )["createCard"]
    operation_done(customer, data["operation"]["id"])
    return data["card"]["id"]


def replace(customer: GraphQLClient, card_id: str, reason: str = "LOST") -> dict:
    return customer(
        """mutation($input: ReplaceCardInput!) { replaceCard(input: $input) {
             card { id state } operation { id status } } }""",
        input={"cardId": card_id, "reason": reason},
    )["replaceCard"]


__all__ = ["card", "operation_done", "client", "admin", "onboard", "order_physical", "replace"]
