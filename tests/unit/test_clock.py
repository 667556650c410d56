"""The clock: AutoPay once per due date through daylight-saving changes and repeated fires."""

from __future__ import annotations

import datetime as dt
import uuid
from zoneinfo import ZoneInfo

import pytest
from apscheduler.triggers.cron import CronTrigger

from app import clock
from app.accounts.models import CreditAccount, Customer
from app.db import connection
from app.messaging.models import OutboxMessage
from app.payments import autopay
from app.payments.models import AutopayInstruction, AutopayRun, JobRun, Statement

NEW_YORK = ZoneInfo("America/New_York")


@pytest.fixture
def instructions(clean_db):
    """Three accounts on AutoPay with a statement due on 2026-11-01."""
    with connection():
        for _ in range(3):
            customer = Customer.create(
                external_id=str(uuid.uuid4()),
                first_name="A",
                last_name="B",
                email="a@b",
                phone_number="1",
            )
            account = CreditAccount.create(
                customer=customer, credit_limit=100_000, status="ACTIVE", posted_balance=0
            )
            Statement.create(
                account=account,
                token=str(uuid.uuid4()),
                statement_start_date=dt.date(2026, 9, 7),
                statement_end_date=dt.date(2026, 10, 7),
                payment_due_date=dt.date(2026, 11, 1),
                ending_balance=0,
                minimum_payment=0,
            )
            AutopayInstruction.create(
                account=account,
                mode="MINIMUM_DUE",
                source_account_id="bank-1",
                agreed_at=dt.datetime(2026, 10, 1),
            )
    return clean_db


def fire_times(hour: int, minute: int, start: dt.datetime, end: dt.datetime) -> list[dt.datetime]:
    trigger = CronTrigger(hour=hour, minute=minute, timezone=NEW_YORK)
    times, previous, now = [], None, start
    while True:
        fire = trigger.get_next_fire_time(previous, now)
        if fire is None or fire > end:
            return times
        times.append(fire)
        # Step in UTC: wall-clock arithmetic would drop the fold and loop in the repeated hour.
        previous, now = fire, fire.astimezone(dt.UTC) + dt.timedelta(seconds=1)


@pytest.mark.parametrize("hour,minute", [(0, 2), (1, 30)])
def test_every_fire_across_the_autumn_change_pays_each_instruction_once(instructions, hour, minute):
    start = dt.datetime(2026, 10, 31, 0, 0, tzinfo=NEW_YORK)
    end = dt.datetime(2026, 11, 2, 12, 0, tzinfo=NEW_YORK)
    fires = fire_times(hour, minute, start, end)
    config = instructions.config

    with connection():
        queued = [autopay.sweep(clock.local_today(config, fire)) for fire in fires]

        assert sum(queued) == 3
        assert AutopayRun.select().count() == 3
        assert {r.due_date for r in AutopayRun.select()} == {dt.date(2026, 11, 1)}
        assert JobRun.select().where(JobRun.job == "autopay").count() == len(
            {clock.local_today(config, f) for f in fires}
        )


def test_the_repeated_hour_really_fires_twice_so_the_date_key_matters():
    start = dt.datetime(2026, 11, 1, 0, 0, tzinfo=NEW_YORK)
    end = dt.datetime(2026, 11, 1, 23, 0, tzinfo=NEW_YORK)

    fires = fire_times(1, 30, start, end)

    assert len(fires) == 2
    assert {f.astimezone(dt.UTC).hour for f in fires} == {5, 6}


def test_a_second_sweep_the_same_day_queues_nothing(instructions):
    with connection():
        first = autopay.sweep(dt.date(2026, 11, 1))
        second = autopay.sweep(dt.date(2026, 11, 1))
        later = autopay.sweep(dt.date(2026, 11, 2))

        assert (first, second, later) == (3, 0, 0)
        assert (
            OutboxMessage.select().where(OutboxMessage.actor_name == "autopay_request").count() == 3
        )


def test_the_business_date_is_the_programs_not_utcs(runtime):
    late_evening_in_new_york = dt.datetime(2026, 11, 2, 3, 30, tzinfo=dt.UTC)

    assert clock.local_today(runtime.config, late_evening_in_new_york) == dt.date(2026, 11, 1)
