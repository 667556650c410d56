"""A thin Lithic API client on `requests`: auth, timeouts, retries, errors, pagination."""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Iterator
from typing import Any

import requests

from app.messaging.errors import PermanentError, TransientError

logger = logging.getLogger(__name__)

RETRY_STATUSES = {408, 409, 429, 500, 502, 503, 504}
MAX_RETRY_AFTER = 10.0


class LithicError(Exception):
    """Lithic refused or failed a request; carries its debugging id for support tickets."""

    def __init__(self, status: int | None, message: str, debugging_request_id: str | None = None):
        self.status = status
        self.message = message
        self.debugging_request_id = debugging_request_id
        super().__init__(
            f"Lithic {status or 'network error'}: {message}"
            + (f" (debugging_request_id={debugging_request_id})" if debugging_request_id else "")
        )


class LithicTransientError(LithicError, TransientError):
    """Network failure, 429 or 5xx: worth retrying later."""


class LithicPermanentError(LithicError, PermanentError):
    """A 4xx: the request itself is wrong for Lithic; retrying cannot help."""


class LithicClient:
    """Calls Lithic's REST API. Only tokens and ids ever reach the logs."""

    def __init__(
        self,
        api_key: str,
        base_url: str,
        timeout: float = 10.0,
        max_attempts: int = 3,
        session: requests.Session | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = (min(3.05, timeout), timeout)
        self.max_attempts = max_attempts
        self.session = session or requests.Session()
        self.session.headers.update({"Authorization": api_key, "Accept": "application/json"})

    def request(
        self,
        method: str,
        path: str,
        *,
        json: dict | None = None,
        params: dict | None = None,
        idempotency_key: str | None = None,
    ) -> Any:
        """Send one API call, retrying 429/5xx/network failures with backoff and Retry-After."""
        headers = {"Idempotency-Key": idempotency_key} if idempotency_key else {}
        for attempt in range(1, self.max_attempts + 1):
            try:
                response = self.session.request(
                    method,
                    self.base_url + path,
                    json=json,
                    params=params,
                    headers=headers,
                    timeout=self.timeout,
                )
            except requests.RequestException as exc:
                error: LithicError = LithicTransientError(None, type(exc).__name__)
                wait = self._backoff(attempt)
            else:
                if response.status_code < 400:
                    return response.json() if response.content else None
                error = self._error(response)
                if not isinstance(error, LithicTransientError):
                    raise error
                wait = self._retry_after(response) or self._backoff(attempt)
            logger.warning(
                "lithic.request_failed method=%s path=%s attempt=%s status=%s",
                method,
                path,
                attempt,
                error.status,
            )
            if attempt == self.max_attempts:
                raise error
            time.sleep(wait)
        raise AssertionError("unreachable")

    def paginate(
        self, path: str, params: dict | None = None, page_size: int = 100
    ) -> Iterator[dict]:
        """Yield every item of a cursor-paginated list, newest first."""
        params = dict(params or {}, page_size=page_size)
        while True:
            page = self.request("GET", path, params=params)
            yield from page["data"]
            if not page.get("has_more") or not page["data"]:
                return
            params["starting_after"] = page["data"][-1]["token"]

    # The calls this service makes.

    def create_account_holder(self, body: dict) -> dict:
        return self.request("POST", "/v1/account_holders", json=body)

    def list_financial_accounts(self, account_token: str) -> list[dict]:
        page = self.request(
            "GET", "/v1/financial_accounts", params={"account_token": account_token}
        )
        return page["data"]

    def update_credit_configuration(self, financial_account_token: str, body: dict) -> dict:
        return self.request(
            "PATCH",
            f"/v1/financial_accounts/{financial_account_token}/credit_configuration",
            json=body,
        )

    def create_card(self, body: dict, idempotency_key: str) -> dict:
        return self.request("POST", "/v1/cards", json=body, idempotency_key=idempotency_key)

    def get_card(self, card_token: str) -> dict:
        return self.request("GET", f"/v1/cards/{card_token}")

    def update_card(self, card_token: str, body: dict) -> dict:
        return self.request("PATCH", f"/v1/cards/{card_token}", json=body)

    def reissue_card(self, card_token: str, body: dict) -> dict:
        return self.request("POST", f"/v1/cards/{card_token}/reissue", json=body)

    @staticmethod
    def _error(response: requests.Response) -> LithicError:
        try:
            body = response.json()
        except ValueError:
            body = {}
        message = str(body.get("message") or body.get("error") or response.reason or "error")
        debugging_id = body.get("debugging_request_id")
        kind = (
            LithicTransientError
            if response.status_code in RETRY_STATUSES or response.status_code >= 500
            else LithicPermanentError
        )
        return kind(response.status_code, message[:500], debugging_id)

    @staticmethod
    def _retry_after(response: requests.Response) -> float | None:
        value = response.headers.get("retry-after")
        try:
            return min(float(value), MAX_RETRY_AFTER) if value else None
        except ValueError:
            return None

    @staticmethod
    def _backoff(attempt: int) -> float:
        return min(0.25 * 2 ** (attempt - 1), 4.0) * random.uniform(1, 1.5)
