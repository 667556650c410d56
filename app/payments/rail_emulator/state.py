"""The rail emulator's in-memory state: bank accounts and transfers, behind one lock."""

from __future__ import annotations

import logging
import re
import threading
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from app.lithic.emulator.faults import FaultStore, RequestLog
from app.lithic.emulator.scheduler import Scheduler
from app.lithic.emulator.util import canonical, iso, utcnow

from .config import RailConfig
from .webhooks import RailWebhooks

logger = logging.getLogger(__name__)

ACCOUNT_STATUSES = ("OPEN", "CLOSED")
CURRENCY = "USD"
MAX_ID = 64
MAX_DESCRIPTION = 500
# Ids travel in URL paths, so characters that would split or escape a path are refused.
_ID = re.compile(r"[!-~]{1,64}")
_ID_FORBIDDEN = frozenset("/?#%")
_RETURN_CODE = re.compile(r"R\d{2}")


class RailError(Exception):
    """An API error answered with `status` and `{"error": message, "code": code}`."""

    def __init__(self, status: int, code: str, message: str):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


def invalid(message: str) -> RailError:
    """Return a 400 for a request that is malformed or breaks a documented rule."""
    return RailError(400, "INVALID_REQUEST", message)


def conflict(message: str) -> RailError:
    """Return a 409 for a test action that does not apply to the transfer's status."""
    return RailError(409, "INVALID_TRANSFER_STATE", message)


@dataclass
class Account:
    """A customer's bank account at the rail."""

    id: str
    available_balance: int
    status: str = "OPEN"

    def to_json(self) -> dict[str, Any]:
        """The Account object."""
        return {
            "id": self.id,
            "available_balance": self.available_balance,
            "currency": CURRENCY,
            "status": self.status,
        }


@dataclass
class Transfer:
    """A pull from a customer's bank account, keyed by the caller's payment id."""

    id: str
    source_account_id: str
    amount: int
    description: str | None
    status: str
    created: datetime
    updated: datetime
    # The canonical create body: a repeat of the id must carry the very same request.
    fingerprint: str = field(repr=False)
    failure_code: str | None = None
    return_code: str | None = None
    settled_at: datetime | None = None
    returned_at: datetime | None = None

    def to_json(self) -> dict[str, Any]:
        """The Transfer object."""
        return {
            "id": self.id,
            "source_account_id": self.source_account_id,
            "amount": self.amount,
            "currency": CURRENCY,
            "description": self.description,
            "status": self.status,
            "failure_code": self.failure_code,
            "return_code": self.return_code,
            "created": iso(self.created),
            "updated": iso(self.updated),
            "settled_at": iso(self.settled_at),
            "returned_at": iso(self.returned_at),
        }


def check_id(name: str, value: Any) -> str:
    """Return a valid id (1-64 printable ASCII characters, none of `/?#%`) or raise 400."""
    if not isinstance(value, str):
        raise invalid(f"{name} is required and must be a string")
    if not _ID.fullmatch(value) or _ID_FORBIDDEN & set(value):
        raise invalid(
            f"{name} must be 1-{MAX_ID} printable ASCII characters without spaces, '/', '?', "
            "'#' or '%'"
        )
    return value


def _amount(value: Any) -> int:
    # Money is integer cents: booleans and floats are refused, not rounded.
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise invalid("amount must be a positive integer number of cents")
    return value


def parse_transfer(data: dict[str, Any]) -> dict[str, Any]:
    """Validate a `POST /v1/transfers` body; return its normalized fields."""
    transfer_id = check_id("id", data.get("id"))
    source = check_id("source_account_id", data.get("source_account_id"))
    amount = _amount(data.get("amount"))
    if data.get("currency") != CURRENCY:
        raise invalid(f"currency is required and must be {CURRENCY}")
    description = data.get("description")
    if description is not None and not isinstance(description, str):
        raise invalid("description must be a string")
    if description is not None and len(description) > MAX_DESCRIPTION:
        raise invalid(f"description must be at most {MAX_DESCRIPTION} characters")
    return {
        "id": transfer_id,
        "source_account_id": source,
        "amount": amount,
        "currency": CURRENCY,
        "description": description,
    }


class Rail:
    """Everything the rail emulator knows; mutate only while holding `lock`."""

    def __init__(self, config: RailConfig):
        self.config = config
        self.lock = threading.RLock()
        self.faults = FaultStore()
        self.request_log = RequestLog()
        self.timers = Scheduler("rail-emulator-timers")
        self.webhooks = RailWebhooks(config)
        # Bumped by reset(), so a settlement timer set before it does nothing.
        self._generation = 0
        self._clear()

    def _clear(self) -> None:
        self.accounts: dict[str, Account] = {}
        self.transfers: dict[str, Transfer] = {}

    def reset(self) -> None:
        """Empty all state, armed faults, the request log and queued work."""
        with self.lock:
            self._generation += 1
            self.timers.clear()
            self.webhooks.clear()
            self.faults.clear()
            self.request_log.clear()
            self._clear()
        logger.info("rail emulator state reset")

    def close(self) -> None:
        """Stop the background threads."""
        self.webhooks.stop()
        self.timers.stop()

    # -- accounts ---------------------------------------------------------------------------

    def put_account(self, data: dict[str, Any]) -> tuple[Account, bool]:
        """Create or overwrite an account; return it and whether it is new."""
        account_id = check_id("id", data.get("id"))
        balance = data.get("available_balance")
        if isinstance(balance, bool) or not isinstance(balance, int) or balance < 0:
            raise invalid("available_balance is required and must be a non-negative integer")
        status = data.get("status", "OPEN")
        if status not in ACCOUNT_STATUSES:
            raise invalid(f"status must be one of: {', '.join(ACCOUNT_STATUSES)}")
        with self.lock:
            created = account_id not in self.accounts
            account = Account(id=account_id, available_balance=balance, status=status)
            self.accounts[account_id] = account
            return account, created

    def get_account(self, account_id: str) -> Account:
        """Return the account or raise 404."""
        account = self.accounts.get(account_id)
        if account is None:
            raise RailError(404, "ACCOUNT_NOT_FOUND", "No account has this id.")
        return account

    # -- transfers --------------------------------------------------------------------------

    def get_transfer(self, transfer_id: str) -> Transfer:
        """Return the transfer or raise 404."""
        transfer = self.transfers.get(transfer_id)
        if transfer is None:
            raise RailError(404, "TRANSFER_NOT_FOUND", "No transfer has this id.")
        return transfer

    def create_transfer(self, data: dict[str, Any]) -> tuple[Transfer, bool]:
        """`POST /v1/transfers`: return the transfer and whether it is new (idempotent on id)."""
        fields = parse_transfer(data)
        fingerprint = canonical(fields)
        with self.lock:
            existing = self.transfers.get(fields["id"])
            if existing is not None:
                if existing.fingerprint != fingerprint:
                    raise RailError(
                        409,
                        "IDEMPOTENCY_CONFLICT",
                        "A transfer with this id exists with a different body.",
                    )
                return existing, False
            account = self.get_account(fields["source_account_id"])
            now = utcnow()
            transfer = Transfer(
                id=fields["id"],
                source_account_id=account.id,
                amount=fields["amount"],
                description=fields["description"],
                status="PENDING",
                created=now,
                updated=now,
                fingerprint=fingerprint,
            )
            # A refusal by the bank is an outcome, not an HTTP error: the transfer exists.
            if account.status != "OPEN":
                transfer.status, transfer.failure_code = "FAILED", "ACCOUNT_CLOSED"
            elif account.available_balance < transfer.amount:
                transfer.status, transfer.failure_code = "FAILED", "INSUFFICIENT_FUNDS"
            else:
                account.available_balance -= transfer.amount
                if self.config.settle_delay <= 0:
                    transfer.status, transfer.settled_at = "SETTLED", now
                else:
                    generation = self._generation
                    self.timers.call_later(
                        self.config.settle_delay,
                        lambda: self._settle_when_due(transfer.id, generation),
                    )
            self.transfers[transfer.id] = transfer
        logger.info(
            "transfer created",
            extra={"transfer_id": transfer.id, "status": transfer.status},
        )
        return transfer, True

    def _settle_when_due(self, transfer_id: str, generation: int) -> None:
        with self.lock:
            transfer = self.transfers.get(transfer_id)
            # Settled or failed by hand meanwhile, or wiped by a reset: nothing to do.
            if generation != self._generation or transfer is None or transfer.status != "PENDING":
                return
            self._settle(transfer)

    def _changed(self, transfer: Transfer, event_type: str) -> None:
        self.webhooks.send(event_type, transfer.to_json())
        logger.info(
            "transfer updated",
            extra={"transfer_id": transfer.id, "status": transfer.status},
        )

    def _settle(self, transfer: Transfer) -> None:
        transfer.status = "SETTLED"
        transfer.settled_at = transfer.updated = utcnow()
        self._changed(transfer, "transfer.settled")

    def settle(self, transfer_id: str) -> Transfer:
        """`POST /_rail/transfers/{id}/settle`: PENDING → SETTLED now."""
        with self.lock:
            transfer = self.get_transfer(transfer_id)
            if transfer.status != "PENDING":
                raise conflict(f"Only a PENDING transfer settles; this one is {transfer.status}.")
            self._settle(transfer)
            return transfer

    def return_transfer(self, transfer_id: str, data: dict[str, Any]) -> Transfer:
        """`POST /_rail/transfers/{id}/return`: SETTLED → RETURNED, the money goes back."""
        code = data.get("return_code", "R01")
        if not isinstance(code, str) or not _RETURN_CODE.fullmatch(code):
            raise invalid("return_code must be an ACH return code such as R01")
        with self.lock:
            transfer = self.get_transfer(transfer_id)
            if transfer.status != "SETTLED":
                raise conflict(
                    f"Only a SETTLED transfer can be returned; this one is {transfer.status}."
                )
            self._refund(transfer)
            transfer.status, transfer.return_code = "RETURNED", code
            transfer.returned_at = transfer.updated = utcnow()
            self._changed(transfer, "transfer.returned")
            return transfer

    def fail(self, transfer_id: str, data: dict[str, Any]) -> Transfer:
        """`POST /_rail/transfers/{id}/fail`: PENDING → FAILED (a late refusal), money back."""
        code = data.get("failure_code", "INSUFFICIENT_FUNDS")
        if not isinstance(code, str) or not 1 <= len(code) <= MAX_ID:
            raise invalid(f"failure_code must be a string of 1-{MAX_ID} characters")
        with self.lock:
            transfer = self.get_transfer(transfer_id)
            if transfer.status != "PENDING":
                raise conflict(f"Only a PENDING transfer can fail; this one is {transfer.status}.")
            self._refund(transfer)
            transfer.status, transfer.failure_code = "FAILED", code
            transfer.updated = utcnow()
            self._changed(transfer, "transfer.failed")
            return transfer

    def _refund(self, transfer: Transfer) -> None:
        # Accounts are overwritten but never removed (a reset drops the transfers too), and an
        # overwritten one still gets the money back on top of the balance it was given.
        self.accounts[transfer.source_account_id].available_balance += transfer.amount
