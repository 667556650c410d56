"""External payments: money moved outside Lithic (e.g. a card-bill payment) booked to an account."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

import falcon

from .errors import LithicError, bad_request, not_found, unprocessable
from .financial_accounts import get_financial_account
from .pagination import paginate
from .statements import book_payment
from .util import Body, canonical, check_uuid, iso, new_token, read_json, utcnow

if TYPE_CHECKING:
    from .state import Emulator

logger = logging.getLogger(__name__)

CATEGORIES = (
    "EXTERNAL_WIRE",
    "EXTERNAL_ACH",
    "EXTERNAL_CHECK",
    "EXTERNAL_FEDNOW",
    "EXTERNAL_RTP",
    "EXTERNAL_TRANSFER",
)
PAYMENT_TYPES = ("DEPOSIT", "WITHDRAWAL")
PROGRESS_TO = ("SETTLED", "RELEASED")
STATUSES = ("PENDING", "SETTLED", "DECLINED", "REVERSED", "CANCELED", "RETURNED")
RESULTS = ("APPROVED", "DECLINED")


@dataclass
class ExternalPayment:
    """An external payment and its events; amounts are positive, `payment_type` says which way."""

    token: str
    seq: int
    created: datetime
    updated: datetime
    financial_account_token: str
    category: str
    payment_type: str
    amount: int
    # The canonical create body: a replay of the token must carry the very same request.
    fingerprint: str = field(repr=False)
    user_defined_id: str | None = None
    status: str = "PENDING"
    released: bool = False
    events: list[dict[str, Any]] = field(default_factory=list)

    def balance_effect(self) -> int:
        """What settling this payment pays toward the account's bill."""
        return self.amount if self.payment_type == "DEPOSIT" else -self.amount

    def to_json(self) -> dict[str, Any]:
        """The ExternalPayment object."""
        return {
            "token": self.token,
            "family": "EXTERNAL_PAYMENT",
            "status": self.status,
            "result": "APPROVED",
            "category": self.category,
            "payment_type": self.payment_type,
            "financial_account_token": self.financial_account_token,
            "currency": "USD",
            "pending_amount": self.amount if self.status == "PENDING" else 0,
            "settled_amount": self.amount if self.status == "SETTLED" else 0,
            "user_defined_id": self.user_defined_id,
            "created": iso(self.created),
            "updated": iso(self.updated),
            "events": [dict(event) for event in self.events],
        }


def _step(payment: ExternalPayment, step: str, effective: date, memo: str | None, at=None):
    payment.updated = at or utcnow()
    payment.events.append(
        {
            "token": new_token(),
            "type": f"{payment.category}_{step}",
            "amount": payment.amount,
            "result": "APPROVED",
            "detailed_results": ["APPROVED"],
            "created": iso(payment.updated),
            "memo": memo or "",
            "effective_date": effective.isoformat(),
        }
    )


def _settle(emulator: Emulator, payment: ExternalPayment, effective: date, memo: str | None):
    payment.status = "SETTLED"
    _step(payment, "SETTLED", effective, memo)
    book_payment(emulator, payment.financial_account_token, payment.balance_effect())


def _release(payment: ExternalPayment, effective: date, memo: str | None) -> None:
    payment.released = True
    _step(payment, "RELEASED", effective, memo)


def _progress(emulator: Emulator, payment: ExternalPayment, to: str | None, effective, memo):
    if to in PROGRESS_TO:
        _settle(emulator, payment, effective, memo)
    if to == "RELEASED":
        _release(payment, effective, memo)


def create_external_payment(
    emulator: Emulator, data: dict[str, Any]
) -> tuple[ExternalPayment, bool]:
    """`POST /v1/external_payments`; returns the payment and whether it is new."""
    body = Body(data)
    token = body.uuid("token")
    category = body.str("category", required=True, enum=CATEGORIES)
    account_token = body.uuid("financial_account_token", required=True)
    amount = body.int("amount", required=True, minimum=1)
    effective = body.date("effective_date", required=True)
    payment_type = body.str("payment_type", required=True, enum=PAYMENT_TYPES)
    memo = body.str("memo")
    user_defined_id = body.str("user_defined_id")
    progress_to = body.str("progress_to", enum=PROGRESS_TO)
    fingerprint = canonical(data)
    with emulator.lock:
        if token is not None and token in emulator.external_payments:
            existing = emulator.external_payments[token]
            if existing.fingerprint != fingerprint:
                raise LithicError(
                    409, "token has already been used for an external payment with another body"
                )
            return existing, False
        account = get_financial_account(emulator, account_token)
        now = utcnow()
        payment = ExternalPayment(
            token=token or new_token(),
            seq=emulator.next_seq(),
            created=now,
            updated=now,
            financial_account_token=account.token,
            category=category,
            payment_type=payment_type,
            amount=amount,
            fingerprint=fingerprint,
            user_defined_id=user_defined_id,
        )
        _step(payment, "INITIATED", effective, memo, at=now)
        emulator.external_payments[payment.token] = payment
        emulator.emit("external_payment.created", payment.to_json())
        if progress_to is not None:
            _progress(emulator, payment, progress_to, effective, memo)
            emulator.emit("external_payment.updated", payment.to_json())
    logger.info(
        "external payment created",
        extra={"external_payment_token": payment.token, "status": payment.status},
    )
    return payment, True


def get_external_payment(emulator: Emulator, token: str) -> ExternalPayment:
    """Return the external payment or raise 400/404."""
    check_uuid("external_payment_token", token)
    payment = emulator.external_payments.get(token)
    if payment is None:
        raise not_found()
    return payment


def _require(payment: ExternalPayment, action: str, allowed: bool, rule: str) -> None:
    if not allowed:
        raise unprocessable(f"Cannot {action} an external payment that is {payment.status}; {rule}")


def settle(emulator: Emulator, payment: ExternalPayment, body: Body, effective, memo) -> None:
    """PENDING → SETTLED (and RELEASED too with `progress_to: RELEASED`)."""
    progress_to = body.str("progress_to", enum=PROGRESS_TO, default="SETTLED")
    _require(payment, "settle", payment.status == "PENDING", "only a pending one settles.")
    _progress(emulator, payment, progress_to, effective, memo)


def release(emulator: Emulator, payment: ExternalPayment, body: Body, effective, memo) -> None:
    """Make a settled payment's funds available (the status stays SETTLED)."""
    _require(
        payment,
        "release",
        payment.status == "SETTLED" and not payment.released,
        "only a settled, unreleased one is released.",
    )
    _release(payment, effective, memo)


def cancel(emulator: Emulator, payment: ExternalPayment, body: Body, effective, memo) -> None:
    """PENDING → CANCELED: the payment never moves money."""
    _require(payment, "cancel", payment.status == "PENDING", "only a pending one is canceled.")
    payment.status = "CANCELED"
    _step(payment, "CANCELED", effective, memo)


def reverse(emulator: Emulator, payment: ExternalPayment, body: Body, effective, memo) -> None:
    """SETTLED → REVERSED: the settled money is taken back off the account's balance."""
    _require(payment, "reverse", payment.status == "SETTLED", "only a settled one is reversed.")
    payment.status = "REVERSED"
    _step(payment, "REVERSED", effective, memo)
    book_payment(emulator, payment.financial_account_token, -payment.balance_effect())


class ExternalPaymentsResource:
    """`/v1/external_payments`."""

    def __init__(self, emulator: Emulator):
        self._emulator = emulator

    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        payment, _ = create_external_payment(self._emulator, read_json(req))
        with self._emulator.lock:
            resp.media = payment.to_json()

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        account_token = req.get_param("financial_account_token")
        business_token = req.get_param("business_account_token")
        for name, value in (
            ("financial_account_token", account_token),
            ("business_account_token", business_token),
        ):
            if value:
                check_uuid(name, value)
        wanted = {}
        for name, allowed in (("category", CATEGORIES), ("status", STATUSES), ("result", RESULTS)):
            value = req.get_param(name)
            if value and value not in allowed:
                raise bad_request(f"{name} must be one of: {', '.join(allowed)}")
            wanted[name] = value
        emulator = self._emulator
        with emulator.lock:
            rows = [
                p
                for p in emulator.external_payments.values()
                if (not account_token or p.financial_account_token == account_token)
                and (not business_token or _business_of(emulator, p) == business_token)
                and (not wanted["category"] or p.category == wanted["category"])
                and (not wanted["status"] or p.status == wanted["status"])
                and (not wanted["result"] or wanted["result"] == "APPROVED")
            ]
            resp.media = paginate(
                rows, req.params, emulator.external_payments.get, lambda p: p.to_json()
            )


def _business_of(emulator: Emulator, payment: ExternalPayment) -> str | None:
    account = emulator.financial_accounts.get(payment.financial_account_token)
    owner = emulator.accounts.get(account.account_token or "") if account else None
    return owner.business_account_token if owner else None


class ExternalPaymentResource:
    """`/v1/external_payments/{external_payment_token}`."""

    def __init__(self, emulator: Emulator):
        self._emulator = emulator

    def on_get(self, req: falcon.Request, resp: falcon.Response, external_payment_token: str):
        with self._emulator.lock:
            resp.media = get_external_payment(self._emulator, external_payment_token).to_json()


class ExternalPaymentActionResource:
    """`/v1/external_payments/{external_payment_token}/{settle,release,cancel,reverse}`."""

    def __init__(self, emulator: Emulator, action):
        self._emulator = emulator
        self._action = action

    def on_post(self, req: falcon.Request, resp: falcon.Response, external_payment_token: str):
        body = Body(read_json(req))
        effective = body.date("effective_date", required=True)
        memo = body.str("memo")
        emulator = self._emulator
        with emulator.lock:
            payment = get_external_payment(emulator, external_payment_token)
            self._action(emulator, payment, body, effective, memo)
            emulator.emit("external_payment.updated", payment.to_json())
            resp.media = payment.to_json()
        logger.info(
            "external payment updated",
            extra={"external_payment_token": payment.token, "status": payment.status},
        )


def routes(emulator: Emulator) -> list[tuple[str, Any]]:
    """The external payment routes."""
    one = "/v1/external_payments/{external_payment_token}"
    return [
        ("/v1/external_payments", ExternalPaymentsResource(emulator)),
        (one, ExternalPaymentResource(emulator)),
    ] + [
        (f"{one}/{action.__name__}", ExternalPaymentActionResource(emulator, action))
        for action in (settle, release, cancel, reverse)
    ]
