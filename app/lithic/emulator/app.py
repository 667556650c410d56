"""The emulator's WSGI app: `create_app(config)` wires Lithic's routes to the shared state."""

from __future__ import annotations

import logging
from typing import Any

import falcon

from . import accounts, cards, control, events, financial_accounts
from .config import EmulatorConfig
from .errors import LithicError, error_body
from .middleware import AuthMiddleware, FaultMiddleware, RequestLogMiddleware
from .state import Emulator

__all__ = ["Emulator", "EmulatorApp", "EmulatorConfig", "create_app"]

logger = logging.getLogger(__name__)


class EmulatorApp(falcon.App):
    """A falcon App that also carries its `emulator` state (falcon.App itself has slots)."""

    emulator: Emulator


def _request_id(req: falcon.Request) -> str:
    return getattr(req.context, "request_id", "00000000-0000-0000-0000-000000000000")


def _lithic_error(req: falcon.Request, resp: falcon.Response, ex: LithicError, params: Any):
    resp.status = ex.status
    resp.media = error_body(_request_id(req), ex.message)
    for name, value in ex.headers.items():
        resp.set_header(name, value)


def _http_error(req: falcon.Request, resp: falcon.Response, ex: falcon.HTTPError, params: Any):
    # Falcon's own errors (unknown route, wrong method) get Lithic's error shape as well.
    messages = {404: "The specified resource was not found.", 405: "Method not allowed."}
    resp.status = ex.status
    if ex.headers:
        resp.set_headers(ex.headers)
    message = messages.get(ex.status_code) or ex.description or ex.title or "Error"
    resp.media = error_body(_request_id(req), message)


def _unexpected_error(req: falcon.Request, resp: falcon.Response, ex: Exception, params: Any):
    logger.exception("unhandled emulator error", extra={"path": req.path})
    resp.status = falcon.HTTP_500
    resp.media = error_body(_request_id(req), "Internal server error.")


class StatusResource:
    """`/v1/status` (no API key needed)."""

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        resp.media = {"message": "OK"}


def _add_routes(app: falcon.App, emulator: Emulator) -> None:
    from . import asa, external_payments, statements, transactions

    routes: list[tuple[str, Any]] = [
        ("/v1/status", StatusResource()),
        ("/v1/account_holders", accounts.AccountHoldersResource(emulator)),
        ("/v1/account_holders/{account_holder_token}", accounts.AccountHolderResource(emulator)),
        (
            "/v1/simulate/account_holders/enrollment_review",
            accounts.EnrollmentReviewResource(emulator),
        ),
        ("/v1/accounts", accounts.AccountsResource(emulator)),
        ("/v1/accounts/{account_token}", accounts.AccountResource(emulator)),
        (
            "/v1/accounts/{account_token}/spend_limits",
            accounts.AccountSpendLimitsResource(emulator),
        ),
        ("/v1/financial_accounts", financial_accounts.FinancialAccountsResource(emulator)),
        (
            "/v1/financial_accounts/{financial_account_token}",
            financial_accounts.FinancialAccountResource(emulator),
        ),
        (
            "/v1/financial_accounts/{financial_account_token}/credit_configuration",
            financial_accounts.CreditConfigurationResource(emulator),
        ),
        (
            "/v1/financial_accounts/{financial_account_token}/update_status",
            financial_accounts.FinancialAccountStatusResource(emulator),
        ),
        ("/v1/cards", cards.CardsResource(emulator)),
        ("/v1/cards/search_by_pan", cards.CardSearchResource(emulator)),
        ("/v1/cards/{card_token}", cards.CardResource(emulator)),
        ("/v1/cards/{card_token}/reissue", cards.CardActionResource(emulator, cards.reissue_card)),
        ("/v1/cards/{card_token}/renew", cards.CardActionResource(emulator, cards.renew_card)),
        (
            "/v1/cards/{card_token}/convert_physical",
            cards.CardActionResource(emulator, cards.convert_to_physical),
        ),
        ("/v1/cards/{card_token}/spend_limits", cards.CardSpendLimitsResource(emulator)),
        ("/v1/event_subscriptions", events.SubscriptionsResource(emulator)),
        (
            "/v1/event_subscriptions/{event_subscription_token}",
            events.SubscriptionResource(emulator),
        ),
        (
            "/v1/event_subscriptions/{event_subscription_token}/secret",
            events.SubscriptionSecretResource(emulator),
        ),
        (
            "/v1/event_subscriptions/{event_subscription_token}/secret/rotate",
            events.SubscriptionSecretRotateResource(emulator),
        ),
        (
            "/v1/event_subscriptions/{event_subscription_token}/attempts",
            events.SubscriptionAttemptsResource(emulator),
        ),
        (
            "/v1/event_subscriptions/{event_subscription_token}/recover",
            events.SubscriptionRedeliveryResource(emulator, failed_only=True),
        ),
        (
            "/v1/event_subscriptions/{event_subscription_token}/replay_missing",
            events.SubscriptionRedeliveryResource(emulator, failed_only=False),
        ),
        ("/v1/events", events.EventsResource(emulator)),
        ("/v1/events/{event_token}", events.EventResource(emulator)),
        ("/v1/events/{event_token}/attempts", events.EventAttemptsResource(emulator)),
        (
            "/v1/events/{event_token}/event_subscriptions/{event_subscription_token}/resend",
            events.EventResendResource(emulator),
        ),
        ("/_emulator/faults", control.FaultsResource(emulator)),
        ("/_emulator/requests", control.RequestsResource(emulator)),
        ("/_emulator/fulfilment/run", control.FulfilmentRunResource(emulator)),
        ("/_emulator/cards/{card_token}/ship", control.ShipCardResource(emulator)),
        ("/_emulator/reset", control.ResetResource(emulator)),
        ("/_emulator/webhooks/wait", control.WebhooksWaitResource(emulator)),
        ("/_emulator/statements/close", control.StatementCloseResource(emulator)),
    ]
    routes += transactions.routes(emulator) + asa.routes(emulator)
    routes += external_payments.routes(emulator) + statements.routes(emulator)
    for path, resource in routes:
        app.add_route(path, resource)


def create_app(config: EmulatorConfig, emulator: Emulator | None = None) -> EmulatorApp:
    """Build the WSGI app; its state is `app.emulator` (a new Emulator unless one is given)."""
    emulator = emulator or Emulator(config)
    app = EmulatorApp(
        middleware=[
            # Order matters: the request log must see the final status, after faults.
            RequestLogMiddleware(emulator),
            AuthMiddleware(emulator),
            FaultMiddleware(emulator),
        ]
    )
    app.emulator = emulator
    app.req_options.strip_url_path_trailing_slash = True
    app.add_error_handler(Exception, _unexpected_error)
    app.add_error_handler(falcon.HTTPError, _http_error)
    app.add_error_handler(LithicError, _lithic_error)
    _add_routes(app, emulator)
    return app
