"""POST /webhooks/lithic and /webhooks/rail: verify the Standard-Webhooks signature, dedupe."""

from __future__ import annotations

import logging

import falcon
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

from app.webhooks import service

logger = logging.getLogger(__name__)

SIGNATURE_HEADERS = ("webhook-id", "webhook-timestamp", "webhook-signature")


class WebhookResource:
    """Lithic's events; the payment rail's use the same scheme with their own secret."""

    def __init__(self, secret: str, receive=service.receive) -> None:
        self.webhook = Webhook(secret)
        self.receive = receive

    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        raw = req.bounded_stream.read()
        headers = {name: req.get_header(name) or "" for name in SIGNATURE_HEADERS}
        try:
            # Checks the HMAC over id.timestamp.body and refuses timestamps over 5 minutes off.
            payload = self.webhook.verify(raw, headers)
        except (WebhookVerificationError, ValueError, TypeError) as exc:
            logger.warning(
                "webhook.rejected webhook_id=%s reason=%s", headers["webhook-id"][:64], exc
            )
            raise falcon.HTTPUnauthorized(
                title="Unauthorized", description="webhook signature verification failed"
            ) from None
        if not isinstance(payload, dict):
            raise falcon.HTTPBadRequest(description="the webhook body must be a JSON object")
        is_new = self.receive(headers["webhook-id"], payload)
        resp.media = {"received": True, "duplicate": not is_new}
