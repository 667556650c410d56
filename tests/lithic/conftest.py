"""Fixtures for the Lithic emulator tests: a running emulator, an SDK client, a receiver."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import lithic
import pytest

from app.lithic.emulator.config import EmulatorConfig
from app.lithic.emulator.server import RunningEmulator, start_in_thread
from app.serving import serve_in_thread

API_KEY = "test-key"
WEBHOOK_SECRET = "whsec_zlFsbBZ8Xcodlpcu6NDTdSzZRLSdhkst"
# Short retries keep webhook tests fast.
FAST_RETRIES = (0.05, 0.1)

ADDRESS = {
    "address1": "123 Main Street",
    "city": "New York",
    "country": "USA",
    "postal_code": "10001",
    "state": "NY",
}
SHIPPING_ADDRESS = {
    "first_name": "Janet",
    "last_name": "Yellen",
    "address1": "5 Broad Street",
    "city": "NEW YORK",
    "country": "USA",
    "postal_code": "10001",
    "state": "NY",
}


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
    reply: Callable[[Delivery], tuple[int, Any]] | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)

    def wait_for(self, predicate: Callable[[list[Delivery]], bool], timeout: float = 5.0):
        """Wait until the recorded deliveries satisfy `predicate`; return them."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                snapshot = list(self.deliveries)
            if predicate(snapshot):
                return snapshot
            time.sleep(0.02)
        raise AssertionError(f"receiver timed out; got {len(snapshot)} deliveries")

    def of_type(self, event_type: str) -> list[Delivery]:
        """The deliveries of one event type."""
        with self.lock:
            return [d for d in self.deliveries if d.json().get("event_type") == event_type]


def _start_receiver() -> tuple[Receiver, Callable[[], None]]:
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
        payload: Any = {"ok": status < 300}
        if receiver.reply is not None:
            status, payload = receiver.reply(delivery)
        start_response(f"{status} X", [("Content-Type", "application/json")])
        return [json.dumps(payload).encode()]

    server, thread, url = serve_in_thread(app, "127.0.0.1", 0, "webhook-receiver")
    receiver.url = f"{url}/webhooks"

    def stop() -> None:
        server.shutdown()
        server.server_close()

    return receiver, stop


@pytest.fixture
def make_receiver() -> Iterator[Callable[[], Receiver]]:
    """Start webhook receivers on free local ports; all are stopped after the test."""
    stops: list[Callable[[], None]] = []

    def make() -> Receiver:
        receiver, stop = _start_receiver()
        stops.append(stop)
        return receiver

    yield make
    for stop in stops:
        stop()


@pytest.fixture
def receiver(make_receiver) -> Receiver:
    """A webhook receiver on a free local port."""
    return make_receiver()


@pytest.fixture
def make_emulator() -> Iterator[Callable[..., RunningEmulator]]:
    """Start emulators with chosen settings; all are stopped after the test."""
    running: list[RunningEmulator] = []

    def make(**overrides: Any) -> RunningEmulator:
        settings: dict[str, Any] = {"api_keys": (API_KEY,), "webhook_retry_schedule": FAST_RETRIES}
        settings.update(overrides)
        emulator = start_in_thread(EmulatorConfig(**settings))
        running.append(emulator)
        return emulator

    yield make
    for emulator in running:
        emulator.stop()


@pytest.fixture
def emulator(make_emulator, receiver) -> RunningEmulator:
    """An emulator whose configured subscription points at `receiver`."""
    return make_emulator(webhook_url=receiver.url, webhook_secret=WEBHOOK_SECRET)


@pytest.fixture
def client(emulator: RunningEmulator) -> lithic.Lithic:
    """The official SDK pointed at the emulator, without automatic retries."""
    return lithic.Lithic(api_key=API_KEY, base_url=emulator.url, max_retries=0)


def _individual(government_id: str = "123-45-6789", **overrides: Any) -> dict[str, Any]:
    person = {
        "address": ADDRESS,
        "dob": "1990-05-17",
        "email": "janet@example.com",
        "first_name": "Janet",
        "last_name": "Yellen",
        "government_id": government_id,
        "phone_number": "+12125551234",
    }
    person.update(overrides)
    return person


@pytest.fixture
def api_key() -> str:
    """The API key the emulator fixtures accept."""
    return API_KEY


@pytest.fixture
def individual() -> Callable[..., dict[str, Any]]:
    """Build a KYC individual; its `government_id` picks the sandbox outcome."""
    return _individual


@pytest.fixture
def shipping_address() -> dict[str, str]:
    """A valid card shipping address."""
    return dict(SHIPPING_ADDRESS)


@pytest.fixture
def account_holder(client: lithic.Lithic):
    """An ACCEPTED KYC_BASIC account holder (create response)."""
    return client.account_holders.create(
        individual=_individual(),
        tos_timestamp="2024-01-01T00:00:00Z",
        workflow="KYC_BASIC",
    )
