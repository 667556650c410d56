"""Benchmark: ASA decisions at a fixed rate beside a bare Falcon endpoint that does one INSERT.

Acts as Lithic: signed CardAuthorization requests to POST /asa/lithic on gunicorn with
PostgreSQL (each approval holds the amount in the ledger), with RabbitMQ and a worker running.

    .venv/bin/python scripts/bench_asa.py [--rate 200] [--seconds 30]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
import uuid

from benchlib import deployment, open_loop, print_table
from standardwebhooks import Webhook

from tests.support import api
from tests.support.lithic import EmulatorClient

ASA_SECRET = "whsec_" + "YmVuY2gtYXNhLXNlY3JldC0wMTIzNDU2Nzg5YWJjZA=="


def asa_requests(card_tokens: list[str], count: int) -> list[tuple[bytes, dict]]:
    webhook = Webhook(ASA_SECRET)
    now = dt.datetime.now(dt.UTC)
    signed = []
    for index in range(count):
        body = json.dumps(
            {
                "token": str(uuid.uuid4()),
                "status": "AUTHORIZATION",
                "amount": 100 + index % 900,
                "card": {"token": card_tokens[index % len(card_tokens)], "state": "OPEN"},
                "merchant": {"descriptor": "SHOP", "mcc": "5999", "country": "USA"},
                "pos": {"entry_mode": {"card": "NOT_PRESENT"}},
            }
        )
        msg_id = f"msg_{uuid.uuid4().hex}"
        headers = {
            "content-type": "application/json",
            "webhook-id": msg_id,
            "webhook-timestamp": str(int(now.timestamp())),
            "webhook-signature": webhook.sign(msg_id, now, body),
        }
        signed.append((body.encode(), headers))
    return signed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rate", type=float, default=200)
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--cards", type=int, default=20)
    args = parser.parse_args()
    count = int(args.rate * args.seconds)

    with deployment() as (stack, bare_url):
        stack.start_emulator()
        stack.migrate()
        stack.start_web(LITHIC_ASA_SECRET=ASA_SECRET)
        stack.start_worker()
        print(f"setting up {args.cards} cards…")
        for _ in range(args.cards):
            customer, _ = api.onboard(stack.url)
            customer("mutation { createCard(input: {type: VIRTUAL}) { card { id } } }")
        tokens = [card["token"] for card in EmulatorClient(stack.emulator_url).cards()]
        warmup = asa_requests(tokens, 200)
        open_loop(f"{stack.url}/asa/lithic", warmup, args.rate)

        bare = open_loop(
            bare_url,
            [(b'{"n": 1}', {"content-type": "application/json"})] * count,
            args.rate,
        )
        asa = open_loop(f"{stack.url}/asa/lithic", asa_requests(tokens, count), args.rate)
        print_table(
            f"{args.rate:.0f} requests/s for {args.seconds:.0f} s (open loop)",
            [("bare Falcon INSERT", bare), ("ASA decision", asa)],
        )
        return 0 if asa["errors"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
