"""Signed transfer webhooks, sent from a background thread and retried on a schedule."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import requests

from app.lithic.emulator.scheduler import Scheduler
from app.lithic.emulator.util import svix_id
from app.lithic.emulator.webhooks import sign

if TYPE_CHECKING:
    from .config import RailConfig

logger = logging.getLogger(__name__)


class RailWebhooks:
    """Delivers `{type, transfer}` bodies one at a time; failures are retried on a schedule."""

    def __init__(self, config: RailConfig):
        self._config = config
        self._scheduler = Scheduler("rail-emulator-webhooks")
        self._session = requests.Session()
        # Bumped by clear(), so a retry queued before a reset is dropped.
        self._generation = 0

    @property
    def enabled(self) -> bool:
        """Tell whether a receiver and a signing secret are configured."""
        return bool(self._config.webhook_url and self._config.webhook_secret)

    def send(self, event_type: str, transfer: dict[str, Any]) -> str | None:
        """Queue one webhook; return its id (the same on every retry), or None if disabled."""
        if not self.enabled:
            return None
        webhook_id = svix_id("msg")
        body = json.dumps({"type": event_type, "transfer": transfer}, separators=(",", ":"))
        generation = self._generation
        self._scheduler.call_later(
            0, lambda: self._deliver(webhook_id, event_type, body, 0, generation)
        )
        return webhook_id

    def clear(self) -> None:
        """Forget every queued delivery."""
        self._generation += 1
        self._scheduler.clear()

    def wait_idle(self, timeout: float = 10.0) -> bool:
        """Wait until no delivery is queued or in flight (retries included)."""
        return self._scheduler.wait_idle(timeout)

    def stop(self) -> None:
        """Stop the delivery thread."""
        self._scheduler.stop()
        self._session.close()

    def _deliver(self, webhook_id: str, event_type: str, body: str, attempt: int, generation):
        if generation != self._generation:
            return
        config = self._config
        # Signed afresh on each attempt (the timestamp is part of what is signed).
        now = datetime.now(UTC)
        headers = {
            "content-type": "application/json",
            "user-agent": "payment-rail-emulator",
            "webhook-id": webhook_id,
            "webhook-timestamp": str(int(now.timestamp())),
            "webhook-signature": sign([config.webhook_secret or ""], webhook_id, now, body),
        }
        try:
            response = self._session.post(
                config.webhook_url or "",
                data=body.encode(),
                headers=headers,
                timeout=config.webhook_timeout,
            )
            status_code = response.status_code
        except requests.RequestException:
            status_code = 0
        log = {"webhook_id": webhook_id, "type": event_type, "status_code": status_code}
        if 200 <= status_code < 300:
            logger.debug("rail webhook delivered", extra=log)
            return
        schedule = config.webhook_retry_schedule
        if attempt < len(schedule) and generation == self._generation:
            logger.info("rail webhook failed, will retry", extra={**log, "attempt": attempt})
            self._scheduler.call_later(
                schedule[attempt],
                lambda: self._deliver(webhook_id, event_type, body, attempt + 1, generation),
            )
        else:
            logger.warning("rail webhook failed, giving up", extra={**log, "attempt": attempt})
