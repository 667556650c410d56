"""Benchmark: signed card_transaction.updated webhooks, ingested and applied to the ledger.

Posts every event as fast as the web tier accepts it (closed loop), beside a bare Falcon
endpoint doing one INSERT, then waits until a real dramatiq worker has applied all of them on
PostgreSQL. Reports events per second accepted and fully applied end to end.

    .venv/bin/python scripts/bench_webhook_ingest.py [--transactions 2000] [--worker-processes 2]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
import time
import uuid

import psycopg2
from benchlib import closed_loop, deployment, print_table
from standardwebhooks import Webhook

from tests.support import api
from tests.support.lithic import EmulatorClient
from tests.support.stack import BIN, WEBHOOK_SECRET


def events_for(card_tokens: list[str], transactions: int) -> list[tuple[bytes, dict]]:
    """Two deliveries per transaction: the authorization, then the same with its clearing."""
    webhook = Webhook(WEBHOOK_SECRET)
    now = dt.datetime.now(dt.UTC)
    stamp = now.strftime("%Y-%m-%dT%H:%M:%SZ")
    signed = []
    for index in range(transactions):
        amount = 100 + index % 5000
        events = [
            {
                "token": str(uuid.uuid4()),
                "type": "AUTHORIZATION",
                "amount": amount,
                "result": "APPROVED",
                "detailed_results": ["APPROVED"],
                "created": stamp,
            },
            {
                "token": str(uuid.uuid4()),
                "type": "CLEARING",
                "amount": amount,
                "result": "APPROVED",
                "detailed_results": ["APPROVED"],
                "created": stamp,
            },
        ]
        base = {
            "event_type": "card_transaction.updated",
            "token": str(uuid.uuid4()),
            "card_token": card_tokens[index % len(card_tokens)],
            "result": "APPROVED",
            "authorization_amount": amount,
            "created": stamp,
            "updated": stamp,
            "merchant": {"descriptor": "SHOP", "mcc": "5999", "country": "USA"},
        }
        for count, status in ((1, "PENDING"), (2, "SETTLED")):
            body = json.dumps(
                {
                    **base,
                    "status": status,
                    "settled_amount": amount * (count - 1),
                    "events": events[:count],
                }
            )
            msg_id = f"msg_{uuid.uuid4().hex}"
            signed.append(
                (
                    body.encode(),
                    {
                        "content-type": "application/json",
                        "webhook-id": msg_id,
                        "webhook-timestamp": str(int(now.timestamp())),
                        "webhook-signature": webhook.sign(msg_id, now, body),
                    },
                )
            )
    return signed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--transactions", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--worker-processes", type=int, default=2)
    parser.add_argument("--worker-threads", type=int, default=8)
    args = parser.parse_args()

    with deployment() as (stack, bare_url):
        stack.start_emulator()
        stack.migrate()
        stack.start_web()
        stack.start_worker(args.worker_processes, args.worker_threads)
        for _ in range(10):
            customer, _ = api.onboard(stack.url)
            customer("mutation { createCard(input: {type: VIRTUAL}) { card { id } } }")
        tokens = [card["token"] for card in EmulatorClient(stack.emulator_url).cards()]
        deliveries = events_for(tokens, args.transactions)
        # Nothing else for the worker to do while we measure.
        time.sleep(2)

        bare = closed_loop(bare_url, deliveries, args.concurrency)
        db = psycopg2.connect(stack.database_url)
        db.autocommit = True
        started = time.perf_counter()
        ingest = closed_loop(f"{stack.url}/webhooks/lithic", deliveries, args.concurrency)
        accepted_at = time.perf_counter()
        with db.cursor() as cur:
            while True:
                cur.execute(
                    "SELECT count(*) FROM webhook_delivery"
                    " WHERE event_type = 'card_transaction.updated' AND status <> 'RECEIVED'"
                )
                applied = cur.fetchone()[0]
                if applied >= len(deliveries) or time.perf_counter() - accepted_at > 600:
                    break
                time.sleep(0.05)
        applied_at = time.perf_counter()
        check = stack.run([str(BIN / "ccs"), "ledger-check"])

        print_table(
            f"{len(deliveries)} signed card_transaction.updated events, concurrency "
            f"{args.concurrency}; worker {args.worker_processes}x{args.worker_threads}",
            [("bare Falcon INSERT", bare), ("webhook ingest (accept)", ingest)],
        )
        print(f"accepted: {len(deliveries) / (accepted_at - started):.0f} events/s")
        print(
            f"applied end to end: {applied} events in {applied_at - started:.1f} s = "
            f"{applied / (applied_at - started):.0f} events/s"
        )
        print(check.stdout.strip().splitlines()[-1] if check.stdout else check.stderr)
        return 0 if applied >= len(deliveries) and check.returncode == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
