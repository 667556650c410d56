"""The payment rail: moves the customer's money from their bank to pay the card bill."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Protocol

import requests

from app.messaging.errors import PermanentError, TransientError

logger = logging.getLogger(__name__)


class RailError(Exception):
    def __init__(self, status: int | None, code: str, message: str) -> None:
        self.status, self.code, self.message = status, code, message
        super().__init__(f"payment rail {status or 'network error'} {code}: {message}")


class RailTransientError(RailError, TransientError):
    """Timeout, 429 or 5xx: retry later; the transfer id makes a repeat harmless."""


class RailPermanentError(RailError, PermanentError):
    """The rail refused the request as made (bad input, unknown account, id reused)."""


@dataclass(frozen=True)
class Transfer:
    id: str
    status: str  # PENDING, SETTLED, FAILED, RETURNED
    amount: int
    failure_code: str | None = None
    return_code: str | None = None


class PaymentRail(Protocol):
    def available_balance(self, account_id: str) -> int: ...

    def transfer(
        self, transfer_id: str, source_account_id: str, amount: int, memo: str
    ) -> Transfer: ...

    def get_transfer(self, transfer_id: str) -> Transfer: ...


class HttpPaymentRail:
    """The rail's HTTP API; transfers are keyed by our payment id, so a repeat is a no-op."""

    def __init__(self, base_url: str, api_key: str, timeout: float = 10.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = (min(3.05, timeout), timeout)
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Bearer {api_key}"

    def _call(self, method: str, path: str, body: dict | None = None) -> dict:
        try:
            response = self.session.request(
                method, self.base_url + path, json=body, timeout=self.timeout
            )
        except requests.RequestException as exc:
            raise RailTransientError(None, "NETWORK", type(exc).__name__) from None
        if response.status_code < 400:
            return response.json()
        try:
            error = response.json()
        except ValueError:
            error = {}
        kind = (
            RailTransientError
            if response.status_code in (408, 429) or response.status_code >= 500
            else RailPermanentError
        )
        raise kind(
            response.status_code,
            str(error.get("code") or "ERROR"),
            str(error.get("error") or response.reason)[:300],
        )

    def available_balance(self, account_id: str) -> int:
        account = self._call("GET", f"/v1/accounts/{account_id}")
        return int(account["available_balance"]) if account.get("status") == "OPEN" else 0

    def transfer(
        self, transfer_id: str, source_account_id: str, amount: int, memo: str
    ) -> Transfer:
        body = {
            "id": transfer_id,
            "source_account_id": source_account_id,
            "amount": amount,
            "currency": "USD",
            "description": memo,
        }
        return _transfer(self._call("POST", "/v1/transfers", body))

    def get_transfer(self, transfer_id: str) -> Transfer:
        return _transfer(self._call("GET", f"/v1/transfers/{transfer_id}"))


def _transfer(data: dict) -> Transfer:
    return Transfer(
        id=data["id"],
        status=data["status"],
        amount=int(data["amount"]),
        failure_code=data.get("failure_code"),
        return_code=data.get("return_code"),
    )
