"""Logging: static event names, ids as fields, the request or message id on every line."""

from __future__ import annotations

import contextvars
import logging
import os

context_id: contextvars.ContextVar[str] = contextvars.ContextVar("context_id", default="-")


class _ContextFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.context_id = context_id.get()
        return True


def configure_logging(level: str | None = None) -> None:
    """Log to stderr with the request or message id; safe to call more than once."""
    root = logging.getLogger()
    if any(getattr(h, "_ccs", False) for h in root.handlers):
        return
    if root.handlers:
        # A host set logging up already (the dramatiq CLI): keep its handlers, add our ids.
        for existing in root.handlers:
            existing.addFilter(_ContextFilter())
            existing._ccs = True  # type: ignore[attr-defined]
        logging.getLogger("pika").setLevel(logging.CRITICAL)
        return
    handler = logging.StreamHandler()
    handler._ccs = True  # type: ignore[attr-defined]
    handler.addFilter(_ContextFilter())
    handler.setFormatter(
        logging.Formatter("%(asctime)s %(levelname)s %(name)s [%(context_id)s] %(message)s")
    )
    root.addHandler(handler)
    root.setLevel(level or os.environ.get("LOG_LEVEL", "INFO"))
    # pika logs whole frames at DEBUG and reconnect noise at ERROR; ours say what matters.
    logging.getLogger("pika").setLevel(logging.CRITICAL)
