"""Queue create_credit_card_account: account holder, account and credit line at Lithic."""

from app.accounts import service
from app.messaging.actor import queue_actor


@queue_actor(service.CREATE_CREDIT_CARD_ACCOUNT)
def create_credit_card_account(message_id: str, account_id: str, operation_id: str) -> None:
    service.create_credit_card_account(message_id, account_id, operation_id)
