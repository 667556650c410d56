"""Fixtures for the payment-rail emulator tests: a running rail, an HTTP helper, a receiver."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
import requests

from app.payments.rail_emulator.config import RailConfig
from app.payments.rail_emulator.server import RunningRail, start_in_thread
from app.serving import serve_in_thread

API_KEY = "test-rail-key"
WEBHOOK_SECRET = "whsec_zlFsbBZ8Xcodlpcu6NDTdSzZRLSdhkst"
# Short retries keep webhook tests fast.
FAST_RETRIES = (0.05, 0.1)


@dataclass
class Delivery:
    """One request the receiver got."""

    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        """The body parsed as JSON."""
        return json.loads(self.body)


@dataclass
class Receiver:
    """A local webhook endpoint that records deliveries and answers scripted statuses."""

    url: str
    deliveries: list[Delivery] = field(default_factory=list)
    statuses: list[int] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def wait_for(self, count: int, timeout: float = 5.0) -> list[Delivery]:
        """Wait until at least `count` deliveries arrived; return them all."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                if len(self.deliveries) >= count:
                    return list(self.deliveries)
            time.sleep(0.02)
        raise AssertionError(f"receiver timed out; got {len(self.deliveries)} deliveries")


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    """A webhook receiver on a free local port."""
    receiver = Receiver(url="")

    def app(environ, start_response):
        length = int(environ.get("CONTENT_LENGTH") or 0)
        delivery = Delivery(
            headers={
                key[5:].replace("_", "-").lower(): value
                for key, value in environ.items()
                if key.startswith("HTTP_")
            },
            body=environ["wsgi.input"].read(length),
        )
        with receiver.lock:
            receiver.deliveries.append(delivery)
            status = receiver.statuses.pop(0) if receiver.statuses else 200
        start_response(f"{status} X", [("Content-Type", "application/json")])
        return [b"{}"]

    server, thread, url = serve_in_thread(app, "127.0.0.1", 0, "webhook-receiver")
    receiver.url = f"{url}/webhooks/rail"
    yield receiver
    server.shutdown()
    server.server_close()


@pytest.fixture
def make_rail() -> Iterator[Callable[..., RunningRail]]:
    """Start rail emulators with chosen settings; all are stopped after the test."""
    running: list[RunningRail] = []

    def make(**overrides: Any) -> RunningRail:
        settings: dict[str, Any] = {"api_keys": (API_KEY,), "webhook_retry_schedule": FAST_RETRIES}
        settings.update(overrides)
        rail = start_in_thread(RailConfig(**settings))
        running.append(rail)
        return rail

    yield make
    for rail in running:
        rail.stop()


@pytest.fixture
def rail(make_rail, receiver) -> RunningRail:
    """A rail that settles at once and sends its webhooks to `receiver`."""
    return make_rail(webhook_url=receiver.url, webhook_secret=WEBHOOK_SECRET)


class Api:
    """Raw HTTP access to a rail emulator, checking each answer's status."""

    def __init__(self, url: str, key: str | None = API_KEY):
        self.url = url
        self.headers = {"Authorization": f"Bearer {key}"} if key else {}

    def call(self, method: str, path: str, expect: int = 200, **kwargs: Any) -> Any:
        headers = {**self.headers, **kwargs.pop("headers", {})}
        response = requests.request(method, self.url + path, headers=headers, timeout=5, **kwargs)
        assert response.status_code == expect, response.text
        return response.json() if response.content else None

    def account(self, account_id: str = "acct-1", balance: int = 10_000, **extra: Any) -> Any:
        """Create or overwrite an account through the test route."""
        body = {"id": account_id, "available_balance": balance, **extra}
        return requests.post(f"{self.url}/_rail/accounts", json=body, timeout=5).json()

    def transfer(self, transfer_id: str = "pay-1", amount: int = 2_500, expect: int = 201, **extra):
        """Create (or replay) a transfer from acct-1."""
        body = {
            "id": transfer_id,
            "source_account_id": "acct-1",
            "amount": amount,
            "currency": "USD",
            "description": "Card payment",
            **extra,
        }
        return self.call("POST", "/v1/transfers", expect=expect, json=body)

    def balance(self, account_id: str = "acct-1") -> int:
        return self.call("GET", f"/v1/accounts/{account_id}")["available_balance"]

    def control(self, method: str, path: str, expect: int = 200, **kwargs: Any) -> Any:
        """Call a `/_rail/` test route (no API key)."""
        response = requests.request(method, f"{self.url}/_rail{path}", timeout=5, **kwargs)
        assert response.status_code == expect, response.text
        return response.json() if response.content else None


@pytest.fixture
def api(rail) -> Api:
    """HTTP access to `rail`, with acct-1 holding $100.00."""
    api = Api(rail.url)
    api.account("acct-1", 10_000)
    return api


@pytest.fixture
def api_key() -> str:
    """The API key the rail fixtures accept."""
    return API_KEY


@pytest.fixture
def webhook_secret() -> str:
    """The secret the `rail` fixture signs its webhooks with."""
    return WEBHOOK_SECRET


@pytest.fixture
def make_api() -> Callable[..., Api]:
    """Build HTTP helpers for other rails or keys: `make_api(url, key)`."""
    return Api
