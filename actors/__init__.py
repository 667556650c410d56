"""Every actor, one module per queue. `dramatiq actors` imports this to run a worker."""

from app.runtime import bootstrap

bootstrap()

from actors import (  # noqa: E402
    create_credit_card,
    create_credit_card_account,
    process_credit_card_webhook,
    replace_credit_card,
)

__all__ = [
    "create_credit_card",
    "create_credit_card_account",
    "process_credit_card_webhook",
    "replace_credit_card",
]
