"""The WSGI application: GraphQL, Lithic webhooks and health, behind common middleware."""

from __future__ import annotations

import logging
import uuid

import falcon

from app import db as database
from app.config import Config
from app.graphql.resource import GraphQLResource
from app.logs import context_id
from app.transactions.asa import AsaResource, SecretSource
from app.webhooks import service as webhook_service
from app.webhooks.resource import WebhookResource

logger = logging.getLogger(__name__)


class RequestContext:
    """A request id, a body-size cap and a database connection for every request."""

    def __init__(self, max_body_bytes: int) -> None:
        self.max_body_bytes = max_body_bytes

    def process_request(self, req: falcon.Request, resp: falcon.Response) -> None:
        request_id = req.get_header("X-Request-Id") or str(uuid.uuid4())
        context_id.set(request_id[:64])
        resp.set_header("X-Request-Id", request_id[:64])
        if req.method in ("POST", "PUT", "PATCH"):
            if req.content_length is None:
                # A chunked body has no length and Falcon would read it as empty (falcon#212).
                raise falcon.HTTPLengthRequired(description="send a Content-Length")
            if req.content_length > self.max_body_bytes:
                raise falcon.HTTPContentTooLarge(
                    description=f"the body may not exceed {self.max_body_bytes} bytes"
                )
        database.db.connect(reuse_if_open=True)

    def process_response(self, req, resp, resource, req_succeeded) -> None:
        database.close_connection()
        context_id.set("-")


class HealthResource:
    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        database.db.execute_sql("SELECT 1")
        resp.media = {"status": "ok"}


def _database_unavailable(req, resp, exc, params) -> None:
    logger.error("db.unavailable error=%s", type(exc).__name__)
    raise falcon.HTTPServiceUnavailable(
        description="the database is unavailable; try again", retry_after=1
    )


def _fetch_asa_secret() -> str:
    from app import runtime

    return runtime.current().lithic.request("GET", "/v1/auth_stream/secret")["secret"]


def create_app(config: Config) -> falcon.App:
    """Build the app for an already bootstrapped process."""
    app = falcon.App(middleware=[RequestContext(config.max_body_bytes)])
    app.resp_options.xml_error_serialization = False
    app.add_route("/graphql", GraphQLResource(config))
    app.add_route("/webhooks/lithic", WebhookResource(config.lithic_webhook_secret))
    app.add_route(
        "/webhooks/rail",
        WebhookResource(config.payment_rail_webhook_secret, receive=webhook_service.receive_rail),
    )
    app.add_route("/asa/lithic", AsaResource(config, SecretSource(config, _fetch_asa_secret)))
    app.add_route("/health", HealthResource())
    app.add_error_handler(database.TRANSIENT_DB_ERRORS, _database_unavailable)
    return app
