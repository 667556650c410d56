"""The transactional outbox: a message is committed with its rows and published after commit."""

from __future__ import annotations

import datetime as dt
import json
import logging

import dramatiq
import peewee

from app.db import db, is_sqlite, transaction, utcnow
from app.messaging.models import OutboxMessage

logger = logging.getLogger(__name__)


def enqueue(actor_name: str, *, queue_name: str | None = None, **kwargs) -> OutboxMessage:
    """Write a message for `actor_name` in the current transaction; it is published after commit."""
    if not db.in_transaction():
        raise RuntimeError("outbox.enqueue must run inside the transaction that writes its rows")
    row = OutboxMessage.create(
        queue_name=queue_name or actor_name,
        actor_name=actor_name,
        payload=json.dumps(kwargs, sort_keys=True),
    )
    db.after_commit(lambda: publish_after_commit(row))
    return row


def to_message(row: OutboxMessage) -> dramatiq.Message:
    """The Dramatiq message for an outbox row; its id is the row's, so redeliveries dedupe."""
    return dramatiq.Message(
        queue_name=row.queue_name,
        actor_name=row.actor_name,
        args=(),
        kwargs=json.loads(row.payload),
        options={},
        message_id=row.id,
        message_timestamp=int(row.created_at.replace(tzinfo=dt.UTC).timestamp() * 1000),
    )


def publish(row: OutboxMessage, broker: dramatiq.Broker | None = None) -> None:
    """Publish one row and mark it sent; raises if the broker refuses."""
    (broker or dramatiq.get_broker()).enqueue(to_message(row))
    OutboxMessage.update(published_at=utcnow(), attempts=OutboxMessage.attempts + 1).where(
        OutboxMessage.id == row.id
    ).execute()


def publish_after_commit(row: OutboxMessage) -> None:
    """Publish right after commit; on a broker outage leave the row for the relay."""
    try:
        publish(row)
    except (dramatiq.BrokerError, OSError) as exc:
        logger.warning(
            "outbox.publish_deferred message_id=%s actor=%s error=%s",
            row.id,
            row.actor_name,
            type(exc).__name__,
        )
        _record_failure(row.id, exc)


def _record_failure(row_id: str, exc: BaseException) -> None:
    try:
        OutboxMessage.update(
            attempts=OutboxMessage.attempts + 1, last_error=f"{type(exc).__name__}: {exc}"[:500]
        ).where(OutboxMessage.id == row_id).execute()
    except peewee.PeeweeException:
        logger.warning("outbox.failure_not_recorded message_id=%s", row_id)


def relay(
    older_than: dt.timedelta = dt.timedelta(seconds=5),
    batch_size: int = 200,
    broker: dramatiq.Broker | None = None,
) -> int:
    """Publish rows left unsent (crash or broker outage); safe to run in several processes."""
    published = 0
    cutoff = utcnow() - older_than
    while True:
        with transaction():
            query = (
                OutboxMessage.select()
                .where(OutboxMessage.published_at.is_null() & (OutboxMessage.created_at <= cutoff))
                .order_by(OutboxMessage.created_at)
                .limit(batch_size)
            )
            if not is_sqlite():
                # Several relays share the work: each claims rows the others have not locked.
                query = query.for_update(skip_locked=True)
            rows = list(query)
            for row in rows:
                try:
                    publish(row, broker)
                except (dramatiq.BrokerError, OSError) as exc:
                    logger.warning("outbox.relay_failed message_id=%s", row.id)
                    _record_failure(row.id, exc)
                    return published
                published += 1
        if len(rows) < batch_size:
            break
    if published:
        logger.info("outbox.relayed count=%s", published)
    return published


def redeliver(
    older_than: dt.timedelta = dt.timedelta(hours=1),
    within: dt.timedelta = dt.timedelta(days=7),
    batch_size: int = 500,
    broker: dramatiq.Broker | None = None,
) -> int:
    """Re-publish messages sent long ago that no actor processed or dead-lettered.

    RabbitMQ can lose what a queue held (a queue deleted by hand, a lost node); actors skip a
    message they already processed, so sending one again is safe.
    """
    from app.messaging.models import DeadLetter, ProcessedMessage

    now = utcnow()
    rows = list(
        OutboxMessage.select()
        .where(
            OutboxMessage.published_at.between(now - within, now - older_than)
            & ~fn_exists(ProcessedMessage, ProcessedMessage.message_id == OutboxMessage.id)
            & ~fn_exists(DeadLetter, DeadLetter.message_id == OutboxMessage.id)
        )
        .order_by(OutboxMessage.published_at)
        .limit(batch_size)
    )
    sent = 0
    for row in rows:
        try:
            publish(row, broker)
        except (dramatiq.BrokerError, OSError) as exc:
            _record_failure(row.id, exc)
            break
        sent += 1
    if sent:
        logger.warning("outbox.redelivered count=%s", sent)
    return sent


def fn_exists(model, condition) -> peewee.Expression:
    return peewee.fn.EXISTS(model.select(peewee.SQL("1")).where(condition))


def pending_count() -> int:
    return OutboxMessage.select().where(OutboxMessage.published_at.is_null()).count()
