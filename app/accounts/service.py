"""Onboarding: a customer and their credit account, created at Lithic by an actor."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from app import runtime
from app.accounts.models import CreditAccount, Customer
from app.db import for_update, transaction, utcnow
from app.errors import NotFound, ValidationError
from app.lithic.client import LithicClient
from app.messaging import outbox
from app.messaging.actor import mark_processed
from app.operations.models import Operation

logger = logging.getLogger(__name__)

CREATE_CREDIT_CARD_ACCOUNT = "create_credit_card_account"


@dataclass(frozen=True)
class Address:
    address1: str
    city: str
    state: str
    postal_code: str
    country: str = "USA"
    address2: str | None = None

    def as_lithic(self) -> dict:
        body = {
            "address1": self.address1,
            "city": self.city,
            "state": self.state,
            "postal_code": self.postal_code,
            "country": self.country,
        }
        if self.address2:
            body["address2"] = self.address2
        return body


@dataclass(frozen=True)
class Applicant:
    external_id: str
    first_name: str
    last_name: str
    email: str
    phone_number: str
    dob: str
    government_id: str
    address: Address
    credit_limit: int | None = None


def onboard_customer(applicant: Applicant) -> tuple[Customer, CreditAccount, Operation]:
    """Record the customer and queue the account's creation at Lithic (KYC approved upstream)."""
    _validate(applicant)
    config = runtime.current().config
    credit_limit = applicant.credit_limit or config.default_credit_limit
    kyc = {
        "dob": applicant.dob,
        "government_id": applicant.government_id,
        "address": applicant.address.as_lithic(),
    }
    with transaction():
        if Customer.select().where(Customer.external_id == applicant.external_id).exists():
            raise ValidationError(
                f"a customer with external id {applicant.external_id!r} already exists",
                code="CUSTOMER_EXISTS",
            )
        customer = Customer.create(
            external_id=applicant.external_id,
            first_name=applicant.first_name,
            last_name=applicant.last_name,
            email=applicant.email,
            phone_number=applicant.phone_number,
        )
        account = CreditAccount.create(
            customer=customer,
            credit_limit=credit_limit,
            kyc_ciphertext=runtime.current().sealer.seal(kyc).decode(),
        )
        operation = Operation.create(
            customer=customer, kind="ONBOARD_CUSTOMER", resource_id=account.id
        )
        outbox.enqueue(CREATE_CREDIT_CARD_ACCOUNT, account_id=account.id, operation_id=operation.id)
    logger.info("customer.onboarding_queued customer_id=%s account_id=%s", customer.id, account.id)
    return customer, account, operation


def create_credit_card_account(message_id: str, account_id: str, operation_id: str) -> None:
    """Create the account holder, account and credit line at Lithic; safe to run twice."""
    rt = runtime.current()
    account = CreditAccount.get_or_none(CreditAccount.id == account_id)
    if account is None:
        raise NotFound(f"credit account {account_id} does not exist")
    if account.status != CreditAccount.PENDING or account.kyc_ciphertext is None:
        with transaction():
            _finish_operation(operation_id, account)
            mark_processed(message_id, CREATE_CREDIT_CARD_ACCOUNT)
        return

    holder = _find_or_create_account_holder(
        rt.lithic, account, rt.sealer.open(account.kyc_ciphertext)
    )
    status = holder["status"]
    financial_account_token = None
    if status == "ACCEPTED":
        financial_account_token = _issuing_financial_account(rt.lithic, holder["account_token"])
        if financial_account_token:
            rt.lithic.update_credit_configuration(
                financial_account_token, {"credit_limit": account.credit_limit}
            )

    with transaction():
        account = for_update(CreditAccount.select().where(CreditAccount.id == account_id)).get()
        account.lithic_account_holder_token = holder["token"]
        account.lithic_account_token = holder.get("account_token")
        account.lithic_financial_account_token = financial_account_token
        account.status_reasons = ",".join(holder.get("status_reasons") or [])
        if status == "ACCEPTED":
            account.status = CreditAccount.ACTIVE
        elif status == "REJECTED":
            account.status = CreditAccount.REJECTED
        # KYC details are needed only once: wipe them unless Lithic is still reviewing.
        if status in ("ACCEPTED", "REJECTED"):
            account.kyc_ciphertext = None
        account.updated_at = utcnow()
        account.save()
        _finish_operation(operation_id, account)
        mark_processed(message_id, CREATE_CREDIT_CARD_ACCOUNT)
    logger.info("credit_account.created account_id=%s status=%s", account.id, account.status)


def _find_or_create_account_holder(lithic: LithicClient, account: CreditAccount, kyc: dict) -> dict:
    # Account holder creation has no idempotency key at Lithic: our account id is the
    # external_id, so a redelivered message finds the holder the first delivery created.
    existing = lithic.request(
        "GET", "/v1/account_holders", params={"external_id": account.id, "limit": 1}
    )
    if existing.get("data"):
        return existing["data"][0]
    customer = account.customer
    return lithic.create_account_holder(
        {
            "workflow": "KYC_BASIC",
            "external_id": account.id,
            "tos_timestamp": utcnow().strftime("%Y-%m-%dT%H:%M:%SZ"),
            "individual": {
                "first_name": customer.first_name,
                "last_name": customer.last_name,
                "email": customer.email,
                "phone_number": customer.phone_number,
                "dob": kyc["dob"],
                "government_id": kyc["government_id"],
                "address": kyc["address"],
            },
        }
    )


def _issuing_financial_account(lithic: LithicClient, account_token: str) -> str | None:
    for financial_account in lithic.list_financial_accounts(account_token):
        if financial_account.get("type") == "ISSUING":
            return financial_account["token"]
    return None


def _finish_operation(operation_id: str, account: CreditAccount) -> None:
    if account.status == CreditAccount.ACTIVE:
        status, error = Operation.SUCCEEDED, None
    elif account.status == CreditAccount.REJECTED:
        status, error = Operation.FAILED, f"KYC rejected: {account.status_reasons}"
    else:
        return
    Operation.update(status=status, error=error, updated_at=utcnow()).where(
        Operation.id == operation_id
    ).execute()


def _validate(applicant: Applicant) -> None:
    for name in ("external_id", "first_name", "last_name", "email", "phone_number", "dob"):
        if not getattr(applicant, name).strip():
            raise ValidationError(f"{name} is required", code="BAD_INPUT")
    if "@" not in applicant.email:
        raise ValidationError("email is not an email address", code="BAD_INPUT")
    if applicant.credit_limit is not None and applicant.credit_limit <= 0:
        raise ValidationError("creditLimit must be a positive amount of cents", code="BAD_AMOUNT")


def account_for(customer_id: str) -> CreditAccount:
    account = CreditAccount.get_or_none(CreditAccount.customer == customer_id)
    if account is None:
        raise NotFound("no credit account for this customer")
    return account
