"""AutoPay instructions and the clock's other jobs."""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
import time

import pytest

from app import clock
from app.accounts.models import CreditAccount
from app.cards.models import Card
from app.db import connection, utcnow
from app.errors import ValidationError
from app.payments import autopay
from app.payments.models import AutopayInstruction, Notification
from tests.support.factories import make_account
from tests.support.stack import REPO


@pytest.fixture
def customer(clean_db):
    with connection():
        return make_account().customer


def test_autopay_needs_the_agreement(customer):
    with connection(), pytest.raises(ValidationError, match="agreement"):
        autopay.setup(customer.id, "MINIMUM_DUE", "bank-1", agreement_accepted=False)


def test_a_fixed_amount_must_be_positive_and_only_for_fixed_mode(customer):
    with connection():
        with pytest.raises(ValidationError, match="positive"):
            autopay.setup(customer.id, "FIXED_AMOUNT", "bank-1", True, fixed_amount=0)
        with pytest.raises(ValidationError, match="only with FIXED_AMOUNT"):
            autopay.setup(customer.id, "MINIMUM_DUE", "bank-1", True, fixed_amount=500)


def test_a_new_instruction_replaces_the_active_one_and_cancel_stops_it(customer):
    with connection():
        first = autopay.setup(customer.id, "MINIMUM_DUE", "bank-1", True)
        second = autopay.setup(customer.id, "FIXED_AMOUNT", "bank-2", True, fixed_amount=5_000)

        active = AutopayInstruction.select().where(AutopayInstruction.active)
        assert [i.id for i in active] == [second.id]
        assert AutopayInstruction.get_by_id(first.id).cancelled_at is not None
        assert autopay.cancel(customer.id) is True
        assert autopay.cancel(customer.id) is False
        assert autopay.active_instruction(customer.id) is None


def test_cards_shipped_ten_days_ago_and_not_activated_get_one_reminder(customer):
    with connection():
        account = CreditAccount.get(CreditAccount.customer == customer)
        card = Card.create(
            customer=customer,
            account=account,
            type="PHYSICAL",
            state="PENDING_ACTIVATION",
            last_four="4242",
            shipped_at=utcnow() - dt.timedelta(days=11),
        )
        Card.create(
            customer=customer,
            account=account,
            type="PHYSICAL",
            state="PENDING_ACTIVATION",
            shipped_at=utcnow() - dt.timedelta(days=3),
        )

        first = clock.remind_unactivated_cards(dt.date(2026, 12, 1))
        again = clock.remind_unactivated_cards(dt.date(2026, 12, 1))
        next_day = clock.remind_unactivated_cards(dt.date(2026, 12, 2))

        assert (first, again, next_day) == (1, 0, 0)
        assert Card.get_by_id(card.id).activation_reminded_at is not None
        assert [n.kind for n in Notification.select()] == ["ACTIVATE_CARD"]


def test_the_clock_process_stops_cleanly_on_sigterm(tmp_path):
    env = {
        **{
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("RABBITMQ", "LITHIC", "PAYMENT"))
        },
        "DATABASE_URL": f"sqlite:///{tmp_path}/clock.db",
        "PYTHONPATH": str(REPO),
    }
    subprocess.run([sys.executable, "-m", "app.cli", "migrate"], env=env, check=True, cwd=REPO)
    log = tmp_path / "clock.log"
    with open(log, "wb") as sink:
        process = subprocess.Popen(
            [sys.executable, "-m", "app.clock"], env=env, cwd=REPO, stdout=sink, stderr=sink
        )
    deadline = time.monotonic() + 90
    while b"clock.started" not in log.read_bytes():
        assert time.monotonic() < deadline and process.poll() is None, log.read_text()
        time.sleep(0.1)

    process.send_signal(signal.SIGTERM)

    assert process.wait(timeout=20) == 0
    assert b"clock.stopped" in log.read_bytes()
