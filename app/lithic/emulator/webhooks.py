"""Signed event delivery to subscriptions, from a background thread, with retries."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import requests
from standardwebhooks import Webhook

from .models import Attempt
from .scheduler import Scheduler
from .util import svix_id, utcnow

if TYPE_CHECKING:
    from .state import Emulator

logger = logging.getLogger(__name__)

# Receivers' answers are kept in attempts for debugging, but only their start.
_RESPONSE_KEEP = 1000


def sign(secrets_: list[str], msg_id: str, timestamp: datetime, body: str) -> str:
    """Return the `webhook-signature` header: one `v1,<sig>` entry per active secret."""
    return " ".join(Webhook(secret).sign(msg_id, timestamp, body) for secret in secrets_)


class WebhookDispatcher:
    """Delivers events one at a time on its own thread; failures are retried on a schedule."""

    def __init__(self, emulator: Emulator):
        self._emulator = emulator
        self._scheduler = Scheduler("lithic-emulator-webhooks")
        self._session = requests.Session()
        # Bumped by clear(), so a delivery queued before a reset is dropped.
        self._generation = 0

    def enqueue(self, event_token: str, subscription_token: str, delay: float = 0.0) -> None:
        """Queue the first attempt (or a manual resend) of one event to one subscription."""
        self._schedule(event_token, subscription_token, 0, delay)

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

    def _schedule(self, event_token: str, subscription_token: str, attempt: int, delay: float):
        generation = self._generation
        self._scheduler.call_later(
            delay, lambda: self._deliver(event_token, subscription_token, attempt, generation)
        )

    def _deliver(self, event_token: str, subscription_token: str, attempt: int, generation: int):
        emulator = self._emulator
        with emulator.lock:
            if generation != self._generation:
                return
            event = emulator.events.get(event_token)
            subscription = emulator.subscriptions.get(subscription_token)
            # A subscription deleted or disabled since the event was queued gets nothing more.
            if event is None or subscription is None or subscription.disabled:
                return
            url = subscription.url
            active = [subscription.secret]
            if subscription.previous_secret and subscription.previous_until:
                if subscription.previous_until > utcnow():
                    active.append(subscription.previous_secret)
            body = json.dumps(event.delivery_body(), separators=(",", ":"))
            record = Attempt(
                token=svix_id("atmpt"),
                seq=emulator.next_seq(),
                created=utcnow(),
                event_subscription_token=subscription_token,
                event_token=event_token,
                url=url,
                status="SENDING",
            )
            emulator.attempts[record.token] = record

        # The webhook id is the event token: the same on every retry, so receivers can dedupe.
        now = datetime.now(UTC)
        headers = {
            "content-type": "application/json",
            "user-agent": "lithic-emulator",
            "webhook-id": event_token,
            "webhook-timestamp": str(int(now.timestamp())),
            "webhook-signature": sign(active, event_token, now, body),
        }
        try:
            response = self._session.post(
                url, data=body.encode(), headers=headers, timeout=emulator.config.webhook_timeout
            )
            status_code, text = response.status_code, response.text[:_RESPONSE_KEEP]
        except requests.RequestException as exc:
            status_code, text = 0, type(exc).__name__
        ok = 200 <= status_code < 300

        with emulator.lock:
            record.status = "SUCCESS" if ok else "FAILED"
            record.response_status_code = status_code
            record.response = text
        if ok:
            logger.debug("webhook delivered", extra={"event_token": event_token})
            return

        schedule = emulator.config.webhook_retry_schedule
        if attempt < len(schedule) and generation == self._generation:
            logger.info(
                "webhook delivery failed, will retry",
                extra={"event_token": event_token, "status_code": status_code, "attempt": attempt},
            )
            self._schedule(event_token, subscription_token, attempt + 1, schedule[attempt])
        else:
            logger.warning(
                "webhook delivery failed, giving up",
                extra={"event_token": event_token, "status_code": status_code, "attempt": attempt},
            )
