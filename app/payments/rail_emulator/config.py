"""Configuration of the payment-rail emulator."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class RailConfig:
    """Settings for one rail emulator; every field has a default for local runs."""

    # Keys accepted as `Authorization: Bearer <key>`.
    api_keys: tuple[str, ...] = ("rail-key",)
    # When both are set, every status change after creation is POSTed there, signed.
    webhook_url: str | None = None
    webhook_secret: str | None = None
    # Seconds to wait before each retry of a failed delivery; its length is the retry count.
    webhook_retry_schedule: tuple[float, ...] = (0.5, 2, 5)
    # Seconds one delivery attempt may take before it counts as failed.
    webhook_timeout: float = 5.0
    # Seconds a transfer stays PENDING before it settles; 0 settles it in the create response.
    settle_delay: float = 0.0
