"""Benchmark: the clock's AutoPay fan-out for many due instructions, to the last payment settled.

Seeds N accounts with a statement due today and an AutoPay instruction (all paying from one
bank account at the rail emulator, all reporting to one financial account at the Lithic
emulator), then runs the sweep as the clock would and times: job start → last autopay_request
published, and job start → last payment SETTLED (rail transfer + Lithic external payment +
ledger) with a real dramatiq worker.

    .venv/bin/python scripts/bench_autopay.py [--instructions 10000] [--worker-processes 2]
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import time
import uuid

import psycopg2
import psycopg2.extras
import requests
from benchlib import deployment

from tests.support import api
from tests.support.lithic import EmulatorClient
from tests.support.stack import BIN

SWEEP = """
import datetime as dt, time
from app.runtime import bootstrap
from app.db import connection
from app.payments import autopay
from app.messaging import outbox
bootstrap()
with connection():
    started = time.time()
    queued = autopay.sweep(dt.date.fromisoformat({today!r}))
    print(f"{{started}} {{time.time()}} {{queued}} {{outbox.pending_count()}}")
"""


def seed(database_url: str, financial_account: str, count: int, today: dt.date) -> None:
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    customers, accounts, statements, instructions = [], [], [], []
    for index in range(count):
        customer, account = str(uuid.uuid4()), str(uuid.uuid4())
        customers.append((customer, f"bench-{index}-{customer}", "A", "B", "a@b", "1", now))
        accounts.append(
            (account, customer, "ACTIVE", 100_000, 5_000, 0, financial_account, "", now, now)
        )
        statements.append(
            (
                str(uuid.uuid4()),
                account,
                str(uuid.uuid4()),
                today - dt.timedelta(days=30),
                today - dt.timedelta(days=25),
                today,
                5_000,
                2_500,
                now - dt.timedelta(days=1),
            )
        )
        instructions.append(
            (str(uuid.uuid4()), account, "MINIMUM_DUE", "bench-bank", now, True, now)
        )
    with psycopg2.connect(database_url) as conn, conn.cursor() as cur:
        psycopg2.extras.execute_values(
            cur,
            "INSERT INTO customer (id, external_id, first_name, last_name, email, phone_number,"
            " created_at) VALUES %s",
            customers,
        )
        psycopg2.extras.execute_values(
            cur,
            "INSERT INTO credit_account (id, customer_id, status, credit_limit, posted_balance,"
            " pending_holds, lithic_financial_account_token, status_reasons, created_at,"
            " updated_at) VALUES %s",
            accounts,
        )
        # The balances above stand for purchases already posted: the ledger says so too.
        psycopg2.extras.execute_values(
            cur,
            "INSERT INTO ledger_entry (id, account_id, kind, amount, reason, created_at) VALUES %s",
            [(str(uuid.uuid4()), a[0], "POSTED", 5_000, "OPENING_BALANCE", now) for a in accounts],
        )
        psycopg2.extras.execute_values(
            cur,
            "INSERT INTO statement (id, account_id, token, statement_start_date,"
            " statement_end_date, payment_due_date, ending_balance, minimum_payment, created_at)"
            " VALUES %s",
            statements,
        )
        psycopg2.extras.execute_values(
            cur,
            "INSERT INTO autopay_instruction (id, account_id, mode, source_account_id, agreed_at,"
            " active, created_at) VALUES %s",
            instructions,
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--instructions", type=int, default=10_000)
    parser.add_argument("--worker-processes", type=int, default=2)
    parser.add_argument("--worker-threads", type=int, default=8)
    args = parser.parse_args()
    today = dt.date.today()

    with deployment() as (stack, _bare_url):
        stack.start_emulator()
        stack.start_rail()
        stack.migrate()
        stack.start_web()
        stack.start_worker(args.worker_processes, args.worker_threads)
        customer, _ = api.onboard(stack.url)
        lithic = EmulatorClient(stack.emulator_url)
        holders = lithic("GET", "/v1/account_holders", params={"limit": 1})["data"]
        accounts = lithic(
            "GET", "/v1/financial_accounts", params={"account_token": holders[0]["account_token"]}
        )
        financial_account = next(fa["token"] for fa in accounts["data"] if fa["type"] == "ISSUING")
        requests.post(
            f"{stack.rail_url}/_rail/accounts",
            json={"id": "bench-bank", "available_balance": 10**12},
            timeout=5,
        ).raise_for_status()
        print(f"seeding {args.instructions} due AutoPay instructions…")
        seed(stack.database_url, financial_account, args.instructions, today)

        result = stack.run([str(BIN / "python"), "-c", SWEEP.format(today=today.isoformat())])
        assert result.returncode == 0, result.stderr[-3000:]
        started, published, queued, unpublished = result.stdout.split()
        started, published = float(started), float(published)
        with psycopg2.connect(stack.database_url) as conn:
            conn.autocommit = True
            with conn.cursor() as cur:
                while True:
                    cur.execute("SELECT status, count(*) FROM payment GROUP BY status")
                    counts = dict(cur.fetchall())
                    if counts.get("SETTLED", 0) + counts.get("FAILED", 0) >= int(queued):
                        break
                    if time.time() - started > 3600:
                        break
                    time.sleep(0.5)
        settled_at = time.time()
        check = stack.run([str(BIN / "ccs"), "ledger-check"])

        print(
            f"\nAutoPay fan-out, {queued} due instructions, worker "
            f"{args.worker_processes}x{args.worker_threads}, PostgreSQL + RabbitMQ"
        )
        print(
            f"job start -> last autopay_request published: {published - started:8.1f} s"
            f"  ({unpublished} left unpublished)"
        )
        print(
            f"job start -> last payment settled:           {settled_at - started:8.1f} s"
            f"  ({counts})"
        )
        print(check.stdout.strip().splitlines()[-1] if check.stdout else check.stderr)
        return 0 if counts.get("SETTLED", 0) == int(queued) and check.returncode == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
