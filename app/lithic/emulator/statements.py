"""Statements: billing cycles closed on demand, over a running balance per financial account."""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any

import falcon

from .errors import bad_request, not_found, unprocessable
from .financial_accounts import get_financial_account
from .pagination import paginate
from .util import Body, iso, new_token, parse_date, utcnow

if TYPE_CHECKING:
    from .models import FinancialAccount
    from .state import Emulator
    from .transactions import Transaction

# Lithic's usual figures for a card bill when the caller gives none.
DEFAULT_DUE_DAYS = 25
MINIMUM_PAYMENT_FLOOR = 2500
MINIMUM_PAYMENT_PERCENT = 1


@dataclass
class Ledger:
    """Running totals of one financial account since it opened, in cents."""

    # Net settled card volume: purchases positive, returns negative.
    purchases: int = 0
    # Net settled external payments: deposits positive, withdrawals and reversals negative.
    payments: int = 0

    def balance(self) -> int:
        """What the account owes now (negative when it holds a credit)."""
        return self.purchases - self.payments


def ledger(emulator: Emulator, financial_account_token: str) -> Ledger:
    """Return the running totals of a financial account, creating them at zero."""
    return emulator.ledgers.setdefault(financial_account_token, Ledger())


def book_card_settlement(emulator: Emulator, transaction: Transaction) -> None:
    """Add whatever a card transaction settled since it was last booked to its account."""
    delta = transaction.settled - transaction.booked
    if delta and transaction.financial_account_token:
        ledger(emulator, transaction.financial_account_token).purchases += delta
    transaction.booked = transaction.settled


def book_payment(emulator: Emulator, financial_account_token: str, amount: int) -> None:
    """Count a settled payment toward the bill (negative to take one back)."""
    ledger(emulator, financial_account_token).payments += amount


@dataclass
class Statement:
    """One closed billing cycle; figures are frozen at close."""

    token: str
    seq: int
    created: datetime
    financial_account_token: str
    credit_product_token: str | None
    start: date
    end: date
    due: date
    credit_limit: int
    starting_balance: int
    ending_balance: int
    minimum_payment: int
    period_purchases: int
    period_payments: int
    ytd_purchases: int
    ytd_payments: int
    # The ledger's cumulative totals at close: the next statement's period starts from them.
    closed_purchases: int
    closed_payments: int
    period_number: int
    account_status: str
    account_substatus: str | None
    has_grace: bool
    full_payments: int
    minimum_payments_made: int
    minimum_payments_missed: int

    def to_json(self) -> dict[str, Any]:
        """The Statement object."""
        next_end = add_months(self.end, 1)
        period = _totals(self.period_purchases, self.period_payments)
        return {
            "token": self.token,
            "financial_account_token": self.financial_account_token,
            "credit_product_token": self.credit_product_token,
            "statement_start_date": self.start.isoformat(),
            "statement_end_date": self.end.isoformat(),
            "next_statement_end_date": next_end.isoformat(),
            "payment_due_date": self.due.isoformat(),
            "next_payment_due_date": (next_end + (self.due - self.end)).isoformat(),
            "days_in_billing_cycle": (self.end - self.start).days + 1,
            "credit_limit": self.credit_limit,
            "available_credit": max(0, self.credit_limit - self.ending_balance),
            "starting_balance": self.starting_balance,
            "ending_balance": self.ending_balance,
            "amount_due": {"amount": self.minimum_payment, "past_due": 0},
            "period_totals": period,
            "statement_totals": dict(period),
            "ytd_totals": _totals(self.ytd_purchases, self.ytd_payments),
            "created": iso(self.created),
            "updated": iso(self.created),
            "statement_type": "PERIOD_END",
            "account_standing": {
                "period_state": "STANDARD",
                "period_number": self.period_number,
                "consecutive_full_payments_made": self.full_payments,
                "consecutive_minimum_payments_made": self.minimum_payments_made,
                "consecutive_minimum_payments_missed": self.minimum_payments_missed,
                "days_past_due": 0,
                "has_grace": self.has_grace,
                "financial_account_state": {
                    "status": self.account_status,
                    "substatus": self.account_substatus,
                },
            },
            "interest_details": None,
            "payoff_details": None,
        }


def _totals(purchases: int, payments: int) -> dict[str, int]:
    # The emulator books no fees, interest, cash advances or management operations.
    return {
        "purchases": purchases,
        "payments": payments,
        "credits": 0,
        "debits": 0,
        "fees": 0,
        "interest": 0,
        "cash_advances": 0,
        "balance_transfers": 0,
    }


def add_months(day: date, months: int) -> date:
    """The same day `months` later, clamped to the end of a shorter month."""
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    last = calendar.monthrange(year, month + 1)[1]
    return date(year, month + 1, min(day.day, last))


def default_minimum_payment(balance: int) -> int:
    """max($25, 1% of the balance), never more than the balance; nothing when nothing is owed."""
    if balance <= 0:
        return 0
    return min(balance, max(MINIMUM_PAYMENT_FLOOR, balance * MINIMUM_PAYMENT_PERCENT // 100))


def statements_of(emulator: Emulator, financial_account_token: str) -> list[Statement]:
    """The statements of one financial account, oldest first."""
    rows = emulator.statements.values()
    mine = [s for s in rows if s.financial_account_token == financial_account_token]
    return sorted(mine, key=lambda statement: statement.seq)


def _first_start(account: FinancialAccount, end: date) -> date:
    opened = account.created.date()
    # A back-dated first statement covers the month before its end instead.
    return opened if opened <= end else add_months(end, -1) + timedelta(days=1)


def close_statement(emulator: Emulator, data: dict[str, Any]) -> Statement:
    """`POST /_emulator/statements/close`: close the billing cycle of a financial account."""
    body = Body(data)
    token = body.uuid("financial_account_token", required=True)
    end = body.date("statement_end_date") or utcnow().date()
    due = body.date("payment_due_date") or end + timedelta(days=DEFAULT_DUE_DAYS)
    minimum = body.int("minimum_payment", minimum=0)
    if due < end:
        raise bad_request("payment_due_date must not be before statement_end_date")
    with emulator.lock:
        account = get_financial_account(emulator, token)
        history = statements_of(emulator, account.token)
        previous = history[-1] if history else None
        if previous is not None and end <= previous.end:
            raise unprocessable(
                f"statement_end_date must be after the last statement's end date "
                f"({previous.end.isoformat()})"
            )
        start = previous.end + timedelta(days=1) if previous else _first_start(account, end)
        totals = ledger(emulator, account.token)
        period_purchases = totals.purchases - (previous.closed_purchases if previous else 0)
        period_payments = totals.payments - (previous.closed_payments if previous else 0)
        same_year = [s for s in history if s.end.year == end.year]
        ending = totals.balance()
        statement = Statement(
            token=new_token(),
            seq=emulator.next_seq(),
            created=utcnow(),
            financial_account_token=account.token,
            credit_product_token=account.credit_product_token,
            start=start,
            end=end,
            due=due,
            credit_limit=account.credit_limit or 0,
            starting_balance=previous.ending_balance if previous else 0,
            ending_balance=ending,
            minimum_payment=default_minimum_payment(ending) if minimum is None else minimum,
            period_purchases=period_purchases,
            period_payments=period_payments,
            ytd_purchases=period_purchases + sum(s.period_purchases for s in same_year),
            ytd_payments=period_payments + sum(s.period_payments for s in same_year),
            closed_purchases=totals.purchases,
            closed_payments=totals.payments,
            period_number=len(history) + 1,
            account_status=account.status,
            account_substatus=account.substatus,
            has_grace=True,
            full_payments=0,
            minimum_payments_made=0,
            minimum_payments_missed=0,
        )
        _standing(statement, previous)
        emulator.statements[statement.token] = statement
        emulator.emit("statements.created", statement.to_json())
        return statement


def _standing(statement: Statement, previous: Statement | None) -> None:
    """Judge the payments of this cycle against what the previous statement asked for."""
    if previous is None:
        return
    statement.full_payments = previous.full_payments
    statement.minimum_payments_made = previous.minimum_payments_made
    statement.minimum_payments_missed = previous.minimum_payments_missed
    statement.has_grace = previous.has_grace
    if previous.ending_balance <= 0:
        # Nothing was owed, so nothing could be paid or missed; grace is kept.
        statement.has_grace = True
        return
    paid = statement.period_payments
    in_full = paid >= previous.ending_balance
    statement.has_grace = in_full
    statement.full_payments = previous.full_payments + 1 if in_full else 0
    if paid >= previous.minimum_payment:
        statement.minimum_payments_made = previous.minimum_payments_made + 1
        statement.minimum_payments_missed = 0
    else:
        statement.minimum_payments_made = 0
        statement.minimum_payments_missed = previous.minimum_payments_missed + 1


def get_statement(emulator: Emulator, account: FinancialAccount, token: str) -> Statement:
    """Return a statement of this financial account or raise 404."""
    statement = emulator.statements.get(token)
    if statement is None or statement.financial_account_token != account.token:
        raise not_found()
    return statement


class StatementsResource:
    """`/v1/financial_accounts/{financial_account_token}/statements`."""

    def __init__(self, emulator: Emulator):
        self._emulator = emulator

    def on_get(self, req: falcon.Request, resp: falcon.Response, financial_account_token: str):
        # `begin` and `end` are dates here, compared with each statement's end date; the
        # shared pagination would read them as creation times, so they are taken out first.
        params = dict(req.params)
        begin = parse_date("begin", params.pop("begin", None))
        end = parse_date("end", params.pop("end", None))
        # Checked only: the emulator makes no INITIAL statements, so there are none to add.
        req.get_param_as_bool("include_initial_statements")
        emulator = self._emulator
        with emulator.lock:
            account = get_financial_account(emulator, financial_account_token)
            rows = [
                s
                for s in statements_of(emulator, account.token)
                if (begin is None or s.end >= begin) and (end is None or s.end <= end)
            ]
            resp.media = paginate(
                rows,
                params,
                lambda token: _lookup(emulator, account, token),
                lambda statement: statement.to_json(),
            )


def _lookup(emulator: Emulator, account: FinancialAccount, token: str) -> Statement | None:
    statement = emulator.statements.get(token)
    if statement is None or statement.financial_account_token != account.token:
        return None
    return statement


class StatementResource:
    """`/v1/financial_accounts/{financial_account_token}/statements/{statement_token}`."""

    def __init__(self, emulator: Emulator):
        self._emulator = emulator

    def on_get(
        self,
        req: falcon.Request,
        resp: falcon.Response,
        financial_account_token: str,
        statement_token: str,
    ) -> None:
        with self._emulator.lock:
            account = get_financial_account(self._emulator, financial_account_token)
            resp.media = get_statement(self._emulator, account, statement_token).to_json()


def routes(emulator: Emulator) -> list[tuple[str, Any]]:
    """The statement routes of Lithic's API."""
    one = "/v1/financial_accounts/{financial_account_token}/statements"
    return [
        (one, StatementsResource(emulator)),
        (one + "/{statement_token}", StatementResource(emulator)),
    ]
