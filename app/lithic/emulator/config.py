"""Configuration of the Lithic emulator."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class EmulatorConfig:
    """Settings for one emulator instance; every field has a default for local runs."""

    # Keys accepted in the `Authorization` header (the raw key, as Lithic expects).
    api_keys: tuple[str, ...] = ("emulator-key",)
    # When both are set, a subscription to every event type exists from the start.
    webhook_url: str | None = None
    webhook_secret: str | None = None
    # Seconds to wait before each retry of a failed delivery; its length is the retry count.
    webhook_retry_schedule: tuple[float, ...] = (0.5, 2, 5)
    # Seconds one delivery attempt may take before it counts as failed.
    webhook_timeout: float = 5.0
    # Seconds after which PENDING_FULFILLMENT physical cards ship; None ships only on demand.
    fulfilment_delay: float | None = None
    # The URL clients should use, when it differs from the bound address (containers, proxies).
    public_url: str | None = None
    # Seconds the ASA responder has to answer a simulated authorization before it is declined.
    asa_timeout: float = 5.0
