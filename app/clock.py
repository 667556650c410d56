"""The clock process: APScheduler jobs that only enqueue (through the outbox) or record.

Every job is idempotent per run date and guarded by a database lock, so a restart, a
daylight-saving re-fire or a second clock during a deploy cannot pay twice.
"""

from __future__ import annotations

import datetime as dt
import logging
import signal
import zlib
from zoneinfo import ZoneInfo

from apscheduler.events import EVENT_JOB_ERROR, EVENT_JOB_MISSED
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.base import BaseScheduler
from apscheduler.schedulers.blocking import BlockingScheduler
from apscheduler.triggers.cron import CronTrigger

from app import db as database
from app.cards import models as m
from app.cards.models import Card
from app.config import Config
from app.db import transaction, utcnow
from app.messaging import outbox
from app.payments import autopay
from app.payments.models import Notification
from app.runtime import Runtime, bootstrap, current

logger = logging.getLogger(__name__)

JOB_DEFAULTS = {
    # Several due runs after a pause collapse into one; a run up to 15 min late still runs
    # (the default grace is one second, which silently skips runs on a busy host).
    "coalesce": True,
    "max_instances": 1,
    "misfire_grace_time": 15 * 60,
}


def singleton(job_name: str):
    """Run the job only where a PostgreSQL advisory lock is won, so two clocks run it once."""

    def decorate(fn):
        def run():
            with database.connection():
                if database.is_sqlite():
                    return fn()
                key = zlib.crc32(job_name.encode())
                got = database.db.execute_sql("SELECT pg_try_advisory_lock(%s)", (key,))
                if not got.fetchone()[0]:
                    logger.info("clock.job_skipped job=%s reason=locked", job_name)
                    return None
                try:
                    return fn()
                finally:
                    database.db.execute_sql("SELECT pg_advisory_unlock(%s)", (key,))

        run.__name__ = job_name
        return run

    return decorate


@singleton("outbox_relay")
def relay_outbox() -> None:
    outbox.relay()


def local_today(config: Config, now: dt.datetime | None = None) -> dt.date:
    """The business date in the program's time zone."""
    now = now or dt.datetime.now(dt.UTC)
    return now.astimezone(ZoneInfo(config.program_timezone)).date()


@singleton("outbox_redeliver")
def redeliver_outbox() -> None:
    outbox.redeliver()


@singleton("autopay_sweep")
def autopay_sweep() -> None:
    autopay.sweep(local_today(current().config))


@singleton("autopay_retries")
def autopay_retries() -> None:
    autopay.retry_due()


@singleton("activation_reminders")
def activation_reminders() -> None:
    remind_unactivated_cards(local_today(current().config))


def remind_unactivated_cards(run_date: dt.date, days: int = 10) -> int:
    """Note a reminder for physical cards shipped over `days` ago and never activated."""
    if not autopay.claim_run("activation_reminders", run_date):
        return 0
    cutoff = utcnow() - dt.timedelta(days=days)
    reminded = 0
    with transaction():
        for card in Card.select().where(
            (Card.state == m.PENDING_ACTIVATION)
            & (Card.shipped_at <= cutoff)
            & Card.activation_reminded_at.is_null()
        ):
            Notification.create(
                customer=card.customer_id,
                kind="ACTIVATE_CARD",
                message=f"Has your card ending {card.last_four} arrived? Activate it in the app.",
            )
            card.activation_reminded_at = utcnow()
            card.save()
            reminded += 1
    return reminded


def schedule(scheduler: BaseScheduler, config: Config) -> BaseScheduler:
    hour, minute = (int(part) for part in config.autopay_time.split(":"))
    scheduler.add_job(
        relay_outbox, "interval", seconds=10, id="outbox_relay", replace_existing=True
    )
    scheduler.add_job(
        redeliver_outbox, "interval", minutes=30, id="outbox_redeliver", replace_existing=True
    )
    # Local wall time on purpose: AutoPay runs just after midnight where the program lives.
    # 00:02 is outside the hour DST repeats or skips, and the run-date key covers the rest.
    scheduler.add_job(
        autopay_sweep,
        CronTrigger(hour=hour, minute=minute, timezone=config.program_timezone),
        id="autopay_sweep",
        replace_existing=True,
    )
    scheduler.add_job(
        autopay_retries, "interval", minutes=15, id="autopay_retries", replace_existing=True
    )
    scheduler.add_job(
        activation_reminders,
        CronTrigger(hour=10, minute=0, timezone=config.program_timezone),
        id="activation_reminders",
        replace_existing=True,
    )
    scheduler.add_listener(_on_event, EVENT_JOB_ERROR | EVENT_JOB_MISSED)
    return scheduler


def _on_event(event) -> None:
    if getattr(event, "exception", None) is not None:
        logger.error("clock.job_failed job=%s", event.job_id, exc_info=event.exception)
    else:
        logger.warning("clock.job_missed job=%s", event.job_id)


def start_background(runtime: Runtime) -> BackgroundScheduler:
    """The clock inside another process (the embedded default)."""
    scheduler = schedule(
        BackgroundScheduler(timezone="UTC", job_defaults=JOB_DEFAULTS), runtime.config
    )
    scheduler.start()
    runtime.stoppers.append(lambda: scheduler.shutdown(wait=False))
    return scheduler


def main() -> None:
    """Run the clock in the foreground until SIGTERM or SIGINT."""
    runtime = bootstrap()
    scheduler = schedule(
        BlockingScheduler(timezone="UTC", job_defaults=JOB_DEFAULTS), runtime.config
    )

    def stop(signum, _frame):
        logger.info("clock.stopping signal=%s", signum)
        scheduler.shutdown(wait=True)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    logger.info("clock.started")
    scheduler.start()
    # Stand-ins started for the embedded default run threads that would keep us alive.
    runtime.stop()
    logger.info("clock.stopped")


if __name__ == "__main__":
    main()
