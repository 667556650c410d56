"""creditCardTransactions: newest first, cursor pages, and filters by card, status and date."""

from __future__ import annotations

import json
import uuid

import pytest
from falcon import testing

from app.auth import mint_token
from app.cards.models import Card
from app.db import connection, transaction
from app.transactions import service
from tests.support.factories import make_account, make_card

QUERY = """query($first: Int, $after: String, $card: ID, $status: TransactionStatus,
                 $from: DateTime, $to: DateTime) {
  creditCardTransactions(first: $first, after: $after, cardId: $card, status: $status,
                         from: $from, to: $to) {
    edges { cursor node { id cardId status pendingAmount postedAmount merchant { descriptor } } }
    pageInfo { hasNextPage endCursor }
  }
  accountInfo { currentBalance pendingHolds availableCredit creditLimit }
}"""


def swipe(card: Card, day: int, kinds: list[str], amount: int = 1000) -> str:
    token = str(uuid.uuid4())
    events = [
        {
            "token": str(uuid.uuid4()),
            "type": kind,
            "amount": amount,
            "result": "APPROVED",
            "created": f"2026-11-{day:02d}T12:00:00Z",
        }
        for kind in kinds
    ]
    with transaction():
        service.apply_transaction(
            {
                "token": token,
                "card_token": card.lithic_token,
                "status": "SETTLED" if "CLEARING" in kinds else "PENDING",
                "result": "APPROVED",
                "authorization_amount": amount,
                "created": f"2026-11-{day:02d}T12:00:00Z",
                "updated": f"2026-11-{day:02d}T12:00:00Z",
                "merchant": {"descriptor": f"SHOP {day}"},
                "events": events,
            },
            source_id=token,
        )
    return token


@pytest.fixture
def history(clean_db):
    with connection():
        account = make_account(credit_limit=50_000)
        customer = account.customer
        cards = [make_card(account) for _ in range(2)]
        for day in range(1, 6):
            swipe(cards[0], day, ["AUTHORIZATION", "CLEARING"])
        swipe(cards[1], 10, ["AUTHORIZATION"], amount=2500)
    client = testing.TestClient(clean_db.app)
    token = mint_token(clean_db.config, customer.id)

    def ask(**variables):
        response = client.simulate_post(
            "/graphql",
            body=json.dumps({"query": QUERY, "variables": variables}),
            headers={"Content-Type": "application/json", "Authorization": f"Bearer {token}"},
        )
        assert "errors" not in response.json, response.json
        return response.json["data"]

    return ask, cards


def descriptors(data) -> list[str]:
    return [e["node"]["merchant"]["descriptor"] for e in data["creditCardTransactions"]["edges"]]


def test_pages_walk_newest_first_without_gaps_or_repeats(history):
    ask, _ = history

    first = ask(first=4)
    rest = ask(first=4, after=first["creditCardTransactions"]["pageInfo"]["endCursor"])

    assert descriptors(first) == ["SHOP 10", "SHOP 5", "SHOP 4", "SHOP 3"]
    assert first["creditCardTransactions"]["pageInfo"]["hasNextPage"] is True
    assert descriptors(rest) == ["SHOP 2", "SHOP 1"]
    assert rest["creditCardTransactions"]["pageInfo"]["hasNextPage"] is False


def test_filters_by_card_status_and_dates(history):
    ask, cards = history

    assert descriptors(ask(card=cards[1].id)) == ["SHOP 10"]
    assert descriptors(ask(status="PENDING")) == ["SHOP 10"]
    assert descriptors(ask(**{"from": "2026-11-02T00:00:00Z", "to": "2026-11-04T00:00:00Z"})) == [
        "SHOP 3",
        "SHOP 2",
    ]


def test_account_info_shows_balance_holds_and_available_credit(history):
    ask, _ = history

    info = ask(first=1)["accountInfo"]

    assert info == {
        "currentBalance": 5000,
        "pendingHolds": 2500,
        "availableCredit": 50_000 - 5000 - 2500,
        "creditLimit": 50_000,
    }


def test_a_cursor_not_from_this_api_is_a_clear_error(history):
    ask, _ = history

    with pytest.raises(AssertionError, match="not a cursor"):
        ask(after="garbage!")
