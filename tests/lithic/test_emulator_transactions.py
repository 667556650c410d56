"""Card transactions through the SDK's simulate and transaction methods."""

from __future__ import annotations

import lithic
import pytest


@pytest.fixture
def card(client, account_holder):
    return client.cards.create(type="VIRTUAL", account_token=account_holder.account_token)


def authorize(client, card, amount: int = 1000, **extra) -> lithic.types.Transaction:
    token = client.transactions.simulate_authorization(
        amount=amount, descriptor="COFFEE SHOP", pan=card.pan, **extra
    ).token
    return client.transactions.retrieve(token)


def test_an_authorization_is_pending_with_one_event_and_a_webhook(client, card, receiver):
    transaction = authorize(client, card, 1234)

    assert (transaction.status, transaction.result) == ("PENDING", "APPROVED")
    assert transaction.card_token == card.token
    assert transaction.amounts.hold.amount == 1234
    assert [(e.type, e.amount, e.detailed_results) for e in transaction.events] == [
        ("AUTHORIZATION", 1234, ["APPROVED"])
    ]
    assert transaction.merchant.descriptor == "COFFEE SHOP"
    receiver.wait_for(
        lambda ds: any(d.json()["event_type"] == "card_transaction.updated" for d in ds)
    )
    body = receiver.of_type("card_transaction.updated")[0].json()
    assert body["token"] == transaction.token and body["status"] == "PENDING"


def test_a_partial_clearing_settles_and_leaves_the_rest_held(client, card):
    transaction = authorize(client, card, 1000)

    client.transactions.simulate_clearing(token=transaction.token, amount=600)

    cleared = client.transactions.retrieve(transaction.token)
    assert cleared.status == "SETTLED"
    assert cleared.settled_amount == 600
    assert cleared.amounts.hold.amount == 400
    assert [e.type for e in cleared.events] == ["AUTHORIZATION", "CLEARING"]
    with pytest.raises(lithic.UnprocessableEntityError):
        client.transactions.simulate_clearing(token=transaction.token)


def test_a_full_clearing_settles_the_authorized_amount(client, card):
    transaction = authorize(client, card, 700)

    client.transactions.simulate_clearing(token=transaction.token)

    cleared = client.transactions.retrieve(transaction.token)
    assert (cleared.status, cleared.amount, cleared.amounts.hold.amount) == ("SETTLED", 700, 0)


def test_voids_reverse_fully_partially_or_expire(client, card):
    full = authorize(client, card, 500)
    partial = authorize(client, card, 500)
    expired = authorize(client, card, 500)

    client.transactions.simulate_void(token=full.token)
    client.transactions.simulate_void(token=partial.token, amount=200)
    client.transactions.simulate_void(token=expired.token, type="AUTHORIZATION_EXPIRY")

    assert client.transactions.retrieve(full.token).status == "VOIDED"
    still = client.transactions.retrieve(partial.token)
    assert (still.status, still.amounts.hold.amount) == ("PENDING", 300)
    assert still.events[-1].type == "AUTHORIZATION_REVERSAL"
    assert client.transactions.retrieve(expired.token).status == "EXPIRED"
    with pytest.raises(lithic.UnprocessableEntityError):
        client.transactions.simulate_void(token=partial.token, amount=301)
    with pytest.raises(lithic.UnprocessableEntityError):
        client.transactions.simulate_void(token=full.token)


def test_an_advice_replaces_the_pending_amount(client, card):
    transaction = authorize(client, card, 1000)

    client.transactions.simulate_authorization_advice(token=transaction.token, amount=1500)

    advised = client.transactions.retrieve(transaction.token)
    assert advised.amounts.hold.amount == 1500
    assert advised.events[-1].type == "AUTHORIZATION_ADVICE"


def test_a_financial_authorization_settles_in_one_step(client, card):
    transaction = authorize(client, card, 900, status="FINANCIAL_AUTHORIZATION")

    assert transaction.status == "SETTLED"
    assert transaction.settled_amount == 900
    assert [e.type for e in transaction.events] == ["FINANCIAL_AUTHORIZATION"]


def test_returns_are_settled_credits_that_can_be_reversed_once(client, card):
    token = client.transactions.simulate_return(amount=250, descriptor="SHOP", pan=card.pan).token

    refund = client.transactions.retrieve(token)
    assert (refund.status, refund.settled_amount) == ("SETTLED", -250)
    assert refund.events[0].effective_polarity == "CREDIT"

    client.transactions.simulate_return_reversal(token=token)
    assert client.transactions.retrieve(token).events[-1].type == "RETURN_REVERSAL"
    with pytest.raises(lithic.UnprocessableEntityError):
        client.transactions.simulate_return_reversal(token=token)


def test_a_credit_authorization_advice_is_a_pending_credit(client, card):
    token = client.transactions.simulate_credit_authorization_advice(
        amount=300, descriptor="SHOP", pan=card.pan
    ).token

    credit = client.transactions.retrieve(token)
    assert (credit.status, credit.amount) == ("PENDING", -300)


@pytest.mark.parametrize(
    "state, result",
    [("PAUSED", "CARD_PAUSED"), ("CLOSED", "CARD_CLOSED")],
)
def test_paused_and_closed_cards_decline(client, card, state, result):
    client.cards.update(card.token, state=state)

    transaction = authorize(client, card)

    assert (transaction.status, transaction.result) == ("DECLINED", result)
    assert transaction.events[0].detailed_results == [result]


def test_a_paused_account_declines(client, card):
    client.accounts.update(card.account_token, state="PAUSED")

    assert authorize(client, card).result == "ACCOUNT_PAUSED"


def test_a_card_transaction_limit_declines_larger_authorizations(client, card):
    client.cards.update(card.token, spend_limit=1000, spend_limit_duration="TRANSACTION")

    assert authorize(client, card, 1000).status == "PENDING"
    declined = authorize(client, card, 1001)

    assert (declined.status, declined.result) == ("DECLINED", "USER_TRANSACTION_LIMIT")
    assert declined.events[0].detailed_results == ["CARD_SPEND_LIMIT_EXCEEDED"]


def test_a_monthly_card_limit_counts_what_was_spent(client, card):
    client.cards.update(card.token, spend_limit=1000, spend_limit_duration="MONTHLY")
    authorize(client, card, 600)

    assert authorize(client, card, 500).status == "DECLINED"
    assert authorize(client, card, 400).status == "PENDING"
    limits = client.cards.retrieve_spend_limits(card.token)
    assert (limits.spend_velocity.monthly, limits.available_spend_limit.monthly) == (1000, 0)


def test_a_spend_limit_of_zero_means_no_card_limit(client, card):
    client.cards.update(card.token, spend_limit=0)

    assert authorize(client, card, 400_000).status == "PENDING"


def test_the_account_daily_limit_applies_across_cards(client, card, account_holder):
    other = client.cards.create(type="VIRTUAL", account_token=account_holder.account_token)
    authorize(client, card, 300_000)

    declined = authorize(client, other, 300_000)

    assert declined.events[0].detailed_results == ["ACCOUNT_DAILY_SPEND_LIMIT_EXCEEDED"]
    assert client.accounts.retrieve_spend_limits(card.account_token).spend_velocity.daily == (
        300_000
    )


def test_a_single_use_card_closes_after_its_first_approval(client, account_holder):
    card = client.cards.create(type="SINGLE_USE", account_token=account_holder.account_token)

    assert authorize(client, card).status == "PENDING"

    assert client.cards.retrieve(card.token).state == "CLOSED"
    again = authorize(client, card)
    assert again.events[0].detailed_results == ["SINGLE_USE_CARD_REATTEMPTED"]
    refund = client.transactions.simulate_return(amount=100, descriptor="SHOP", pan=card.pan)
    assert client.transactions.retrieve(refund.token).status == "SETTLED"


def test_a_merchant_locked_card_locks_to_its_first_merchant(client, account_holder):
    card = client.cards.create(type="MERCHANT_LOCKED", account_token=account_holder.account_token)
    authorize(client, card)

    elsewhere = client.transactions.simulate_authorization(
        amount=100, descriptor="ANOTHER SHOP", pan=card.pan
    )

    assert client.cards.retrieve(card.token).hostname == "COFFEE SHOP"
    assert client.transactions.retrieve(elsewhere.token).result == "UNAUTHORIZED_MERCHANT"
    assert authorize(client, card).status == "PENDING"


def test_an_unknown_pan_is_a_processing_error(client):
    with pytest.raises(lithic.UnprocessableEntityError):
        client.transactions.simulate_authorization(
            amount=100, descriptor="SHOP", pan="4111111111111111"
        )


def test_transactions_are_listed_newest_first_with_filters(client, card, account_holder):
    other = client.cards.create(type="VIRTUAL", account_token=account_holder.account_token)
    first = authorize(client, card)
    second = authorize(client, other)
    client.cards.update(card.token, state="PAUSED")
    declined = authorize(client, card)

    everything = [t.token for t in client.transactions.list(page_size=1)]

    assert everything == [declined.token, second.token, first.token]
    assert [t.token for t in client.transactions.list(card_token=other.token)] == [second.token]
    assert [t.token for t in client.transactions.list(result="DECLINED")] == [declined.token]
    assert [t.token for t in client.transactions.list(status="PENDING")] == [
        second.token,
        first.token,
    ]
