"""The Lithic client against the emulator: cursor pagination and error details."""

from __future__ import annotations

import pytest

from app.lithic.client import LithicClient, LithicPermanentError


@pytest.fixture
def lithic(runtime) -> LithicClient:
    return runtime.lithic


def account_token(lithic: LithicClient) -> str:
    holder = lithic.create_account_holder(
        {
            "workflow": "KYC_BASIC",
            "tos_timestamp": "2026-12-01T00:00:00Z",
            "individual": {
                "first_name": "Ada",
                "last_name": "Lovelace",
                "email": "ada@example.com",
                "phone_number": "+15555550100",
                "dob": "1985-12-10",
                "government_id": "111-22-3333",
                "address": {
                    "address1": "1 Analytical Way",
                    "city": "New York",
                    "state": "NY",
                    "postal_code": "10001",
                    "country": "USA",
                },
            },
        }
    )
    return holder["account_token"]


def test_paginate_follows_cursors_across_pages_without_repeats(lithic):
    account = account_token(lithic)
    made = {
        lithic.create_card(
            {"type": "VIRTUAL", "account_token": account}, f"00000000-0000-4000-8000-{i:012d}"
        )["token"]
        for i in range(5)
    }

    listed = [c["token"] for c in lithic.paginate("/v1/cards", {"account_token": account}, 2)]

    assert len(listed) == 5 and set(listed) == made


def test_a_4xx_is_permanent_and_carries_lithics_debugging_id(lithic):
    with pytest.raises(LithicPermanentError) as refused:
        lithic.get_card("not-a-uuid")

    assert refused.value.status == 400
    assert refused.value.debugging_request_id
