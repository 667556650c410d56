"""Queue process_credit_card_payment: move the money on the payment rail."""

from app.messaging.actor import queue_actor
from app.payments import service


@queue_actor(service.PROCESS_PAYMENT)
def process_credit_card_payment(message_id: str, payment_id: str) -> None:
    service.move_money(message_id, payment_id)
