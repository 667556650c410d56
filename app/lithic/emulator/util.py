"""Small helpers shared by the emulator's resources: ids, time, card numbers, body checks."""

from __future__ import annotations

import base64
import json
import re
import secrets
import string
import uuid
from collections.abc import Iterable
from datetime import UTC, date, datetime
from typing import Any

import falcon

from .errors import bad_request

_BASE62 = string.digits + string.ascii_letters
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def new_token() -> str:
    """Return a fresh UUID token, as Lithic uses for most resources."""
    return str(uuid.uuid4())


def svix_id(prefix: str) -> str:
    """Return an id in the Svix style Lithic uses for events and subscriptions (`msg_…`)."""
    return prefix + "_" + "".join(secrets.choice(_BASE62) for _ in range(27))


def new_webhook_secret() -> str:
    """Return a fresh Standard-Webhooks secret (`whsec_` + base64 of 24 random bytes)."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()


def utcnow() -> datetime:
    """Return the current time, timezone-aware in UTC."""
    return datetime.now(UTC)


def iso(value: datetime | None) -> str | None:
    """Format a datetime as RFC 3339 UTC with a `Z` suffix."""
    if value is None:
        return None
    return value.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def parse_time(name: str, value: str | None) -> datetime | None:
    """Parse an RFC 3339 query or body value; naive values are taken as UTC."""
    if value is None or value == "":
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise bad_request(f"{name} must be an RFC 3339 date-time") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed


def parse_date(name: str, value: str | None) -> date | None:
    """Parse a `YYYY-MM-DD` query or body value."""
    if value is None or value == "":
        return None
    try:
        if not _DATE.fullmatch(value):
            raise ValueError(value)
        return date.fromisoformat(value)
    except ValueError:
        raise bad_request(f"{name} must be a date in YYYY-MM-DD format") from None


def is_uuid(value: Any) -> bool:
    """Tell whether `value` is a string holding a UUID."""
    if not isinstance(value, str):
        return False
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


def check_uuid(name: str, value: str) -> str:
    """Return `value` if it is a UUID, else raise the 400 Lithic gives for a malformed token."""
    if not is_uuid(value):
        raise bad_request(f"{name} must be a valid UUID")
    return value


def luhn_check_digit(partial: str) -> str:
    """Return the Luhn check digit that completes `partial`."""
    total = 0
    for index, char in enumerate(reversed(partial)):
        digit = int(char)
        # The check digit will sit to the right, so the rightmost digit here is doubled.
        if index % 2 == 0:
            digit *= 2
            if digit > 9:
                digit -= 9
        total += digit
    return str((10 - total % 10) % 10)


def luhn_valid(number: str) -> bool:
    """Tell whether a digit string passes the Luhn check."""
    return number.isdigit() and luhn_check_digit(number[:-1]) == number[-1]


def random_digits(count: int) -> str:
    """Return `count` random decimal digits."""
    return "".join(secrets.choice(string.digits) for _ in range(count))


def read_json(req: falcon.Request) -> dict[str, Any]:
    """Read a JSON object body; an empty body counts as `{}`."""
    raw = req.bounded_stream.read()
    if not raw or not raw.strip():
        return {}
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise bad_request("Request body must be valid JSON") from None
    if not isinstance(data, dict):
        raise bad_request("Request body must be a JSON object")
    return data


def canonical(data: Any) -> str:
    """Serialize `data` the same way whatever its key order, to compare request bodies."""
    return json.dumps(data, sort_keys=True, separators=(",", ":"))


class Body:
    """Typed, validating access to a JSON object from a request body."""

    def __init__(self, data: dict[str, Any], prefix: str = ""):
        self.data = data
        self.prefix = prefix

    def __contains__(self, name: str) -> bool:
        return name in self.data

    def _name(self, name: str) -> str:
        return f"{self.prefix}{name}"

    def _get(self, name: str, required: bool) -> Any:
        value = self.data.get(name)
        if value is None and required:
            raise bad_request(f"{self._name(name)} is required")
        return value

    def str(
        self,
        name: str,
        *,
        required: bool = False,
        enum: Iterable[str] | None = None,
        min_len: int | None = None,
        max_len: int | None = None,
        default: str | None = None,
    ) -> str | None:
        """Return a string field, checked against an enum and length bounds."""
        value = self._get(name, required)
        if value is None:
            return default
        if not isinstance(value, str):
            raise bad_request(f"{self._name(name)} must be a string")
        if enum is not None and value not in enum:
            allowed = ", ".join(sorted(enum))
            raise bad_request(f"{self._name(name)} must be one of: {allowed}")
        if min_len is not None and len(value) < min_len:
            raise bad_request(f"{self._name(name)} must be at least {min_len} characters")
        if max_len is not None and len(value) > max_len:
            raise bad_request(f"{self._name(name)} must be at most {max_len} characters")
        return value

    def uuid(self, name: str, *, required: bool = False) -> str | None:
        """Return a UUID string field."""
        value = self.str(name, required=required)
        if value is not None:
            check_uuid(self._name(name), value)
        return value

    def int(
        self,
        name: str,
        *,
        required: bool = False,
        minimum: int | None = None,
        default: int | None = None,
    ) -> int | None:
        """Return an integer field (booleans and floats are refused: money is integer cents)."""
        value = self._get(name, required)
        if value is None:
            return default
        if isinstance(value, bool) or not isinstance(value, int):
            raise bad_request(f"{self._name(name)} must be an integer")
        if minimum is not None and value < minimum:
            raise bad_request(f"{self._name(name)} must be greater than or equal to {minimum}")
        return value

    def date(self, name: str, *, required: bool = False) -> date | None:
        """Return a `YYYY-MM-DD` date field."""
        value = self.str(name, required=required)
        return parse_date(self._name(name), value)

    def bool(self, name: str, *, required: bool = False, default: bool | None = None):
        """Return a boolean field."""
        value = self._get(name, required)
        if value is None:
            return default
        if not isinstance(value, bool):
            raise bad_request(f"{self._name(name)} must be a boolean")
        return value

    def obj(self, name: str, *, required: bool = False) -> Body | None:
        """Return a nested object field wrapped in a Body."""
        value = self._get(name, required)
        if value is None:
            return None
        if not isinstance(value, dict):
            raise bad_request(f"{self._name(name)} must be an object")
        return Body(value, prefix=f"{self._name(name)}.")

    def list(self, name: str, *, required: bool = False) -> list[Any] | None:
        """Return an array field."""
        value = self._get(name, required)
        if value is None:
            return None
        if not isinstance(value, list):
            raise bad_request(f"{self._name(name)} must be an array")
        return value

    def str_map(self, name: str) -> dict[str, str | None] | None:
        """Return an object of string values (tags)."""
        value = self._get(name, False)
        if value is None:
            return None
        if not isinstance(value, dict) or not all(
            isinstance(k, str) and (v is None or isinstance(v, str)) for k, v in value.items()
        ):
            raise bad_request(f"{self._name(name)} must be an object of strings")
        return value
