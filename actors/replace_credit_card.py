"""Queue replace_credit_card: a new card for a lost or stolen one, a reissue for a damaged one."""

from app.cards import service
from app.messaging.actor import queue_actor


@queue_actor(service.REPLACE_CREDIT_CARD)
def replace_credit_card(message_id: str, card_id: str, operation_id: str, reason: str) -> None:
    service.replace_card(message_id, card_id, operation_id, reason)
