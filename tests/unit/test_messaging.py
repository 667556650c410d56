"""The messaging layer under faults: refused retries, backoff caps, redeliveries, dead letters."""

from __future__ import annotations

import threading
import time
import uuid

import dramatiq
import pytest
from dramatiq.brokers.stub import StubBroker
from dramatiq.common import current_millis
from dramatiq.errors import BrokerError, ConnectionClosed, QueueNotFound

from app.messaging.broker import middleware
from app.messaging.errors import PermanentError, TransientError
from app.messaging.middleware import MAX_BACKOFF_MS

# RabbitMQ closes a channel that holds a delivery unacked for longer than this (the default
# consumer_timeout); Dramatiq holds a delayed message unacked until its eta.
RABBITMQ_CONSUMER_TIMEOUT_MS = 30 * 60 * 1000


class RefusingBroker(StubBroker):
    """An in-process broker that accepts first deliveries but refuses every delayed re-publish."""

    def __init__(self, config, refusal: BaseException | None = None) -> None:
        super().__init__(middleware=middleware(config), fail_fast_default=False)
        self.refusal = refusal
        self.delays: list[int] = []

    def enqueue(self, message, *, delay=None):
        if delay is not None:
            self.delays.append(delay)
            if self.refusal is not None:
                raise self.refusal
        return super().enqueue(message, delay=delay)


def a_flaky_actor(broker, failures: int, error: type[Exception] = TransientError):
    """An actor that fails `failures` times, then succeeds; counts its runs."""
    runs = {"attempts": 0, "succeeded": 0}
    name = f"flaky_{uuid.uuid4().hex[:8]}"

    def flaky():
        runs["attempts"] += 1
        if runs["attempts"] <= failures:
            raise error("Lithic 503: Service unavailable.")
        runs["succeeded"] += 1

    actor = dramatiq.actor(flaky, broker=broker, actor_name=name, queue_name=name)
    return actor, runs


def run_until_idle(broker, queue_name: str, timeout_ms: int = 10_000) -> None:
    worker = dramatiq.Worker(broker, worker_threads=1, worker_timeout=50)
    worker.start()
    try:
        broker.join(queue_name, timeout=timeout_ms, fail_fast=False)
        worker.join()
    finally:
        worker.stop()


def dead_letter_rows(message_id: str):
    from app.db import connection
    from app.messaging.models import DeadLetter

    with connection():
        return list(DeadLetter.select().where(DeadLetter.message_id == message_id))


# F2: a retry that the broker refuses to publish


@pytest.mark.parametrize(
    "refusal",
    [
        ConnectionClosed(OSError("connection reset by peer")),
        QueueNotFound("flaky.DQ"),
        BrokerError("publish refused by the broker"),
        OSError("network unreachable"),
    ],
    ids=["connection-closed", "queue-not-found", "broker-error", "os-error"],
)
def test_an_actor_failing_while_the_broker_refuses_the_retry_is_dead_lettered_not_acked(
    clean_db, refusal
):
    # Given an actor whose first run fails with a transient error,
    # and a broker that refuses to publish the delayed retry
    broker = RefusingBroker(clean_db.config, refusal)
    actor, runs = a_flaky_actor(broker, failures=1)

    # When the message is delivered
    message = actor.send()
    run_until_idle(broker, actor.queue_name)

    # Then it was neither lost nor silently acknowledged: it ran again later, or it is a
    # dead letter both in the broker and in our records, with its error
    retried = runs["succeeded"] == 1
    letters = dead_letter_rows(message.message_id)
    dead_lettered = [m.message_id for m in broker.dead_letters] == [message.message_id]
    assert retried or (dead_lettered and len(letters) == 1), (runs, broker.dead_letters, letters)
    if not retried:
        assert letters[0].error_type == "TransientError"
        assert "503" in letters[0].error


def test_a_transient_failure_is_retried_with_backoff_and_then_succeeds(clean_db):
    # Given an actor that fails twice with a transient error, and a broker that accepts retries
    broker = RefusingBroker(clean_db.config)
    actor, runs = a_flaky_actor(broker, failures=2)

    # When the message is delivered
    message = actor.send()
    run_until_idle(broker, actor.queue_name)

    # Then it ran three times, succeeded, and left no dead letter
    assert runs == {"attempts": 3, "succeeded": 1}
    assert len(broker.delays) == 2
    assert broker.dead_letters == [] and dead_letter_rows(message.message_id) == []


def test_retries_exhausted_become_a_recorded_dead_letter(clean_db):
    # Given an actor that never stops failing (MAX_RETRIES is 2 in the test runtime)
    broker = RefusingBroker(clean_db.config)
    actor, runs = a_flaky_actor(broker, failures=100)

    # When the message is delivered
    message = actor.send()
    run_until_idle(broker, actor.queue_name)

    # Then it ran once plus two retries and is a dead letter with its error and retry count
    assert runs["attempts"] == 3
    (letter,) = dead_letter_rows(message.message_id)
    assert (letter.error_type, letter.retries) == ("TransientError", 3)


def test_a_permanent_failure_is_dead_lettered_at_once_without_retries(clean_db):
    # Given an actor failing with a permanent error (bad input, a 4xx from Lithic)
    broker = RefusingBroker(clean_db.config)
    actor, runs = a_flaky_actor(broker, failures=100, error=PermanentError)

    # When the message is delivered
    message = actor.send()
    run_until_idle(broker, actor.queue_name)

    # Then it ran once, no retry was published, and it is a dead letter
    assert runs["attempts"] == 1 and broker.delays == []
    (letter,) = dead_letter_rows(message.message_id)
    assert (letter.error_type, letter.retries) == ("PermanentError", 0)


# F4: backoff below RabbitMQ's consumer timeout


def retry_delay(config, retries: int, actor_options: dict | None = None, exception=None) -> int:
    """The delay the retry policy asks for after a failure at `retries` retries so far."""
    broker = RefusingBroker(config)
    name = f"slow_{uuid.uuid4().hex[:8]}"
    dramatiq.actor(
        lambda: None, broker=broker, actor_name=name, queue_name=name, **(actor_options or {})
    )
    message = dramatiq.Message(
        queue_name=name,
        actor_name=name,
        args=(),
        kwargs={},
        options={"retries": retries, "max_retries": 1000},
    )
    policy = next(m for m in broker.middleware if isinstance(m, dramatiq.middleware.Retries))
    before = current_millis()
    policy.after_process_message(broker, message, exception=exception or TransientError("x"))
    (queued,) = broker.queues[f"{name}.DQ"].queue
    eta = dramatiq.Message.decode(queued).options["eta"]
    return eta - before


def test_retry_backoff_is_capped_below_rabbitmqs_consumer_timeout(runtime):
    # Given the production retry policy (MIN_BACKOFF_MS 1000, the default)
    from dataclasses import replace

    config = replace(runtime.config, min_backoff_ms=1000)

    # When a message has failed many times
    delays = [retry_delay(config, retries) for retries in range(0, 40)]

    # Then no retry waits longer than the cap, and the cap is below the consumer timeout
    assert max(delays) <= MAX_BACKOFF_MS + 1000
    assert MAX_BACKOFF_MS < RABBITMQ_CONSUMER_TIMEOUT_MS
    assert delays[0] < 5_000


@pytest.mark.parametrize(
    "actor_options, exception",
    [
        ({"max_backoff": 24 * 3600 * 1000}, None),
        ({}, dramatiq.Retry(delay=2 * 3600 * 1000)),
    ],
    ids=["actor-max-backoff-of-a-day", "retry-with-a-delay-of-two-hours"],
)
def test_a_retry_asking_for_longer_than_the_consumer_timeout_is_capped(
    runtime, actor_options, exception
):
    # Given an actor that asks for a backoff past RabbitMQ's 30-minute consumer timeout

    # When it fails
    delay = retry_delay(runtime.config, 30, actor_options, exception)

    # Then its retry is held no longer than the cap, so no channel is closed under it
    assert delay <= MAX_BACKOFF_MS + 1000


def test_an_explicit_delay_past_the_consumer_timeout_is_refused_not_held(runtime):
    # Given an actor
    broker = RefusingBroker(runtime.config)
    name = f"later_{uuid.uuid4().hex[:8]}"
    actor = dramatiq.actor(lambda: None, broker=broker, actor_name=name, queue_name=name)

    # When something asks for it to run in two hours (the clock is the way to schedule that)
    with pytest.raises(Exception, match="consumer timeout|clock"):
        actor.send_with_options(delay=2 * 3600 * 1000)

    # Then nothing was queued to be held unacknowledged for two hours
    assert broker.queues[f"{name}.DQ"].qsize() == 0


# At-least-once delivery, exactly-once effects


def test_the_same_message_delivered_three_times_at_once_commits_its_effects_once(clean_db):
    # Given an actor that records an effect and marks its message processed in one transaction,
    # and one message RabbitMQ delivers three times at once (a redelivery, a relay re-publish)
    from app.cards.models import CardEvent
    from app.db import connection, transaction
    from app.messaging.actor import mark_processed, queue_actor

    card_id = a_card()
    barrier = threading.Barrier(3)
    committed = []

    def record(message_id, card_id):
        barrier.wait(timeout=5)
        with transaction():
            CardEvent.create(card=card_id, kind="ORDERED", source_id=str(uuid.uuid4()))
            time.sleep(0.05)
            mark_processed(message_id, "record")
        committed.append(message_id)

    actor = queue_actor(f"record_{uuid.uuid4().hex[:8]}")(record)
    message_id = str(uuid.uuid4())

    # When three worker threads run it concurrently
    def deliver():
        with connection():
            actor.fn(message_id=message_id, card_id=card_id)

    threads = [threading.Thread(target=deliver) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)

    # Then exactly one delivery committed its effect; the others rolled theirs back
    with connection():
        events = CardEvent.select().where(CardEvent.card == card_id).count()
    assert committed == [message_id]
    assert events == 1


def a_card() -> str:
    from app.accounts.models import CreditAccount, Customer
    from app.cards.models import Card
    from app.db import connection

    with connection():
        customer = Customer.create(
            external_id=f"ext-{uuid.uuid4()}",
            first_name="Ada",
            last_name="Lovelace",
            email="ada@example.com",
            phone_number="+15555550123",
        )
        account = CreditAccount.create(customer=customer, credit_limit=1000, status="ACTIVE")
        return Card.create(customer=customer, account=account, type="PHYSICAL").id
