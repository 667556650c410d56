"""Every actor, one module per queue. `dramatiq actors` imports this to run a worker."""

from app.runtime import bootstrap

bootstrap()

from actors import (  # noqa: E402
    autopay_request,
    create_credit_card,
    create_credit_card_account,
    process_credit_card_payment,
    process_credit_card_payment_at_lithic,
    process_credit_card_webhook,
    replace_credit_card,
)

__all__ = [
    "autopay_request",
    "create_credit_card",
    "create_credit_card_account",
    "process_credit_card_payment",
    "process_credit_card_payment_at_lithic",
    "process_credit_card_webhook",
    "replace_credit_card",
]
