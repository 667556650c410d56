"""Queue create_credit_card: order a physical card at Lithic."""

from app.cards import service
from app.messaging.actor import queue_actor


@queue_actor(service.CREATE_CREDIT_CARD)
def create_credit_card(message_id: str, card_id: str, operation_id: str) -> None:
    service.order_physical_card(message_id, card_id, operation_id)
