"""Test-only routes under `/_emulator/` (not Lithic's API; no API key needed)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import falcon

from .cards import get_card
from .errors import unprocessable
from .faults import parse_fault
from .fulfilment import ship, ship_all
from .statements import close_statement
from .util import Body, read_json

if TYPE_CHECKING:
    from .state import Emulator


class FaultsResource:
    """`/_emulator/faults`: arm (POST), list (GET) and clear (DELETE) injected faults."""

    def __init__(self, emulator: Emulator):
        self._emulator = emulator

    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        fault = parse_fault(read_json(req))
        self._emulator.faults.add(fault)
        resp.media = fault.to_json()
        resp.status = falcon.HTTP_201

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        resp.media = {"data": self._emulator.faults.list()}

    def on_delete(self, req: falcon.Request, resp: falcon.Response) -> None:
        self._emulator.faults.clear()
        resp.status = falcon.HTTP_204


class RequestsResource:
    """`/_emulator/requests`: the log of API requests received (no bodies)."""

    def __init__(self, emulator: Emulator):
        self._emulator = emulator

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        resp.media = self._emulator.request_log.list()

    def on_delete(self, req: falcon.Request, resp: falcon.Response) -> None:
        self._emulator.request_log.clear()
        resp.status = falcon.HTTP_204


class FulfilmentRunResource:
    """`/_emulator/fulfilment/run`: ship every card awaiting fulfilment now."""

    def __init__(self, emulator: Emulator):
        self._emulator = emulator

    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        resp.media = {"shipped": ship_all(self._emulator)}


class ShipCardResource:
    """`/_emulator/cards/{card_token}/ship`: ship one card now."""

    def __init__(self, emulator: Emulator):
        self._emulator = emulator

    def on_post(self, req: falcon.Request, resp: falcon.Response, card_token: str) -> None:
        with self._emulator.lock:
            card = get_card(self._emulator, card_token)
            if not ship(self._emulator, card):
                raise unprocessable(f"Card is {card.state}; only cards awaiting fulfilment ship.")
            resp.media = card.to_json(pci=False)


class ResetResource:
    """`/_emulator/reset`: empty all state (the configuration and its subscription stay)."""

    def __init__(self, emulator: Emulator):
        self._emulator = emulator

    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        self._emulator.reset()
        resp.status = falcon.HTTP_204


class WebhooksWaitResource:
    """`/_emulator/webhooks/wait`: block until no delivery is queued or in flight."""

    def __init__(self, emulator: Emulator):
        self._emulator = emulator

    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        timeout = Body(read_json(req)).int("timeout", minimum=0, default=10)
        resp.media = {"idle": self._emulator.webhooks.wait_idle(float(timeout))}


class StatementCloseResource:
    """`/_emulator/statements/close`: close a financial account's billing cycle now."""

    def __init__(self, emulator: Emulator):
        self._emulator = emulator

    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        statement = close_statement(self._emulator, read_json(req))
        with self._emulator.lock:
            resp.media = statement.to_json()
        resp.status = falcon.HTTP_201
