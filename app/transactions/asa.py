"""Auth Stream Access: approve or decline a swipe from local state, in one short transaction.

Nothing on this path calls out (hcb#14874): a slow Lithic or broker cannot slow an answer.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from dataclasses import dataclass

import falcon
import peewee
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

from app.accounts.models import CreditAccount
from app.cards import models as m
from app.cards.models import Card
from app.config import Config
from app.db import execute, is_sqlite, new_id, transaction, utcnow
from app.transactions import ledger
from app.transactions.models import HOLD, LedgerEntry

logger = logging.getLogger(__name__)

APPROVED = "APPROVED"
CARD_PAUSED = "CARD_PAUSED"
INSUFFICIENT_FUNDS = "INSUFFICIENT_FUNDS"
UNAUTHORIZED_MERCHANT = "UNAUTHORIZED_MERCHANT"
VELOCITY_EXCEEDED = "VELOCITY_EXCEEDED"
DEBITS = ("AUTHORIZATION", "FINANCIAL_AUTHORIZATION")
SPEND_WINDOWS = {"MONTHLY": dt.timedelta(days=30), "ANNUALLY": dt.timedelta(days=365)}
# Card states in which Lithic still lets card-not-present purchases through.
UNSHIPPED = (m.PENDING_FULFILLMENT, m.PENDING_ACTIVATION)


@dataclass(frozen=True)
class Decision:
    result: str
    reason: str = ""
    approved_amount: int | None = None


def _answer(
    token: str, result: str, requested: int, approved: int, account: CreditAccount | None
) -> dict:
    body: dict = {"token": token, "result": result}
    if result == APPROVED and approved != requested:
        body["approved_amount"] = approved
    if account is not None:
        body["balance"] = {
            "amount": account.posted_balance,
            "available": max(ledger.available_credit(account), 0),
        }
    return body


def _card_spent(card: Card, duration: str) -> int:
    query = LedgerEntry.select(peewee.fn.COALESCE(peewee.fn.SUM(LedgerEntry.amount), 0)).where(
        LedgerEntry.card == card.id
    )
    window = SPEND_WINDOWS.get(duration)
    if window is not None:
        query = query.where(LedgerEntry.created_at >= utcnow() - window)
    return int(query.scalar() or 0)


def _rules(config: Config, request: dict, card: Card, account: CreditAccount) -> Decision:
    amount = int(request.get("amount") or 0)
    merchant = request.get("merchant") or {}
    entry_mode = ((request.get("pos") or {}).get("entry_mode") or {}).get("card")
    usable = card.state == m.OPEN or (card.state in UNSHIPPED and entry_mode == "NOT_PRESENT")
    if not usable:
        return Decision(CARD_PAUSED, f"card {card.state}")
    if account.status != CreditAccount.ACTIVE:
        return Decision(CARD_PAUSED, f"account {account.status}")
    if str(merchant.get("mcc") or "") in config.asa_blocked_mccs:
        return Decision(UNAUTHORIZED_MERCHANT, "blocked merchant category")
    if str(merchant.get("country") or "") in config.asa_blocked_countries:
        return Decision(UNAUTHORIZED_MERCHANT, "blocked country")
    if card.spend_limit > 0:
        if card.spend_limit_duration == "TRANSACTION":
            if amount > card.spend_limit:
                return Decision(VELOCITY_EXCEEDED, "over the card's per-transaction limit")
        elif _card_spent(card, card.spend_limit_duration) + amount > card.spend_limit:
            return Decision(VELOCITY_EXCEEDED, "over the card's spend limit")
    available = ledger.available_credit(account)
    if amount > available:
        capable = ((request.get("pos") or {}).get("terminal") or {}).get("partial_approval_capable")
        if capable and available > 0:
            return Decision(APPROVED, "partial approval", approved_amount=available)
        return Decision(INSUFFICIENT_FUNDS, "over the available credit")
    return Decision(APPROVED, approved_amount=amount)


def decide(config: Config, request: dict) -> dict:
    """The ASA answer for one request; the same token always gets the same answer."""
    token = str(request["token"])
    amount = int(request.get("amount") or 0)
    status = request.get("status") or "AUTHORIZATION"
    card_token = str((request.get("card") or {}).get("token") or "")

    earlier = _decided(token, amount)
    if earlier is not None:
        return earlier

    with transaction():
        card, account = _card_and_account(card_token)
        if card is None:
            decision = Decision(CARD_PAUSED, "unknown card")
        elif status in DEBITS:
            decision = _rules(config, request, card, account)
        else:
            # Refunds and balance inquiries are never refused.
            decision = Decision(APPROVED, "credit or inquiry", approved_amount=amount)
        approved_amount = decision.approved_amount or 0
        inserted = execute(
            "INSERT INTO asa_decision (id, token, card_token, account_id, amount,"
            " approved_amount, result, reason, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
            " ON CONFLICT DO NOTHING",
            (
                new_id(),
                token,
                card_token,
                account.id if account else None,
                amount,
                approved_amount,
                decision.result,
                decision.reason,
                utcnow(),
            ),
        ).rowcount
        if inserted and decision.result == APPROVED and status == "AUTHORIZATION" and account:
            ledger.append(
                account,
                HOLD,
                approved_amount,
                "ASA_APPROVAL",
                card_id=card.id,
                transaction_token=token,
                source_id=token,
            )
    if not inserted:
        # A concurrent resend of this token decided first: give its answer.
        return _decided(token, amount)
    logger.info(
        "asa.decided token=%s card_token=%s result=%s reason=%s",
        token,
        card_token,
        decision.result,
        decision.reason,
    )
    return _answer(token, decision.result, amount, approved_amount, account)


def _decided(token: str, amount: int) -> dict | None:
    row = execute(
        "SELECT result, approved_amount FROM asa_decision WHERE token = ?", (token,)
    ).fetchone()
    return None if row is None else _answer(token, row[0], amount, row[1], None)


def _card_and_account(card_token: str) -> tuple[Card | None, CreditAccount | None]:
    """The card and its account, the account row locked: swipes on one account serialize."""
    statement = (
        "SELECT c.id, c.state, c.spend_limit, c.spend_limit_duration, a.id, a.status,"
        " a.credit_limit, a.posted_balance, a.pending_holds"
        " FROM card c JOIN credit_account a ON a.id = c.account_id WHERE c.lithic_token = ?"
    )
    if not is_sqlite():
        statement += " FOR UPDATE OF a"
    row = execute(statement, (card_token,)).fetchone()
    if row is None:
        return None, None
    account = CreditAccount(
        id=row[4],
        status=row[5],
        credit_limit=row[6],
        posted_balance=row[7],
        pending_holds=row[8],
    )
    card = Card(
        id=row[0], state=row[1], spend_limit=row[2], spend_limit_duration=row[3], account=account
    )
    return card, account


class SecretSource:
    """The ASA signing secret: configured, or read once from Lithic at start-up."""

    def __init__(self, config: Config, fetch) -> None:
        self.config = config
        self.fetch = fetch
        self.lock = threading.Lock()
        self.webhook: Webhook | None = None
        if config.lithic_asa_secret:
            self.webhook = Webhook(config.lithic_asa_secret)
        else:
            # Read it now, so no swipe waits on Lithic; if Lithic is down, the first swipe retries.
            self.get()

    def get(self) -> Webhook | None:
        if self.webhook is None:
            with self.lock:
                if self.webhook is None:
                    try:
                        self.webhook = Webhook(self.fetch())
                    except Exception:
                        logger.exception("asa.secret_unavailable")
        return self.webhook


class AsaResource:
    """POST /asa/lithic: verify, decide, answer; never a 5xx to Lithic for our own faults."""

    def __init__(self, config: Config, secrets: SecretSource) -> None:
        self.config = config
        self.secrets = secrets

    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        raw = req.bounded_stream.read()
        webhook = self.secrets.get()
        headers = {
            name: req.get_header(name) or ""
            for name in ("webhook-id", "webhook-timestamp", "webhook-signature")
        }
        try:
            if webhook is None:
                raise WebhookVerificationError("no ASA secret available")
            request = webhook.verify(raw, headers)
        except (WebhookVerificationError, ValueError, TypeError) as exc:
            logger.warning("asa.rejected webhook_id=%s reason=%s", headers["webhook-id"][:64], exc)
            raise falcon.HTTPUnauthorized(description="ASA signature verification failed") from None
        try:
            resp.media = decide(self.config, request)
        except Exception:
            # A decline chosen by policy, never an error: Lithic would retry or time out.
            logger.exception("asa.internal_error token=%s", str(request.get("token"))[:64])
            resp.media = {"token": request.get("token"), "result": self.config.asa_error_result}
