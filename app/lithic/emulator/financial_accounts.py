"""Financial accounts and their credit configuration."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import falcon

from .errors import bad_request, not_found
from .models import FinancialAccount
from .util import Body, check_uuid, new_token, read_json, utcnow

if TYPE_CHECKING:
    from .state import Emulator

LIST_TYPES = ("ISSUING", "OPERATING", "RESERVE", "SECURITY", "EARLY_DIRECT_DEPOSIT_FLOAT")
STATUSES = ("OPEN", "CLOSED", "SUSPENDED", "PENDING")
SUBSTATUSES = (
    "CHARGED_OFF_DELINQUENT",
    "CHARGED_OFF_FRAUD",
    "END_USER_REQUEST",
    "BANK_REQUEST",
    "DELINQUENT",
    "INTEREST_AND_FEES_PAUSED",
)


def _add(emulator: Emulator, account_token: str | None, type_: str, **fields: Any):
    now = utcnow()
    account = FinancialAccount(
        token=new_token(),
        seq=emulator.next_seq(),
        created=now,
        updated=now,
        account_token=account_token,
        type=type_,
        **fields,
    )
    emulator.financial_accounts[account.token] = account
    emulator.emit("financial_account.created", account.to_json())
    return account


def create_issuing_account(emulator: Emulator, account_token: str) -> FinancialAccount:
    """Open the ISSUING financial account that comes with every account of a credit program."""
    return _add(emulator, account_token, "ISSUING")


def create_financial_account(emulator: Emulator, data: dict[str, Any]) -> FinancialAccount:
    """`POST /v1/financial_accounts`: only OPERATING accounts can be created by API."""
    body = Body(data)
    nickname = body.str("nickname", required=True, max_len=256)
    body.str("type", required=True, enum=("OPERATING",))
    account_token = body.uuid("account_token")
    is_for_benefit_of = body.bool("is_for_benefit_of", default=False)
    with emulator.lock:
        if account_token is not None and account_token not in emulator.accounts:
            raise not_found("Account not found.")
        return _add(
            emulator,
            account_token,
            "OPERATING",
            nickname=nickname,
            is_for_benefit_of=is_for_benefit_of,
        )


def get_financial_account(emulator: Emulator, token: str) -> FinancialAccount:
    """Return the financial account or raise 400/404."""
    check_uuid("financial_account_token", token)
    account = emulator.financial_accounts.get(token)
    if account is None:
        raise not_found()
    return account


def _changed(emulator: Emulator, account: FinancialAccount) -> None:
    account.updated = utcnow()
    emulator.emit("financial_account.updated", account.to_json())


def update_credit_configuration(
    emulator: Emulator, account: FinancialAccount, data: dict[str, Any]
) -> None:
    """Apply a PATCH of the credit configuration (credit limit in cents, product, tier...)."""
    body = Body(data)
    credit_limit = body.int("credit_limit", minimum=0)
    bank_token = body.uuid("external_bank_account_token")
    product = body.str("credit_product_token")
    tier = body.str("tier", min_len=1)
    auto = body.obj("auto_collection_configuration")
    auto_enabled = auto.bool("auto_collection_enabled") if auto is not None else None
    if credit_limit is not None:
        account.credit_limit = credit_limit
    if bank_token is not None:
        account.external_bank_account_token = bank_token
    if product is not None:
        account.credit_product_token = product
    if tier is not None:
        account.tier = tier
    if auto_enabled is not None:
        account.auto_collection_enabled = auto_enabled
    _changed(emulator, account)


def credit_configuration(account: FinancialAccount) -> dict[str, Any]:
    """The body of `GET …/credit_configuration`."""
    body = {"account_token": account.account_token}
    body.update(account.credit_configuration())
    return body


class FinancialAccountsResource:
    """`/v1/financial_accounts`."""

    def __init__(self, emulator: Emulator):
        self._emulator = emulator

    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        data = read_json(req)
        key = req.get_header("Idempotency-Key")
        if key is not None:
            check_uuid("Idempotency-Key", key)
        resp.media = self._emulator.idempotent(
            "financial_accounts",
            key,
            data,
            lambda: create_financial_account(self._emulator, data).to_json(),
        )

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        account_token = req.get_param("account_token")
        business_token = req.get_param("business_account_token")
        type_ = req.get_param("type")
        if account_token:
            check_uuid("account_token", account_token)
        if business_token:
            check_uuid("business_account_token", business_token)
        if type_ and type_ not in LIST_TYPES:
            raise bad_request(f"type must be one of: {', '.join(LIST_TYPES)}")
        emulator = self._emulator
        with emulator.lock:
            rows = [
                account
                for account in emulator.financial_accounts.values()
                if (not account_token or account.account_token == account_token)
                and (not type_ or account.type == type_)
                and (not business_token or _business_of(emulator, account) == business_token)
            ]
            rows.sort(key=lambda account: account.seq, reverse=True)
            # A single-page list in Lithic's API: everything in one answer.
            resp.media = {"data": [account.to_json() for account in rows], "has_more": False}


def _business_of(emulator: Emulator, account: FinancialAccount) -> str | None:
    owner = emulator.accounts.get(account.account_token or "")
    return owner.business_account_token if owner else None


class FinancialAccountResource:
    """`/v1/financial_accounts/{financial_account_token}`."""

    def __init__(self, emulator: Emulator):
        self._emulator = emulator

    def on_get(self, req: falcon.Request, resp: falcon.Response, financial_account_token: str):
        with self._emulator.lock:
            account = get_financial_account(self._emulator, financial_account_token)
            resp.media = account.to_json()

    def on_patch(self, req: falcon.Request, resp: falcon.Response, financial_account_token: str):
        body = Body(read_json(req))
        nickname = body.str("nickname", max_len=256)
        with self._emulator.lock:
            account = get_financial_account(self._emulator, financial_account_token)
            if nickname is not None:
                account.nickname = nickname
                _changed(self._emulator, account)
            resp.media = account.to_json()


class FinancialAccountStatusResource:
    """`/v1/financial_accounts/{financial_account_token}/update_status`."""

    def __init__(self, emulator: Emulator):
        self._emulator = emulator

    def on_post(self, req: falcon.Request, resp: falcon.Response, financial_account_token: str):
        data = read_json(req)
        body = Body(data)
        status = body.str("status", required=True, enum=STATUSES)
        if "substatus" not in data:
            raise bad_request("substatus is required")
        substatus = body.str("substatus", enum=SUBSTATUSES)
        user_defined_status = body.str("user_defined_status")
        with self._emulator.lock:
            account = get_financial_account(self._emulator, financial_account_token)
            account.status = status
            account.substatus = substatus
            if user_defined_status is not None:
                account.user_defined_status = user_defined_status
            _changed(self._emulator, account)
            resp.media = account.to_json()


class CreditConfigurationResource:
    """`/v1/financial_accounts/{financial_account_token}/credit_configuration`."""

    def __init__(self, emulator: Emulator):
        self._emulator = emulator

    def on_get(self, req: falcon.Request, resp: falcon.Response, financial_account_token: str):
        with self._emulator.lock:
            account = get_financial_account(self._emulator, financial_account_token)
            resp.media = credit_configuration(account)

    def on_patch(self, req: falcon.Request, resp: falcon.Response, financial_account_token: str):
        data = read_json(req)
        with self._emulator.lock:
            account = get_financial_account(self._emulator, financial_account_token)
            update_credit_configuration(self._emulator, account, data)
            resp.media = credit_configuration(account)
