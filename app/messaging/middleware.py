"""Broker middleware: database connection per message, retry policy, dead-letter records."""

from __future__ import annotations

import logging

import dramatiq
from dramatiq.common import current_millis
from dramatiq.middleware import MiddlewareError, Retries

from app import db as database
from app.logs import context_id
from app.messaging.errors import PermanentError

logger = logging.getLogger(__name__)

# RabbitMQ closes a channel holding an unacked delivery for 30 minutes (consumer_timeout), and
# Dramatiq holds delayed retries unacked: every backoff stays well below that (dramatiq#827).
MAX_BACKOFF_MS = 10 * 60 * 1000
DEFAULT_TIME_LIMIT_MS = 5 * 60 * 1000


class MessageContext(dramatiq.Middleware):
    """One database connection and one logging context per message."""

    def before_process_message(self, broker, message):
        context_id.set(message.message_id)
        database.db.connect(reuse_if_open=True)

    def after_process_message(self, broker, message, *, result=None, exception=None):
        database.close_connection()
        context_id.set("-")

    after_skip_message = after_process_message


class DelayTooLong(MiddlewareError):
    """A message asked to wait longer than a worker may hold it unacknowledged."""


class RetryPolicy(Retries):
    """Transient failures retry with bounded backoff; permanent ones fail at once.

    A retry that cannot be re-published fails the message instead of losing it: Dramatiq's own
    Retries would ack the original anyway (dramatiq PR #545).
    """

    def before_enqueue(self, broker, message, delay):
        # Dramatiq's own cap does not cover `Retry(delay=…)` or an actor's `max_backoff` option,
        # and a plain `send_with_options(delay=…)` has none: cap every retry here, and refuse a
        # longer first delay (the clock schedules later work) rather than run it early.
        eta = message.options.get("eta")
        if eta is None or eta - current_millis() <= self.max_backoff:
            return
        if "retries" not in message.options:
            raise DelayTooLong(
                f"a delay of {delay} ms exceeds {self.max_backoff} ms, below RabbitMQ's consumer "
                "timeout; schedule later work from the clock"
            )
        message.options["eta"] = current_millis() + self.max_backoff

    def after_process_message(self, broker, message, *, result=None, exception=None):
        if exception is None:
            return
        if isinstance(exception, PermanentError):
            logger.info(
                "message.permanent_failure message_id=%s actor=%s",
                message.message_id,
                message.actor_name,
            )
            message.fail()
            return
        try:
            super().after_process_message(broker, message, result=result, exception=exception)
        except Exception as exc:
            # Not only connection errors: a broker refuses a publish in other ways too (a queue
            # it does not know, an OSError, a driver error Dramatiq does not wrap), and Dramatiq
            # swallows whatever escapes this hook and acks the message, which would lose it.
            logger.error(
                "message.retry_publish_failed message_id=%s actor=%s error=%s",
                message.message_id,
                message.actor_name,
                type(exc).__name__,
            )
            message.fail()


class DeadLetters(dramatiq.Middleware):
    """Record every final failure with its error, so it can be listed, replayed or purged."""

    def after_nack(self, broker, message):
        from app.messaging.dead_letters import record_dead_letter

        exception = getattr(message, "_exception", None)
        try:
            with database.connection():
                record_dead_letter(message, exception)
        except Exception:
            # The message still sits in RabbitMQ's dead-letter queue (Q.XQ) for inspection.
            logger.exception("dead_letter.record_failed message_id=%s", message.message_id)
