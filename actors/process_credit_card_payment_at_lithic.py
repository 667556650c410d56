"""Queue process_credit_card_payment_at_lithic: record (or reverse) the payment at Lithic."""

from app.messaging.actor import queue_actor
from app.payments import service


@queue_actor(service.PROCESS_PAYMENT_AT_LITHIC)
def process_credit_card_payment_at_lithic(message_id: str, payment_id: str, action: str) -> None:
    service.record_at_lithic(message_id, payment_id, action)
