"""Benchmark: replaceCard over HTTP beside a bare Falcon endpoint that does one INSERT.

Both run under gunicorn (same workers and threads) on PostgreSQL; replaceCard also goes through
the outbox to RabbitMQ while a real dramatiq worker replaces the cards at the emulator.

    .venv/bin/python scripts/bench_replace_card.py [--requests 800] [--concurrency 8]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import requests

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.support import api, services  # noqa: E402
from tests.support.stack import BIN, Stack, free_port, wait_for_http  # noqa: E402

BARE_APP = """
import falcon, os
from playhouse.db_url import connect
db = connect(os.environ["DATABASE_URL"].replace("postgresql://", "postgresql+pool://"),
             max_connections=20)
db.execute_sql("CREATE TABLE IF NOT EXISTS bench_row (id serial primary key, body text)")
db.close()

class Insert:
    def on_post(self, req, resp):
        body = req.bounded_stream.read()
        db.connect(reuse_if_open=True)
        try:
            db.execute_sql("INSERT INTO bench_row (body) VALUES (%s)", (body.decode(),))
        finally:
            db.close()
        resp.media = {"ok": True}

app = falcon.App()
app.add_route("/insert", Insert())
"""


def load(url: str, requests_: list[tuple[dict, dict]], concurrency: int) -> dict:
    """Send every (body, headers) once from `concurrency` keep-alive clients."""
    latencies: list[float] = []
    errors = 0
    lock = threading.Lock()
    queue = list(requests_)

    def client():
        nonlocal errors
        session = requests.Session()
        while True:
            with lock:
                if not queue:
                    return
                body, headers = queue.pop()
            started = time.perf_counter()
            try:
                response = session.post(url, json=body, headers=headers, timeout=30)
                ok = response.status_code == 200 and not response.json().get("errors")
            except (requests.RequestException, ValueError) as exc:
                print(f"request failed: {exc}", file=sys.stderr)
                ok = False
            elapsed = time.perf_counter() - started
            with lock:
                latencies.append(elapsed)
                errors += not ok

    started = time.perf_counter()
    threads = [threading.Thread(target=client) for _ in range(concurrency)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - started
    latencies.sort()
    return {
        "requests": len(latencies),
        "errors": errors,
        "p50_ms": 1000 * statistics.median(latencies),
        "p99_ms": 1000 * latencies[min(len(latencies) - 1, int(0.99 * len(latencies)))],
        "rps": len(latencies) / wall,
    }


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

    database_url, db_name = services.create_pg_database()
    rabbitmq_url, vhost = services.create_rabbit_vhost()
    workdir = Path(tempfile.mkdtemp(prefix="ccs-bench-"))
    stack = Stack(database_url=database_url, rabbitmq_url=rabbitmq_url, workdir=workdir)
    try:
        stack.start()
        (workdir / "bare_app.py").write_text(BARE_APP)
        bare_port = free_port()
        bare = stack.spawn(
            "bare",
            [
                str(BIN / "gunicorn"),
                "bare_app:app",
                "-k",
                "gthread",
                "--workers",
                "2",
                "--threads",
                "4",
                "--bind",
                f"127.0.0.1:{bare_port}",
                "--chdir",
                str(workdir),
            ],
        )
        wait_for_http(f"http://127.0.0.1:{bare_port}/insert", process=bare.popen)

        print(f"setting up {args.requests} virtual cards for {args.customers} customers…")
        per_customer = -(-args.requests // args.customers)
        bodies, tokens = [], {}
        for _ in range(args.customers):
            customer, customer_id = api.onboard(stack.url)
            tokens[customer_id] = customer.session.headers["Authorization"]
            for _ in range(per_customer):
                card = customer("mutation { createCard(input: {type: VIRTUAL}) { card { id } } }")[
                    "createCard"
                ]["card"]
                bodies.append((customer_id, card["id"]))
        bodies = bodies[: args.requests]

        if args.worker == "paused":
            next(p for p in stack.processes if p.name == "worker").stop()
        bare_result = load(
            f"http://127.0.0.1:{bare_port}/insert",
            [({"n": i}, {}) for i in range(args.requests)],
            args.concurrency,
        )
        query = (
            "mutation($id: ID!) { replaceCard(input: {cardId: $id, reason: LOST}) "
            "{ operation { id status } } }"
        )
        replace_result = load(
            f"{stack.url}/graphql",
            [
                ({"query": query, "variables": {"id": card_id}}, {"Authorization": tokens[cid]})
                for cid, card_id in bodies
            ],
            args.concurrency,
        )

        print(
            f"\nconcurrency {args.concurrency}, {args.requests} requests each, "
            f"dramatiq worker {args.worker}"
        )
        print(f"{'endpoint':<34}{'p50 ms':>9}{'p99 ms':>9}{'req/s':>9}{'errors':>8}")
        for name, result in (
            ("bare Falcon INSERT", bare_result),
            ("replaceCard (outbox)", replace_result),
        ):
            print(
                f"{name:<34}{result['p50_ms']:>9.2f}{result['p99_ms']:>9.2f}"
                f"{result['rps']:>9.0f}{result['errors']:>8}"
            )
        print(
            f"replaceCard p50 / bare p50 = {replace_result['p50_ms'] / bare_result['p50_ms']:.2f}x"
        )
        return 0 if replace_result["errors"] == 0 else 1
    finally:
        stack.stop()
        services.delete_rabbit_vhost(vhost)
        services.drop_pg_database(db_name)


if __name__ == "__main__":
    sys.exit(main())
