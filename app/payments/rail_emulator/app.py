"""The rail emulator's WSGI app: `create_app(config)` wires its API and `/_rail/` test routes."""

from __future__ import annotations

import hmac
import json
import logging
from typing import Any

import falcon

from app.lithic.emulator.errors import LithicError
from app.lithic.emulator.faults import Fault, parse_fault
from app.lithic.emulator.middleware import FaultMiddleware, status_code
from app.lithic.emulator.util import read_json

from .config import RailConfig
from .state import Rail, RailError

__all__ = ["Rail", "RailApp", "RailConfig", "create_app"]

logger = logging.getLogger(__name__)

CONTROL_PREFIX = "/_rail"
# The `code` of an injected fault's body, by status.
FAULT_CODES = {
    400: "INVALID_REQUEST",
    401: "UNAUTHORIZED",
    403: "FORBIDDEN",
    404: "NOT_FOUND",
    409: "CONFLICT",
    429: "RATE_LIMITED",
    500: "INTERNAL_ERROR",
    502: "BAD_GATEWAY",
    503: "SERVICE_UNAVAILABLE",
    504: "GATEWAY_TIMEOUT",
}


class RailApp(falcon.App):
    """A falcon App that also carries its `rail` state (falcon.App itself has slots)."""

    rail: Rail


def is_control(req: falcon.Request) -> bool:
    """Tell whether the request is for a test-only `/_rail` route."""
    return req.path == CONTROL_PREFIX or req.path.startswith(CONTROL_PREFIX + "/")


def error_body(message: str, code: str) -> dict[str, str]:
    """Build the JSON body of every rail error."""
    return {"error": message, "code": code}


def write_fault(req: falcon.Request, resp: falcon.Response, fault: Fault) -> None:
    """Replace whatever the response holds with the fault's status and a rail error body."""
    resp.status = fault.status
    resp.media = None
    resp.data = None
    resp.content_type = falcon.MEDIA_JSON
    if fault.body is None:
        code = FAULT_CODES.get(fault.status, "INJECTED_FAULT")
        resp.text = json.dumps(error_body(fault.message(), code))
    elif isinstance(fault.body, str):
        resp.text = fault.body
    else:
        resp.text = json.dumps(fault.body)
    if fault.status == 429:
        resp.set_header("Retry-After", "1")


class RequestLogMiddleware:
    """Records every API request once answered: method, path, status, time; no bodies."""

    def __init__(self, rail: Rail):
        self._rail = rail

    def process_response(
        self, req: falcon.Request, resp: falcon.Response, resource: Any, req_succeeded: bool
    ) -> None:
        if not is_control(req):
            self._rail.request_log.add(req.method, req.path, status_code(resp), None)


class AuthMiddleware:
    """Checks `Authorization: Bearer <key>` on the API (the `/_rail/` routes need none)."""

    def __init__(self, rail: Rail):
        self._keys = tuple(key.encode() for key in rail.config.api_keys)

    def process_request(self, req: falcon.Request, resp: falcon.Response) -> None:
        if is_control(req):
            return
        header = req.get_header("Authorization") or ""
        scheme, _, key = header.partition(" ")
        if scheme.lower() != "bearer" or not key.strip():
            raise RailError(401, "UNAUTHORIZED", "Send the API key as Authorization: Bearer <key>.")
        given = key.strip().encode()
        # Every key is compared, in constant time, so the answer's timing tells nothing.
        if not any([hmac.compare_digest(given, known) for known in self._keys]):
            raise RailError(401, "UNAUTHORIZED", "Unknown API key.")


def _rail_error(req: falcon.Request, resp: falcon.Response, ex: RailError, params: Any) -> None:
    resp.status = ex.status
    resp.media = error_body(ex.message, ex.code)


def _validation_error(req: falcon.Request, resp: falcon.Response, ex: LithicError, params: Any):
    # The shared helpers (JSON body, fault body) raise the Lithic emulator's 400s.
    resp.status = ex.status
    resp.media = error_body(ex.message, "INVALID_REQUEST")


def _http_error(req: falcon.Request, resp: falcon.Response, ex: falcon.HTTPError, params: Any):
    codes = {404: ("NOT_FOUND", "No such route."), 405: ("METHOD_NOT_ALLOWED", "Wrong method.")}
    code, message = codes.get(ex.status_code, ("INVALID_REQUEST", ex.title or "Error"))
    resp.status = ex.status
    if ex.headers:
        resp.set_headers(ex.headers)
    resp.media = error_body(message, code)


def _unexpected_error(req: falcon.Request, resp: falcon.Response, ex: Exception, params: Any):
    logger.exception("unhandled rail emulator error", extra={"path": req.path})
    resp.status = falcon.HTTP_500
    resp.media = error_body("Internal server error.", "INTERNAL_ERROR")


class AccountResource:
    """`/v1/accounts/{account_id}`."""

    def __init__(self, rail: Rail):
        self._rail = rail

    def on_get(self, req: falcon.Request, resp: falcon.Response, account_id: str) -> None:
        with self._rail.lock:
            resp.media = self._rail.get_account(account_id).to_json()


class TransfersResource:
    """`/v1/transfers`: create a transfer (201), or replay one by its id (200)."""

    def __init__(self, rail: Rail):
        self._rail = rail

    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        transfer, created = self._rail.create_transfer(read_json(req))
        with self._rail.lock:
            resp.media = transfer.to_json()
        resp.status = falcon.HTTP_201 if created else falcon.HTTP_200


class TransferResource:
    """`/v1/transfers/{transfer_id}`."""

    def __init__(self, rail: Rail):
        self._rail = rail

    def on_get(self, req: falcon.Request, resp: falcon.Response, transfer_id: str) -> None:
        with self._rail.lock:
            resp.media = self._rail.get_transfer(transfer_id).to_json()


class ControlAccountsResource:
    """`/_rail/accounts`: create (201) or overwrite (200) an account."""

    def __init__(self, rail: Rail):
        self._rail = rail

    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        account, created = self._rail.put_account(read_json(req))
        resp.media = account.to_json()
        resp.status = falcon.HTTP_201 if created else falcon.HTTP_200


class ControlTransferActionResource:
    """`/_rail/transfers/{transfer_id}/{settle,return,fail}`: move a transfer on now."""

    def __init__(self, rail: Rail, action: str):
        self._rail = rail
        self._action = action

    def on_post(self, req: falcon.Request, resp: falcon.Response, transfer_id: str) -> None:
        data = read_json(req)
        rail = self._rail
        if self._action == "settle":
            transfer = rail.settle(transfer_id)
        elif self._action == "return":
            transfer = rail.return_transfer(transfer_id, data)
        else:
            transfer = rail.fail(transfer_id, data)
        with rail.lock:
            resp.media = transfer.to_json()


class ControlFaultsResource:
    """`/_rail/faults`: arm (POST), list (GET) and clear (DELETE) injected faults."""

    def __init__(self, rail: Rail):
        self._rail = rail

    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        fault = parse_fault(read_json(req))
        self._rail.faults.add(fault)
        resp.media = fault.to_json()
        resp.status = falcon.HTTP_201

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        resp.media = {"data": self._rail.faults.list()}

    def on_delete(self, req: falcon.Request, resp: falcon.Response) -> None:
        self._rail.faults.clear()
        resp.status = falcon.HTTP_204


class ControlRequestsResource:
    """`/_rail/requests`: the log of API requests received (no bodies)."""

    def __init__(self, rail: Rail):
        self._rail = rail

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        # The shared log also has a slot for an idempotency key, which this API does not use.
        resp.media = [
            {name: value for name, value in entry.items() if name != "idempotency_key"}
            for entry in self._rail.request_log.list()
        ]

    def on_delete(self, req: falcon.Request, resp: falcon.Response) -> None:
        self._rail.request_log.clear()
        resp.status = falcon.HTTP_204


class ControlResetResource:
    """`/_rail/reset`: empty all state, faults, the request log and queued work."""

    def __init__(self, rail: Rail):
        self._rail = rail

    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        self._rail.reset()
        resp.status = falcon.HTTP_204


class ControlWebhooksWaitResource:
    """`/_rail/webhooks/wait`: block until no webhook is queued or in flight."""

    def __init__(self, rail: Rail):
        self._rail = rail

    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        timeout = read_json(req).get("timeout", 10)
        if isinstance(timeout, bool) or not isinstance(timeout, int | float) or timeout < 0:
            raise RailError(400, "INVALID_REQUEST", "timeout must be a non-negative number")
        resp.media = {"idle": self._rail.webhooks.wait_idle(float(timeout))}


def create_app(config: RailConfig, rail: Rail | None = None) -> RailApp:
    """Build the WSGI app; its state is `app.rail` (a new Rail unless one is given)."""
    rail = rail or Rail(config)
    app = RailApp(
        middleware=[
            # Order matters: the request log must see the final status, after faults.
            RequestLogMiddleware(rail),
            AuthMiddleware(rail),
            FaultMiddleware(rail, skip=is_control, write=write_fault),
        ]
    )
    app.rail = rail
    app.req_options.strip_url_path_trailing_slash = True
    app.add_error_handler(Exception, _unexpected_error)
    app.add_error_handler(falcon.HTTPError, _http_error)
    app.add_error_handler(LithicError, _validation_error)
    app.add_error_handler(RailError, _rail_error)
    transfer = "/_rail/transfers/{transfer_id}"
    routes: list[tuple[str, Any]] = [
        ("/v1/accounts/{account_id}", AccountResource(rail)),
        ("/v1/transfers", TransfersResource(rail)),
        ("/v1/transfers/{transfer_id}", TransferResource(rail)),
        ("/_rail/accounts", ControlAccountsResource(rail)),
        (transfer + "/settle", ControlTransferActionResource(rail, "settle")),
        (transfer + "/return", ControlTransferActionResource(rail, "return")),
        (transfer + "/fail", ControlTransferActionResource(rail, "fail")),
        ("/_rail/faults", ControlFaultsResource(rail)),
        ("/_rail/requests", ControlRequestsResource(rail)),
        ("/_rail/reset", ControlResetResource(rail)),
        ("/_rail/webhooks/wait", ControlWebhooksWaitResource(rail)),
    ]
    for path, resource in routes:
        app.add_route(path, resource)
    return app
