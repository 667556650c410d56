"""Two clock processes at once on PostgreSQL: each AutoPay instruction is queued once."""

from __future__ import annotations

import subprocess

import psycopg2
import pytest

from tests.support.stack import BIN, REPO

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

SETUP = """
import datetime as dt, uuid
from app.runtime import bootstrap
from app.db import connection, transaction
from app.accounts.models import Customer, CreditAccount
from app.payments.models import AutopayInstruction, Statement
bootstrap()
with connection(), transaction():
    for _ in range(200):
        customer = Customer.create(external_id=str(uuid.uuid4()), first_name="A", last_name="B",
                                   email="a@b", phone_number="1")
        account = CreditAccount.create(customer=customer, credit_limit=100_000, status="ACTIVE")
        Statement.create(account=account, token=str(uuid.uuid4()),
                         statement_start_date=dt.date(2026, 10, 1),
                         statement_end_date=dt.date(2026, 11, 1),
                         payment_due_date=dt.date(2026, 11, 26), ending_balance=5000,
                         minimum_payment=2500)
        AutopayInstruction.create(account=account, mode="MINIMUM_DUE",
                                  source_account_id="bank", agreed_at=dt.datetime(2026, 10, 1))
"""

CLOCK = """
import datetime as dt
from app import clock
from app.payments import autopay
from app.runtime import bootstrap
bootstrap()
clock.singleton("autopay_sweep")(lambda: autopay.sweep(dt.date(2026, 11, 26)))()
"""


def test_two_clocks_sweeping_at_once_queue_each_instruction_once(stack_parts):
    stack = stack_parts
    stack.migrate()
    # No broker is needed to prove it: the outbox keeps what each clock queued.
    env = {"RABBITMQ_URL": "amqp://guest:guest@127.0.0.1:1/%2F"}
    assert stack.run([str(BIN / "python"), "-c", SETUP], **env).returncode == 0

    clocks = [
        subprocess.Popen(
            [str(BIN / "python"), "-c", CLOCK],
            cwd=REPO,
            env=stack.env(**env),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        for _ in range(2)
    ]
    outputs = [c.communicate(timeout=120)[0].decode() for c in clocks]

    assert all(c.returncode == 0 for c in clocks), outputs
    with psycopg2.connect(stack.database_url) as conn, conn.cursor() as cur:
        cur.execute("SELECT count(*), count(DISTINCT instruction_id) FROM autopay_run")
        assert cur.fetchone() == (200, 200)
        cur.execute("SELECT count(*) FROM outbox_message WHERE actor_name = 'autopay_request'")
        assert cur.fetchone() == (200,)
