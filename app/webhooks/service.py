"""Lithic webhooks: verified and deduplicated on receipt, applied by an actor."""

from __future__ import annotations

import json
import logging

from app import runtime
from app.cards import models as m
from app.cards.models import Card, CardEvent
from app.db import for_update, new_id, transaction, utcnow
from app.errors import NotFound
from app.messaging import outbox
from app.messaging.actor import mark_processed
from app.payments import service as payments
from app.transactions import service as transactions
from app.webhooks.models import WebhookDelivery

logger = logging.getLogger(__name__)

PROCESS_CREDIT_CARD_WEBHOOK = "process_credit_card_webhook"
TRANSACTION_UPDATED = "card_transaction.updated"
STATEMENT_CREATED = "statements.created"
STATEMENT_FIELDS = (
    "token",
    "financial_account_token",
    "statement_start_date",
    "statement_end_date",
    "payment_due_date",
    "ending_balance",
    "amount_due",
)

# Per event type, the only fields we keep: never a PAN, a CVV or the whole payload.
KEPT_FIELDS = {
    "card.created": ("card_token", "replacement_for"),
    "card.updated": ("card_token", "state"),
    "card.shipped": ("card_token", "shipping_method", "tracking_number"),
    "card.reissued": ("card_token",),
    "card.renewed": (
        "card_token",
        "exp_month",
        "exp_year",
        "previous_exp_month",
        "previous_exp_year",
    ),
}


def receive(webhook_id: str, payload: dict) -> bool:
    """Record a verified delivery once and queue it; False for a delivery seen before."""
    event_type = str(payload.get("event_type") or "unknown")[:64]
    kept = event_type in (TRANSACTION_UPDATED, STATEMENT_CREATED) or event_type in KEPT_FIELDS
    if event_type == TRANSACTION_UPDATED:
        data = transactions.extract(payload)
    elif event_type == STATEMENT_CREATED:
        data = {name: payload.get(name) for name in STATEMENT_FIELDS}
    else:
        data = {name: payload.get(name) for name in KEPT_FIELDS.get(event_type, ())}
    delivery_id = new_id()
    with transaction():
        inserted = (
            WebhookDelivery.insert(
                id=delivery_id,
                webhook_id=webhook_id[:128],
                event_type=event_type,
                data=json.dumps(data, sort_keys=True),
                status=WebhookDelivery.RECEIVED if kept else WebhookDelivery.IGNORED,
                note=None if kept else "event type not handled",
            )
            .on_conflict_ignore()
            .as_rowcount()
            .execute()
        )
        if inserted and kept:
            outbox.enqueue(PROCESS_CREDIT_CARD_WEBHOOK, delivery_id=delivery_id)
    logger.info(
        "webhook.received webhook_id=%s event_type=%s duplicate=%s",
        webhook_id,
        event_type,
        not inserted,
    )
    return bool(inserted)


def process_webhook(message_id: str, delivery_id: str) -> None:
    """Apply one delivery to local state; unknown cards are recorded, not retried."""
    delivery = WebhookDelivery.get_or_none(WebhookDelivery.id == delivery_id)
    if delivery is None:
        raise NotFound(f"webhook delivery {delivery_id} does not exist")
    data = json.loads(delivery.data)
    if delivery.event_type in (TRANSACTION_UPDATED, STATEMENT_CREATED):
        with transaction():
            if delivery.event_type == TRANSACTION_UPDATED:
                note = transactions.apply_transaction(data, delivery.webhook_id)
            else:
                note = payments.apply_statement(data)
            _mark(delivery, note, message_id)
        return
    with transaction():
        note = None
        card = for_update(
            Card.select().where(Card.lithic_token == data.get("card_token"))
        ).get_or_none()
        if card is None:
            note = "unknown card"
        else:
            lithic_card = None
            if delivery.event_type in ("card.updated", "card.reissued"):
                # Deliveries can arrive out of order: read the card's current state instead of
                # trusting the event's. The row is locked first, so a freeze committing
                # meanwhile waits and lands after us instead of being overwritten.
                lithic_card = runtime.current().lithic.get_card(card.lithic_token)
            _apply(card, delivery, data, lithic_card)
        _mark(delivery, note, message_id)


def _mark(delivery: WebhookDelivery, note: str | None, message_id: str) -> None:
    """Record the outcome; an unknown card is acknowledged and noted, never retried."""
    status = WebhookDelivery.IGNORED if note else WebhookDelivery.APPLIED
    WebhookDelivery.update(status=status, note=note, applied_at=utcnow()).where(
        WebhookDelivery.id == delivery.id
    ).execute()
    mark_processed(message_id, PROCESS_CREDIT_CARD_WEBHOOK)
    logger.info(
        "webhook.applied delivery_id=%s event_type=%s status=%s",
        delivery.id,
        delivery.event_type,
        status,
    )


def _apply(card: Card, delivery: WebhookDelivery, data: dict, lithic_card: dict | None) -> None:
    event_type = delivery.event_type
    detail: dict = {}
    if lithic_card is not None:
        card.state = lithic_card["state"]
        card.substatus = lithic_card.get("substatus")
        card.spend_limit = lithic_card.get("spend_limit") or 0
        card.spend_limit_duration = lithic_card.get("spend_limit_duration") or "TRANSACTION"
        detail["state"] = card.state
    if event_type == "card.shipped":
        card.shipped_at = card.shipped_at or utcnow()
        card.tracking_number = data.get("tracking_number")
        if card.state == m.PENDING_FULFILLMENT:
            card.state = m.PENDING_ACTIVATION
        # Lithic's shipping_method here is the carrier's text ("USPS priority"), not the
        # method we ordered: it goes in the history, never into the next order.
        detail = {"tracking_number": card.tracking_number, "carrier": data.get("shipping_method")}
    elif event_type == "card.renewed":
        card.exp_month = data.get("exp_month") or card.exp_month
        card.exp_year = data.get("exp_year") or card.exp_year
    card.updated_at = utcnow()
    card.save()
    kind = event_type.split(".", 1)[1].upper()
    if (
        kind == "CREATED"
        and CardEvent.select()
        .where((CardEvent.card == card) & (CardEvent.kind == "CREATED"))
        .exists()
    ):
        return  # we recorded the creation ourselves when Lithic answered
    CardEvent.insert(
        card=card, kind=kind, source_id=delivery.webhook_id, detail=json.dumps(detail)
    ).on_conflict_ignore().execute()


def receive_rail(webhook_id: str, payload: dict) -> bool:
    """A verified rail webhook: deduped on its id and applied at once (a small state change)."""
    event_type = str(payload.get("type") or "unknown")[:56]
    transfer = payload.get("transfer") or {}
    with transaction():
        inserted = (
            WebhookDelivery.insert(
                webhook_id=f"rail:{webhook_id}"[:128],
                event_type=f"rail.{event_type}",
                data=json.dumps({"id": transfer.get("id"), "status": transfer.get("status")}),
            )
            .on_conflict_ignore()
            .as_rowcount()
            .execute()
        )
        if inserted:
            note = payments.rail_event(event_type, transfer)
            WebhookDelivery.update(
                status=WebhookDelivery.IGNORED if note else WebhookDelivery.APPLIED,
                note=note,
                applied_at=utcnow(),
            ).where(WebhookDelivery.webhook_id == f"rail:{webhook_id}"[:128]).execute()
    logger.info(
        "rail_webhook.received webhook_id=%s type=%s duplicate=%s",
        webhook_id,
        event_type,
        not inserted,
    )
    return bool(inserted)
