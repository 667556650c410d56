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
            middleware=middleware(config),
        )
    return broker
