"""Asynchronous operations whose status a client can poll."""

from __future__ import annotations

import peewee

from app.accounts.models import Customer
from app.db import UUIDKeyModel, utcnow


class Operation(UUIDKeyModel):
    PENDING, SUCCEEDED, FAILED = "PENDING", "SUCCEEDED", "FAILED"

    customer = peewee.ForeignKeyField(Customer, backref="operations", null=True)
    kind = peewee.CharField(max_length=48)
    status = peewee.CharField(max_length=16, default=PENDING)
    resource_id = peewee.CharField(max_length=36, null=True)
    error = peewee.TextField(null=True)
    created_at = peewee.DateTimeField(default=utcnow)
    updated_at = peewee.DateTimeField(default=utcnow)
