"""Request pipeline: request ids and the request log, API-key auth, injected faults."""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

import falcon

from .errors import LithicError, error_body

if TYPE_CHECKING:
    from .faults import Fault, FaultStore
    from .state import Emulator

logger = logging.getLogger(__name__)

CONTROL_PREFIX = "/_emulator"
# Lithic answers these without an API key.
PUBLIC_PATHS = frozenset({"/v1/status"})


def is_control(req: falcon.Request) -> bool:
    """Tell whether the request is for a test-only `/_emulator` route."""
    return req.path == CONTROL_PREFIX or req.path.startswith(CONTROL_PREFIX + "/")


def status_code(resp: falcon.Response) -> int:
    """Return the response status as an integer."""
    return int(str(resp.status).split(" ", 1)[0])


class RequestLogMiddleware:
    """Gives each request a debugging id and records every API request once answered."""

    def __init__(self, emulator: Emulator):
        self._emulator = emulator

    def process_request(self, req: falcon.Request, resp: falcon.Response) -> None:
        req.context.request_id = str(uuid.uuid4())

    def process_response(
        self, req: falcon.Request, resp: falcon.Response, resource: Any, req_succeeded: bool
    ) -> None:
        if is_control(req):
            return
        self._emulator.request_log.add(
            req.method, req.path, status_code(resp), req.get_header("Idempotency-Key")
        )


class AuthMiddleware:
    """Checks the raw API key in `Authorization`, as Lithic does."""

    def __init__(self, emulator: Emulator):
        self._keys = frozenset(emulator.config.api_keys)

    def process_request(self, req: falcon.Request, resp: falcon.Response) -> None:
        if is_control(req) or req.path in PUBLIC_PATHS:
            return
        key = req.get_header("Authorization")
        if not key:
            raise LithicError(401, "Please provide API key in Authorization header")
        if key not in self._keys:
            raise LithicError(401, "Could not find API key")


def write_fault(req: falcon.Request, resp: falcon.Response, fault: Fault) -> None:
    """Replace whatever the response holds with the fault's status and body."""
    resp.status = fault.status
    resp.media = None
    resp.data = None
    resp.content_type = falcon.MEDIA_JSON
    if fault.body is None:
        resp.text = json.dumps(error_body(req.context.request_id, fault.message()))
    elif isinstance(fault.body, str):
        resp.text = fault.body
    else:
        resp.text = json.dumps(fault.body)
    if fault.status == 429:
        resp.set_header("Retry-After", "1")


class HasFaults(Protocol):
    """What FaultMiddleware needs of its owner: the store of armed faults."""

    faults: FaultStore


class FaultMiddleware:
    """Answers matching API requests with an injected status, before or after processing.

    `skip` tells which requests faults never touch and `write` renders a fault's answer; the
    defaults are Lithic's, and the payment-rail emulator passes its own.
    """

    def __init__(
        self,
        emulator: HasFaults,
        skip: Callable[[falcon.Request], bool] = is_control,
        write: Callable[[falcon.Request, falcon.Response, Fault], None] = write_fault,
    ):
        self._faults = emulator.faults
        self._skip = skip
        self._write = write

    def process_request(self, req: falcon.Request, resp: falcon.Response) -> None:
        req.context.fault = None
        if self._skip(req):
            return
        fault = self._faults.claim(req.method, req.path)
        if fault is None:
            return
        logger.info(
            "injecting fault",
            extra={"method": req.method, "path": req.path, "status": fault.status},
        )
        if fault.when == "after":
            req.context.fault = fault
            return
        if fault.delay:
            time.sleep(fault.delay)
        # NOTE: a fault below 400 only adds latency; the request then runs normally.
        if fault.status < 400:
            return
        self._write(req, resp, fault)
        resp.complete = True

    def process_response(
        self, req: falcon.Request, resp: falcon.Response, resource: Any, req_succeeded: bool
    ) -> None:
        fault = getattr(req.context, "fault", None)
        if fault is None:
            return
        # The request was processed (state changed, events emitted); now answer as if it failed.
        if fault.delay:
            time.sleep(fault.delay)
        if fault.status >= 400:
            self._write(req, resp, fault)
