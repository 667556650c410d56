"""Queue process_credit_card_webhook: apply a verified Lithic event to local state."""

from app.messaging.actor import queue_actor
from app.webhooks import service


@queue_actor(service.PROCESS_CREDIT_CARD_WEBHOOK)
def process_credit_card_webhook(message_id: str, delivery_id: str) -> None:
    service.process_webhook(message_id, delivery_id)
