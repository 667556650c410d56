"""Trying to break a whole deployment: broker and database faults, duplicates, bad inputs.

Each test starts real processes (gunicorn, `dramatiq actors`, the Lithic emulator) on its own
PostgreSQL database and RabbitMQ vhost; faults are injected only there.
"""

from __future__ import annotations

import concurrent.futures
import datetime as dt
import json
import shutil
import subprocess
import time
import uuid

import pika
import psycopg2
import pytest
import requests
from standardwebhooks import Webhook

from app.demo import SHIPPING
from tests.support import api, services
from tests.support.stack import API_KEY, BIN, WEBHOOK_SECRET, Stack, wait_until

pytestmark = [pytest.mark.postgres, pytest.mark.rabbitmq, pytest.mark.slow]

CREATE_PHYSICAL = """mutation($input: CreateCardInput!) {
  createCard(input: $input) { card { id state } operation { id status } } }"""
CREATE_VIRTUAL = """mutation { createCard(input: {type: VIRTUAL}) {
  card { id state lastFour } operation { id status } } }"""


# The emulator, seen as Lithic's API and test controls


def lithic(stack, method: str, path: str, **kwargs):
    response = requests.request(
        method, stack.emulator_url + path, headers={"Authorization": API_KEY}, timeout=10, **kwargs
    )
    response.raise_for_status()
    return response.json()


def emulator_cards(stack) -> list[dict]:
    cards, params = [], {"page_size": 100}
    while True:
        page = lithic(stack, "GET", "/v1/cards", params=params)
        cards += page["data"]
        if not page["has_more"]:
            return cards
        params["starting_after"] = page["data"][-1]["token"]


def inject_fault(stack, **fault) -> None:
    requests.post(
        f"{stack.emulator_url}/_emulator/faults", json=fault, timeout=5
    ).raise_for_status()


def clear_faults(stack) -> None:
    requests.delete(f"{stack.emulator_url}/_emulator/faults", timeout=5).raise_for_status()


# RabbitMQ, only ever inside this test's vhost


def vhost_of(stack) -> str:
    return pika.URLParameters(stack.rabbitmq_url).virtual_host


def rabbitmqctl(*args: str) -> str:
    ctl = shutil.which("rabbitmqctl")
    if ctl is None:
        pytest.skip("rabbitmqctl is needed to close connections in the test's vhost")
    result = subprocess.run([ctl, "-q", *args], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    return result.stdout


def close_vhost_connections(stack) -> int:
    """Close every RabbitMQ connection of this deployment (its vhost only); returns how many."""
    listing = rabbitmqctl("list_connections", "pid", "vhost").splitlines()[1:]
    rows = [line.split("\t") for line in listing]
    mine = [pid for pid, vhost in rows if vhost == vhost_of(stack)]

    def close(pid: str) -> None:
        # A connection may already be gone: only this vhost's are ever touched.
        subprocess.run(
            [shutil.which("rabbitmqctl"), "-q", "close_connection", pid, "resilience test"],
            capture_output=True,
            timeout=60,
        )

    with concurrent.futures.ThreadPoolExecutor(len(mine) or 1) as pool:
        list(pool.map(close, mine))
    return len(mine)


def channel(stack):
    connection = pika.BlockingConnection(pika.URLParameters(stack.rabbitmq_url))
    return connection, connection.channel()


def queue_exists(stack, name: str) -> bool:
    connection, ch = channel(stack)
    try:
        ch.queue_declare(name, passive=True)
        return True
    except pika.exceptions.ChannelClosedByBroker:
        return False
    finally:
        if connection.is_open:
            connection.close()


def message_count(stack, name: str) -> int:
    connection, ch = channel(stack)
    try:
        return ch.queue_declare(name, passive=True).method.message_count
    finally:
        connection.close()


# Our database, only ever this test's own


def database_name(stack) -> str:
    return stack.database_url.rsplit("/", 1)[1]


def terminate_database_connections(stack) -> int:
    """Kill every PostgreSQL backend of this deployment's database (as a server restart would)."""
    conn = psycopg2.connect(host="127.0.0.1", dbname="test", user="postgres")
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE datname = %s AND pid <> pg_backend_pid()",
            (database_name(stack),),
        )
        killed = cur.fetchone()[0]
    conn.close()
    return killed


def sql(stack, query: str, *params):
    conn = psycopg2.connect(stack.database_url)
    try:
        with conn.cursor() as cur:
            cur.execute(query, params)
            return cur.fetchall()
    finally:
        conn.close()


# Driving the service


def order_physical_async(customer) -> dict:
    return customer(CREATE_PHYSICAL, input={"type": "PHYSICAL", "shippingAddress": SHIPPING})[
        "createCard"
    ]


def operation(customer, operation_id: str) -> dict:
    return customer("query($id: ID!) { operation(id: $id) { id status error } }", id=operation_id)[
        "operation"
    ]


def all_done(customer, operation_ids: list[str], timeout: float = 60.0) -> list[dict]:
    def check():
        ops = [operation(customer, op_id) for op_id in operation_ids]
        failed = [op for op in ops if op["status"] == "FAILED"]
        assert failed == [], failed
        return ops if all(op["status"] == "SUCCEEDED" for op in ops) else None

    return wait_until(check, timeout=timeout, interval=0.5, what="every operation to succeed")


def signed_post(stack, payload: dict, webhook_id: str) -> requests.Response:
    body = json.dumps(payload)
    at = dt.datetime.now(dt.UTC)
    return requests.post(
        f"{stack.url}/webhooks/lithic",
        data=body,
        headers={
            "content-type": "application/json",
            "webhook-id": webhook_id,
            "webhook-timestamp": str(int(at.timestamp())),
            "webhook-signature": Webhook(WEBHOOK_SECRET).sign(webhook_id, at, body),
        },
        timeout=10,
    )


def worker_of(stack):
    return next(p for p in reversed(stack.processes) if p.name == "worker")


# F1: connections closed under load


def test_forty_card_orders_in_flight_while_the_vhosts_connections_are_closed_make_one_card_each(
    stack,
):
    # Given forty physical card orders queued, with Lithic taking a second to answer each
    customer, _ = api.onboard(stack.url)
    inject_fault(stack, method="POST", path="^/v1/cards$", status=200, delay=1.0, count=1000)
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        orders = list(pool.map(lambda _: order_physical_async(customer), range(40)))

    # When RabbitMQ closes every connection of the deployment while they are worked on
    wait_until(lambda: emulator_cards(stack), what="the first orders to reach Lithic")
    assert close_vhost_connections(stack) > 0
    in_flight = 40 - sql(stack, "SELECT count(*) FROM card WHERE lithic_token IS NOT NULL")[0][0]

    # Then every order is done, with exactly one Lithic card each
    all_done(customer, [o["operation"]["id"] for o in orders], timeout=90)
    clear_faults(stack)
    # More than the worker was running (4 threads): prefetched or queued ones were caught too.
    assert in_flight > 8, "the connections closed too late to catch orders in flight"
    assert len(emulator_cards(stack)) == 40
    assert sql(stack, "SELECT count(DISTINCT lithic_token) FROM card") == [(40,)]
    worker_log = worker_of(stack).log()
    assert "CONNECTION_FORCED" in worker_log, "the worker's connections were not closed"


# F3: queues deleted or declared differently


def test_a_queue_deleted_under_a_running_service_is_recreated_and_nothing_is_dropped(stack):
    # Given a running deployment that has ordered a card (its queues exist and are consumed)
    customer, _ = api.onboard(stack.url)
    api.order_physical(customer)

    # When an operator deletes the queue and its delay queue under it
    connection, ch = channel(stack)
    ch.queue_delete("create_credit_card")
    ch.queue_delete("create_credit_card.DQ")
    connection.close()

    # Then the worker declares it again by itself, and orders placed afterwards all complete
    wait_until(
        lambda: queue_exists(stack, "create_credit_card"),
        timeout=10,
        what="the worker to re-create the deleted queue",
    )
    orders = [order_physical_async(customer) for _ in range(5)]
    all_done(customer, [o["operation"]["id"] for o in orders], timeout=30)
    assert len([c for c in emulator_cards(stack) if c["type"] == "PHYSICAL"]) == 6


def test_orders_waiting_in_a_queue_when_it_is_deleted_are_not_dropped(stack):
    # Given three card orders waiting in their queue while the worker is down
    customer, _ = api.onboard(stack.url)
    worker_of(stack).stop()
    orders = [order_physical_async(customer) for _ in range(3)]
    wait_until(lambda: message_count(stack, "create_credit_card") == 3, what="three waiting")

    # When the queue is deleted, and the worker comes back
    connection, ch = channel(stack)
    ch.queue_delete("create_credit_card")
    connection.close()
    stack.start_worker()
    relay = stack.run([str(BIN / "ccs"), "relay", "--min-age", "0", "--redeliver-after", "0"])
    assert relay.returncode == 0, relay.stderr
    assert "redelivered 3 unprocessed message(s)" in relay.stdout

    # Then every order is still carried out
    all_done(customer, [o["operation"]["id"] for o in orders], timeout=20)


def test_a_queue_that_exists_with_other_arguments_stops_the_worker_with_a_clear_error(
    stack_parts,
):
    # Given a queue of ours that already exists in RabbitMQ with other arguments
    stack = stack_parts
    connection, ch = channel(stack)
    ch.queue_declare("create_credit_card", durable=True, arguments={"x-max-length": 10})
    connection.close()
    stack.start_emulator()
    stack.migrate()

    # When the worker starts
    worker = stack.start_worker()

    # Then it refuses to run, naming the queue and the conflict
    try:
        worker.popen.wait(30)
    except subprocess.TimeoutExpired:
        pass
    log = worker.log()
    assert worker.popen.returncode not in (None, 0), log[-3000:]
    assert "create_credit_card" in log and "inequivalent arg" in log, log[-3000:]


# F8: PostgreSQL connections killed under running processes


def test_database_connections_killed_under_web_and_worker_next_requests_and_messages_succeed(
    stack,
):
    # Given a deployment whose web and worker processes hold pooled database connections
    customer, _ = api.onboard(stack.url)
    card_id = api.order_physical(customer)
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda _: customer("{ creditCards { id } }"), range(16)))

    # When every PostgreSQL backend of the deployment is terminated (as a restart would)
    killed = terminate_database_connections(stack)

    # Then the next requests and messages succeed without restarting anything
    assert killed > 0
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        responses = list(
            pool.map(
                lambda _: customer.session.post(
                    customer.url, json={"query": "{ creditCards { id state } }"}, timeout=30
                ),
                range(16),
            )
        )
    assert [r.status_code for r in responses] == [200] * 16
    assert all(not r.json().get("errors") for r in responses)
    order = order_physical_async(customer)
    all_done(customer, [order["operation"]["id"]], timeout=30)
    replacement = api.replace(customer, card_id)
    all_done(customer, [replacement["operation"]["id"]], timeout=30)
    assert all(p.popen.poll() is None for p in stack.processes)


# One deployment shared by the short tests below (its emulator ships nothing by itself)


@pytest.fixture(scope="module")
def shared_stack(tmp_path_factory):
    database_url, db_name = services.create_pg_database()
    rabbitmq_url, vhost = services.create_rabbit_vhost()
    stack = Stack(
        database_url=database_url,
        rabbitmq_url=rabbitmq_url,
        workdir=tmp_path_factory.mktemp("shared-stack"),
    )
    try:
        stack.start()
        yield stack
    finally:
        stack.stop()
        services.delete_rabbit_vhost(vhost)
        services.drop_pg_database(db_name)


@pytest.fixture
def deployment(shared_stack, request):
    """The shared deployment with no fault armed; its logs are printed when a test fails."""
    clear_faults(shared_stack)
    yield shared_stack
    clear_faults(shared_stack)
    report = getattr(request.node, "rep_call", None)
    if report is not None and report.failed:
        print(shared_stack.logs())


def gql(client, query: str, **variables) -> tuple[int, dict]:
    """One GraphQL call, answered as it is (errors included)."""
    response = client.session.post(
        client.url, json={"query": query, "variables": variables}, timeout=30
    )
    return response.status_code, response.json()


def error_codes(body: dict) -> list[str | None]:
    return [(e.get("extensions") or {}).get("code") for e in body.get("errors") or []]


def ship(stack, card_id: str, customer) -> None:
    token = sql(stack, "SELECT lithic_token FROM card WHERE id = %s", card_id)[0][0]
    requests.post(
        f"{stack.emulator_url}/_emulator/cards/{token}/ship", timeout=10
    ).raise_for_status()
    wait_until(
        lambda: api.card(customer, card_id)["state"] == "PENDING_ACTIVATION",
        what="the card.shipped webhook to apply",
    )


FREEZE = "mutation($id: ID!) { freezeUnfreezeCard(cardId: $id, freeze: true) { id state } }"
ACTIVATE = "mutation($id: ID!) { activateCreditCard(cardId: $id) { id state } }"
REPLACE = """mutation($id: ID!, $reason: ReplacementReason!) {
  replaceCard(input: {cardId: $id, reason: $reason}) { card { id } operation { id status } } }"""
READ = "query($id: ID!) { creditCard(id: $id) { id state } }"
# Its own text: a refused request is cached by query text in each web process (see
# test_a_malformed_request_does_not_break_the_same_query_for_the_next_client).
MALFORMED_FREEZE = "mutation($id: ID!) { freezeUnfreezeCard(cardId: $id, freeze: true) { id } }"
ONBOARD = """mutation($input: OnboardCustomerInput!) {
  onboardCustomer(input: $input) { customerId operation { id } } }"""


# Bad inputs


@pytest.mark.parametrize(
    "body",
    [
        {"query": "{ creditCards { id "},
        {"query": "mutation { createCard }"},
        {"query": "{ creditCards(first: 1) { id } }"},
        {"query": "{ creditCards { id nope } }"},
        {"query": MALFORMED_FREEZE, "variables": {"id": "x", "freeze": "yes"}},
        {"query": MALFORMED_FREEZE, "variables": {}},
        {"query": ["not", "a", "string"]},
        {"query": "{ creditCards { id } }", "variables": ["a"]},
        {"query": "query { " * 50 + "creditCards { id }" + " }" * 50},
        {"query": "{ creditCards { id } } { creditCards { id } }"},
        {"query": "query A { creditCards { id } } query B { accountInfo { id } }"},
    ],
    ids=[
        "unterminated",
        "missing-selection",
        "unknown-argument",
        "unknown-field",
        "variable-of-the-wrong-type",
        "missing-variable",
        "query-not-a-string",
        "variables-not-an-object",
        "deeply-nested-garbage",
        "two-anonymous-operations",
        "several-operations-without-a-name",
    ],
)
def test_malformed_graphql_gets_a_clear_client_error_never_an_internal_one(deployment, body):
    # Given a signed-in customer
    customer, _ = api.onboard(deployment.url)

    # When they send a malformed request
    response = customer.session.post(customer.url, json=body, timeout=30)

    # Then it is refused as their mistake, with a message, and nothing internal leaks
    assert response.status_code == 400, response.text
    text = response.text
    assert "Internal server error" not in text and "Traceback" not in text
    assert "errors" in response.json() or "description" in response.json()


@pytest.mark.parametrize(
    "credit_limit, expected",
    [
        (12.5, "integer number of cents"),
        ("100000", "integer number of cents"),
        (True, "integer number of cents"),
        (-5, "positive"),
        (0, "positive"),
        (10**16, "out of range"),
        (2**63, "out of range"),
    ],
    ids=["fraction", "string", "boolean", "negative", "zero", "too-large", "int64-overflow"],
)
def test_a_bad_credit_limit_is_refused_and_creates_nothing(deployment, credit_limit, expected):
    # Given the onboarding service's client
    internal = api.client(deployment.url, "onboarding-service", "internal")
    external_id = f"ext-{uuid.uuid4()}"

    # When it onboards a customer with a bad amount
    status, body = gql(
        internal,
        ONBOARD,
        input={
            "externalId": external_id,
            "firstName": "Grace",
            "lastName": "Hopper",
            "email": "grace@example.com",
            "phoneNumber": "+15555550123",
            "dob": "1980-01-02",
            "governmentId": "111-22-3333",
            "address": {"address1": "1 St", "city": "NY", "state": "NY", "postalCode": "10001"},
            "creditLimit": credit_limit,
        },
    )

    # Then the amount is refused with a clear message and no customer exists
    assert body.get("errors"), body
    assert expected in body["errors"][0]["message"], body
    assert "INTERNAL" not in error_codes(body)
    assert sql(deployment, "SELECT count(*) FROM customer WHERE external_id = %s", external_id) == [
        (0,)
    ]


@pytest.mark.parametrize(
    "card_id",
    [
        str(uuid.uuid4()),
        "not-a-card",
        "x" * 5000,
        "' OR '1'='1",
        "card\u0000id",
        "🂡" * 40,
    ],
    ids=["unknown-uuid", "not-a-uuid", "very-long", "sql-like", "nul-character", "emoji"],
)
def test_an_unknown_or_malformed_card_id_is_not_found_for_every_operation(deployment, card_id):
    # Given a signed-in customer
    customer, _ = api.onboard(deployment.url)

    # When they read, freeze, activate or replace a card id that is not theirs to use
    read = gql(customer, READ, id=card_id)
    freeze = gql(customer, FREEZE, id=card_id)
    activate = gql(customer, ACTIVATE, id=card_id)
    replace = gql(customer, REPLACE, id=card_id, reason="LOST")

    # Then each answer is "not found", never an internal error
    assert read == (200, {"data": {"creditCard": None}})
    for status, body in (freeze, activate, replace):
        assert error_codes(body) == ["NOT_FOUND"], body


def test_another_customers_card_is_not_found_for_reads_and_every_mutation(deployment):
    # Given two customers, the first with a virtual card and a pending operation
    owner, _ = api.onboard(deployment.url)
    intruder, _ = api.onboard(deployment.url)
    created = owner(CREATE_VIRTUAL)["createCard"]
    card_id = created["card"]["id"]

    # When the second one reads or changes it
    read = gql(intruder, READ, id=card_id)
    operation_read = gql(
        intruder, "query($id: ID!) { operation(id: $id) { id } }", id=created["operation"]["id"]
    )
    mutations = [
        gql(intruder, FREEZE, id=card_id),
        gql(intruder, ACTIVATE, id=card_id),
        gql(intruder, REPLACE, id=card_id, reason="STOLEN"),
    ]

    # Then it does not exist for them, and the card is untouched
    assert read[1] == {"data": {"creditCard": None}}
    assert operation_read[1] == {"data": {"operation": None}}
    assert [error_codes(body) for _, body in mutations] == [["NOT_FOUND"]] * 3
    assert api.card(owner, card_id)["state"] == "OPEN"


def test_replacing_a_closed_card_is_refused_without_calling_lithic(deployment):
    # Given a virtual card an operator has closed
    customer, _ = api.onboard(deployment.url)
    card_id = customer(CREATE_VIRTUAL)["createCard"]["card"]["id"]
    api.admin(deployment.url)(
        'mutation($id: ID!) { closeCard(cardId: $id, reason: "fraud") { state } }', id=card_id
    )
    cards_before = len(emulator_cards(deployment))

    # When the customer asks to replace it
    status, body = gql(customer, REPLACE, id=card_id, reason="LOST")

    # Then it is refused as an invalid state and Lithic made no card
    assert error_codes(body) == ["INVALID_STATE"], body
    assert len(emulator_cards(deployment)) == cards_before


@pytest.mark.parametrize("reason", ["LOST", "DAMAGED"])
def test_replacing_a_card_six_times_at_once_makes_one_replacement(deployment, reason):
    # Given a physical card that has arrived
    customer, _ = api.onboard(deployment.url)
    card_id = api.order_physical(customer)
    ship(deployment, card_id, customer)
    requests_before = requests.get(f"{deployment.emulator_url}/_emulator/requests", timeout=10)
    seen = len(requests_before.json())

    # When the customer taps "replace" six times at once
    with concurrent.futures.ThreadPoolExecutor(6) as pool:
        answers = list(
            pool.map(lambda _: gql(customer, REPLACE, id=card_id, reason=reason), range(6))
        )

    # Then one replacement is accepted, the others are refused, and Lithic does it once
    accepted = [body for _, body in answers if not body.get("errors")]
    refused = [error_codes(body) for _, body in answers if body.get("errors")]
    assert len(accepted) == 1, answers
    assert refused == [["INVALID_STATE"]] * 5
    all_done(customer, [accepted[0]["data"]["replaceCard"]["operation"]["id"]], timeout=30)
    calls = requests.get(f"{deployment.emulator_url}/_emulator/requests", timeout=10).json()[seen:]
    made = [
        c
        for c in calls
        if c["method"] == "POST" and (c["path"] == "/v1/cards" or c["path"].endswith("/reissue"))
    ]
    assert len(made) == 1, made


def test_activating_a_card_not_yet_shipped_is_refused(deployment):
    # Given a physical card Lithic has not shipped yet
    customer, _ = api.onboard(deployment.url)
    card_id = api.order_physical(customer)
    assert api.card(customer, card_id)["state"] == "PENDING_FULFILLMENT"

    # When the customer tries to activate it
    status, body = gql(customer, ACTIVATE, id=card_id)

    # Then it is refused as an invalid state and stays unshipped
    assert error_codes(body) == ["INVALID_STATE"], body
    assert api.card(customer, card_id)["state"] == "PENDING_FULFILLMENT"


def test_a_malformed_request_does_not_break_the_same_query_for_the_next_client(clean_db):
    # Given the GraphQL endpoint (one process, as each gunicorn worker is) and an open card
    from falcon import testing

    from app.auth import mint_token
    from app.cards.models import Card
    from app.db import connection

    runtime = clean_db
    http = testing.TestClient(runtime.app)
    with connection():
        from app.accounts.models import CreditAccount, Customer

        owner = Customer.create(
            external_id="o", first_name="O", last_name="W", email="o@x", phone_number="1"
        )
        account = CreditAccount.create(customer=owner, credit_limit=100, status="ACTIVE")
        card = Card.create(customer=owner, account=account, type="VIRTUAL", state="OPEN")
    headers = {"Authorization": f"Bearer {mint_token(runtime.config, owner.id)}"}

    # When one client sends a query without its variables, then another sends it properly
    bad = http.simulate_post("/graphql", json={"query": READ, "variables": {}}, headers=headers)
    good = http.simulate_post(
        "/graphql", json={"query": READ, "variables": {"id": card.id}}, headers=headers
    )

    # Then only the first is refused
    assert bad.status_code == 400
    assert good.json == {"data": {"creditCard": {"id": card.id, "state": "OPEN"}}}


# F12: one Lithic event, delivered three times


def test_the_same_lithic_event_delivered_three_times_is_applied_once(deployment):
    # Given a physical card Lithic has shipped, and its card.shipped event delivered once
    stack = deployment
    customer, _ = api.onboard(stack.url)
    card_id = api.order_physical(customer)
    ship(stack, card_id, customer)
    token = sql(stack, "SELECT lithic_token FROM card WHERE id = %s", card_id)[0][0]
    (event,) = [
        e
        for e in lithic(stack, "GET", "/v1/events", params={"event_types": "card.shipped"})["data"]
        if e["payload"].get("card_token") == token
    ]
    (subscription,) = lithic(stack, "GET", "/v1/event_subscriptions")["data"]

    # When Lithic resends it twice
    resend = f"/v1/events/{event['token']}/event_subscriptions/{subscription['token']}/resend"
    for _ in range(2):
        requests.post(
            stack.emulator_url + resend, headers={"Authorization": API_KEY}, timeout=10
        ).raise_for_status()
    idle = requests.post(
        f"{stack.emulator_url}/_emulator/webhooks/wait", json={"timeout": 10}, timeout=15
    )
    assert idle.json() == {"idle": True}

    # Then it was received three times but recorded and applied once
    attempts = lithic(stack, "GET", f"/v1/events/{event['token']}/attempts")["data"]
    assert [a["status"] for a in attempts] == ["SUCCESS"] * 3
    wait_until(
        lambda: (
            sql(stack, "SELECT status FROM webhook_delivery WHERE webhook_id = %s", event["token"])
            == [("APPLIED",)]
        ),
        what="the delivery to be applied",
    )
    shipped = sql(
        stack,
        "SELECT count(*) FROM card_event WHERE card_id = %s AND kind = 'SHIPPED'",
        card_id,
    )
    assert shipped == [(1,)]
    assert api.card(customer, card_id)["state"] == "PENDING_ACTIVATION"


def test_the_same_webhook_posted_three_times_at_once_is_recorded_and_applied_once(deployment):
    # Given a physical card awaiting shipment
    stack = deployment
    customer, _ = api.onboard(stack.url)
    card_id = api.order_physical(customer)
    token = sql(stack, "SELECT lithic_token FROM card WHERE id = %s", card_id)[0][0]
    payload = {
        "event_type": "card.shipped",
        "card_token": token,
        "shipping_method": "USPS priority",
        "tracking_number": "TRACK-F12",
        "bulk_order_token": None,
    }
    webhook_id = f"msg_{uuid.uuid4().hex}"

    # When three copies of one delivery arrive at the same moment (two web processes)
    with concurrent.futures.ThreadPoolExecutor(3) as pool:
        responses = list(pool.map(lambda _: signed_post(stack, payload, webhook_id), range(3)))

    # Then all are acknowledged, exactly one as new, and the card is shipped once
    assert [r.status_code for r in responses] == [200] * 3
    assert sorted(r.json()["duplicate"] for r in responses) == [False, True, True]
    wait_until(
        lambda: api.card(customer, card_id)["trackingNumber"] == "TRACK-F12",
        what="the delivery to be applied",
    )
    assert sql(
        stack, "SELECT count(*) FROM card_event WHERE card_id = %s AND kind = 'SHIPPED'", card_id
    ) == [(1,)]
    assert sql(
        stack, "SELECT count(*) FROM webhook_delivery WHERE webhook_id = %s", webhook_id
    ) == [(1,)]


# Messages nobody can read


def test_an_undecryptable_message_ends_in_the_xq_dead_letter_queue_and_the_worker_keeps_working(
    deployment,
):
    # Given a running worker, and two messages it cannot open: garbage, and one sealed with a
    # key it does not have
    from cryptography.fernet import Fernet

    stack = deployment
    customer, _ = api.onboard(stack.url)
    api.order_physical(customer)
    before = message_count(stack, "create_credit_card.XQ")
    foreign = Fernet(Fernet.generate_key()).encrypt(b'{"actor_name":"create_credit_card"}')

    # When they arrive on its queue
    connection, ch = channel(stack)
    for body in (b"not a message at all", foreign):
        ch.basic_publish("", "create_credit_card", body, pika.BasicProperties(delivery_mode=2))
    connection.close()

    # Then both end in the queue's .XQ, and the worker still orders cards
    wait_until(
        lambda: message_count(stack, "create_credit_card.XQ") == before + 2,
        what="both messages in create_credit_card.XQ",
    )
    assert message_count(stack, "create_credit_card") == 0
    api.order_physical(customer)
    assert worker_of(stack).popen.poll() is None


# Card numbers never leave Lithic


def test_a_whole_card_flow_at_debug_level_never_logs_or_stores_a_pan_or_cvv(stack_parts):
    # Given a deployment logging at DEBUG, its web and worker included
    import re

    stack = stack_parts
    stack.start_emulator()
    stack.migrate()
    stack.start_web(LOG_LEVEL="DEBUG")
    stack.start_worker(LOG_LEVEL="DEBUG")

    # When a customer is onboarded, gets a virtual card and two physical ones, one shipped,
    # activated, frozen and unfrozen, then reissued as damaged, the other replaced as lost
    customer, _ = api.onboard(stack.url)
    customer(CREATE_VIRTUAL)
    first, second = api.order_physical(customer), api.order_physical(customer)
    ship(stack, first, customer)
    customer(ACTIVATE, id=first)
    customer(FREEZE, id=first)
    customer(FREEZE.replace("true", "false"), id=first)
    reissue = api.replace(customer, first, reason="DAMAGED")
    replacement = api.replace(customer, second, reason="LOST")
    all_done(customer, [reissue["operation"]["id"], replacement["operation"]["id"]])
    requests.post(f"{stack.emulator_url}/_emulator/webhooks/wait", json={"timeout": 10}, timeout=15)

    # Then no PAN or CVV Lithic returned appears in a log line or a database row
    cards = [lithic(stack, "GET", f"/v1/cards/{c['token']}") for c in emulator_cards(stack)]
    pans = [c["pan"] for c in cards]
    assert len(pans) == 4 and all(len(pan) >= 15 for pan in pans)
    logs = "\n".join(p.log() for p in stack.processes if p.name != "emulator")
    assert "DEBUG" in logs and "card.replaced" in logs, "the logs were not captured"
    assert [pan for pan in pans if pan in logs] == []
    assert re.search(r"cvv\W{0,6}\d{3}", logs, re.IGNORECASE) is None
    tables = [
        row[0] for row in sql(stack, "SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
    ]
    stored = "\n".join(
        str(row) for table in tables for row in sql(stack, f'SELECT t::text FROM "{table}" t')
    )
    assert [pan for pan in pans if pan in stored] == []
    assert "cvv" not in stored.lower()


# Lithic's answer and ours racing


def test_a_freeze_during_a_slow_card_updated_webhook_is_not_undone(deployment):
    # Given an open virtual card, and Lithic slow to answer the worker's read of it
    stack = deployment
    customer, _ = api.onboard(stack.url)
    card_id = customer(CREATE_VIRTUAL)["createCard"]["card"]["id"]
    token = sql(stack, "SELECT lithic_token FROM card WHERE id = %s", card_id)[0][0]
    requests.post(f"{stack.emulator_url}/_emulator/webhooks/wait", json={"timeout": 10}, timeout=15)
    inject_fault(
        stack, method="GET", path=f"^/v1/cards/{token}$", status=200, when="after", delay=3
    )

    # When a card.updated event is being applied while the customer freezes the card
    signed_post(stack, {"event_type": "card.updated", "card_token": token}, f"msg_{uuid.uuid4()}")
    time.sleep(1)
    assert customer(FREEZE, id=card_id)["freezeUnfreezeCard"]["state"] == "PAUSED"
    time.sleep(3)
    wait_until(
        lambda: (
            sql(stack, "SELECT count(*) FROM webhook_delivery WHERE status = 'RECEIVED'") == [(0,)]
        ),
        what="every webhook delivery to be applied",
    )

    # Then our copy still agrees with Lithic: the card is frozen
    assert lithic(stack, "GET", f"/v1/cards/{token}")["state"] == "PAUSED"
    assert api.card(customer, card_id)["state"] == "PAUSED"


# Lithic slow or rate limiting


def emulator_requests(stack) -> list[dict]:
    return requests.get(f"{stack.emulator_url}/_emulator/requests", timeout=10).json()


def test_lithic_429_with_retry_after_is_waited_out_and_makes_one_card(deployment):
    # Given Lithic rate-limiting the next two card creations (429, Retry-After: 1)
    stack = deployment
    customer, _ = api.onboard(stack.url)
    cards_before = len(emulator_cards(stack))
    seen = len(emulator_requests(stack))
    inject_fault(stack, method="POST", path="^/v1/cards$", status=429, count=2)

    # When the customer creates a virtual card (made at Lithic before the answer)
    started = time.monotonic()
    created = customer(CREATE_VIRTUAL)["createCard"]
    elapsed = time.monotonic() - started

    # Then it waited as told, retried with the same Idempotency-Key, and made one card
    assert created["card"]["state"] == "OPEN" and created["operation"]["status"] == "SUCCEEDED"
    assert elapsed >= 2.0
    posts = [r for r in emulator_requests(stack)[seen:] if r["path"] == "/v1/cards"]
    assert [r["status"] for r in posts] == [429, 429, 200]
    assert len({r["idempotency_key"] for r in posts}) == 1
    assert len(emulator_cards(stack)) == cards_before + 1


def test_lithic_429_beyond_the_clients_attempts_is_retried_by_the_actor(deployment):
    # Given Lithic rate-limiting the next four card creations, more than one delivery tries
    stack = deployment
    customer, _ = api.onboard(stack.url)
    cards_before = len(emulator_cards(stack))
    inject_fault(stack, method="POST", path="^/v1/cards$", status=429, count=4)

    # When the customer orders a physical card
    order = order_physical_async(customer)

    # Then the order completes on a later delivery, with one card at Lithic
    all_done(customer, [order["operation"]["id"]], timeout=30)
    assert len(emulator_cards(stack)) == cards_before + 1


@pytest.fixture
def slow_lithic_stack(stack_parts):
    """A deployment whose web and worker give Lithic one second to answer."""
    stack_parts.start_emulator()
    stack_parts.migrate()
    stack_parts.start_web(LITHIC_TIMEOUT="1")
    stack_parts.start_worker(LITHIC_TIMEOUT="1")
    return stack_parts


def test_lithic_timing_out_once_on_a_virtual_card_still_makes_exactly_one_card(
    slow_lithic_stack,
):
    # Given Lithic making the next card but answering after our one-second timeout
    stack = slow_lithic_stack
    customer, _ = api.onboard(stack.url)
    inject_fault(stack, method="POST", path="^/v1/cards$", status=200, when="after", delay=2.5)

    # When the customer creates a virtual card
    created = customer(CREATE_VIRTUAL)["createCard"]

    # Then the retry found the card the first attempt made
    assert created["card"]["state"] == "OPEN"
    assert len(emulator_cards(stack)) == 1


def test_lithic_timing_out_on_every_attempt_leaves_no_card_at_lithic_we_do_not_know(
    slow_lithic_stack,
):
    # Given Lithic making cards but answering every attempt of one request too late
    stack = slow_lithic_stack
    customer, _ = api.onboard(stack.url)
    inject_fault(
        stack, method="POST", path="^/v1/cards$", status=200, when="after", delay=1.5, count=3
    )

    # When the customer creates a virtual card, and Lithic is quick again afterwards
    status, answer = gql(customer, CREATE_VIRTUAL)
    time.sleep(1.5)
    clear_faults(stack)

    # Then the card Lithic made is ours (not an open card nobody can see or close): the order
    # completes later, or failed with Lithic holding nothing open for it
    if not answer.get("errors"):
        all_done(customer, [answer["data"]["createCard"]["operation"]["id"]], timeout=30)
    known = {row[0] for row in sql(stack, "SELECT lithic_token FROM card")}
    at_lithic = [(c["token"], c["state"]) for c in emulator_cards(stack)]
    orphans = [card for card in at_lithic if card[0] not in known and card[1] != "CLOSED"]
    assert orphans == [], answer
    assert len(at_lithic) == 1


def test_lithic_timing_out_on_a_physical_order_is_retried_into_one_card(slow_lithic_stack):
    # Given Lithic making cards but answering the next three calls too late
    stack = slow_lithic_stack
    customer, _ = api.onboard(stack.url)
    inject_fault(
        stack, method="POST", path="^/v1/cards$", status=200, when="after", delay=1.5, count=3
    )

    # When the customer orders a physical card
    order = order_physical_async(customer)

    # Then a later delivery finishes it with the same Idempotency-Key: one card
    all_done(customer, [order["operation"]["id"]], timeout=30)
    assert len(emulator_cards(stack)) == 1


# F2 on a real broker: the retry's re-publish refused


def test_a_retry_rabbitmq_refuses_to_take_becomes_a_dead_letter_that_replays(stack):
    # Given the delay queue refusing every publish (a full queue with reject-publish), and
    # Lithic failing the next card creation with a 503
    customer, _ = api.onboard(stack.url)
    rabbitmqctl(
        "set_policy",
        "-p",
        vhost_of(stack),
        "--apply-to",
        "queues",
        "refuse-retries",
        r"^create_credit_card\.DQ$",
        '{"max-length": 0, "overflow": "reject-publish"}',
    )
    inject_fault(stack, method="POST", path="^/v1/cards$", status=503, count=3)

    # When a physical card order fails and its retry cannot be published
    order = order_physical_async(customer)

    # Then the message is not lost: it is a recorded dead letter, and the operation says so
    failed = wait_until(
        lambda: (lambda op: op if op["status"] == "FAILED" else None)(
            operation(customer, order["operation"]["id"])
        ),
        what="the operation to fail",
    )
    assert "503" in failed["error"]
    listing = stack.run([str(BIN / "ccs"), "dead-letters", "list"])
    (letter,) = [json.loads(line) for line in listing.stdout.splitlines()]
    assert letter["actor"] == "create_credit_card"
    wait_until(lambda: message_count(stack, "create_credit_card.XQ") == 1, what="the XQ copy")

    # And once RabbitMQ takes messages again, replaying it completes the order with one card
    rabbitmqctl("clear_policy", "-p", vhost_of(stack), "refuse-retries")
    replay = stack.run([str(BIN / "ccs"), "dead-letters", "replay", letter["id"]])
    assert replay.returncode == 0, replay.stderr
    all_done(customer, [order["operation"]["id"]], timeout=30)
    assert len(emulator_cards(stack)) == 1
