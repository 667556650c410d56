"""Talk to a running Lithic emulator as Lithic's own sandbox tools would."""

from __future__ import annotations

import datetime as dt
import json

import requests
from standardwebhooks import Webhook

from tests.support.stack import API_KEY


class EmulatorClient:
    def __init__(self, url: str, api_key: str = API_KEY) -> None:
        self.url = url.rstrip("/")
        self.session = requests.Session()
        self.session.headers["Authorization"] = api_key

    def __call__(self, method: str, path: str, **kwargs):
        response = self.session.request(method, self.url + path, timeout=30, **kwargs)
        response.raise_for_status()
        return response.json() if response.content else None

    def cards(self) -> list[dict]:
        cards, params = [], {"page_size": 100}
        while True:
            page = self("GET", "/v1/cards", params=params)
            cards += page["data"]
            if not page["has_more"]:
                return cards
            params["starting_after"] = page["data"][-1]["token"]

    def enroll_asa(self, url: str) -> str:
        self("POST", "/v1/responder_endpoints", json={"type": "AUTH_STREAM_ACCESS", "url": url})
        return self("GET", "/v1/auth_stream/secret")["secret"]

    def authorize(self, pan: str, amount: int, **extra) -> str:
        body = {"pan": pan, "amount": amount, "descriptor": extra.pop("descriptor", "COFFEE SHOP")}
        return self("POST", "/v1/simulate/authorize", json={**body, **extra})["token"]

    def simulate(self, action: str, **body):
        return self("POST", f"/v1/simulate/{action}", json=body)

    def transaction(self, token: str) -> dict:
        return self("GET", f"/v1/transactions/{token}")

    def fault(self, **fault) -> None:
        requests.post(f"{self.url}/_emulator/faults", json=fault, timeout=5).raise_for_status()

    def clear_faults(self) -> None:
        requests.delete(f"{self.url}/_emulator/faults", timeout=5).raise_for_status()


def signed_post(
    url: str, payload: dict, webhook_id: str, secret: str, at: dt.datetime | None = None
):
    """POST a Standard-Webhooks-signed JSON body, as Lithic does for webhooks and ASA."""
    body = json.dumps(payload)
    at = at or dt.datetime.now(dt.UTC)
    return requests.post(
        url,
        data=body,
        headers={
            "content-type": "application/json",
            "webhook-id": webhook_id,
            "webhook-timestamp": str(int(at.timestamp())),
            "webhook-signature": Webhook(secret).sign(webhook_id, at, body),
        },
        timeout=10,
    )
