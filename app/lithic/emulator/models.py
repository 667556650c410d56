"""In-memory records of the emulator and their Lithic JSON shapes."""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from .util import iso


@dataclass
class AccountHolder:
    """An account holder; KYC data is kept only as far as Lithic echoes it back."""

    token: str
    seq: int
    created: datetime
    account_token: str
    workflow: str
    user_type: str
    status: str
    status_reasons: list[str]
    updated: datetime
    # Response fragments (individual, business_entity, control_person, ...) without any
    # individual's government id: the emulator never keeps one.
    details: dict[str, Any]
    email: str | None = None
    phone_number: str | None = None
    external_id: str | None = None
    exemption_type: str | None = None
    business_account_token: str | None = None

    def create_response(self) -> dict[str, Any]:
        """The body of `POST /v1/account_holders`."""
        body: dict[str, Any] = {
            "token": self.token,
            "account_token": self.account_token,
            "status": self.status,
            "status_reasons": list(self.status_reasons),
            "created": iso(self.created),
            "required_documents": [],
        }
        if self.external_id is not None:
            body["external_id"] = self.external_id
        return body

    def to_json(self) -> dict[str, Any]:
        """The AccountHolder object."""
        body: dict[str, Any] = {
            "token": self.token,
            "created": iso(self.created),
            "account_token": self.account_token,
            "user_type": self.user_type,
            "status": self.status,
            "status_reasons": list(self.status_reasons),
            "required_documents": [],
            "verification_application": {
                "created": iso(self.created),
                "updated": iso(self.updated),
                "status": self.status,
                "status_reasons": list(self.status_reasons),
            },
        }
        body.update(copy.deepcopy(self.details))
        for name in ("email", "phone_number", "external_id", "exemption_type"):
            value = getattr(self, name)
            if value is not None:
                body[name] = value
        if self.business_account_token is not None:
            body["business_account_token"] = self.business_account_token
        return body


@dataclass
class Account:
    """An account (1:1 with its account holder)."""

    token: str
    seq: int
    created: datetime
    account_holder_token: str | None
    state: str = "ACTIVE"
    daily_spend_limit: int = 500_000
    monthly_spend_limit: int = 0
    lifetime_spend_limit: int = 0
    substatus: str | None = None
    comment: str | None = None
    email: str = ""
    phone_number: str = ""
    business_account_token: str = ""
    verification_address: dict[str, Any] | None = None

    def to_json(self) -> dict[str, Any]:
        """The Account object."""
        body: dict[str, Any] = {
            "token": self.token,
            "created": iso(self.created),
            "state": self.state,
            "spend_limit": {
                "daily": self.daily_spend_limit,
                "monthly": self.monthly_spend_limit,
                "lifetime": self.lifetime_spend_limit,
            },
            "cardholder_currency": "USD",
        }
        # NOTE: the published schema's substatus enum lacks null, so a null one is left out.
        if self.substatus is not None:
            body["substatus"] = self.substatus
        if self.account_holder_token is not None:
            body["account_holder"] = {
                "token": self.account_holder_token,
                "business_account_token": self.business_account_token,
                "email": self.email,
                "phone_number": self.phone_number,
            }
        if self.comment is not None:
            body["comment"] = self.comment
        if self.verification_address is not None:
            body["verification_address"] = copy.deepcopy(self.verification_address)
        return body


@dataclass
class FinancialAccount:
    """A financial account; ISSUING ones carry the credit configuration."""

    token: str
    seq: int
    created: datetime
    updated: datetime
    account_token: str | None
    type: str
    nickname: str | None = None
    status: str = "OPEN"
    substatus: str | None = None
    user_defined_status: str | None = None
    is_for_benefit_of: bool = False
    credit_limit: int | None = None
    credit_product_token: str | None = None
    external_bank_account_token: str | None = None
    tier: str | None = None
    auto_collection_enabled: bool = False

    def credit_configuration(self) -> dict[str, Any]:
        """The credit configuration fields shared by both credit-config shapes."""
        return {
            "credit_limit": self.credit_limit,
            "credit_product_token": self.credit_product_token,
            "external_bank_account_token": self.external_bank_account_token,
            "tier": self.tier,
            "auto_collection_configuration": {
                "auto_collection_enabled": self.auto_collection_enabled
            },
        }

    def to_json(self) -> dict[str, Any]:
        """The FinancialAccount object."""
        return {
            "token": self.token,
            "account_token": self.account_token,
            "created": iso(self.created),
            "updated": iso(self.updated),
            "type": self.type,
            "nickname": self.nickname,
            "status": self.status,
            "substatus": self.substatus,
            "user_defined_status": self.user_defined_status,
            "is_for_benefit_of": self.is_for_benefit_of,
            "account_number": None,
            "routing_number": None,
            "credit_configuration": self.credit_configuration(),
        }


@dataclass
class Card:
    """A card. `pan` and `cvv` leave the emulator only in PCI responses, never in logs."""

    token: str
    seq: int
    created: datetime
    account_token: str
    card_program_token: str
    type: str
    state: str
    pan: str = field(repr=False)
    cvv: str = field(repr=False)
    exp_month: str
    exp_year: str
    memo: str = ""
    spend_limit: int = 0
    spend_limit_duration: str = "TRANSACTION"
    pin_status: str = "NOT_SET"
    substatus: str | None = None
    comment: str | None = None
    hostname: str = ""
    product_id: str | None = None
    replacement_for: str | None = None
    bulk_order_token: str | None = None
    digital_card_art_token: str | None = None
    network_program_token: str | None = None
    tags: dict[str, str] = field(default_factory=dict)
    shipping_address: dict[str, Any] | None = None
    shipping_method: str | None = None
    carrier: dict[str, Any] | None = None
    reissue_renew_count: int = 0
    # Bumped whenever the card re-enters fulfilment, so a stale timer cannot ship it twice.
    fulfilment_generation: int = 0

    def to_json(self, pci: bool) -> dict[str, Any]:
        """The Card (pci=True, with pan/cvv) or NonPCICard object."""
        body: dict[str, Any] = {
            "token": self.token,
            "account_token": self.account_token,
            "card_program_token": self.card_program_token,
            "created": iso(self.created),
            "funding": None,
            "last_four": self.pan[-4:],
            "pin_status": self.pin_status,
            "spend_limit": self.spend_limit,
            "spend_limit_duration": self.spend_limit_duration,
            "state": self.state,
            "type": self.type,
            "exp_month": self.exp_month,
            "exp_year": self.exp_year,
            "memo": self.memo,
            "hostname": self.hostname,
            "cardholder_currency": "USD",
            "product_id": self.product_id,
            "replacement_for": self.replacement_for,
            "bulk_order_token": self.bulk_order_token,
            "digital_card_art_token": self.digital_card_art_token,
            "network_program_token": self.network_program_token,
            "pending_commands": [],
            "tags": dict(self.tags),
        }
        # NOTE: the published schema's substatus enum lacks null, so a null one is left out.
        if self.substatus is not None:
            body["substatus"] = self.substatus
        if self.comment is not None:
            body["comment"] = self.comment
        if pci:
            body["pan"] = self.pan
            body["cvv"] = self.cvv
        return body


@dataclass
class Event:
    """An event, as listed by `/v1/events` and delivered (flattened) to subscriptions."""

    token: str
    seq: int
    created: datetime
    event_type: str
    payload: dict[str, Any]

    def to_json(self) -> dict[str, Any]:
        """The Event object of the Events API."""
        return {
            "token": self.token,
            "created": iso(self.created),
            "event_type": self.event_type,
            "payload": copy.deepcopy(self.payload),
        }

    def delivery_body(self) -> dict[str, Any]:
        """The webhook body: the resource flattened with an `event_type` key."""
        body = {"event_type": self.event_type}
        body.update(copy.deepcopy(self.payload))
        return body


@dataclass
class Subscription:
    """An event subscription with its signing secret(s)."""

    token: str
    seq: int
    created: datetime
    url: str
    secret: str = field(repr=False)
    description: str = ""
    disabled: bool = False
    event_types: list[str] | None = None
    # The secret replaced by the last rotation, still signed with until `previous_until`.
    previous_secret: str | None = field(default=None, repr=False)
    previous_until: datetime | None = None

    def wants(self, event_type: str) -> bool:
        """Tell whether this subscription receives `event_type` now."""
        if self.disabled:
            return False
        return self.event_types is None or event_type in self.event_types

    def to_json(self) -> dict[str, Any]:
        """The EventSubscription object."""
        return {
            "token": self.token,
            "url": self.url,
            "description": self.description,
            "disabled": self.disabled,
            "event_types": list(self.event_types) if self.event_types is not None else None,
        }


@dataclass
class Attempt:
    """One delivery attempt of one event to one subscription."""

    token: str
    seq: int
    created: datetime
    event_subscription_token: str
    event_token: str
    url: str
    status: str
    response: str = ""
    response_status_code: int = 0

    def to_json(self) -> dict[str, Any]:
        """The MessageAttempt object."""
        return {
            "token": self.token,
            "created": iso(self.created),
            "event_subscription_token": self.event_subscription_token,
            "event_token": self.event_token,
            "url": self.url,
            "status": self.status,
            "response": self.response,
            "response_status_code": self.response_status_code,
        }
