"""Card transactions: the sandbox simulate endpoints, limits, ASA, and the Transaction API."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

import falcon

from .asa import Decision, ask_responder
from .cards import card_updated
from .errors import bad_request, not_found, unprocessable
from .pagination import paginate
from .spending import account_velocity, card_velocity
from .statements import book_card_settlement
from .util import Body, check_uuid, iso, new_token, random_digits, read_json, utcnow

if TYPE_CHECKING:
    from .models import Card
    from .state import Emulator

logger = logging.getLogger(__name__)

MAX_AMOUNT = 2_000_000_000
AUTH_STATUSES = (
    "AUTHORIZATION",
    "BALANCE_INQUIRY",
    "CREDIT_AUTHORIZATION",
    "FINANCIAL_AUTHORIZATION",
    "FINANCIAL_CREDIT_AUTHORIZATION",
)
CREDIT_TYPES = frozenset(
    {
        "CREDIT_AUTHORIZATION",
        "CREDIT_AUTHORIZATION_ADVICE",
        "FINANCIAL_CREDIT_AUTHORIZATION",
        "RETURN",
        "AUTHORIZATION_REVERSAL",
        "AUTHORIZATION_EXPIRY",
    }
)
LIST_STATUSES = ("PENDING", "VOIDED", "SETTLED", "DECLINED", "EXPIRED")


@dataclass
class Transaction:
    """A card transaction and its events; amounts in cents, credits negative."""

    token: str
    seq: int
    created: datetime
    updated: datetime
    account_token: str
    card_token: str
    financial_account_token: str | None
    merchant: dict[str, Any]
    status: str
    result: str
    authorization_amount: int
    hold: int = 0
    settled: int = 0
    authorization_code: str | None = None
    partial_approval_capable: bool = False
    pin_entered: bool = False
    reversed_return: bool = False
    # The part of `settled` already counted in the financial account's running balance.
    booked: int = 0
    events: list[dict[str, Any]] = field(default_factory=list)

    def amount(self) -> int:
        """The headline amount: what settled once settled, else what is authorized."""
        return self.settled if self.status == "SETTLED" else self.authorization_amount

    def to_json(self) -> dict[str, Any]:
        """The Transaction object."""
        usd = "USD"
        return {
            "token": self.token,
            "account_token": self.account_token,
            "card_token": self.card_token,
            "financial_account_token": self.financial_account_token,
            "created": iso(self.created),
            "updated": iso(self.updated),
            "status": self.status,
            "result": self.result,
            "amount": self.amount(),
            "authorization_amount": self.authorization_amount,
            "settled_amount": self.settled,
            "merchant_amount": self.amount(),
            "merchant_authorization_amount": self.authorization_amount,
            "merchant_currency": usd,
            "acquirer_fee": 0,
            "acquirer_reference_number": None,
            "authorization_code": self.authorization_code,
            "amounts": {
                "cardholder": {
                    "amount": self.amount(),
                    "conversion_rate": "1.000000",
                    "currency": usd,
                },
                "hold": {"amount": self.hold, "currency": usd},
                "merchant": {"amount": self.amount(), "currency": usd},
                "settlement": {"amount": self.settled, "currency": usd},
            },
            "merchant": dict(self.merchant),
            "network": "VISA",
            "network_risk_score": None,
            "avs": None,
            "cardholder_authentication": None,
            "service_location": None,
            "token_info": None,
            "tags": {},
            "pos": {
                "entry_mode": {
                    "card": "PRESENT" if self.pin_entered else "NOT_PRESENT",
                    "cardholder": "PRESENT" if self.pin_entered else "NOT_PRESENT",
                    "pan": "ICC" if self.pin_entered else "ECOMMERCE",
                    "pin_entered": self.pin_entered,
                },
                "terminal": {
                    "attended": False,
                    "card_retention_capable": False,
                    "on_premise": False,
                    "operator": "UNKNOWN",
                    "partial_approval_capable": self.partial_approval_capable,
                    "pin_capability": "UNSPECIFIED",
                    "type": "UNKNOWN",
                    "acceptor_terminal_id": None,
                },
            },
            "events": [dict(event) for event in self.events],
        }


def _event(type_: str, amount: int, result: str, detailed: str, settled: bool) -> dict[str, Any]:
    usd = "USD"
    return {
        "token": new_token(),
        "type": type_,
        "amount": amount,
        "amounts": {
            "cardholder": {"amount": amount, "conversion_rate": "1.000000", "currency": usd},
            "merchant": {"amount": amount, "currency": usd},
            "settlement": (
                {"amount": amount, "conversion_rate": "1.000000", "currency": usd}
                if settled
                else None
            ),
        },
        "created": iso(utcnow()),
        "result": result,
        "detailed_results": [detailed],
        "effective_polarity": "CREDIT" if type_ in CREDIT_TYPES else "DEBIT",
        "rule_results": [],
        "network_info": {
            "acquirer": {
                "acquirer_reference_number": None,
                "retrieval_reference_number": random_digits(12),
            },
            "amex": None,
            "mastercard": None,
            "visa": {"transaction_id": random_digits(15), "original_transaction_id": None},
        },
    }


def _merchant(body: Body) -> dict[str, Any]:
    return {
        "descriptor": body.str("descriptor", required=True, min_len=1, max_len=25),
        "mcc": body.str("mcc", default="5999"),
        "acceptor_id": body.str("merchant_acceptor_id", min_len=1, max_len=15) or "SIMULATED000001",
        "acquiring_institution_id": "000000",
        "city": body.str("merchant_acceptor_city", max_len=13, default="NEW YORK"),
        "state": body.str("merchant_acceptor_state", max_len=3, default="NY"),
        "country": body.str("merchant_acceptor_country", min_len=3, max_len=3, default="USA"),
        "postal_code": None,
        "street_address": None,
        "phone_number": None,
    }


def _card_for_pan(emulator: Emulator, pan: str) -> Card:
    token = emulator.cards_by_pan.get(pan)
    if token is None:
        raise unprocessable("Card not found for the given PAN.")
    return emulator.cards[token]


def _issuing_account(emulator: Emulator, account_token: str) -> str | None:
    for account in emulator.financial_accounts.values():
        if account.account_token == account_token and account.type == "ISSUING":
            return account.token
    return None


def _precheck(emulator: Emulator, card: Card, amount: int, merchant: dict, debit: bool):
    """Lithic's own checks before any ASA call: states, merchant lock, spend limits."""
    account = emulator.accounts[card.account_token]
    if card.state == "CLOSED":
        detailed = "SINGLE_USE_CARD_REATTEMPTED" if card.type == "SINGLE_USE" else "CARD_CLOSED"
        return "CARD_CLOSED", detailed
    if card.state == "PAUSED":
        return "CARD_PAUSED", "CARD_PAUSED"
    if account.state == "PAUSED":
        return "ACCOUNT_PAUSED", "ACCOUNT_PAUSED"
    if account.state == "CLOSED":
        return "INACTIVE_ACCOUNT", "ACCOUNT_INACTIVE"
    if card.type == "MERCHANT_LOCKED" and card.hostname and card.hostname != merchant["descriptor"]:
        return "UNAUTHORIZED_MERCHANT", "MERCHANT_LOCKED_CARD_ATTEMPTED_ELSEWHERE"
    if not debit:
        return None
    # A spend limit of 0 means no limit, for cards and for accounts.
    if card.spend_limit > 0:
        window = {"MONTHLY": "monthly", "ANNUALLY": "annually", "FOREVER": "forever"}.get(
            card.spend_limit_duration
        )
        spent = card_velocity(emulator, card.token)[window] if window else 0
        if spent + amount > card.spend_limit:
            return "USER_TRANSACTION_LIMIT", "CARD_SPEND_LIMIT_EXCEEDED"
    spent = account_velocity(emulator, account.token)
    for window, limit in (
        ("daily", account.daily_spend_limit),
        ("monthly", account.monthly_spend_limit),
        ("lifetime", account.lifetime_spend_limit),
    ):
        if limit > 0 and spent[window] + amount > limit:
            return "USER_TRANSACTION_LIMIT", f"ACCOUNT_{window.upper()}_SPEND_LIMIT_EXCEEDED"
    return None


def asa_request(card: Card, token: str, status: str, amount: int, merchant: dict, body: Body):
    """The CardAuthorization body sent to the ASA responder."""
    usd = "USD"
    return {
        "token": token,
        "status": status,
        "event_token": new_token(),
        "created": iso(utcnow()),
        "amount": amount,
        "authorization_amount": amount,
        "acquirer_fee": 0,
        "cash_amount": 0,
        "settled_amount": 0,
        "merchant_amount": amount,
        "merchant_currency": usd,
        "cardholder_currency": usd,
        "conversion_rate": 1.0,
        "amounts": {
            "cardholder": {"amount": amount, "conversion_rate": "1.000000", "currency": usd},
            "hold": {"amount": amount, "currency": usd},
            "merchant": {"amount": amount, "currency": usd},
            "settlement": None,
        },
        "avs": {"address": "", "zipcode": "", "address_on_file_match": "NOT_PRESENT"},
        "card": {
            "token": card.token,
            "last_four": card.pan[-4:],
            "memo": card.memo,
            "spend_limit": card.spend_limit,
            "spend_limit_duration": card.spend_limit_duration,
            "state": card.state,
            "tags": dict(card.tags),
            "type": card.type,
        },
        "merchant": dict(merchant),
        "network": "VISA",
        "network_risk_score": None,
        "transaction_initiator": "CARDHOLDER",
        "pos": {
            "entry_mode": {
                "card": "NOT_PRESENT",
                "cardholder": "NOT_PRESENT",
                "pan": "ECOMMERCE",
                "pin_entered": body.str("pin") is not None,
            },
            "terminal": {
                "attended": False,
                "card_retention_capable": False,
                "on_premise": False,
                "operator": "UNKNOWN",
                "partial_approval_capable": bool(body.bool("partial_approval_capable")),
                "pin_capability": "UNSPECIFIED",
                "type": "UNKNOWN",
            },
        },
    }


def _record(emulator: Emulator, transaction: Transaction) -> None:
    transaction.updated = utcnow()
    emulator.transactions[transaction.token] = transaction
    book_card_settlement(emulator, transaction)
    emulator.emit("card_transaction.updated", transaction.to_json())


def simulate_authorization(emulator: Emulator, data: dict[str, Any]) -> str:
    """`POST /v1/simulate/authorize`: decide (pre-checks, then ASA) and record the result."""
    body = Body(data)
    amount = body.int("amount", required=True, minimum=0)
    if amount > MAX_AMOUNT:
        raise bad_request(f"amount must be at most {MAX_AMOUNT}")
    merchant = _merchant(body)
    pan = body.str("pan", required=True, min_len=16, max_len=16)
    status = body.str("status", enum=AUTH_STATUSES, default="AUTHORIZATION")
    partial_capable = bool(body.bool("partial_approval_capable", default=False))
    body.str("pin", min_len=4, max_len=12)
    body.int("merchant_amount")
    body.str("merchant_currency")
    debit = status in ("AUTHORIZATION", "FINANCIAL_AUTHORIZATION")
    if status == "BALANCE_INQUIRY":
        amount = 0
    token = new_token()

    with emulator.lock:
        card = _card_for_pan(emulator, pan)
        refused = _precheck(emulator, card, amount, merchant, debit)
        responder = emulator.responders.get("AUTH_STREAM_ACCESS")
        request = None
        if refused is None and responder is not None:
            request = asa_request(card, token, status, amount, merchant, body)

    # The responder is asked without the lock: it may call this emulator while it decides.
    if refused is not None:
        decision = Decision(False, *refused)
    elif request is not None:
        decision = ask_responder(emulator, responder, request)
    else:
        decision = Decision(True)

    approved_amount = amount
    if decision.approved and decision.approved_amount is not None and partial_capable:
        approved_amount = max(0, min(decision.approved_amount, amount))

    with emulator.lock:
        if card.token not in emulator.cards:
            raise unprocessable("The card was removed while the authorization was decided.")
        card = emulator.cards[card.token]
        sign = -1 if not debit and status != "BALANCE_INQUIRY" else 1
        signed = sign * approved_amount
        financial = status.startswith("FINANCIAL") or status == "BALANCE_INQUIRY"
        now = utcnow()
        transaction = Transaction(
            token=token,
            seq=emulator.next_seq(),
            created=now,
            updated=now,
            account_token=card.account_token,
            card_token=card.token,
            financial_account_token=_issuing_account(emulator, card.account_token),
            merchant=merchant,
            status="DECLINED",
            result=decision.result,
            authorization_amount=sign * amount,
            partial_approval_capable=partial_capable,
            pin_entered=body.str("pin") is not None,
        )
        if decision.approved:
            transaction.authorization_amount = signed
            transaction.authorization_code = random_digits(6)
            if financial:
                transaction.status, transaction.settled = "SETTLED", signed
            else:
                transaction.status, transaction.hold = "PENDING", signed
        transaction.events.append(
            _event(
                status,
                transaction.authorization_amount,
                decision.result,
                decision.detailed_result,
                settled=decision.approved and financial,
            )
        )
        _record(emulator, transaction)
        if decision.approved and debit:
            _after_approval(emulator, card, merchant)
    logger.info(
        "simulated authorization",
        extra={"transaction_token": token, "card_token": card.token, "result": decision.result},
    )
    return token


def _after_approval(emulator: Emulator, card: Card, merchant: dict[str, Any]) -> None:
    if card.type == "SINGLE_USE" and card.state != "CLOSED":
        previous = card.state
        card.state = "CLOSED"
        card_updated(emulator, card, {"state": previous})
    elif card.type == "MERCHANT_LOCKED" and not card.hostname:
        card.hostname = merchant["descriptor"]


def get_transaction(emulator: Emulator, token: str, name: str = "token") -> Transaction:
    """Return the transaction or raise 400/404."""
    check_uuid(name, token)
    transaction = emulator.transactions.get(token)
    if transaction is None:
        raise not_found("Transaction not found.")
    return transaction


def _pending(transaction: Transaction, action: str) -> None:
    if transaction.status != "PENDING":
        raise unprocessable(f"Cannot {action} a transaction that is {transaction.status}.")


def simulate_authorization_advice(emulator: Emulator, data: dict[str, Any]) -> str:
    """`POST /v1/simulate/authorization_advice`: the advice amount replaces the pending one."""
    body = Body(data)
    token = body.uuid("token", required=True)
    amount = body.int("amount", required=True, minimum=0)
    with emulator.lock:
        transaction = get_transaction(emulator, token)
        _pending(transaction, "advise")
        sign = -1 if transaction.authorization_amount < 0 else 1
        transaction.hold = transaction.authorization_amount = sign * amount
        transaction.events.append(
            _event("AUTHORIZATION_ADVICE", sign * amount, "APPROVED", "APPROVED", False)
        )
        _record(emulator, transaction)
    return token


def simulate_clearing(emulator: Emulator, data: dict[str, Any]) -> None:
    """`POST /v1/simulate/clearing`: settle all or part of a pending authorization."""
    body = Body(data)
    token = body.uuid("token", required=True)
    amount = body.int("amount", minimum=0)
    with emulator.lock:
        transaction = get_transaction(emulator, token)
        _pending(transaction, "clear")
        sign = -1 if transaction.authorization_amount < 0 else 1
        cleared = sign * amount if amount else transaction.hold
        transaction.settled += cleared
        # What remains held after a partial clearing; an over-clearing leaves nothing held.
        transaction.hold = sign * max(abs(transaction.hold) - abs(cleared), 0)
        transaction.status = "SETTLED"
        transaction.events.append(_event("CLEARING", cleared, "APPROVED", "APPROVED", True))
        _record(emulator, transaction)


def simulate_void(emulator: Emulator, data: dict[str, Any]) -> None:
    """`POST /v1/simulate/void`: a (partial) reversal, or an expiry of the whole hold."""
    body = Body(data)
    token = body.uuid("token", required=True)
    amount = body.int("amount", minimum=0)
    type_ = body.str(
        "type",
        enum=("AUTHORIZATION_REVERSAL", "AUTHORIZATION_EXPIRY"),
        default="AUTHORIZATION_REVERSAL",
    )
    with emulator.lock:
        transaction = get_transaction(emulator, token)
        void(emulator, transaction, type_, amount)


def void(emulator: Emulator, transaction: Transaction, type_: str, amount: int | None) -> None:
    """Release all or part of a pending hold."""
    _pending(transaction, "void")
    held = abs(transaction.hold)
    released = held if type_ == "AUTHORIZATION_EXPIRY" or not amount else amount
    if released > held:
        raise unprocessable("The reversal amount exceeds the pending amount.")
    sign = -1 if transaction.hold < 0 else 1
    transaction.hold = sign * (held - released)
    if transaction.hold == 0:
        transaction.status = "EXPIRED" if type_ == "AUTHORIZATION_EXPIRY" else "VOIDED"
    transaction.events.append(_event(type_, sign * released, "APPROVED", "APPROVED", False))
    _record(emulator, transaction)


def _credit(emulator: Emulator, data: dict[str, Any], type_: str, settled: bool) -> str:
    body = Body(data)
    amount = body.int("amount", required=True, minimum=0)
    merchant = _merchant(body)
    pan = body.str("pan", required=True, min_len=16, max_len=16)
    with emulator.lock:
        # Refunds reach closed and paused cards too.
        card = _card_for_pan(emulator, pan)
        now = utcnow()
        transaction = Transaction(
            token=new_token(),
            seq=emulator.next_seq(),
            created=now,
            updated=now,
            account_token=card.account_token,
            card_token=card.token,
            financial_account_token=_issuing_account(emulator, card.account_token),
            merchant=merchant,
            status="SETTLED" if settled else "PENDING",
            result="APPROVED",
            authorization_amount=-amount,
            authorization_code=random_digits(6),
        )
        if settled:
            transaction.settled = -amount
        else:
            transaction.hold = -amount
        transaction.events.append(_event(type_, -amount, "APPROVED", "APPROVED", settled))
        _record(emulator, transaction)
        return transaction.token


def simulate_return(emulator: Emulator, data: dict[str, Any]) -> str:
    """`POST /v1/simulate/return`: a refund, settled at once, with no prior authorization."""
    return _credit(emulator, data, "RETURN", settled=True)


def simulate_credit_authorization_advice(emulator: Emulator, data: dict[str, Any]) -> str:
    """`POST /v1/simulate/credit_authorization_advice`: a pending credit."""
    return _credit(emulator, data, "CREDIT_AUTHORIZATION_ADVICE", settled=False)


def simulate_return_reversal(emulator: Emulator, data: dict[str, Any]) -> None:
    """`POST /v1/simulate/return_reversal`: take back a settled refund."""
    token = Body(data).uuid("token", required=True)
    with emulator.lock:
        transaction = get_transaction(emulator, token)
        is_return = any(event["type"] == "RETURN" for event in transaction.events)
        if not is_return or transaction.status != "SETTLED" or transaction.reversed_return:
            raise unprocessable("Only a settled, unreversed return can be reversed.")
        amount = -transaction.settled
        transaction.settled = 0
        transaction.reversed_return = True
        transaction.events.append(_event("RETURN_REVERSAL", amount, "APPROVED", "APPROVED", True))
        _record(emulator, transaction)


class SimulateResource:
    """One `/v1/simulate/...` transaction endpoint."""

    def __init__(self, emulator: Emulator, action, returns_token: bool):
        self._emulator = emulator
        self._action = action
        self._returns_token = returns_token

    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        result = self._action(self._emulator, read_json(req))
        body: dict[str, Any] = {"debugging_request_id": req.context.request_id}
        if self._returns_token:
            body["token"] = result
        resp.media = body


class TransactionsResource:
    """`/v1/transactions`."""

    def __init__(self, emulator: Emulator):
        self._emulator = emulator

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        account_token = req.get_param("account_token")
        card_token = req.get_param("card_token")
        result = req.get_param("result")
        status = req.get_param("status")
        for name, value in (("account_token", account_token), ("card_token", card_token)):
            if value:
                check_uuid(name, value)
        if result and result not in ("APPROVED", "DECLINED"):
            raise bad_request("result must be one of: APPROVED, DECLINED")
        if status and status not in LIST_STATUSES:
            raise bad_request(f"status must be one of: {', '.join(LIST_STATUSES)}")
        emulator = self._emulator
        with emulator.lock:
            rows = [
                t
                for t in emulator.transactions.values()
                if (not account_token or t.account_token == account_token)
                and (not card_token or t.card_token == card_token)
                and (not status or t.status == status)
                and (not result or (t.result == "APPROVED") == (result == "APPROVED"))
            ]
            resp.media = paginate(
                rows, req.params, emulator.transactions.get, lambda t: t.to_json()
            )


class TransactionResource:
    """`/v1/transactions/{transaction_token}`."""

    def __init__(self, emulator: Emulator):
        self._emulator = emulator

    def on_get(self, req: falcon.Request, resp: falcon.Response, transaction_token: str) -> None:
        with self._emulator.lock:
            resp.media = get_transaction(
                self._emulator, transaction_token, "transaction_token"
            ).to_json()


class ExpireAuthorizationResource:
    """`/v1/transactions/{transaction_token}/expire_authorization`."""

    def __init__(self, emulator: Emulator):
        self._emulator = emulator

    def on_post(self, req: falcon.Request, resp: falcon.Response, transaction_token: str) -> None:
        with self._emulator.lock:
            transaction = get_transaction(self._emulator, transaction_token, "transaction_token")
            void(self._emulator, transaction, "AUTHORIZATION_EXPIRY", None)
        resp.media = {}


def routes(emulator: Emulator) -> list[tuple[str, Any]]:
    """The transaction routes."""
    simulate = [
        ("authorize", simulate_authorization, True),
        ("authorization_advice", simulate_authorization_advice, True),
        ("clearing", simulate_clearing, False),
        ("void", simulate_void, False),
        ("return", simulate_return, True),
        ("return_reversal", simulate_return_reversal, False),
        ("credit_authorization_advice", simulate_credit_authorization_advice, True),
    ]
    return [
        (f"/v1/simulate/{name}", SimulateResource(emulator, action, returns_token))
        for name, action, returns_token in simulate
    ] + [
        ("/v1/transactions", TransactionsResource(emulator)),
        ("/v1/transactions/{transaction_token}", TransactionResource(emulator)),
        (
            "/v1/transactions/{transaction_token}/expire_authorization",
            ExpireAuthorizationResource(emulator),
        ),
    ]
