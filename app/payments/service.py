"""Card-bill payments: validated once, moved on the rail once, recorded at Lithic once."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging

import peewee

from app import runtime
from app.accounts.models import CreditAccount
from app.db import for_update, transaction, utcnow
from app.errors import InvalidState, ValidationError
from app.lithic.client import LithicPermanentError
from app.messaging import outbox
from app.messaging.actor import mark_processed
from app.payments.models import MANUAL, Payment, PaymentEvent, Statement
from app.transactions import ledger
from app.transactions.models import POSTED

logger = logging.getLogger(__name__)

PROCESS_PAYMENT = "process_credit_card_payment"
PROCESS_PAYMENT_AT_LITHIC = "process_credit_card_payment_at_lithic"
OPTIONS = ("MINIMUM_PAYMENT_DUE", "STATEMENT_BALANCE", "CURRENT_BALANCE", "OTHER")
IN_FLIGHT = (Payment.PENDING, Payment.TRANSFER_PENDING, Payment.TRANSFER_SETTLED)


class IdempotencyConflict(ValidationError):
    code = "IDEMPOTENCY_KEY_REUSED"


# Statements


def apply_statement(data: dict) -> str | None:
    """Record a `statements.created` statement for its account; returns a note if not ours."""
    account = CreditAccount.get_or_none(
        CreditAccount.lithic_financial_account_token == data.get("financial_account_token")
    )
    if account is None:
        return "unknown financial account"
    Statement.insert(
        account=account,
        token=data["token"],
        statement_start_date=data["statement_start_date"],
        statement_end_date=data["statement_end_date"],
        payment_due_date=data["payment_due_date"],
        ending_balance=int(data.get("ending_balance") or 0),
        minimum_payment=int((data.get("amount_due") or {}).get("amount") or 0),
    ).on_conflict_ignore().execute()
    return None


def latest_statement(account: CreditAccount) -> Statement | None:
    return (
        Statement.select()
        .where(Statement.account == account)
        .order_by(Statement.statement_end_date.desc())
        .first()
    )


# Amounts


def _paid_since(account: CreditAccount, since: dt.datetime) -> int:
    """Payments made (or on their way) since the statement: they count against what is due."""
    total = (
        Payment.select(peewee.fn.COALESCE(peewee.fn.SUM(Payment.amount), 0))
        .where(
            (Payment.account == account)
            & (Payment.created_at >= since)
            & (Payment.status.in_((*IN_FLIGHT, Payment.SETTLED)))
        )
        .scalar()
    )
    return int(total or 0)


def _in_flight(account: CreditAccount) -> int:
    total = (
        Payment.select(peewee.fn.COALESCE(peewee.fn.SUM(Payment.amount), 0))
        .where((Payment.account == account) & (Payment.status.in_(IN_FLIGHT)))
        .scalar()
    )
    return int(total or 0)


def amounts_due(account: CreditAccount) -> dict[str, int]:
    """What each option would pay now, after payments already made or on their way."""
    statement = latest_statement(account)
    current = max(account.posted_balance - _in_flight(account), 0)
    if statement is None:
        return {"MINIMUM_PAYMENT_DUE": 0, "STATEMENT_BALANCE": 0, "CURRENT_BALANCE": current}
    paid = _paid_since(account, statement.created_at)
    return {
        "MINIMUM_PAYMENT_DUE": min(max(statement.minimum_payment - paid, 0), current),
        "STATEMENT_BALANCE": min(max(statement.ending_balance - paid, 0), current),
        "CURRENT_BALANCE": current,
    }


# Making a payment


def _fingerprint(option: str, amount: int | None, source_account_id: str) -> str:
    raw = json.dumps([option, amount, source_account_id])
    return hashlib.sha256(raw.encode()).hexdigest()


def _event(payment: Payment, kind: str, detail: str = "") -> None:
    PaymentEvent.create(payment=payment, kind=kind, detail=detail[:500])


def make_payment(
    customer_id: str,
    option: str,
    source_account_id: str | None,
    amount: int | None = None,
    idempotency_key: str | None = None,
    origin: str = MANUAL,
    autopay_run=None,
) -> Payment:
    """Validate, then write the payment, its event and its outbox message in one transaction.

    The same idempotency key with the same request returns the first payment; with another
    request it is an error (a client retrying after a timeout must not pay twice).
    """
    if option not in OPTIONS:
        raise ValidationError(f"option must be one of {', '.join(OPTIONS)}")
    if not source_account_id:
        raise ValidationError("a source bank account is needed", code="NO_SOURCE_ACCOUNT")
    if option == "OTHER" and amount is None:
        raise ValidationError("an amount is needed with OTHER", code="BAD_AMOUNT")
    if option != "OTHER" and amount is not None:
        raise ValidationError("an amount goes only with OTHER", code="BAD_AMOUNT")
    fingerprint = _fingerprint(option, amount, source_account_id)
    config = runtime.current().config

    with transaction():
        account = for_update(
            CreditAccount.select().where(CreditAccount.customer == customer_id)
        ).get_or_none()
        if account is None or account.status != CreditAccount.ACTIVE:
            raise InvalidState("the credit account is not active", code="ACCOUNT_NOT_ACTIVE")
        if idempotency_key:
            earlier = Payment.get_or_none(
                (Payment.customer == customer_id) & (Payment.idempotency_key == idempotency_key)
            )
            if earlier is not None:
                if earlier.request_fingerprint != fingerprint:
                    raise IdempotencyConflict(
                        "this idempotency key was used for a different payment"
                    )
                return earlier
        due = amounts_due(account)
        to_pay = amount if option == "OTHER" else due[option]
        if to_pay is None or to_pay <= 0:
            raise ValidationError(
                "the amount must be a positive number of cents"
                if option == "OTHER"
                else f"nothing is due for {option}",
                code="BAD_AMOUNT",
            )
        if to_pay > due["CURRENT_BALANCE"] and not config.allow_overpayment:
            raise ValidationError(
                f"{to_pay} cents is more than the {due['CURRENT_BALANCE']} owed",
                code="OVERPAYMENT",
            )
        payment = Payment.create(
            customer=customer_id,
            account=account,
            option=option,
            amount=to_pay,
            source_account_id=source_account_id,
            origin=origin,
            autopay_run=autopay_run,
            idempotency_key=idempotency_key,
            request_fingerprint=fingerprint,
        )
        _event(payment, "CREATED", f"{option} {to_pay}")
        outbox.enqueue(PROCESS_PAYMENT, payment_id=payment.id)
    logger.info("payment.created payment_id=%s amount=%s origin=%s", payment.id, to_pay, origin)
    return payment


# Actors' work


def _locked(payment_id: str) -> Payment:
    return for_update(Payment.select().where(Payment.id == payment_id)).get()


def _set(payment: Payment, status: str, event: str, detail: str = "") -> None:
    payment.status = status
    payment.updated_at = utcnow()
    payment.save()
    _event(payment, event, detail)


def move_money(message_id: str, payment_id: str) -> None:
    """Ask the rail for the transfer (keyed by the payment id: a repeat finds the first)."""
    payment = Payment.get_by_id(payment_id)
    transfer = None
    if payment.status == Payment.PENDING:
        transfer = runtime.current().rail.transfer(
            payment.id, payment.source_account_id, payment.amount, "Card payment"
        )
    with transaction():
        payment = _locked(payment_id)
        if payment.status == Payment.PENDING and transfer is not None:
            if transfer.status == "FAILED":
                payment.failure = transfer.failure_code
                _set(payment, Payment.FAILED, "TRANSFER_FAILED", transfer.failure_code or "")
                _after_failure(payment)
            elif transfer.status == "SETTLED":
                _transfer_settled(payment)
            else:
                _set(payment, Payment.TRANSFER_PENDING, "TRANSFER_SUBMITTED")
        mark_processed(message_id, PROCESS_PAYMENT)


def _transfer_settled(payment: Payment) -> None:
    _set(payment, Payment.TRANSFER_SETTLED, "TRANSFER_SETTLED")
    outbox.enqueue(PROCESS_PAYMENT_AT_LITHIC, payment_id=payment.id, action="record")


def _after_failure(payment: Payment) -> None:
    if payment.autopay_run_id:
        from app.payments import autopay

        autopay.payment_failed(payment)


def rail_event(event_type: str, transfer: dict) -> str | None:
    """A rail webhook, inside the caller's transaction; returns a note when nothing applied."""
    payment = for_update(Payment.select().where(Payment.id == transfer.get("id"))).get_or_none()
    if payment is None:
        return "unknown transfer"
    if event_type == "transfer.settled" and payment.status == Payment.TRANSFER_PENDING:
        _transfer_settled(payment)
    elif event_type == "transfer.failed" and payment.status == Payment.TRANSFER_PENDING:
        payment.failure = transfer.get("failure_code")
        _set(payment, Payment.FAILED, "TRANSFER_FAILED", payment.failure or "")
        _after_failure(payment)
    elif event_type == "transfer.returned" and payment.status in (
        Payment.TRANSFER_SETTLED,
        Payment.SETTLED,
    ):
        _event(payment, "RETURN_RECEIVED", transfer.get("return_code") or "")
        outbox.enqueue(PROCESS_PAYMENT_AT_LITHIC, payment_id=payment.id, action="reverse")
    else:
        return f"{event_type} does not apply to a {payment.status} payment"
    return None


def record_at_lithic(message_id: str, payment_id: str, action: str) -> None:
    """Report the payment to Lithic (our id is the token), or reverse it after a return."""
    payment = Payment.get_by_id(payment_id)
    lithic = runtime.current().lithic
    token = payment.id
    if action == "record" and payment.status == Payment.TRANSFER_SETTLED:
        existing = _external_payment(token)
        if existing is None:
            existing = lithic.request(
                "POST",
                "/v1/external_payments",
                json={
                    "token": token,
                    "amount": payment.amount,
                    "category": "EXTERNAL_ACH",
                    "effective_date": dt.date.today().isoformat(),
                    "financial_account_token": payment.account.lithic_financial_account_token,
                    "payment_type": "DEPOSIT",
                    "memo": "Card payment",
                },
            )
        if existing.get("status") != "SETTLED":
            _act_at_lithic(token, "settle", "SETTLED", {})
        with transaction():
            payment = _locked(payment_id)
            if payment.status == Payment.TRANSFER_SETTLED:
                account = for_update(
                    CreditAccount.select().where(CreditAccount.id == payment.account_id)
                ).get()
                ledger.append(account, POSTED, -payment.amount, "PAYMENT", source_id=payment.id)
                _set(payment, Payment.SETTLED, "SETTLED_AT_LITHIC")
            mark_processed(message_id, PROCESS_PAYMENT_AT_LITHIC)
    elif action == "reverse" and payment.status in (Payment.TRANSFER_SETTLED, Payment.SETTLED):
        was_settled = payment.status == Payment.SETTLED
        if was_settled:
            existing = _external_payment(token)
            if existing is not None and existing.get("status") != "REVERSED":
                _act_at_lithic(token, "reverse", "REVERSED", {"memo": "ACH return"})
        with transaction():
            payment = _locked(payment_id)
            if payment.status == Payment.SETTLED:
                account = for_update(
                    CreditAccount.select().where(CreditAccount.id == payment.account_id)
                ).get()
                ledger.append(
                    account, POSTED, payment.amount, "PAYMENT_RETURN", source_id=payment.id
                )
            if payment.status in (Payment.TRANSFER_SETTLED, Payment.SETTLED):
                _set(payment, Payment.RETURNED, "RETURNED_AFTER_SETTLEMENT")
            mark_processed(message_id, PROCESS_PAYMENT_AT_LITHIC)
    else:
        with transaction():
            mark_processed(message_id, PROCESS_PAYMENT_AT_LITHIC)


def _act_at_lithic(token: str, action: str, done_status: str, body: dict) -> None:
    """Settle or reverse; a refusal because another delivery already did it is success."""
    try:
        runtime.current().lithic.request(
            "POST",
            f"/v1/external_payments/{token}/{action}",
            json={"effective_date": dt.date.today().isoformat(), **body},
        )
    except LithicPermanentError as exc:
        current = _external_payment(token)
        if exc.status != 422 or current is None or current.get("status") != done_status:
            raise


def _external_payment(token: str) -> dict | None:
    try:
        return runtime.current().lithic.request("GET", f"/v1/external_payments/{token}")
    except LithicPermanentError as exc:
        if exc.status == 404:
            return None
        raise


def payments_of(customer_id: str, limit: int = 50) -> list[Payment]:
    return list(
        Payment.select()
        .where(Payment.customer == customer_id)
        .order_by(Payment.created_at.desc())
        .limit(limit)
    )
