"""Queue autopay_request: work out and create one AutoPay payment."""

from app.messaging.actor import queue_actor
from app.payments import autopay


@queue_actor(autopay.AUTOPAY_REQUEST)
def autopay_request(message_id: str, run_id: str) -> None:
    autopay.request(message_id, run_id)
