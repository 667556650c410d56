"""AutoPay: instructions, the daily sweep, one payment per instruction and due date."""

from __future__ import annotations

import datetime as dt
import logging

import peewee

from app import runtime
from app.accounts.models import CreditAccount
from app.db import for_update, is_sqlite, new_id, transaction, utcnow
from app.errors import InvalidState, ValidationError
from app.messaging import outbox
from app.messaging.actor import mark_processed
from app.payments import service
from app.payments.models import (
    AUTOPAY,
    AutopayInstruction,
    AutopayRun,
    JobRun,
    Notification,
    Payment,
    Statement,
)
from app.payments.rail import RailPermanentError

logger = logging.getLogger(__name__)

AUTOPAY_REQUEST = "autopay_request"
MODES = (
    AutopayInstruction.MINIMUM_DUE,
    AutopayInstruction.STATEMENT_BALANCE,
    AutopayInstruction.FIXED_AMOUNT,
)
OPTION_FOR_MODE = {
    AutopayInstruction.MINIMUM_DUE: "MINIMUM_PAYMENT_DUE",
    AutopayInstruction.STATEMENT_BALANCE: "STATEMENT_BALANCE",
}
BATCH = 500


def setup(
    customer_id: str,
    mode: str,
    source_account_id: str,
    agreement_accepted: bool,
    fixed_amount: int | None = None,
) -> AutopayInstruction:
    """Start AutoPay; an active instruction is replaced by the new one."""
    if not agreement_accepted:
        raise ValidationError("the AutoPay agreement must be accepted", code="AGREEMENT_REQUIRED")
    if mode not in MODES:
        raise ValidationError(f"mode must be one of {', '.join(MODES)}")
    if mode == AutopayInstruction.FIXED_AMOUNT and (fixed_amount is None or fixed_amount <= 0):
        raise ValidationError(
            "a fixed amount must be a positive number of cents", code="BAD_AMOUNT"
        )
    if mode != AutopayInstruction.FIXED_AMOUNT and fixed_amount is not None:
        raise ValidationError("an amount goes only with FIXED_AMOUNT", code="BAD_AMOUNT")
    if not source_account_id:
        raise ValidationError("a source bank account is needed", code="NO_SOURCE_ACCOUNT")
    with transaction():
        account = for_update(
            CreditAccount.select().where(CreditAccount.customer == customer_id)
        ).get_or_none()
        if account is None or account.status != CreditAccount.ACTIVE:
            raise InvalidState("the credit account is not active", code="ACCOUNT_NOT_ACTIVE")
        _deactivate(account)
        instruction = AutopayInstruction.create(
            account=account,
            mode=mode,
            fixed_amount=fixed_amount,
            source_account_id=source_account_id,
            agreed_at=utcnow(),
        )
    logger.info("autopay.set_up account_id=%s mode=%s", account.id, mode)
    return instruction


def cancel(customer_id: str) -> bool:
    with transaction():
        account = CreditAccount.get_or_none(CreditAccount.customer == customer_id)
        return bool(account) and _deactivate(account) > 0


def _deactivate(account: CreditAccount) -> int:
    return (
        AutopayInstruction.update(active=False, cancelled_at=utcnow())
        .where((AutopayInstruction.account == account) & AutopayInstruction.active)
        .execute()
    )


def active_instruction(customer_id: str) -> AutopayInstruction | None:
    return (
        AutopayInstruction.select()
        .join(CreditAccount)
        .where((CreditAccount.customer == customer_id) & AutopayInstruction.active)
        .first()
    )


def claim_run(job: str, run_date: dt.date) -> bool:
    """True for the first caller for (job, date); a second clock or a DST re-fire gets False."""
    return bool(
        JobRun.insert(job=job, run_date=run_date).on_conflict_ignore().as_rowcount().execute()
    )


def sweep(run_date: dt.date) -> int:
    """Queue one autopay_request per active instruction whose due date has come; idempotent."""
    if not claim_run("autopay", run_date):
        logger.info("autopay.sweep_skipped run_date=%s reason=already_ran", run_date)
        return 0
    latest_due = (
        Statement.select(
            Statement.account, peewee.fn.MAX(Statement.payment_due_date).alias("due_date")
        )
        .where(Statement.payment_due_date <= run_date)
        .group_by(Statement.account)
    )
    due = (
        AutopayInstruction.select(AutopayInstruction.id, latest_due.c.due_date)
        .join(latest_due, on=(AutopayInstruction.account == latest_due.c.account_id))
        .where(AutopayInstruction.active)
        .tuples()
    )
    queued = 0
    rows = list(due)
    for start in range(0, len(rows), BATCH):
        with transaction():
            for instruction_id, due_date in rows[start : start + BATCH]:
                run_id = new_id()
                inserted = (
                    AutopayRun.insert(id=run_id, instruction=instruction_id, due_date=due_date)
                    .on_conflict_ignore()
                    .as_rowcount()
                    .execute()
                )
                if inserted:
                    outbox.enqueue(AUTOPAY_REQUEST, run_id=run_id)
                    queued += 1
    logger.info("autopay.sweep_done run_date=%s queued=%s", run_date, queued)
    return queued


def request(message_id: str, run_id: str) -> None:
    """Work out the amount, check funds, and create the payment or record why not."""
    run = AutopayRun.get_by_id(run_id)
    instruction = run.instruction
    account = instruction.account
    if run.status not in (AutopayRun.QUEUED, AutopayRun.FAILED):
        with transaction():
            mark_processed(message_id, AUTOPAY_REQUEST)
        return
    due = service.amounts_due(account)
    if instruction.mode == AutopayInstruction.FIXED_AMOUNT:
        amount = min(instruction.fixed_amount or 0, due["CURRENT_BALANCE"])
    else:
        amount = due[OPTION_FOR_MODE[instruction.mode]]
    balance, failure = None, "INSUFFICIENT_FUNDS"
    if amount > 0 and instruction.active:
        try:
            balance = runtime.current().rail.available_balance(instruction.source_account_id)
        except RailPermanentError as exc:
            balance, failure = 0, exc.code
    with transaction():
        run = for_update(AutopayRun.select().where(AutopayRun.id == run_id)).get()
        if run.status not in (AutopayRun.QUEUED, AutopayRun.FAILED):
            mark_processed(message_id, AUTOPAY_REQUEST)
            return
        run.attempts += 1
        run.updated_at = utcnow()
        if not instruction.active or amount <= 0:
            run.status = AutopayRun.NOTHING_DUE
            run.failure = "cancelled" if not instruction.active else "nothing due"
            run.save()
        elif balance is not None and balance < amount:
            _fail(run, account, failure)
        else:
            run.status = AutopayRun.PAID
            run.save()
            option = OPTION_FOR_MODE.get(instruction.mode, "OTHER")
            payment = service.make_payment(
                account.customer_id,
                option,
                instruction.source_account_id,
                amount=amount if option == "OTHER" else None,
                idempotency_key=f"autopay:{run.id}:{run.attempts}",
                origin=AUTOPAY,
                autopay_run=run,
            )
            run.payment_id = payment.id
            run.save()
        mark_processed(message_id, AUTOPAY_REQUEST)
    logger.info("autopay.requested run_id=%s status=%s amount=%s", run.id, run.status, amount)


def _fail(run: AutopayRun, account: CreditAccount, reason: str) -> None:
    """Record the failure, tell the customer, and schedule the next try (or give up)."""
    schedule = runtime.current().config.autopay_retry_hours
    run.failure = reason
    if run.attempts <= len(schedule):
        run.status = AutopayRun.FAILED
        run.retry_at = utcnow() + dt.timedelta(hours=schedule[run.attempts - 1])
    else:
        run.status = AutopayRun.GAVE_UP
        run.retry_at = None
    run.updated_at = utcnow()
    run.save()
    Notification.create(
        customer=account.customer_id,
        kind="AUTOPAY_FAILED",
        message=f"AutoPay for the payment due {run.due_date} failed ({reason}).",
    )


def payment_failed(payment: Payment) -> None:
    """The rail refused an AutoPay transfer after the balance check: fail the run the same way."""
    run = for_update(AutopayRun.select().where(AutopayRun.id == payment.autopay_run_id)).get()
    if run.status == AutopayRun.PAID and run.payment_id == payment.id:
        _fail(run, payment.account, payment.failure or "TRANSFER_FAILED")


def retry_due(now: dt.datetime | None = None) -> int:
    """Queue failed runs whose retry time has come (the clock's retry job)."""
    now = now or utcnow()
    with transaction():
        query = AutopayRun.select().where(
            (AutopayRun.status == AutopayRun.FAILED) & (AutopayRun.retry_at <= now)
        )
        if not is_sqlite():
            query = query.for_update(skip_locked=True)
        runs = list(query.limit(BATCH))
        for run in runs:
            run.retry_at = None
            run.save()
            outbox.enqueue(AUTOPAY_REQUEST, run_id=run.id)
    return len(runs)
