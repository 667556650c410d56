"""Auth Stream Access: responder enrolment, the ASA secret, and the signed decision call."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import falcon
import requests

from .errors import bad_request
from .util import Body, new_webhook_secret, read_json, svix_id
from .webhooks import sign

if TYPE_CHECKING:
    from .state import Emulator

logger = logging.getLogger(__name__)

RESPONDER_TYPES = ("AUTH_STREAM_ACCESS", "THREE_DS_DECISIONING", "TOKENIZATION_DECISIONING")
# ASA decline results and the transaction result / detailed result each one becomes.
ASA_DECLINES = {
    "AVS_INVALID": ("DECLINED", "ADDRESS_INCORRECT"),
    "CARD_PAUSED": ("CARD_PAUSED", "CARD_PAUSED"),
    "INSUFFICIENT_FUNDS": ("INSUFFICIENT_FUNDS", "INSUFFICIENT_FUNDS"),
    "UNAUTHORIZED_MERCHANT": ("UNAUTHORIZED_MERCHANT", "MERCHANT_NOT_PERMITTED"),
    "VELOCITY_EXCEEDED": ("USER_TRANSACTION_LIMIT", "DECLINED"),
    "DRIVER_NUMBER_INVALID": ("DECLINED", "DRIVER_NUMBER_INVALID"),
    "VEHICLE_NUMBER_INVALID": ("DECLINED", "VEHICLE_NUMBER_INVALID"),
    "SUSPECTED_FRAUD": ("SUSPECTED_FRAUD", "SUSPECTED_FRAUD"),
    "CHALLENGE": ("DECLINED", "CARDHOLDER_CHALLENGED"),
}


@dataclass
class Decision:
    """What the responder decided about one authorization."""

    approved: bool
    result: str = "APPROVED"
    detailed_result: str = "APPROVED"
    approved_amount: int | None = None


def asa_secret(emulator: Emulator) -> str:
    """Return the ASA signing secret, creating it on first use as Lithic does."""
    with emulator.lock:
        if emulator.asa_secret is None:
            emulator.asa_secret = new_webhook_secret()
        return emulator.asa_secret


def ask_responder(emulator: Emulator, url: str, request: dict[str, Any]) -> Decision:
    """POST a CardAuthorization to the ASA responder and read its decision.

    Call without holding the emulator lock: the responder may call the emulator back.
    """
    body = json.dumps(request, separators=(",", ":"))
    secrets_ = [asa_secret(emulator)]
    if emulator.asa_previous_secret:
        secrets_.append(emulator.asa_previous_secret)
    response = None
    # Lithic resends the same request (same token) once after a 5xx or a network failure.
    for attempt in range(2):
        now = datetime.now(UTC)
        msg_id = svix_id("msg")
        headers = {
            "content-type": "application/json",
            "webhook-id": msg_id,
            "webhook-timestamp": str(int(now.timestamp())),
            "webhook-signature": sign(secrets_, msg_id, now, body),
        }
        try:
            response = requests.post(
                url, data=body.encode(), headers=headers, timeout=emulator.config.asa_timeout
            )
        except requests.Timeout:
            logger.info("asa responder timed out", extra={"transaction_token": request["token"]})
            return Decision(False, "DECLINED", "CUSTOMER_ASA_TIMEOUT")
        except requests.RequestException:
            response = None
            if attempt == 0:
                continue
            return Decision(False, "DECLINED", "CUSTOMER_ASA_TIMEOUT")
        if response.status_code >= 500 and attempt == 0:
            continue
        break
    return _read_decision(request, response)


def _read_decision(request: dict[str, Any], response: requests.Response | None) -> Decision:
    if response is None or response.status_code >= 500:
        return Decision(False, "DECLINED", "CUSTOMER_ASA_TIMEOUT")
    try:
        answer = response.json()
    except ValueError:
        answer = None
    if not isinstance(answer, dict) or answer.get("token") != request["token"]:
        return Decision(False, "DECLINED", "MALFORMED_ASA_RESPONSE")
    result = answer.get("result")
    if result == "APPROVED":
        amount = answer.get("approved_amount")
        if amount is not None and (isinstance(amount, bool) or not isinstance(amount, int)):
            return Decision(False, "DECLINED", "MALFORMED_ASA_RESPONSE")
        return Decision(True, approved_amount=amount)
    if not isinstance(result, str):
        return Decision(False, "DECLINED", "MALFORMED_ASA_RESPONSE")
    transaction_result, detailed = ASA_DECLINES.get(result, ("DECLINED", "CUSTOM_ASA_RESULT"))
    return Decision(False, transaction_result, detailed)


class ResponderEndpointsResource:
    """`/v1/responder_endpoints`: enrol (POST), check (GET) and remove (DELETE) responders."""

    def __init__(self, emulator: Emulator):
        self._emulator = emulator

    def _type(self, req: falcon.Request) -> str:
        type_ = req.get_param("type")
        if type_ not in RESPONDER_TYPES:
            raise bad_request(f"type must be one of: {', '.join(RESPONDER_TYPES)}")
        return type_

    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        body = Body(read_json(req))
        type_ = body.str("type", required=True, enum=RESPONDER_TYPES)
        url = body.str("url", required=True)
        if not url.startswith(("http://", "https://")):
            raise bad_request("url must be an absolute http(s) URL")
        with self._emulator.lock:
            self._emulator.responders[type_] = url
        asa_secret(self._emulator)
        resp.media = {"enrolled": True}

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        type_ = self._type(req)
        with self._emulator.lock:
            url = self._emulator.responders.get(type_)
        resp.media = {"enrolled": url is not None, "url": url}

    def on_delete(self, req: falcon.Request, resp: falcon.Response) -> None:
        type_ = self._type(req)
        with self._emulator.lock:
            self._emulator.responders.pop(type_, None)
        resp.media = {}


class AuthStreamSecretResource:
    """`/v1/auth_stream/secret`."""

    def __init__(self, emulator: Emulator):
        self._emulator = emulator

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        resp.media = {"secret": asa_secret(self._emulator)}


class AuthStreamSecretRotateResource:
    """`/v1/auth_stream/secret/rotate`: the old secret keeps signing alongside the new one."""

    def __init__(self, emulator: Emulator):
        self._emulator = emulator

    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        with self._emulator.lock:
            self._emulator.asa_previous_secret = asa_secret(self._emulator)
            self._emulator.asa_secret = new_webhook_secret()
        resp.status = falcon.HTTP_204


def routes(emulator: Emulator) -> list[tuple[str, Any]]:
    """The ASA routes."""
    return [
        ("/v1/responder_endpoints", ResponderEndpointsResource(emulator)),
        ("/v1/auth_stream/secret", AuthStreamSecretResource(emulator)),
        ("/v1/auth_stream/secret/rotate", AuthStreamSecretRotateResource(emulator)),
    ]
