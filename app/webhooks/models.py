"""Lithic webhook deliveries, deduplicated on their webhook id."""

from __future__ import annotations

import peewee

from app.db import UUIDKeyModel, utcnow


class WebhookDelivery(UUIDKeyModel):
    RECEIVED, APPLIED, IGNORED = "RECEIVED", "APPLIED", "IGNORED"

    webhook_id = peewee.CharField(max_length=128, unique=True)
    event_type = peewee.CharField(max_length=64, index=True)
    # Only the allow-listed fields the actor needs, never the whole payload (no PAN, no CVV).
    data = peewee.TextField()
    status = peewee.CharField(max_length=16, default=RECEIVED)
    note = peewee.TextField(null=True)
    received_at = peewee.DateTimeField(default=utcnow)
    applied_at = peewee.DateTimeField(null=True)
