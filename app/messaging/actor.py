"""How every actor is declared: named after its queue, idempotent on its message id."""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable

import dramatiq
from dramatiq.middleware import CurrentMessage

from app.messaging.errors import AlreadyProcessed
from app.messaging.models import ProcessedMessage

logger = logging.getLogger(__name__)


def already_processed(message_id: str) -> bool:
    return ProcessedMessage.select().where(ProcessedMessage.message_id == message_id).exists()


def mark_processed(message_id: str, actor_name: str) -> None:
    """Record the message as done, inside the transaction that commits its effects.

    A concurrent delivery of the same message that commits first makes this raise
    AlreadyProcessed, which rolls back the duplicate's writes.
    """
    inserted = (
        ProcessedMessage.insert(message_id=message_id, actor_name=actor_name)
        .on_conflict_ignore()
        .as_rowcount()
        .execute()
    )
    if not inserted:
        raise AlreadyProcessed(message_id)


def queue_actor(queue_name: str, **options) -> Callable:
    """Declare an actor named after its queue; the function receives `message_id` first.

    Deliveries of a message already processed are acknowledged without running it again.
    """

    def decorate(fn: Callable) -> dramatiq.Actor:
        @functools.wraps(fn)
        def run(**kwargs):
            message = CurrentMessage.get_current_message()
            message_id = message.message_id if message is not None else kwargs.pop("message_id")
            if already_processed(message_id):
                logger.info(
                    "message.duplicate_skipped message_id=%s actor=%s", message_id, queue_name
                )
                return None
            try:
                return fn(message_id, **kwargs)
            except AlreadyProcessed:
                logger.info(
                    "message.duplicate_rolled_back message_id=%s actor=%s", message_id, queue_name
                )
                return None

        return dramatiq.actor(run, actor_name=queue_name, queue_name=queue_name, **options)

    return decorate
