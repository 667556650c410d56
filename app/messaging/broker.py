"""The broker: RabbitMQ with publisher confirms, or in-process for the embedded default."""

from __future__ import annotations

import logging
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import dramatiq
from dramatiq.brokers.rabbitmq import RabbitmqBroker
from dramatiq.brokers.stub import StubBroker
from dramatiq.middleware import (
    AgeLimit,
    Callbacks,
    CurrentMessage,
    MiddlewareError,
    Pipelines,
    ShutdownNotifications,
    TimeLimit,
)

from app.config import Config
from app.messaging.encoder import EncryptedJSONEncoder
from app.messaging.middleware import (
    DEFAULT_TIME_LIMIT_MS,
    MAX_BACKOFF_MS,
    DeadLetters,
    MessageContext,
    RetryPolicy,
)

logger = logging.getLogger(__name__)

# AMQP's reply code when a queue exists with other arguments than the ones declared.
PRECONDITION_FAILED = 406

# pika settings that keep a publisher from hanging on a dead or blocked broker.
_AMQP_DEFAULTS = {
    "heartbeat": "30",
    "blocked_connection_timeout": "30",
    "socket_timeout": "5",
    "stack_timeout": "15",
    # One try per publish attempt: Dramatiq already makes six, and a request must not wait
    # seconds on a dead broker when the outbox can carry the message later.
    "connection_attempts": "1",
}


def amqp_url(url: str) -> str:
    """Add our timeouts to an amqp:// URL unless it sets them itself."""
    parts = urlsplit(url)
    query = dict(_AMQP_DEFAULTS)
    query.update(dict(parse_qsl(parts.query)))
    return urlunsplit(parts._replace(query=urlencode(query)))


def middleware(config: Config) -> list[dramatiq.Middleware]:
    return [
        MessageContext(),
        AgeLimit(),
        TimeLimit(time_limit=DEFAULT_TIME_LIMIT_MS),
        ShutdownNotifications(),
        Callbacks(),
        Pipelines(),
        CurrentMessage(),
        RetryPolicy(
            max_retries=config.max_retries,
            min_backoff=config.min_backoff_ms,
            max_backoff=MAX_BACKOFF_MS,
        ),
        DeadLetters(),
    ]


class QueueArgumentsConflict(MiddlewareError):
    """A queue of ours exists in RabbitMQ with other arguments, so no consumer can declare it."""


class DeclareQueuesAtBoot(dramatiq.Middleware):
    """Declare every queue before a worker starts consuming, so a conflict stops it at once.

    Dramatiq declares lazily in each consumer thread and treats PRECONDITION_FAILED like a lost
    connection: the worker would run on, restarting those consumers forever (dramatiq#301).
    """

    def before_worker_boot(self, broker, worker):
        queues = broker.get_declared_queues()
        if getattr(worker, "consumer_whitelist", None):  # `dramatiq actors --queues …`
            queues &= worker.consumer_whitelist
        try:
            for queue_name in sorted(queues):
                broker.declare_queue(queue_name, ensure=True)
        except dramatiq.errors.ConnectionClosed as exc:
            cause = exc.message
            if getattr(cause, "reply_code", None) != PRECONDITION_FAILED:
                # RabbitMQ unreachable: the consumers retry until it is back, as before.
                logger.warning("broker.declare_at_boot_failed error=%s", cause)
                return
            logger.critical("broker.queue_conflict queue=%s error=%s", queue_name, cause)
            raise QueueArgumentsConflict(
                f"queue {queue_name!r} exists in RabbitMQ with other arguments "
                f"({cause.reply_text}); delete it or give it the arguments this service declares"
            ) from None
        finally:
            # This thread only declares; the consumer and worker threads open their own.
            del broker.connection


def build_broker(config: Config) -> dramatiq.Broker:
    """Build the broker and install the encrypted encoder (a process-wide Dramatiq setting)."""
    dramatiq.set_encoder(EncryptedJSONEncoder(config.message_keys))
    if config.uses_embedded_broker:
        broker: dramatiq.Broker = StubBroker(middleware=middleware(config))
    else:
        # Confirms make a publish fail loudly instead of vanishing, and re-create a deleted
        # queue (dramatiq#832); they cost about 0.35 ms a message.
        broker = RabbitmqBroker(
            url=amqp_url(config.rabbitmq_url or ""),
            confirm_delivery=True,
            middleware=[*middleware(config), DeclareQueuesAtBoot()],
        )
    return broker
