"""The emulator driven by the official `lithic` SDK, as our client code will drive Lithic."""

from __future__ import annotations

import uuid

import lithic
import pytest
import requests

from app.lithic.emulator.accounts import KYC_REJECTIONS
from app.lithic.emulator.util import luhn_valid


def test_status_needs_no_api_key(emulator):
    status = lithic.Lithic(api_key="not-a-key", base_url=emulator.url).api_status()

    assert status.message == "OK"


def test_an_unknown_api_key_is_refused_with_401(emulator):
    bad = lithic.Lithic(api_key="not-a-key", base_url=emulator.url, max_retries=0)

    with pytest.raises(lithic.AuthenticationError) as caught:
        bad.cards.list()

    assert caught.value.status_code == 401
    assert set(caught.value.body) == {"debugging_request_id", "message"}


def test_a_missing_api_key_is_refused_with_401(emulator):
    response = requests.get(f"{emulator.url}/v1/cards", timeout=5)

    assert response.status_code == 401
    assert response.json()["message"] == "Please provide API key in Authorization header"


# -- account holders -----------------------------------------------------------------------


def test_kyc_basic_with_an_ordinary_government_id_is_accepted(client, individual):
    created = client.account_holders.create(
        individual=individual("111-22-3333"),
        tos_timestamp="2024-01-01T00:00:00Z",
        workflow="KYC_BASIC",
    )

    assert created.status == "ACCEPTED"
    assert created.status_reasons == []
    holder = client.account_holders.retrieve(created.token)
    assert holder.account_token == created.account_token
    assert holder.individual.first_name == "Janet"
    assert holder.user_type == "INDIVIDUAL"


@pytest.mark.parametrize("government_id, reason", sorted(KYC_REJECTIONS.items()))
def test_kyc_basic_magic_government_ids_are_rejected_with_their_reason(
    client, individual, government_id, reason
):
    created = client.account_holders.create(
        individual=individual(government_id),
        tos_timestamp="2024-01-01T00:00:00Z",
        workflow="KYC_BASIC",
    )

    assert created.status == "REJECTED"
    assert created.status_reasons == [reason]


def test_the_government_id_is_never_echoed_back(client, emulator, individual, api_key):
    created = client.account_holders.create(
        individual=individual("987-65-4321"),
        tos_timestamp="2024-01-01T00:00:00Z",
        workflow="KYC_BASIC",
    )

    raw = requests.get(
        f"{emulator.url}/v1/account_holders/{created.token}",
        headers={"Authorization": api_key},
        timeout=5,
    ).text
    assert "987-65-4321" not in raw
    assert "government_id" not in raw


def test_kyc_exempt_is_accepted(client):
    created = client.account_holders.create(
        workflow="KYC_EXEMPT",
        kyc_exemption_type="AUTHORIZED_USER",
        first_name="Ann",
        last_name="Lee",
        email="ann@example.com",
        phone_number="+12125550000",
        address={
            "address1": "1 A St",
            "city": "Boston",
            "country": "USA",
            "postal_code": "02110",
            "state": "MA",
        },
    )

    assert created.status == "ACCEPTED"
    assert client.account_holders.retrieve(created.token).exemption_type == "AUTHORIZED_USER"


def test_kyb_basic_waits_for_review_and_the_simulated_review_decides(client, individual):
    person = individual()
    created = client.account_holders.create(
        workflow="KYB_BASIC",
        business_entity={
            "address": person["address"],
            "government_id": "12-3456789",
            "legal_business_name": "Acme LLC",
            "phone_numbers": ["+12125550000"],
        },
        beneficial_owner_individuals=[person],
        control_person=person,
        nature_of_business="Software",
        tos_timestamp="2024-01-01T00:00:00Z",
    )
    assert created.status == "PENDING_REVIEW"

    reviewed = client.account_holders.simulate_enrollment_review(
        account_holder_token=created.token, status="ACCEPTED"
    )

    assert reviewed.status == "ACCEPTED"
    assert client.account_holders.retrieve(created.token).status == "ACCEPTED"
    verification = client.events.list(event_types=["account_holder.verification"]).data
    assert verification[0].payload["token"] == created.token


def test_account_holder_validation_errors_are_400(client, individual):
    person = individual()
    del person["dob"]

    with pytest.raises(lithic.BadRequestError) as caught:
        client.account_holders.create(
            individual=person, tos_timestamp="2024-01-01T00:00:00Z", workflow="KYC_BASIC"
        )

    assert "individual.dob" in caught.value.body["message"]


def test_account_holders_are_listed_newest_first(client, individual):
    first = client.account_holders.create(
        individual=individual(), tos_timestamp="2024-01-01T00:00:00Z", workflow="KYC_BASIC"
    )
    second = client.account_holders.create(
        individual=individual(), tos_timestamp="2024-01-01T00:00:00Z", workflow="KYC_BASIC"
    )

    tokens = [holder.token for holder in client.account_holders.list()]

    assert tokens == [second.token, first.token]


def test_unknown_and_malformed_tokens_are_404_and_400(client):
    with pytest.raises(lithic.NotFoundError):
        client.account_holders.retrieve(str(uuid.uuid4()))
    with pytest.raises(lithic.BadRequestError):
        client.account_holders.retrieve("not-a-uuid")


# -- accounts and financial accounts -------------------------------------------------------


def test_each_account_holder_has_one_account_with_sandbox_limits(client, account_holder):
    account = client.accounts.retrieve(account_holder.account_token)

    assert account.state == "ACTIVE"
    assert account.account_holder.token == account_holder.token
    assert account.spend_limit.daily == 500_000
    assert [a.token for a in client.accounts.list()] == [account.token]


def test_account_limits_and_state_can_be_updated(client, account_holder):
    updated = client.accounts.update(
        account_holder.account_token, daily_spend_limit=1000, state="PAUSED"
    )

    assert updated.spend_limit.daily == 1000
    assert updated.state == "PAUSED"
    limits = client.accounts.retrieve_spend_limits(account_holder.account_token)
    assert limits.available_spend_limit.daily == 1000


def test_a_closed_account_cannot_be_reopened(client, account_holder):
    client.accounts.update(account_holder.account_token, state="CLOSED")

    with pytest.raises(lithic.UnprocessableEntityError):
        client.accounts.update(account_holder.account_token, state="ACTIVE")


def test_each_account_gets_an_issuing_financial_account_with_credit_config(client, account_holder):
    accounts = client.financial_accounts.list(account_token=account_holder.account_token).data

    assert [fa.type for fa in accounts] == ["ISSUING"]
    issuing = client.financial_accounts.retrieve(accounts[0].token)
    assert issuing.account_token == account_holder.account_token

    config = client.financial_accounts.credit_configuration.update(
        issuing.token, credit_limit=250_000, tier="Gold"
    )

    assert config.credit_limit == 250_000
    assert config.tier == "Gold"
    again = client.financial_accounts.credit_configuration.retrieve(issuing.token)
    assert again.credit_limit == 250_000
    assert client.financial_accounts.retrieve(issuing.token).credit_configuration.credit_limit == (
        250_000
    )


def test_an_operating_financial_account_can_be_created(client, account_holder):
    created = client.financial_accounts.create(
        nickname="ops", type="OPERATING", account_token=account_holder.account_token
    )

    assert created.type == "OPERATING"
    assert created.nickname == "ops"
    listed = client.financial_accounts.list(
        account_token=account_holder.account_token, type="OPERATING"
    )
    assert [fa.token for fa in listed] == [created.token]


def test_a_negative_credit_limit_is_refused(client, account_holder):
    issuing = client.financial_accounts.list(account_token=account_holder.account_token).data[0]

    with pytest.raises(lithic.BadRequestError):
        client.financial_accounts.credit_configuration.update(issuing.token, credit_limit=-1)


# -- cards ---------------------------------------------------------------------------------


def test_a_virtual_card_is_created_open_with_a_luhn_valid_pan(client, account_holder):
    card = client.cards.create(type="VIRTUAL", account_token=account_holder.account_token, memo="m")

    assert card.state == "OPEN"
    assert len(card.pan) == 16 and luhn_valid(card.pan)
    assert card.last_four == card.pan[-4:]
    assert len(card.cvv) == 3
    assert card.pin_status == "NOT_SET"
    fetched = client.cards.retrieve(card.token)
    assert (fetched.pan, fetched.cvv) == (card.pan, card.cvv)


def test_cards_need_an_existing_account(client):
    with pytest.raises(lithic.NotFoundError):
        client.cards.create(type="VIRTUAL", account_token=str(uuid.uuid4()))


def test_cards_are_refused_for_a_rejected_account_holder(client, individual):
    rejected = client.account_holders.create(
        individual=individual("000-00-0004"),
        tos_timestamp="2024-01-01T00:00:00Z",
        workflow="KYC_BASIC",
    )

    with pytest.raises(lithic.UnprocessableEntityError):
        client.cards.create(type="VIRTUAL", account_token=rejected.account_token)


def test_a_physical_card_needs_a_shipping_address_and_starts_pending_fulfilment(
    client, account_holder, shipping_address
):
    with pytest.raises(lithic.BadRequestError):
        client.cards.create(type="PHYSICAL", account_token=account_holder.account_token)

    card = client.cards.create(
        type="PHYSICAL",
        account_token=account_holder.account_token,
        shipping_address=shipping_address,
    )

    assert card.state == "PENDING_FULFILLMENT"


def test_the_card_list_has_no_pan_and_auto_pages_newest_first(client, account_holder):
    created = [
        client.cards.create(type="VIRTUAL", account_token=account_holder.account_token).token
        for _ in range(7)
    ]

    first_page = client.cards.list(page_size=3)
    listed = [card.token for card in first_page]  # auto-paging follows starting_after

    assert first_page.has_more is True
    assert listed == list(reversed(created))
    assert all(
        "pan" not in card.to_dict() and "cvv" not in card.to_dict() for card in first_page.data
    )


def test_ending_before_pages_back_to_newer_cards(client, account_holder):
    created = [
        client.cards.create(type="VIRTUAL", account_token=account_holder.account_token).token
        for _ in range(5)
    ]

    page = client.cards.list(page_size=2, ending_before=created[1])

    assert [card.token for card in page.data] == [created[3], created[2]]
    assert page.has_more is True


def test_card_list_filters_and_cursor_rules(client, account_holder):
    open_card = client.cards.create(type="VIRTUAL", account_token=account_holder.account_token)
    paused = client.cards.create(
        type="VIRTUAL", account_token=account_holder.account_token, state="PAUSED", memo="Groceries"
    )

    assert [c.token for c in client.cards.list(state="PAUSED")] == [paused.token]
    assert [c.token for c in client.cards.list(memo="grocer")] == [paused.token]
    assert len(client.cards.list(account_token=account_holder.account_token).data) == 2
    with pytest.raises(lithic.BadRequestError):
        client.cards.list(starting_after=paused.token, ending_before=open_card.token)
    with pytest.raises(lithic.BadRequestError):
        client.cards.list(page_size=101)


def test_cards_move_between_open_and_paused_and_close_for_good(client, account_holder):
    card = client.cards.create(type="VIRTUAL", account_token=account_holder.account_token)

    assert client.cards.update(card.token, state="PAUSED").state == "PAUSED"
    assert client.cards.update(card.token, state="OPEN", spend_limit=5000).spend_limit == 5000
    closed = client.cards.update(card.token, state="CLOSED", substatus="END_USER_REQUEST")
    assert closed.state == "CLOSED"

    with pytest.raises(lithic.APIStatusError) as caught:
        client.cards.update(card.token, state="OPEN")
    assert caught.value.status_code == 405
    with pytest.raises(lithic.APIStatusError) as caught:
        client.cards.update(card.token, memo="anything")
    assert caught.value.status_code == 405


def test_a_card_awaiting_fulfilment_cannot_be_opened_or_paused(
    client, account_holder, shipping_address
):
    card = client.cards.create(
        type="PHYSICAL",
        account_token=account_holder.account_token,
        shipping_address=shipping_address,
    )

    with pytest.raises(lithic.UnprocessableEntityError):
        client.cards.update(card.token, state="OPEN")
    with pytest.raises(lithic.UnprocessableEntityError):
        client.cards.update(card.token, state="PAUSED")


def test_a_shipped_card_is_activated_by_setting_it_open(
    client, emulator, account_holder, shipping_address
):
    card = client.cards.create(
        type="PHYSICAL",
        account_token=account_holder.account_token,
        shipping_address=shipping_address,
    )
    requests.post(f"{emulator.url}/_emulator/cards/{card.token}/ship", timeout=5).raise_for_status()

    assert client.cards.retrieve(card.token).state == "PENDING_ACTIVATION"
    assert client.cards.update(card.token, state="OPEN").state == "OPEN"


def test_setting_a_pin_sets_pin_status_ok(client, account_holder):
    card = client.cards.create(type="VIRTUAL", account_token=account_holder.account_token)

    assert client.cards.update(card.token, pin="ZW5jcnlwdGVk").pin_status == "OK"


def test_reissue_keeps_token_and_pan_and_restarts_fulfilment(
    client, emulator, account_holder, shipping_address
):
    card = client.cards.create(
        type="PHYSICAL",
        account_token=account_holder.account_token,
        shipping_address=shipping_address,
    )
    requests.post(f"{emulator.url}/_emulator/fulfilment/run", timeout=5).raise_for_status()
    client.cards.update(card.token, state="OPEN")

    reissued = client.cards.reissue(card.token, shipping_method="PRIORITY")

    assert (reissued.token, reissued.pan, reissued.cvv) == (card.token, card.pan, card.cvv)
    assert (reissued.exp_month, reissued.exp_year) == (card.exp_month, card.exp_year)
    assert reissued.state == "PENDING_FULFILLMENT"
    assert client.events.list(event_types=["card.reissued"]).data[0].payload == {
        "card_token": card.token
    }


def test_only_physical_cards_are_reissued_at_most_eight_times(
    client, account_holder, shipping_address
):
    virtual = client.cards.create(type="VIRTUAL", account_token=account_holder.account_token)
    with pytest.raises(lithic.UnprocessableEntityError):
        client.cards.reissue(virtual.token)

    physical = client.cards.create(
        type="PHYSICAL",
        account_token=account_holder.account_token,
        shipping_address=shipping_address,
    )
    for _ in range(4):
        client.cards.reissue(physical.token)
        client.cards.renew(physical.token, shipping_address=shipping_address)

    with pytest.raises(lithic.UnprocessableEntityError):
        client.cards.reissue(physical.token)


def test_renew_gives_a_virtual_card_a_new_expiry_and_cvv(client, account_holder):
    card = client.cards.create(
        type="VIRTUAL", account_token=account_holder.account_token, exp_month="06", exp_year="2029"
    )

    renewed = client.cards.renew(card.token, shipping_address={}, exp_month="07", exp_year="2030")

    assert (renewed.token, renewed.pan, renewed.state) == (card.token, card.pan, "OPEN")
    assert (renewed.exp_month, renewed.exp_year) == ("07", "2030")
    assert renewed.cvv != card.cvv
    payload = client.events.list(event_types=["card.renewed"]).data[0].payload
    assert payload == {
        "card_token": card.token,
        "exp_month": "07",
        "exp_year": "2030",
        "previous_exp_month": "06",
        "previous_exp_year": "2029",
    }


def test_renewing_a_physical_card_needs_a_shipping_address(
    client, account_holder, shipping_address
):
    card = client.cards.create(
        type="PHYSICAL",
        account_token=account_holder.account_token,
        shipping_address=shipping_address,
    )

    with pytest.raises(lithic.BadRequestError):
        client.cards.renew(card.token, shipping_address=None)  # type: ignore[arg-type]


def test_replacing_a_card_issues_a_new_pan_and_closes_the_old_card(
    client, account_holder, shipping_address
):
    old = client.cards.create(
        type="PHYSICAL",
        account_token=account_holder.account_token,
        shipping_address=shipping_address,
    )

    new = client.cards.create(
        type="VIRTUAL",  # ignored: a replacement keeps the old card's type
        account_token=account_holder.account_token,
        replacement_for=old.token,
        replacement_substatus="LOST",
    )

    assert new.token != old.token and new.pan != old.pan
    assert new.type == "PHYSICAL"
    assert new.replacement_for == old.token
    assert new.state == "PENDING_FULFILLMENT"
    closed = client.cards.retrieve(old.token)
    assert (closed.state, closed.substatus) == ("CLOSED", "LOST")
    created = client.events.list(event_types=["card.created"]).data[0].payload
    assert created == {"card_token": new.token, "replacement_for": old.token}


def test_an_idempotency_key_replay_returns_the_same_card(client, account_holder):
    key = str(uuid.uuid4())
    headers = {"Idempotency-Key": key}

    first = client.cards.create(
        type="VIRTUAL", account_token=account_holder.account_token, extra_headers=headers
    )
    second = client.cards.create(
        type="VIRTUAL", account_token=account_holder.account_token, extra_headers=headers
    )

    assert second.token == first.token
    assert second.pan == first.pan
    assert len(client.cards.list().data) == 1


def test_an_idempotency_key_reused_with_another_body_is_422(client, account_holder):
    headers = {"Idempotency-Key": str(uuid.uuid4())}
    client.cards.create(
        type="VIRTUAL", account_token=account_holder.account_token, extra_headers=headers
    )

    with pytest.raises(lithic.UnprocessableEntityError):
        client.cards.create(
            type="VIRTUAL",
            account_token=account_holder.account_token,
            memo="x",
            extra_headers=headers,
        )
    assert len(client.cards.list().data) == 1


def test_card_spend_limits_report_the_configured_window(client, account_holder):
    card = client.cards.create(
        type="VIRTUAL",
        account_token=account_holder.account_token,
        spend_limit=10_000,
        spend_limit_duration="MONTHLY",
    )

    limits = client.cards.retrieve_spend_limits(card.token)

    assert limits.spend_limit.monthly == 10_000
    assert limits.available_spend_limit.monthly == 10_000
    assert limits.spend_velocity.monthly == 0


# -- events and subscriptions --------------------------------------------------------------


def test_every_card_change_is_an_event(client, account_holder):
    card = client.cards.create(type="VIRTUAL", account_token=account_holder.account_token)
    client.cards.update(card.token, state="PAUSED")

    events = client.events.list(event_types=["card.created", "card.updated"]).data

    assert [e.event_type for e in events] == ["card.updated", "card.created"]
    assert events[0].payload == {
        "card_token": card.token,
        "state": "PAUSED",
        "previous_fields": {"state": "OPEN"},
    }
    assert client.events.retrieve(events[1].token).payload["card_token"] == card.token


def test_event_subscriptions_can_be_managed(client, receiver):
    created = client.events.subscriptions.create(
        url=receiver.url, description="cards", event_types=["card.created"]
    )

    assert created.token.startswith("ep_")
    assert client.events.subscriptions.retrieve(created.token).event_types == ["card.created"]
    secret = client.events.subscriptions.retrieve_secret(created.token).secret
    assert secret.startswith("whsec_")
    client.events.subscriptions.rotate_secret(created.token)
    assert client.events.subscriptions.retrieve_secret(created.token).secret != secret
    updated = client.events.subscriptions.update(created.token, url=receiver.url, disabled=True)
    assert updated.disabled is True
    assert created.token in [s.token for s in client.events.subscriptions.list()]

    client.events.subscriptions.delete(created.token)

    with pytest.raises(lithic.NotFoundError):
        client.events.subscriptions.retrieve(created.token)
