"""Dead letters: messages that failed for good, kept with their error for operators."""

from __future__ import annotations

import json
import logging

from app.db import transaction, utcnow
from app.messaging import outbox
from app.messaging.models import DeadLetter
from app.operations.models import Operation

logger = logging.getLogger(__name__)


def describe(exception: BaseException | None) -> tuple[str, str]:
    if exception is None:
        return "Unknown", "the message failed without an exception (age or time limit)"
    return type(exception).__name__, str(exception)[:2000]


def record_dead_letter(message, exception: BaseException | None) -> DeadLetter:
    """Store the failed message and fail the operation it was carrying out."""
    error_type, error = describe(exception)
    kwargs = message.kwargs or {}
    with transaction():
        letter = DeadLetter.create(
            message_id=message.message_id,
            queue_name=message.queue_name.removesuffix(".DQ"),
            actor_name=message.actor_name,
            payload=json.dumps(kwargs, sort_keys=True),
            error_type=error_type,
            error=error,
            retries=message.options.get("retries", 0),
        )
        operation_id = kwargs.get("operation_id")
        if operation_id:
            Operation.update(
                status=Operation.FAILED, error=f"{error_type}: {error}", updated_at=utcnow()
            ).where(
                (Operation.id == operation_id) & (Operation.status == Operation.PENDING)
            ).execute()
    logger.warning(
        "dead_letter.recorded message_id=%s actor=%s error_type=%s",
        message.message_id,
        message.actor_name,
        error_type,
    )
    return letter


def list_dead_letters(limit: int = 100, include_replayed: bool = False) -> list[DeadLetter]:
    query = DeadLetter.select().order_by(DeadLetter.failed_at.desc()).limit(limit)
    if not include_replayed:
        query = query.where(DeadLetter.replayed_at.is_null())
    return list(query)


def replay(dead_letter_id: str) -> str:
    """Send the dead letter's message again, as a new message through the outbox."""
    with transaction():
        letter = DeadLetter.get_by_id(dead_letter_id)
        if letter.replayed_at is not None:
            raise ValueError(f"dead letter {dead_letter_id} was already replayed")
        kwargs = json.loads(letter.payload)
        operation_id = kwargs.get("operation_id")
        if operation_id:
            Operation.update(status=Operation.PENDING, error=None, updated_at=utcnow()).where(
                Operation.id == operation_id
            ).execute()
        row = outbox.enqueue(letter.actor_name, queue_name=letter.queue_name, **kwargs)
        letter.replayed_at = utcnow()
        letter.save()
    logger.info("dead_letter.replayed id=%s message_id=%s", dead_letter_id, row.id)
    return row.id


def purge(dead_letter_id: str | None = None) -> int:
    """Delete one dead letter, or every one when no id is given."""
    query = DeadLetter.delete()
    if dead_letter_id is not None:
        query = query.where(DeadLetter.id == dead_letter_id)
    return query.execute()
