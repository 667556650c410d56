"""The clock process: APScheduler jobs that only enqueue (here: the outbox relay sweep)."""

from __future__ import annotations

import logging
import signal
import zlib

from apscheduler.events import EVENT_JOB_ERROR, EVENT_JOB_MISSED
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.base import BaseScheduler
from apscheduler.schedulers.blocking import BlockingScheduler

from app import db as database
from app.messaging import outbox
from app.runtime import Runtime, bootstrap

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


def schedule(scheduler: BaseScheduler) -> BaseScheduler:
    scheduler.add_job(
        relay_outbox, "interval", seconds=10, id="outbox_relay", replace_existing=True
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
    scheduler = schedule(BackgroundScheduler(timezone="UTC", job_defaults=JOB_DEFAULTS))
    scheduler.start()
    runtime.stoppers.append(lambda: scheduler.shutdown(wait=False))
    return scheduler


def main() -> None:
    """Run the clock in the foreground until SIGTERM or SIGINT."""
    bootstrap()
    scheduler = schedule(BlockingScheduler(timezone="UTC", job_defaults=JOB_DEFAULTS))

    def stop(signum, _frame):
        logger.info("clock.stopping signal=%s", signum)
        scheduler.shutdown(wait=True)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    logger.info("clock.started")
    scheduler.start()


if __name__ == "__main__":
    main()
