"""The outbox, processed-message records and dead letters."""

from __future__ import annotations

import peewee

from app.db import BaseModel, UUIDKeyModel, utcnow


class OutboxMessage(UUIDKeyModel):
    """A message written with the rows it is about; its id is the Dramatiq message id."""

    queue_name = peewee.CharField(max_length=64)
    actor_name = peewee.CharField(max_length=64)
    payload = peewee.TextField()  # JSON kwargs: ids only
    created_at = peewee.DateTimeField(default=utcnow)
    published_at = peewee.DateTimeField(null=True, index=True)
    attempts = peewee.IntegerField(default=0)
    last_error = peewee.TextField(null=True)


class ProcessedMessage(BaseModel):
    """Written in the same transaction as an actor's effects: a redelivery finds it and stops."""

    message_id = peewee.CharField(primary_key=True, max_length=36)
    actor_name = peewee.CharField(max_length=64)
    processed_at = peewee.DateTimeField(default=utcnow)


class DeadLetter(UUIDKeyModel):
    """A message that failed for good, with its error, ready to inspect, replay or purge."""

    message_id = peewee.CharField(max_length=36, index=True)
    queue_name = peewee.CharField(max_length=64)
    actor_name = peewee.CharField(max_length=64)
    payload = peewee.TextField()  # JSON kwargs: ids only
    error_type = peewee.CharField(max_length=128)
    error = peewee.TextField()
    retries = peewee.IntegerField(default=0)
    failed_at = peewee.DateTimeField(default=utcnow)
    replayed_at = peewee.DateTimeField(null=True)
