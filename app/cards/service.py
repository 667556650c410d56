"""Cards: order, activate, freeze, replace and close, with Lithic as the source of truth."""

from __future__ import annotations

import json
import logging
import uuid
from dataclasses import dataclass

from app import runtime
from app.accounts.models import CreditAccount
from app.cards import models as m
from app.cards.models import Card, CardEvent
from app.db import for_update, transaction, utcnow
from app.errors import InvalidState, NotFound, UpstreamError, ValidationError
from app.lithic.client import LithicError, LithicPermanentError, LithicTransientError
from app.messaging import outbox
from app.messaging.actor import mark_processed
from app.operations.models import Operation

logger = logging.getLogger(__name__)

CREATE_CREDIT_CARD = "create_credit_card"
REPLACE_CREDIT_CARD = "replace_credit_card"
LOST, STOLEN, DAMAGED = "LOST", "STOLEN", "DAMAGED"
# What Lithic calls the old card's condition when it is replaced.
REPLACEMENT_SUBSTATUS = {LOST: "LOST", STOLEN: "COMPROMISED", DAMAGED: "DAMAGED"}
# The card fields we keep; PAN and CVV in a Lithic card object are never read.
CARD_FIELDS = ("state", "substatus", "last_four", "exp_month", "exp_year")


@dataclass(frozen=True)
class ShippingAddress:
    first_name: str
    last_name: str
    address1: str
    city: str
    state: str
    postal_code: str
    country: str = "USA"
    address2: str | None = None

    def as_lithic(self) -> dict:
        body = {k: v for k, v in self.__dict__.items() if v is not None}
        return body

    def validate(self) -> None:
        if len(self.first_name) + len(self.last_name) > 25:
            raise ValidationError("first and last name together must fit in 25 characters")
        for name in ("first_name", "last_name", "address1", "city", "state", "postal_code"):
            if not getattr(self, name).strip():
                raise ValidationError(f"shipping address {name} is required")
        if len(self.address1) > 40 or len(self.city) > 30 or len(self.postal_code) > 12:
            raise ValidationError("shipping address is too long for the card carrier")


def cards_of(customer_id: str) -> list[Card]:
    return list(Card.select().where(Card.customer == customer_id).order_by(Card.created_at))


def _is_card_id(card_id: str) -> bool:
    """Tell whether `card_id` can name a card at all (ids are UUIDs)."""
    # Anything else is simply not found, without a query: PostgreSQL refuses a NUL character,
    # which reached the client as an internal error.
    try:
        return str(uuid.UUID(card_id)) == card_id
    except (ValueError, TypeError, AttributeError):
        return False


def card_of(customer_id: str, card_id: str) -> Card:
    """A card of this customer; another customer's card is reported as not found."""
    card = None
    if _is_card_id(card_id):
        card = Card.get_or_none((Card.id == card_id) & (Card.customer == customer_id))
    if card is None:
        raise NotFound(f"card {card_id} not found")
    return card


def _active_account(customer_id: str) -> CreditAccount:
    account = CreditAccount.get_or_none(CreditAccount.customer == customer_id)
    if account is None or account.status != CreditAccount.ACTIVE:
        raise InvalidState("the credit account is not active yet", code="ACCOUNT_NOT_ACTIVE")
    return account


def _event(card: Card, kind: str, source_id: str | None = None, **detail) -> None:
    CardEvent.insert(
        card=card, kind=kind, source_id=source_id, detail=json.dumps(detail, sort_keys=True)
    ).on_conflict_ignore().execute()


def _apply_lithic_card(card: Card, lithic_card: dict) -> None:
    card.lithic_token = lithic_card["token"]
    for name in CARD_FIELDS:
        if name in lithic_card:
            setattr(card, name, lithic_card[name])
    card.spend_limit = lithic_card.get("spend_limit", card.spend_limit) or 0
    card.spend_limit_duration = lithic_card.get("spend_limit_duration") or "TRANSACTION"
    card.updated_at = utcnow()


def _card_body(card: Card, account: CreditAccount) -> dict:
    config = runtime.current().config
    body: dict = {"type": card.type, "account_token": account.lithic_account_token}
    if card.memo:
        body["memo"] = card.memo
    if config.card_program_token:
        body["card_program_token"] = config.card_program_token
    if card.type == m.PHYSICAL:
        body["shipping_address"] = json.loads(card.shipping_address)
        body["shipping_method"] = card.shipping_method or "STANDARD"
        if config.physical_card_product_id:
            body["product_id"] = config.physical_card_product_id
    return body


def create_card(
    customer_id: str,
    card_type: str,
    memo: str | None = None,
    shipping: ShippingAddress | None = None,
    shipping_method: str | None = None,
) -> tuple[Card, Operation]:
    """A virtual card is created at Lithic before returning; a physical one is queued."""
    account = _active_account(customer_id)
    if card_type not in (m.VIRTUAL, m.PHYSICAL):
        raise ValidationError("type must be VIRTUAL or PHYSICAL")
    if card_type == m.PHYSICAL:
        if shipping is None:
            raise ValidationError("a physical card needs a shipping address")
        shipping.validate()
    with transaction():
        card = Card.create(
            customer=customer_id,
            account=account,
            type=card_type,
            memo=memo,
            shipping_name=f"{shipping.first_name} {shipping.last_name}" if shipping else None,
            shipping_address=json.dumps(shipping.as_lithic()) if shipping else None,
            shipping_method=shipping_method if shipping else None,
        )
        operation = Operation.create(customer=customer_id, kind="CREATE_CARD", resource_id=card.id)
        _event(card, "REQUESTED", type=card_type)
        if card_type == m.PHYSICAL:
            outbox.enqueue(CREATE_CREDIT_CARD, card_id=card.id, operation_id=operation.id)
    if card_type == m.VIRTUAL:
        _order_now(card, account, operation)
    return card, operation


def _order_now(card: Card, account: CreditAccount, operation: Operation) -> None:
    try:
        lithic_card = runtime.current().lithic.create_card(
            _card_body(card, account), idempotency_key=card.order_key
        )
    except LithicTransientError:
        # A timeout or a 5xx may still have made the card. Failing here left it open at Lithic
        # with no row of ours, and a retry made another: the actor finishes the order with the
        # same Idempotency-Key instead, and the operation stays PENDING until it has.
        with transaction():
            outbox.enqueue(CREATE_CREDIT_CARD, card_id=card.id, operation_id=operation.id)
        logger.warning("card.order_deferred card_id=%s", card.id)
        return
    except LithicError as exc:
        with transaction():
            Card.update(state=m.FAILED, failure=str(exc), updated_at=utcnow()).where(
                Card.id == card.id
            ).execute()
            _finish(operation.id, Operation.FAILED, str(exc))
        raise UpstreamError("the card could not be created at Lithic; try again") from exc
    with transaction():
        _apply_lithic_card(card, lithic_card)
        card.save()
        _event(card, "CREATED", lithic_token=card.lithic_token)
        _finish(operation.id, Operation.SUCCEEDED)
    operation.status = Operation.SUCCEEDED
    logger.info("card.created card_id=%s lithic_token=%s", card.id, card.lithic_token)


def order_physical_card(message_id: str, card_id: str, operation_id: str) -> None:
    """Order the card at Lithic; the Idempotency-Key makes a repeat return the same card."""
    card = Card.get_or_none(Card.id == card_id)
    if card is None:
        raise NotFound(f"card {card_id} does not exist")
    if card.lithic_token is None:
        lithic_card = runtime.current().lithic.create_card(
            _card_body(card, card.account), idempotency_key=card.order_key
        )
    with transaction():
        card = for_update(Card.select().where(Card.id == card_id)).get()
        if card.lithic_token is None:
            _apply_lithic_card(card, lithic_card)
            card.save()
            _event(card, "ORDERED", source_id=message_id, lithic_token=card.lithic_token)
        _finish(operation_id, Operation.SUCCEEDED)
        mark_processed(message_id, CREATE_CREDIT_CARD)
    logger.info("card.ordered card_id=%s lithic_token=%s", card.id, card.lithic_token)


def _set_state_at_lithic(card: Card, state: str, **extra) -> None:
    try:
        lithic_card = runtime.current().lithic.update_card(
            card.lithic_token, {"state": state, **extra}
        )
    except LithicPermanentError as exc:
        raise InvalidState(f"Lithic refused the change: {exc.message}") from exc
    except LithicError as exc:
        raise UpstreamError("Lithic is not answering; try again") from exc
    with transaction():
        _apply_lithic_card(card, lithic_card)
        card.save()


def activate_card(customer_id: str, card_id: str) -> Card:
    """Open a physical card that has arrived (PENDING_ACTIVATION)."""
    card = card_of(customer_id, card_id)
    if card.state == m.OPEN:
        return card
    if card.state != m.PENDING_ACTIVATION:
        raise InvalidState(f"a {card.state} card cannot be activated")
    _set_state_at_lithic(card, m.OPEN)
    with transaction():
        Card.update(activated_at=utcnow()).where(Card.id == card.id).execute()
        _event(card, "ACTIVATED")
    logger.info("card.activated card_id=%s", card.id)
    return card


def freeze_unfreeze_card(customer_id: str, card_id: str, freeze: bool) -> Card:
    """Pause (freeze) or reopen a card; asking for the state it is in is not an error."""
    card = card_of(customer_id, card_id)
    target, source = (m.PAUSED, m.OPEN) if freeze else (m.OPEN, m.PAUSED)
    if card.state == target:
        return card
    if card.state != source:
        raise InvalidState(f"a {card.state} card cannot be {'frozen' if freeze else 'unfrozen'}")
    _set_state_at_lithic(card, target)
    with transaction():
        _event(card, "FROZEN" if freeze else "UNFROZEN")
    logger.info("card.state_changed card_id=%s state=%s", card.id, target)
    return card


def close_card(card_id: str, reason: str | None = None) -> Card:
    """Close a card for good (operations staff)."""
    card = Card.get_or_none(Card.id == card_id) if _is_card_id(card_id) else None
    if card is None:
        raise NotFound(f"card {card_id} not found")
    if card.state == m.CLOSED:
        return card
    if card.lithic_token is None:
        raise InvalidState("the card is not issued yet")
    _set_state_at_lithic(card, m.CLOSED, substatus="ISSUER_REQUEST", comment=reason or "")
    with transaction():
        _event(card, "CLOSED", reason=reason or "")
    logger.info("card.closed card_id=%s", card.id)
    return card


def request_replacement(
    customer_id: str, card_id: str, reason: str, shipping: ShippingAddress | None = None
) -> tuple[Card, Operation]:
    """Lost or stolen: a new card replaces the old one, which closes. Damaged: a reissue."""
    if reason not in REPLACEMENT_SUBSTATUS:
        raise ValidationError("reason must be LOST, STOLEN or DAMAGED")
    if shipping is not None:
        shipping.validate()
    if not _is_card_id(card_id):
        raise NotFound(f"card {card_id} not found")
    with transaction():
        old = for_update(
            Card.select().where((Card.id == card_id) & (Card.customer == customer_id))
        ).get_or_none()
        if old is None:
            raise NotFound(f"card {card_id} not found")
        if old.lithic_token is None or old.state in (m.CLOSED, m.FAILED, m.REQUESTED):
            raise InvalidState(f"a {old.state} card cannot be replaced")
        if reason == DAMAGED and old.type != m.PHYSICAL:
            raise InvalidState("only a physical card can be reissued as damaged")
        # A reissue makes no new card row: its pending operation shows it under way, and the
        # plastic it ordered has not shipped yet. Without both, a double tap reissued twice.
        if reason == DAMAGED and old.state == m.PENDING_FULFILLMENT:
            raise InvalidState("a card that has not shipped yet cannot be reissued as damaged")
        if (
            Card.select()
            .where((Card.replacement_for == old.id) & (Card.state != m.FAILED))
            .exists()
            or Operation.select()
            .where(
                (Operation.kind == "REPLACE_CARD")
                & (Operation.resource_id == old.id)
                & (Operation.status == Operation.PENDING)
            )
            .exists()
        ):
            raise InvalidState("a replacement for this card is already under way")
        if reason == DAMAGED:
            target = old
            if shipping is not None:
                old.shipping_address = json.dumps(shipping.as_lithic())
                old.save()
        else:
            target = Card.create(
                customer=old.customer_id,
                account=old.account_id,
                type=old.type,
                memo=old.memo,
                spend_limit=old.spend_limit,
                replacement_for=old,
                shipping_name=old.shipping_name,
                shipping_address=(
                    json.dumps(shipping.as_lithic()) if shipping else old.shipping_address
                ),
                shipping_method=old.shipping_method,
            )
        operation = Operation.create(
            customer=customer_id, kind="REPLACE_CARD", resource_id=target.id
        )
        _event(old, "REPLACEMENT_REQUESTED", source_id=operation.id, reason=reason)
        outbox.enqueue(
            REPLACE_CREDIT_CARD, card_id=target.id, operation_id=operation.id, reason=reason
        )
    logger.info("card.replacement_queued card_id=%s reason=%s", old.id, reason)
    return target, operation


def replace_card(message_id: str, card_id: str, operation_id: str, reason: str) -> None:
    """Carry a replacement out at Lithic; a repeat finds it done (or Lithic dedupes it)."""
    lithic = runtime.current().lithic
    card = Card.get_or_none(Card.id == card_id)
    if card is None:
        raise NotFound(f"card {card_id} does not exist")

    if reason == DAMAGED:
        # TODO: Lithic takes no Idempotency-Key on reissue; a worker killed between Lithic's
        # answer and our commit reissues twice (capped at 8 per card by Lithic).
        if (
            not CardEvent.select()
            .where(
                (CardEvent.card == card)
                & (CardEvent.kind == "REISSUED")
                & (CardEvent.source_id == operation_id)
            )
            .exists()
        ):
            lithic_card = lithic.reissue_card(
                card.lithic_token, {"shipping_address": json.loads(card.shipping_address)}
            )
            with transaction():
                _apply_lithic_card(card, lithic_card)
                card.shipped_at = card.tracking_number = None
                card.save()
                _event(card, "REISSUED", source_id=operation_id)
        with transaction():
            _finish(operation_id, Operation.SUCCEEDED)
            mark_processed(message_id, REPLACE_CREDIT_CARD)
        return

    old = card.replacement_for
    if card.lithic_token is None:
        body = _card_body(card, card.account)
        body["replacement_for"] = old.lithic_token
        body["replacement_substatus"] = REPLACEMENT_SUBSTATUS[reason]
        lithic_card = lithic.create_card(body, idempotency_key=card.order_key)
    with transaction():
        card = for_update(Card.select().where(Card.id == card_id)).get()
        if card.lithic_token is None:
            _apply_lithic_card(card, lithic_card)
            card.save()
            _event(card, "CREATED", source_id=message_id, replacement_for=old.id)
        # Lithic closes the old card the moment the replacement exists.
        Card.update(
            state=m.CLOSED, substatus=REPLACEMENT_SUBSTATUS[reason], updated_at=utcnow()
        ).where(Card.id == old.id).execute()
        _event(old, "REPLACED", source_id=message_id, replaced_by=card.id, reason=reason)
        _finish(operation_id, Operation.SUCCEEDED)
        mark_processed(message_id, REPLACE_CREDIT_CARD)
    logger.info("card.replaced old_card_id=%s card_id=%s", old.id, card.id)


def _finish(operation_id: str, status: str, error: str | None = None) -> None:
    Operation.update(status=status, error=error, updated_at=utcnow()).where(
        Operation.id == operation_id
    ).execute()
