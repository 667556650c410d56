"""Lithic cursor pagination: newest first, `page_size`, `starting_after`, `ending_before`."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from typing import Any, Protocol, TypeVar

from .errors import bad_request
from .util import parse_time

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 100


class Record(Protocol):
    """What a paginated record offers: its token, a global sequence number and a creation time."""

    token: str
    seq: int
    created: datetime


R = TypeVar("R", bound=Record)


def page_size(params: Mapping[str, str], name: str = "page_size") -> int:
    """Parse the page size parameter (1..100, default 50)."""
    raw = params.get(name)
    if raw is None or raw == "":
        return DEFAULT_PAGE_SIZE
    try:
        value = int(raw)
    except ValueError:
        raise bad_request(f"{name} must be an integer") from None
    if not 1 <= value <= MAX_PAGE_SIZE:
        raise bad_request(f"{name} must be between 1 and {MAX_PAGE_SIZE}")
    return value


def in_time_range(params: Mapping[str, str]) -> Callable[[Record], bool]:
    """Build a filter for the `begin` (inclusive) and `end` (exclusive) parameters."""
    begin = parse_time("begin", params.get("begin"))
    end = parse_time("end", params.get("end"))

    def keep(record: Record) -> bool:
        if begin is not None and record.created < begin:
            return False
        return not (end is not None and record.created >= end)

    return keep


def paginate(
    records: Iterable[R],
    params: Mapping[str, str],
    lookup: Callable[[str], Record | None],
    render: Callable[[R], dict[str, Any]],
    size_param: str = "page_size",
) -> dict[str, Any]:
    """Return one `{data, has_more}` page of `records` (already filtered) per the cursors."""
    size = page_size(params, size_param)
    starting_after = params.get("starting_after") or None
    ending_before = params.get("ending_before") or None
    if starting_after and ending_before:
        raise bad_request("Only one of starting_after and ending_before may be provided")

    keep = in_time_range(params)
    newest_first = sorted((r for r in records if keep(r)), key=lambda r: r.seq, reverse=True)

    # NOTE: the cursor is located by its sequence number, not by its position in the filtered
    # list, so a cursor item that no longer matches the filters still pages correctly.
    if starting_after:
        cursor = _cursor(lookup, "starting_after", starting_after)
        older = [r for r in newest_first if r.seq < cursor.seq]
        page, has_more = older[:size], len(older) > size
    elif ending_before:
        cursor = _cursor(lookup, "ending_before", ending_before)
        newer = [r for r in newest_first if r.seq > cursor.seq]
        page, has_more = newer[-size:], len(newer) > size
    else:
        page, has_more = newest_first[:size], len(newest_first) > size

    return {"data": [render(r) for r in page], "has_more": has_more}


def _cursor(lookup: Callable[[str], Record | None], name: str, token: str) -> Record:
    record = lookup(token)
    if record is None:
        raise bad_request(f"{name} does not refer to an existing item")
    return record
