"""POST /graphql: JSON only, authenticated, limited, with internal errors masked."""

from __future__ import annotations

import json
import logging
import re
import uuid

import falcon
from ariadne import graphql_sync
from ariadne.format_error import format_error
from graphql import GraphQLError

from app.auth import AuthenticationFailed, authenticate
from app.config import Config
from app.errors import DomainError
from app.graphql.limits import DocumentCache, validation_rules
from app.graphql.schema import build_schema

logger = logging.getLogger(__name__)
# Ariadne logs every error, user mistakes included, with the query text (which can carry PII);
# internal errors are logged by format_graphql_error instead.
logging.getLogger("app.graphql.ariadne").setLevel(logging.CRITICAL)


def _unwrap(error: GraphQLError) -> BaseException | None:
    original = error.original_error
    while isinstance(original, GraphQLError) and original.original_error is not None:
        original = original.original_error
    return original


def format_graphql_error(error: GraphQLError, debug: bool = False) -> dict:
    """Domain errors keep their message and code; anything else becomes a generic error with an id.

    Resolver exceptions can carry connection strings or internals (ariadne#113): the client sees
    only an error id, the log has the details under that id.
    """
    formatted = dict(format_error(error, debug=False))
    original = _unwrap(error)
    if isinstance(original, DomainError):
        formatted["message"] = original.message
        formatted["extensions"] = {"code": original.code}
    elif error.path is not None and original is not None and not isinstance(original, GraphQLError):
        error_id = str(uuid.uuid4())
        logger.error(
            "graphql.internal_error error_id=%s path=%s",
            error_id,
            ".".join(map(str, error.path)),
            exc_info=original,
        )
        formatted["message"] = "Internal server error"
        formatted["extensions"] = {"code": "INTERNAL", "errorId": error_id}
    # Field suggestions would reveal the schema to someone probing without introspection.
    formatted["message"] = re.sub(r" Did you mean .*", "", formatted["message"])
    return formatted


class GraphQLResource:
    def __init__(self, config: Config) -> None:
        self.config = config
        self.schema = build_schema()
        self.rules = validation_rules(config.graphql_max_depth, config.graphql_max_cost)
        self.documents = DocumentCache()

    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        if not (req.content_type or "").startswith("application/json"):
            raise falcon.HTTPUnsupportedMediaType(description="send application/json")
        try:
            principal = authenticate(self.config, req.get_header("Authorization"))
        except AuthenticationFailed as exc:
            raise falcon.HTTPUnauthorized(
                title="Unauthorized", description=str(exc), challenges=["Bearer"]
            ) from None
        try:
            data = json.loads(req.bounded_stream.read() or b"null")
        except (ValueError, UnicodeDecodeError):
            raise falcon.HTTPBadRequest(description="the body is not valid JSON") from None
        if not isinstance(data, dict) or not isinstance(data.get("query"), str):
            raise falcon.HTTPBadRequest(description='expected {"query": …, "variables": {…}}')
        if data.get("variables") is not None and not isinstance(data["variables"], dict):
            raise falcon.HTTPBadRequest(description="variables must be an object")

        success, result = graphql_sync(
            self.schema,
            data,
            context_value={"principal": principal, "request": req},
            debug=False,
            introspection=not self.config.is_production,
            error_formatter=format_graphql_error,
            validation_rules=self.rules,
            query_parser=self.documents.parse,
            query_validator=self.documents.validate,
            logger="app.graphql.ariadne",
        )
        resp.media = result
        resp.status = (
            falcon.HTTP_200 if success or result.get("data") is not None else falcon.HTTP_400
        )
