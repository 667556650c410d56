"""Account holders (KYC/KYB with sandbox magic values), accounts and their spend limits."""

from __future__ import annotations

import logging
from datetime import date
from typing import TYPE_CHECKING, Any

import falcon

from .errors import bad_request, not_found, unprocessable
from .financial_accounts import create_issuing_account
from .models import Account, AccountHolder
from .pagination import page_size, paginate
from .spending import account_velocity
from .util import Body, check_uuid, new_token, read_json, utcnow

if TYPE_CHECKING:
    from .state import Emulator

logger = logging.getLogger(__name__)

WORKFLOWS = ("KYC_BASIC", "KYC_BYO", "KYC_EXEMPT", "KYB_BASIC", "KYB_BYO", "KYB_DELEGATED")

# Sandbox magic values of `individual.government_id` for KYC_BASIC (docs "Simulating Account
# Holder Creation"); any other value is ACCEPTED.
KYC_REJECTIONS = {
    "000-00-0001": "ADDRESS_VERIFICATION_FAILURE",
    "000-00-0002": "NAME_VERIFICATION_FAILURE",
    "000-00-0003": "DOB_VERIFICATION_FAILURE",
    "000-00-0004": "ID_VERIFICATION_FAILURE",
    "000-00-0005": "OTHER_VERIFICATION_FAILURE",
    "000-00-0006": "AGE_THRESHOLD_FAILURE",
    "000-00-0007": "RISK_THRESHOLD_FAILURE",
    "000-00-0008": "BLOCKLIST_ALERT_FAILURE",
    "000-00-0009": "MULTIPLE_RECORDS_FAILURE",
    "000-00-0010": "COMPLETE_VERIFICATION_FAILURE",
}

ACCOUNT_STATES = ("ACTIVE", "PAUSED", "CLOSED")
ACCOUNT_SUBSTATUSES = (
    "FRAUD_IDENTIFIED",
    "SUSPICIOUS_ACTIVITY",
    "RISK_VIOLATION",
    "END_USER_REQUEST",
    "ISSUER_REQUEST",
    "NOT_ACTIVE",
    "INTERNAL_REVIEW",
    "OTHER",
)
REVIEW_STATUSES = ("ACCEPTED", "REJECTED", "PENDING_REVIEW")


def _address(body: Body | None) -> dict[str, Any] | None:
    if body is None:
        return None
    address = {
        name: body.str(name, required=True, min_len=1)
        for name in ("address1", "city", "country", "postal_code", "state")
    }
    if body.str("address2"):
        address["address2"] = body.str("address2")
    return address


def _individual(body: Body, government_id_required: bool) -> tuple[dict[str, Any], str | None]:
    """Validate an individual; return its response shape and, separately, its government id."""
    individual: dict[str, Any] = {
        "address": _address(body.obj("address", required=True)),
        "dob": body.str("dob", required=True),
        "email": body.str("email", required=True, min_len=3),
        "first_name": body.str("first_name", required=True, min_len=1),
        "last_name": body.str("last_name", required=True, min_len=1),
        "phone_number": body.str("phone_number", required=True, min_len=1),
        "entity_token": new_token(),
    }
    try:
        date.fromisoformat(individual["dob"][:10])
    except ValueError:
        raise bad_request(f"{body.prefix}dob must be a date (YYYY-MM-DD)") from None
    government_id = body.str("government_id", required=government_id_required)
    return individual, government_id


def _masked(value: str | None) -> str:
    # Only the last four characters ever leave the emulator; the rest is never kept.
    if not value:
        return ""
    return "*" * max(len(value) - 4, 0) + value[-4:]


def _business(body: Body, delegated: bool) -> dict[str, Any]:
    business: dict[str, Any] = {
        "address": _address(body.obj("address", required=True)),
        "legal_business_name": body.str("legal_business_name", required=True, min_len=1),
        "dba_business_name": body.str("dba_business_name", default=""),
        "government_id": _masked(body.str("government_id", required=not delegated)),
        "phone_numbers": body.list("phone_numbers", required=not delegated) or [],
        "entity_token": new_token(),
    }
    if body.str("parent_company"):
        business["parent_company"] = body.str("parent_company")
    return business


def create_account_holder(emulator: Emulator, data: dict[str, Any]) -> AccountHolder:
    """Create an account holder with its account and ISSUING financial account."""
    body = Body(data)
    workflow = body.str("workflow", required=True, enum=WORKFLOWS)
    external_id = body.str("external_id")
    details: dict[str, Any] = {}
    email = phone_number = exemption_type = business_account_token = None
    status, reasons = "ACCEPTED", []

    if workflow in ("KYC_BASIC", "KYC_BYO"):
        individual, government_id = _individual(body.obj("individual", required=True), True)
        body.str("tos_timestamp", required=True)
        if workflow == "KYC_BYO":
            body.str("kyc_passed_timestamp", required=True)
        elif government_id in KYC_REJECTIONS:
            status, reasons = "REJECTED", [KYC_REJECTIONS[government_id]]
        details["individual"] = individual
        email, phone_number = individual["email"], individual["phone_number"]
        user_type = "INDIVIDUAL"
    elif workflow == "KYC_EXEMPT":
        details["individual"] = {
            "address": _address(body.obj("address", required=True)),
            "email": body.str("email", required=True),
            "first_name": body.str("first_name", required=True, min_len=1),
            "last_name": body.str("last_name", required=True, min_len=1),
            "phone_number": body.str("phone_number", required=True),
            "entity_token": new_token(),
        }
        exemption_type = body.str(
            "kyc_exemption_type", required=True, enum=("AUTHORIZED_USER", "PREPAID_CARD_USER")
        )
        business_account_token = body.uuid("business_account_token")
        email = details["individual"]["email"]
        phone_number = details["individual"]["phone_number"]
        user_type = "INDIVIDUAL"
    else:
        delegated = workflow == "KYB_DELEGATED"
        entity = body.obj("business_entity", required=True)
        details["business_entity"] = _business(entity, delegated)
        control = body.obj("control_person", required=not delegated)
        if control is not None:
            details["control_person"] = _individual(control, not delegated)[0]
            email = details["control_person"]["email"]
            phone_number = details["control_person"]["phone_number"]
        owners = body.list("beneficial_owner_individuals", required=not delegated) or []
        details["beneficial_owner_individuals"] = [
            _individual(_item(owner, f"beneficial_owner_individuals[{i}]."), not delegated)[0]
            for i, owner in enumerate(owners)
        ]
        for name in ("nature_of_business", "naics_code", "website_url"):
            value = body.str(name, required=name == "nature_of_business" and not delegated)
            if value is not None:
                details[name] = value
        if not delegated:
            body.str("tos_timestamp", required=True)
        if workflow == "KYB_BYO":
            body.str("kyb_passed_timestamp", required=True)
        else:
            # KYB is reviewed asynchronously; simulate/account_holders/enrollment_review ends it.
            status = "PENDING_REVIEW"
        user_type = "BUSINESS"

    with emulator.lock:
        now = utcnow()
        holder = AccountHolder(
            token=new_token(),
            seq=emulator.next_seq(),
            created=now,
            updated=now,
            account_token=new_token(),
            workflow=workflow,
            user_type=user_type,
            status=status,
            status_reasons=reasons,
            details=details,
            email=email,
            phone_number=phone_number,
            external_id=external_id,
            exemption_type=exemption_type,
            business_account_token=business_account_token,
        )
        account = Account(
            token=holder.account_token,
            seq=emulator.next_seq(),
            created=now,
            account_holder_token=holder.token,
            email=email or "",
            phone_number=phone_number or "",
            business_account_token=business_account_token or "",
        )
        emulator.account_holders[holder.token] = holder
        emulator.accounts[account.token] = account
        emulator.emit("account_holder.created", _created_payload(holder))
        # Lithic opens the ISSUING financial account of a credit program with the account.
        create_issuing_account(emulator, account.token)
    logger.info(
        "account holder created",
        extra={"account_holder_token": holder.token, "workflow": workflow, "status": status},
    )
    return holder


def _item(value: Any, prefix: str) -> Body:
    if not isinstance(value, dict):
        raise bad_request(f"{prefix[:-1]} must be an object")
    return Body(value, prefix=prefix)


def _created_payload(holder: AccountHolder) -> dict[str, Any]:
    return {
        "token": holder.token,
        "account_token": holder.account_token,
        "created": holder.create_response()["created"],
        "status": holder.status,
        # The SDK's AccountHolderCreatedWebhookEvent names the list `status_reason`.
        "status_reason": list(holder.status_reasons),
        "status_reasons": list(holder.status_reasons),
        "required_documents": [],
    }


def review_enrollment(emulator: Emulator, data: dict[str, Any]) -> AccountHolder:
    """Sandbox: set the result of a pending review and emit `account_holder.verification`."""
    body = Body(data)
    token = body.uuid("account_holder_token", required=True)
    status = body.str("status", required=True, enum=REVIEW_STATUSES)
    reasons = body.list("status_reasons") or []
    with emulator.lock:
        holder = get_account_holder(emulator, token)
        holder.status = status
        holder.status_reasons = [str(reason) for reason in reasons]
        holder.updated = utcnow()
        emulator.emit(
            "account_holder.verification",
            {
                "token": holder.token,
                "account_token": holder.account_token,
                "created": holder.create_response()["created"],
                "status": holder.status,
                "status_reasons": list(holder.status_reasons),
            },
        )
        return holder


def get_account_holder(emulator: Emulator, token: str) -> AccountHolder:
    """Return the account holder or raise 400/404."""
    check_uuid("account_holder_token", token)
    holder = emulator.account_holders.get(token)
    if holder is None:
        raise not_found()
    return holder


def get_account(emulator: Emulator, token: str, name: str = "account_token") -> Account:
    """Return the account or raise 400/404."""
    check_uuid(name, token)
    account = emulator.accounts.get(token)
    if account is None:
        raise not_found("Account not found.")
    return account


def update_account(emulator: Emulator, account: Account, data: dict[str, Any]) -> None:
    """Apply a PATCH to an account."""
    body = Body(data)
    state = body.str("state", enum=ACCOUNT_STATES)
    limits = {
        name: body.int(name, minimum=0)
        for name in ("daily_spend_limit", "monthly_spend_limit", "lifetime_spend_limit")
    }
    substatus = body.str("substatus", enum=ACCOUNT_SUBSTATUSES)
    comment = body.str("comment")
    address = _address(body.obj("verification_address"))
    if account.state == "CLOSED" and state not in (None, "CLOSED"):
        raise unprocessable("A closed account cannot be reopened.")
    if state is not None:
        account.state = state
    for name, value in limits.items():
        if value is not None:
            setattr(account, name, value)
    if "substatus" in body:
        account.substatus = substatus
    if comment is not None:
        account.comment = comment
    if address is not None:
        account.verification_address = address


def account_spend_limits(emulator: Emulator, account: Account) -> dict[str, Any]:
    """The account's limits, what was spent in each window and what is left."""
    spent = account_velocity(emulator, account.token)
    limits = {
        "daily": account.daily_spend_limit,
        "monthly": account.monthly_spend_limit,
        "lifetime": account.lifetime_spend_limit,
    }
    available = {
        window: max(limit - spent[window], 0) for window, limit in limits.items() if limit > 0
    }
    return {"available_spend_limit": available, "spend_limit": limits, "spend_velocity": spent}


class AccountHoldersResource:
    """`/v1/account_holders`."""

    def __init__(self, emulator: Emulator):
        self._emulator = emulator

    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        holder = create_account_holder(self._emulator, read_json(req))
        resp.media = holder.create_response()

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        params = dict(req.params)
        # Lithic names the page size `limit` on this list; `page_size` is accepted too.
        if "limit" in params:
            params["page_size"] = params["limit"]
        page_size(params)
        filters = {
            name: params[name]
            for name in ("external_id", "email", "phone_number")
            if params.get(name)
        }
        names = {
            name: params[name].lower()
            for name in ("first_name", "last_name", "legal_business_name")
            if params.get(name)
        }
        emulator = self._emulator
        with emulator.lock:
            rows = [
                holder
                for holder in emulator.account_holders.values()
                if all(getattr(holder, k) == v for k, v in filters.items())
                and all(_name_of(holder, k) == v for k, v in names.items())
            ]
            resp.media = paginate(
                rows, params, emulator.account_holders.get, lambda holder: holder.to_json()
            )


def _name_of(holder: AccountHolder, field: str) -> str:
    if field == "legal_business_name":
        return str(holder.details.get("business_entity", {}).get(field, "")).lower()
    return str(holder.details.get("individual", {}).get(field, "")).lower()


class AccountHolderResource:
    """`/v1/account_holders/{account_holder_token}`."""

    def __init__(self, emulator: Emulator):
        self._emulator = emulator

    def on_get(self, req: falcon.Request, resp: falcon.Response, account_holder_token: str):
        with self._emulator.lock:
            resp.media = get_account_holder(self._emulator, account_holder_token).to_json()


class EnrollmentReviewResource:
    """`/v1/simulate/account_holders/enrollment_review` (sandbox)."""

    def __init__(self, emulator: Emulator):
        self._emulator = emulator

    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        holder = review_enrollment(self._emulator, read_json(req))
        resp.media = holder.to_json()


class AccountsResource:
    """`/v1/accounts`."""

    def __init__(self, emulator: Emulator):
        self._emulator = emulator

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        emulator = self._emulator
        with emulator.lock:
            resp.media = paginate(
                list(emulator.accounts.values()),
                req.params,
                emulator.accounts.get,
                lambda account: account.to_json(),
            )


class AccountResource:
    """`/v1/accounts/{account_token}`."""

    def __init__(self, emulator: Emulator):
        self._emulator = emulator

    def on_get(self, req: falcon.Request, resp: falcon.Response, account_token: str) -> None:
        with self._emulator.lock:
            resp.media = get_account(self._emulator, account_token).to_json()

    def on_patch(self, req: falcon.Request, resp: falcon.Response, account_token: str) -> None:
        data = read_json(req)
        with self._emulator.lock:
            account = get_account(self._emulator, account_token)
            update_account(self._emulator, account, data)
            resp.media = account.to_json()


class AccountSpendLimitsResource:
    """`/v1/accounts/{account_token}/spend_limits`."""

    def __init__(self, emulator: Emulator):
        self._emulator = emulator

    def on_get(self, req: falcon.Request, resp: falcon.Response, account_token: str) -> None:
        with self._emulator.lock:
            account = get_account(self._emulator, account_token)
            resp.media = account_spend_limits(self._emulator, account)
