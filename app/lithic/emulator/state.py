"""The emulator's in-memory state, shared by all request threads behind one lock."""

from __future__ import annotations

import copy
import itertools
import logging
import threading
from collections.abc import Callable
from typing import Any

from .config import EmulatorConfig
from .errors import unprocessable
from .faults import FaultStore, RequestLog
from .models import Account, AccountHolder, Attempt, Card, Event, FinancialAccount, Subscription
from .scheduler import Scheduler
from .util import canonical, svix_id, utcnow
from .webhooks import WebhookDispatcher

logger = logging.getLogger(__name__)

# The subscription made from the configuration keeps this token across resets.
CONFIGURED_SUBSCRIPTION_TOKEN = "ep_emulatorconfiguredsubscription"


class Emulator:
    """Everything the emulator knows; mutate only while holding `lock`."""

    def __init__(self, config: EmulatorConfig):
        self.config = config
        self.lock = threading.RLock()
        self.bound_url: str | None = None
        self._seq = itertools.count(1)
        self.faults = FaultStore()
        self.request_log = RequestLog()
        self.timers = Scheduler("lithic-emulator-timers")
        self.webhooks = WebhookDispatcher(self)
        self._clear()
        self._add_configured_subscription()

    # -- lifecycle -------------------------------------------------------------------------

    def _clear(self) -> None:
        self.account_holders: dict[str, AccountHolder] = {}
        self.accounts: dict[str, Account] = {}
        self.financial_accounts: dict[str, FinancialAccount] = {}
        self.cards: dict[str, Card] = {}
        self.cards_by_pan: dict[str, str] = {}
        self.events: dict[str, Event] = {}
        self.subscriptions: dict[str, Subscription] = {}
        self.attempts: dict[str, Attempt] = {}
        self.idempotency: dict[tuple[str, str], tuple[str, int, Any]] = {}
        self.transactions: dict[str, Any] = {}
        self.external_payments: dict[str, Any] = {}
        self.statements: dict[str, Any] = {}
        # Running totals per financial account (statements.Ledger): what each one owes.
        self.ledgers: dict[str, Any] = {}
        # Responder endpoints by type (AUTH_STREAM_ACCESS, ...) and the ASA signing secret.
        self.responders: dict[str, str] = {}
        self.asa_secret: str | None = None
        self.asa_previous_secret: str | None = None

    def _add_configured_subscription(self) -> None:
        if not (self.config.webhook_url and self.config.webhook_secret):
            return
        self.subscriptions[CONFIGURED_SUBSCRIPTION_TOKEN] = Subscription(
            token=CONFIGURED_SUBSCRIPTION_TOKEN,
            seq=self.next_seq(),
            created=utcnow(),
            url=self.config.webhook_url,
            secret=self.config.webhook_secret,
            description="Configured at emulator start",
        )

    def reset(self) -> None:
        """Empty all state; the configuration and its subscription stay."""
        with self.lock:
            self.webhooks.clear()
            self.timers.clear()
            self.faults.clear()
            self.request_log.clear()
            self._clear()
            self._add_configured_subscription()
        logger.info("emulator state reset")

    def close(self) -> None:
        """Stop the background threads."""
        self.webhooks.stop()
        self.timers.stop()

    @property
    def public_url(self) -> str | None:
        """The URL clients should use: the configured one, else the bound address."""
        return self.config.public_url or self.bound_url

    # -- shared helpers --------------------------------------------------------------------

    def next_seq(self) -> int:
        """Return the next global sequence number (orders every list newest first)."""
        return next(self._seq)

    def emit(self, event_type: str, payload: dict[str, Any]) -> Event:
        """Record an event and queue its delivery to every subscription that wants it."""
        with self.lock:
            event = Event(
                token=svix_id("msg"),
                seq=self.next_seq(),
                created=utcnow(),
                event_type=event_type,
                payload=copy.deepcopy(payload),
            )
            self.events[event.token] = event
            for subscription in self.subscriptions.values():
                if subscription.wants(event_type):
                    self.webhooks.enqueue(event.token, subscription.token)
        logger.debug("event emitted", extra={"event_type": event_type, "event_token": event.token})
        return event

    def idempotent(
        self, scope: str, key: str | None, body: dict[str, Any], create: Callable[[], Any]
    ) -> Any:
        """Run `create` once per idempotency key; replay its result for the same body."""
        with self.lock:
            if key is None:
                return create()
            fingerprint = canonical(body)
            seen = self.idempotency.get((scope, key))
            if seen is not None:
                if seen[0] != fingerprint:
                    raise unprocessable(
                        "Idempotency-Key has already been used with a different request body"
                    )
                return copy.deepcopy(seen[2])
            # A refused request raises here and stores nothing, so its key stays free to retry.
            result = create()
            self.idempotency[(scope, key)] = (fingerprint, 200, copy.deepcopy(result))
            return result
