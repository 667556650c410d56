"""The ledger follows Lithic's events whatever order or how often they arrive."""

from __future__ import annotations

import uuid

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.accounts.models import CreditAccount
from app.db import connection, transaction
from app.transactions import ledger, service
from app.transactions.models import CardTransaction
from tests.support.factories import make_account, make_card

# Lifecycles as lists of (event type, amount); the expected (held, posted) at the end.
LIFECYCLES = {
    "full clearing": ([("AUTHORIZATION", 1000), ("CLEARING", 1000)], (0, 1000)),
    "partial clearing": ([("AUTHORIZATION", 1000), ("CLEARING", 600)], (400, 600)),
    "two clearings": (
        [("AUTHORIZATION", 1000), ("CLEARING", 600), ("CLEARING", 300)],
        (100, 900),
    ),
    "over clearing": ([("AUTHORIZATION", 5000), ("CLEARING", 7340)], (0, 7340)),
    "advice then clearing": (
        [("AUTHORIZATION", 1000), ("AUTHORIZATION_ADVICE", 1500), ("CLEARING", 1500)],
        (0, 1500),
    ),
    "partial reversal": (
        [("AUTHORIZATION", 3000), ("AUTHORIZATION_REVERSAL", 1000)],
        (2000, 0),
    ),
    "full reversal": ([("AUTHORIZATION", 3000), ("AUTHORIZATION_REVERSAL", 3000)], (0, 0)),
    "expiry": ([("AUTHORIZATION", 2000), ("AUTHORIZATION_EXPIRY", 2000)], (0, 0)),
    "return": ([("RETURN", -1500)], (0, -1500)),
    "return reversed": ([("RETURN", -1500), ("RETURN_REVERSAL", 1500)], (0, 0)),
    "force post": ([("CLEARING", 4200)], (0, 4200)),
    "declined": ([("AUTHORIZATION", 900, "INSUFFICIENT_FUNDS")], (0, 0)),
}


@pytest.fixture
def card(clean_db):
    with connection():
        return make_card(make_account())


def snapshots(card_token: str, steps: list[tuple]) -> list[dict]:
    """The card_transaction.updated bodies Lithic sends: one per event, each with all so far."""
    token = str(uuid.uuid4())
    events = []
    bodies = []
    for position, step in enumerate(steps):
        kind, amount, *result = step
        events.append(
            {
                "token": str(uuid.uuid4()),
                "type": kind,
                "amount": amount,
                "result": result[0] if result else "APPROVED",
                "detailed_result": "",
                "created": f"2026-12-01T10:00:{position:02d}Z",
            }
        )
        bodies.append(
            {
                "token": token,
                "card_token": card_token,
                "status": "PENDING",
                "result": "APPROVED",
                "authorization_amount": steps[0][1],
                "settled_amount": 0,
                "created": "2026-12-01T10:00:00Z",
                "updated": f"2026-12-01T10:00:{position:02d}Z",
                "merchant": {"descriptor": "SHOP"},
                "events": list(events),
            }
        )
    return bodies


def deliver(bodies: list[dict], order: list[int]) -> None:
    for index in order:
        with transaction():
            service.apply_transaction(bodies[index], source_id=f"msg-{index}")


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    lifecycle=st.sampled_from(sorted(LIFECYCLES)),
    data=st.data(),
)
def test_any_order_and_repetition_of_updates_leaves_the_same_ledger(card, lifecycle, data):
    steps, (held, posted) = LIFECYCLES[lifecycle]
    bodies = snapshots(card.lithic_token, steps)
    indices = list(range(len(bodies)))
    order = data.draw(
        st.permutations(indices + data.draw(st.lists(st.sampled_from(indices), max_size=4)))
    )

    with connection():
        deliver(bodies, order)

        row = CardTransaction.get(CardTransaction.token == bodies[0]["token"])
        account = CreditAccount.get_by_id(card.account_id)
        assert (row.held_amount, row.posted_amount) == (held, posted)
        assert ledger.check_invariants() == []
        assert account.pending_holds >= 0


def test_every_lifecycle_in_order_gives_its_amounts(card):
    with connection():
        for name, (steps, expected) in LIFECYCLES.items():
            bodies = snapshots(card.lithic_token, steps)
            deliver(bodies, list(range(len(bodies))))
            row = CardTransaction.get(CardTransaction.token == bodies[0]["token"])
            assert (row.held_amount, row.posted_amount) == expected, name
        account = CreditAccount.get_by_id(card.account_id)
        assert account.pending_holds == sum(e[0] for _, e in LIFECYCLES.values())
        assert account.posted_balance == sum(e[1] for _, e in LIFECYCLES.values())
        assert ledger.check_invariants() == []


def test_a_clearing_without_our_approval_is_flagged_force_post(card):
    with connection():
        bodies = snapshots(card.lithic_token, [("CLEARING", 4200)])
        deliver(bodies, [0])

        assert CardTransaction.get(CardTransaction.token == bodies[0]["token"]).flag == "FORCE_POST"


def test_the_invariant_check_finds_a_tampered_total(card):
    with connection():
        deliver(snapshots(card.lithic_token, [("AUTHORIZATION", 1000)]), [0])
        CreditAccount.update(pending_holds=CreditAccount.pending_holds + 1).execute()

        problems = ledger.check_invariants()

    assert any("HOLD total" in p for p in problems)
