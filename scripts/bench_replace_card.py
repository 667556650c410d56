"""Benchmark: replaceCard over HTTP beside a bare Falcon endpoint that does one INSERT.

Both run under gunicorn (2 workers x 4 threads) on PostgreSQL; replaceCard also goes through
the outbox to RabbitMQ while a real dramatiq worker replaces the cards at the emulator.

    .venv/bin/python scripts/bench_replace_card.py [--requests 800] [--worker running|paused]
"""

from __future__ import annotations

import argparse
import json
import sys

from benchlib import closed_loop, deployment, print_table

from tests.support import api


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=800)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--customers", type=int, default=8)
    parser.add_argument(
        "--worker",
        choices=("running", "paused"),
        default="running",
        help="paused: measure the request path alone (messages wait in RabbitMQ)",
    )
    args = parser.parse_args()

    with deployment() as (stack, bare_url):
        stack.start()
        print(f"setting up {args.requests} virtual cards for {args.customers} customers…")
        cards = []
        for _ in range(args.customers):
            customer, _customer_id = api.onboard(stack.url)
            token = customer.session.headers["Authorization"]
            for _ in range(-(-args.requests // args.customers)):
                created = customer(
                    "mutation { createCard(input: {type: VIRTUAL}) { card { id } } }"
                )
                cards.append((created["createCard"]["card"]["id"], token))
        cards = cards[: args.requests]
        if args.worker == "paused":
            next(p for p in stack.processes if p.name == "worker").stop()

        bare = closed_loop(
            bare_url,
            [
                (json.dumps({"n": i}).encode(), {"content-type": "application/json"})
                for i in range(args.requests)
            ],
            args.concurrency,
        )
        query = (
            "mutation($id: ID!) { replaceCard(input: {cardId: $id, reason: LOST}) "
            "{ operation { id status } } }"
        )
        replace = closed_loop(
            f"{stack.url}/graphql",
            [
                (
                    json.dumps({"query": query, "variables": {"id": card_id}}).encode(),
                    {"content-type": "application/json", "Authorization": token},
                )
                for card_id, token in cards
            ],
            args.concurrency,
        )
        print_table(
            f"concurrency {args.concurrency}, {args.requests} requests each, "
            f"dramatiq worker {args.worker}",
            [("bare Falcon INSERT", bare), ("replaceCard (outbox)", replace)],
        )
        print(f"replaceCard p50 / bare p50 = {replace['p50_ms'] / bare['p50_ms']:.2f}x")
        return 0 if replace["errors"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
