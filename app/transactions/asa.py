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
from app.db import for_update, transaction, utcnow
from app.transactions import ledger
from app.transactions.models import HOLD, AsaDecision, LedgerEntry

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


class AlreadyDecided(Exception):
    """A concurrent resend of the same token decided first."""


def _answer(decision: AsaDecision, requested: int, balance: CreditAccount | None) -> dict:
    body: dict = {"token": decision.token, "result": decision.result}
    if decision.result == APPROVED and decision.approved_amount != requested:
        body["approved_amount"] = decision.approved_amount
    if balance is not None:
        body["balance"] = {
            "amount": balance.posted_balance,
            "available": max(ledger.available_credit(balance), 0),
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

    earlier = AsaDecision.get_or_none(AsaDecision.token == token)
    if earlier is not None:
        return _answer(earlier, amount, None)

    try:
        with transaction():
            card = Card.get_or_none(Card.lithic_token == card_token)
            account = None
            if card is None:
                decision = Decision(CARD_PAUSED, "unknown card")
            else:
                # The account row lock serializes swipes on one account: no double spend.
                account = for_update(
                    CreditAccount.select().where(CreditAccount.id == card.account_id)
                ).get()
                if status in DEBITS:
                    decision = _rules(config, request, card, account)
                else:
                    # Refunds and balance inquiries are never refused.
                    decision = Decision(APPROVED, "credit or inquiry", approved_amount=amount)
            inserted = (
                AsaDecision.insert(
                    token=token,
                    card_token=card_token,
                    account=account,
                    amount=amount,
                    approved_amount=decision.approved_amount or 0,
                    result=decision.result,
                    reason=decision.reason,
                )
                .on_conflict_ignore()
                .as_rowcount()
                .execute()
            )
            if not inserted:
                raise AlreadyDecided(token)
            if decision.result == APPROVED and status == "AUTHORIZATION" and account:
                ledger.append(
                    account,
                    HOLD,
                    decision.approved_amount or 0,
                    "ASA_APPROVAL",
                    card_id=card.id,
                    transaction_token=token,
                    source_id=token,
                )
            stored = AsaDecision.get(AsaDecision.token == token)
    except AlreadyDecided:
        return _answer(AsaDecision.get(AsaDecision.token == token), amount, None)
    logger.info(
        "asa.decided token=%s card_token=%s result=%s reason=%s",
        token,
        card_token,
        decision.result,
        decision.reason,
    )
    return _answer(stored, amount, account)


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
