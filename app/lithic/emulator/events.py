"""The Events API: events, event subscriptions, their secrets and delivery attempts."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

import falcon

from .errors import bad_request, not_found
from .models import Subscription
from .pagination import in_time_range, paginate
from .util import Body, new_webhook_secret, read_json, svix_id, utcnow

if TYPE_CHECKING:
    from .state import Emulator

# Event types of Lithic's API (SDK 0.133 `Event.event_type`).
EVENT_TYPES = frozenset(
    {
        "account_holder_document.updated",
        "account_holder.created",
        "account_holder.updated",
        "account_holder.verification",
        "auth_rules.backtest_report.created",
        "balance.updated",
        "book_transfer_transaction.created",
        "book_transfer_transaction.updated",
        "card_authorization.challenge",
        "card_authorization.challenge_response",
        "card_transaction.enhanced_data.created",
        "card_transaction.enhanced_data.updated",
        "card_transaction.updated",
        "card.converted",
        "card.created",
        "card.pin_updated",
        "card.reissued",
        "card.renewed",
        "card.shipped",
        "card.updated",
        "claim_document.accepted",
        "claim_document.rejected",
        "claim_document.uploaded",
        "claim.created",
        "claim.updated",
        "digital_wallet.tokenization_result",
        "digital_wallet.tokenization_two_factor_authentication_code",
        "digital_wallet.tokenization_two_factor_authentication_code_sent",
        "digital_wallet.tokenization_updated",
        "dispute_evidence.upload_failed",
        "dispute_transaction.created",
        "dispute_transaction.updated",
        "dispute.updated",
        "embed.session_generated",
        "embed.viewed",
        "external_bank_account.created",
        "external_bank_account.updated",
        "external_payment.created",
        "external_payment.updated",
        "financial_account.created",
        "financial_account.updated",
        "funding_event.created",
        "internal_transaction.created",
        "internal_transaction.updated",
        "loan_tape.created",
        "loan_tape.updated",
        "management_operation.created",
        "management_operation.updated",
        "network_total.created",
        "network_total.updated",
        "payment_transaction.created",
        "payment_transaction.updated",
        "settlement_report.updated",
        "statements.created",
        "three_ds_authentication.challenge",
        "three_ds_authentication.created",
        "three_ds_authentication.updated",
        "tokenization.approval_request",
        "tokenization.result",
        "tokenization.two_factor_authentication_code",
        "tokenization.two_factor_authentication_code_sent",
        "tokenization.updated",
    }
)
ATTEMPT_STATUSES = ("FAILED", "PENDING", "SENDING", "SUCCESS")
# After a rotation the old secret keeps signing for a day, as Lithic documents.
ROTATION_GRACE = timedelta(hours=24)


def _event_types(values: list[Any] | None) -> list[str] | None:
    if values is None:
        return None
    unknown = [value for value in values if value not in EVENT_TYPES]
    if unknown:
        raise bad_request(f"Unknown event type: {unknown[0]}")
    return list(values)


def _url(body: Body) -> str:
    url = body.str("url", required=True)
    parsed = urlparse(url)
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        raise bad_request("url must be an absolute http(s) URL")
    return url


def get_subscription(emulator: Emulator, token: str) -> Subscription:
    """Return the subscription or raise 404."""
    subscription = emulator.subscriptions.get(token)
    if subscription is None:
        raise not_found()
    return subscription


def create_subscription(emulator: Emulator, data: dict[str, Any]) -> Subscription:
    """`POST /v1/event_subscriptions`."""
    body = Body(data)
    url = _url(body)
    subscription = Subscription(
        token=svix_id("ep"),
        seq=emulator.next_seq(),
        created=utcnow(),
        url=url,
        secret=new_webhook_secret(),
        description=body.str("description", default=""),
        disabled=body.bool("disabled", default=False),
        event_types=_event_types(body.list("event_types")),
    )
    with emulator.lock:
        emulator.subscriptions[subscription.token] = subscription
    return subscription


def _time_filter(req: falcon.Request):
    return in_time_range(req.params)


class SubscriptionsResource:
    """`/v1/event_subscriptions`."""

    def __init__(self, emulator: Emulator):
        self._emulator = emulator

    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        resp.media = create_subscription(self._emulator, read_json(req)).to_json()
        resp.status = falcon.HTTP_201

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        emulator = self._emulator
        with emulator.lock:
            resp.media = paginate(
                list(emulator.subscriptions.values()),
                req.params,
                emulator.subscriptions.get,
                lambda subscription: subscription.to_json(),
            )


class SubscriptionResource:
    """`/v1/event_subscriptions/{event_subscription_token}`."""

    def __init__(self, emulator: Emulator):
        self._emulator = emulator

    def on_get(self, req: falcon.Request, resp: falcon.Response, event_subscription_token: str):
        with self._emulator.lock:
            resp.media = get_subscription(self._emulator, event_subscription_token).to_json()

    def on_patch(self, req: falcon.Request, resp: falcon.Response, event_subscription_token: str):
        body = Body(read_json(req))
        url = _url(body)
        description = body.str("description")
        disabled = body.bool("disabled", default=False)
        event_types = _event_types(body.list("event_types"))
        with self._emulator.lock:
            subscription = get_subscription(self._emulator, event_subscription_token)
            subscription.url = url
            subscription.disabled = disabled
            subscription.event_types = event_types
            if description is not None:
                subscription.description = description
            resp.media = subscription.to_json()

    def on_delete(self, req: falcon.Request, resp: falcon.Response, event_subscription_token: str):
        with self._emulator.lock:
            get_subscription(self._emulator, event_subscription_token)
            del self._emulator.subscriptions[event_subscription_token]
        resp.status = falcon.HTTP_204


class SubscriptionSecretResource:
    """`/v1/event_subscriptions/{event_subscription_token}/secret`."""

    def __init__(self, emulator: Emulator):
        self._emulator = emulator

    def on_get(self, req: falcon.Request, resp: falcon.Response, event_subscription_token: str):
        with self._emulator.lock:
            subscription = get_subscription(self._emulator, event_subscription_token)
            resp.media = {"secret": subscription.secret}


class SubscriptionSecretRotateResource:
    """`/v1/event_subscriptions/{event_subscription_token}/secret/rotate`."""

    def __init__(self, emulator: Emulator):
        self._emulator = emulator

    def on_post(self, req: falcon.Request, resp: falcon.Response, event_subscription_token: str):
        with self._emulator.lock:
            subscription = get_subscription(self._emulator, event_subscription_token)
            subscription.previous_secret = subscription.secret
            subscription.previous_until = utcnow() + ROTATION_GRACE
            subscription.secret = new_webhook_secret()
        resp.status = falcon.HTTP_204


def _attempts_page(emulator: Emulator, req: falcon.Request, **match: str) -> dict[str, Any]:
    status = req.get_param("status")
    if status and status not in ATTEMPT_STATUSES:
        raise bad_request(f"status must be one of: {', '.join(ATTEMPT_STATUSES)}")
    rows = [
        attempt
        for attempt in emulator.attempts.values()
        if all(getattr(attempt, name) == value for name, value in match.items())
        and (not status or attempt.status == status)
    ]
    return paginate(rows, req.params, emulator.attempts.get, lambda attempt: attempt.to_json())


class SubscriptionAttemptsResource:
    """`/v1/event_subscriptions/{event_subscription_token}/attempts`."""

    def __init__(self, emulator: Emulator):
        self._emulator = emulator

    def on_get(self, req: falcon.Request, resp: falcon.Response, event_subscription_token: str):
        with self._emulator.lock:
            get_subscription(self._emulator, event_subscription_token)
            resp.media = _attempts_page(
                self._emulator, req, event_subscription_token=event_subscription_token
            )


class SubscriptionRedeliveryResource:
    """`…/recover` (resend failed) and `…/replay_missing` (send never-attempted) events."""

    def __init__(self, emulator: Emulator, failed_only: bool):
        self._emulator = emulator
        self._failed_only = failed_only

    def on_post(self, req: falcon.Request, resp: falcon.Response, event_subscription_token: str):
        keep = _time_filter(req)
        emulator = self._emulator
        with emulator.lock:
            subscription = get_subscription(emulator, event_subscription_token)
            outcomes: dict[str, str] = {}
            for attempt in sorted(emulator.attempts.values(), key=lambda a: a.seq):
                if attempt.event_subscription_token == subscription.token:
                    outcomes[attempt.event_token] = attempt.status
            for event in sorted(emulator.events.values(), key=lambda e: e.seq):
                if not keep(event):
                    continue
                outcome = outcomes.get(event.token)
                wanted = outcome == "FAILED" if self._failed_only else outcome is None
                types = subscription.event_types
                if wanted and (types is None or event.event_type in types):
                    emulator.webhooks.enqueue(event.token, subscription.token)
        resp.status = falcon.HTTP_202


class EventsResource:
    """`/v1/events`."""

    def __init__(self, emulator: Emulator):
        self._emulator = emulator

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        # The SDK sends arrays comma-separated; repeated parameters are accepted too.
        wanted: set[str] = set()
        for value in req.get_param_as_list("event_types") or []:
            wanted.update(part for part in value.split(",") if part)
        _event_types(sorted(wanted))
        emulator = self._emulator
        with emulator.lock:
            rows = [
                event
                for event in emulator.events.values()
                if not wanted or event.event_type in wanted
            ]
            resp.media = paginate(rows, req.params, emulator.events.get, lambda e: e.to_json())


class EventResource:
    """`/v1/events/{event_token}`."""

    def __init__(self, emulator: Emulator):
        self._emulator = emulator

    def on_get(self, req: falcon.Request, resp: falcon.Response, event_token: str) -> None:
        with self._emulator.lock:
            event = self._emulator.events.get(event_token)
            if event is None:
                raise not_found()
            resp.media = event.to_json()


class EventAttemptsResource:
    """`/v1/events/{event_token}/attempts`."""

    def __init__(self, emulator: Emulator):
        self._emulator = emulator

    def on_get(self, req: falcon.Request, resp: falcon.Response, event_token: str) -> None:
        with self._emulator.lock:
            if event_token not in self._emulator.events:
                raise not_found()
            resp.media = _attempts_page(self._emulator, req, event_token=event_token)


class EventResendResource:
    """`/v1/events/{event_token}/event_subscriptions/{event_subscription_token}/resend`."""

    def __init__(self, emulator: Emulator):
        self._emulator = emulator

    def on_post(
        self,
        req: falcon.Request,
        resp: falcon.Response,
        event_token: str,
        event_subscription_token: str,
    ) -> None:
        with self._emulator.lock:
            if event_token not in self._emulator.events:
                raise not_found()
            get_subscription(self._emulator, event_subscription_token)
            self._emulator.webhooks.enqueue(event_token, event_subscription_token)
        resp.status = falcon.HTTP_202
