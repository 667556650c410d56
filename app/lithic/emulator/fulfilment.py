"""Physical card fulfilment: PENDING_FULFILLMENT → (shipped) → PENDING_ACTIVATION."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from .util import random_digits

if TYPE_CHECKING:
    from .models import Card
    from .state import Emulator

logger = logging.getLogger(__name__)

# `card.shipped` names the carrier service, not the requested method (SDK CardShippedWebhookEvent).
CARRIER_SERVICES = {
    "STANDARD": "USPS without tracking envelope",
    "STANDARD_WITH_TRACKING": "USPS with tracking",
    "PRIORITY": "USPS priority",
    "EXPRESS": "FedEx express",
    "2_DAY": "FedEx 2 days",
    "EXPEDITED": "FedEx overnight",
    "BULK": "USPS with tracking",
}


def start_fulfilment(emulator: Emulator, card: Card) -> str:
    """Put a physical card (back) into fulfilment; return its previous state."""
    previous = card.state
    card.state = "PENDING_FULFILLMENT"
    card.fulfilment_generation += 1
    delay = emulator.config.fulfilment_delay
    if delay is not None:
        token, generation = card.token, card.fulfilment_generation
        emulator.timers.call_later(delay, lambda: _ship_later(emulator, token, generation))
    return previous


def _ship_later(emulator: Emulator, card_token: str, generation: int) -> None:
    with emulator.lock:
        card = emulator.cards.get(card_token)
        # A card re-entering fulfilment since this timer was set waits for its own timer.
        if card is not None and card.fulfilment_generation == generation:
            ship(emulator, card)


def ship(emulator: Emulator, card: Card) -> bool:
    """Ship one card now if it awaits fulfilment; emit `card.shipped` and `card.updated`."""
    with emulator.lock:
        if card.type != "PHYSICAL" or card.state != "PENDING_FULFILLMENT":
            return False
        card.state = "PENDING_ACTIVATION"
        method = card.shipping_method or "STANDARD"
        tracking = None if method == "STANDARD" else "9400" + random_digits(18)
        emulator.emit(
            "card.shipped",
            {
                "card_token": card.token,
                "shipping_method": CARRIER_SERVICES.get(method, CARRIER_SERVICES["STANDARD"]),
                "tracking_number": tracking,
                "bulk_order_token": card.bulk_order_token,
            },
        )
        emulator.emit(
            "card.updated",
            {
                "card_token": card.token,
                "state": card.state,
                "previous_fields": {"state": "PENDING_FULFILLMENT"},
            },
        )
    logger.info("card shipped", extra={"card_token": card.token})
    return True


def ship_all(emulator: Emulator) -> list[str]:
    """Ship every card awaiting fulfilment (the sandbox's daily batch); return their tokens."""
    with emulator.lock:
        pending = [card for card in emulator.cards.values() if card.state == "PENDING_FULFILLMENT"]
        return [card.token for card in pending if ship(emulator, card)]
