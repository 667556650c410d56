"""Test-only fault injection and the log of received requests."""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass
from typing import Any

from .errors import bad_request
from .util import Body, iso, utcnow

# Messages Lithic sends with these statuses; used when a fault gives no body of its own.
DEFAULT_MESSAGES = {
    400: "Invalid request.",
    401: "Could not find API key",
    403: "Forbidden.",
    404: "The specified resource was not found.",
    409: "Conflict with the current state of the resource.",
    422: "Unprocessable entity.",
    429: "Rate limited, too many requests per second",
    500: "Internal server error.",
    502: "Bad gateway.",
    503: "Service unavailable.",
    504: "Gateway timeout.",
}


@dataclass
class Fault:
    """The next `count` requests matching `method` and `path` get `status` instead."""

    method: str
    path: re.Pattern[str]
    status: int
    count: int
    when: str
    delay: float
    body: Any = None

    def message(self) -> str:
        """The message of the Lithic error body sent for this fault."""
        return DEFAULT_MESSAGES.get(self.status, "Injected fault.")

    def to_json(self) -> dict[str, Any]:
        """The fault as shown by `GET /_emulator/faults`."""
        return {
            "method": self.method,
            "path": self.path.pattern,
            "status": self.status,
            "count": self.count,
            "when": self.when,
            "delay": self.delay,
            "body": self.body,
        }


def parse_fault(data: dict[str, Any]) -> Fault:
    """Validate a `POST /_emulator/faults` body."""
    body = Body(data)
    pattern = body.str("path", default=".*")
    try:
        compiled = re.compile(pattern)
    except re.error:
        raise bad_request("path must be a valid regular expression") from None
    delay = data.get("delay", 0.0)
    if isinstance(delay, bool) or not isinstance(delay, int | float) or delay < 0:
        raise bad_request("delay must be a non-negative number")
    return Fault(
        method=(body.str("method", default="*") or "*").upper(),
        path=compiled,
        status=body.int("status", default=500, minimum=100),
        count=body.int("count", default=1, minimum=1),
        when=body.str("when", default="before", enum=("before", "after")),
        delay=float(delay),
        body=data.get("body"),
    )


class FaultStore:
    """Armed faults; each matching request uses up one count."""

    def __init__(self):
        self._lock = threading.Lock()
        self._faults: list[Fault] = []

    def add(self, fault: Fault) -> None:
        """Arm a fault."""
        with self._lock:
            self._faults.append(fault)

    def clear(self) -> None:
        """Disarm every fault."""
        with self._lock:
            self._faults.clear()

    def list(self) -> list[dict[str, Any]]:
        """Return the armed faults."""
        with self._lock:
            return [fault.to_json() for fault in self._faults]

    def claim(self, method: str, path: str) -> Fault | None:
        """Use up one count of the first fault matching this request, if any."""
        with self._lock:
            for fault in self._faults:
                if fault.method not in ("*", method) or not fault.path.search(path):
                    continue
                fault.count -= 1
                if fault.count <= 0:
                    self._faults.remove(fault)
                return fault
        return None


class RequestLog:
    """What the emulator received: method, path, status, idempotency key, time. No bodies."""

    def __init__(self):
        self._lock = threading.Lock()
        self._entries: list[dict[str, Any]] = []

    def add(self, method: str, path: str, status: int, idempotency_key: str | None) -> None:
        """Record one answered request."""
        entry = {
            "method": method,
            "path": path,
            "status": status,
            "idempotency_key": idempotency_key,
            "at": iso(utcnow()),
        }
        with self._lock:
            self._entries.append(entry)

    def list(self) -> list[dict[str, Any]]:
        """Return the log, oldest first."""
        with self._lock:
            return [dict(entry) for entry in self._entries]

    def clear(self) -> None:
        """Empty the log."""
        with self._lock:
            self._entries.clear()
