"""Payments end to end: rail transfer, Lithic external payment, ledger, exactly once."""

from __future__ import annotations

import pika
import pytest
import requests

from tests.support import api
from tests.support.lithic import EmulatorClient
from tests.support.stack import BIN, RAIL_KEY, wait_until

pytestmark = [pytest.mark.postgres, pytest.mark.rabbitmq, pytest.mark.slow]

BANK = "bank-acct-1"
PAY = """mutation($input: MakePaymentInput!) {
  makePayment(input: $input) { id status amount origin } }"""
BALANCES = "{ accountInfo { currentBalance pendingHolds availableCredit creditLimit } }"


class Rail:
    def __init__(self, url: str) -> None:
        self.url = url

    def account(self, account_id: str, balance: int) -> None:
        requests.post(
            f"{self.url}/_rail/accounts",
            json={"id": account_id, "available_balance": balance},
            timeout=5,
        ).raise_for_status()

    def transfer(self, transfer_id: str) -> dict | None:
        response = requests.get(
            f"{self.url}/v1/transfers/{transfer_id}",
            headers={"Authorization": f"Bearer {RAIL_KEY}"},
            timeout=5,
        )
        return response.json() if response.status_code == 200 else None

    def balance(self, account_id: str) -> int:
        response = requests.get(
            f"{self.url}/v1/accounts/{account_id}",
            headers={"Authorization": f"Bearer {RAIL_KEY}"},
            timeout=5,
        )
        return response.json()["available_balance"]

    def transfer_posts(self) -> int:
        log = requests.get(f"{self.url}/_rail/requests", timeout=5).json()
        entries = log["data"] if isinstance(log, dict) else log
        return sum(1 for r in entries if r["method"] == "POST" and r["path"] == "/v1/transfers")

    def fault(self, **fault) -> None:
        requests.post(f"{self.url}/_rail/faults", json=fault, timeout=5).raise_for_status()

    def clear_faults(self) -> None:
        requests.delete(f"{self.url}/_rail/faults", timeout=5).raise_for_status()


@pytest.fixture
def billed(stack):
    """A customer who spent 20,000 cents and got a statement for it; bank balance 1,000,000."""
    lithic = EmulatorClient(stack.emulator_url)
    rail = Rail(stack.rail_url)
    customer, customer_id = api.onboard(stack.url)
    customer("mutation { createCard(input: {type: VIRTUAL}) { card { id } } }")
    card = lithic.cards()[0]
    pan = lithic("GET", f"/v1/cards/{card['token']}")["pan"]
    swipe = lithic.authorize(pan, 20_000)
    lithic.simulate("clearing", token=swipe)
    wait_until(
        lambda: customer(BALANCES)["accountInfo"]["currentBalance"] == 20_000, what="clearing"
    )
    financial_account = lithic(
        "GET", "/v1/financial_accounts", params={"account_token": card["account_token"]}
    )["data"]
    issuing = next(fa["token"] for fa in financial_account if fa["type"] == "ISSUING")
    requests.post(
        f"{stack.emulator_url}/_emulator/statements/close",
        json={"financial_account_token": issuing, "minimum_payment": 2_500},
        timeout=10,
    ).raise_for_status()
    wait_until(
        lambda: (
            customer("{ amountsDue { statementBalance } }")["amountsDue"]["statementBalance"]
            == 20_000
        ),
        what="the statements.created webhook",
    )
    rail.account(BANK, 1_000_000)
    return stack, lithic, rail, customer, issuing


def settled(customer, payment_id: str) -> dict:
    def check():
        for payment in customer("{ payments { id status failure } }")["payments"]:
            if payment["id"] == payment_id and payment["status"] in ("SETTLED", "FAILED"):
                return payment
        return None

    return wait_until(check, what=f"payment {payment_id} to settle")


def external_payments(lithic, issuing: str) -> list[dict]:
    return lithic("GET", "/v1/external_payments", params={"financial_account_token": issuing})[
        "data"
    ]


def ledger_check(stack) -> None:
    result = stack.run([str(BIN / "ccs"), "ledger-check"])
    assert result.returncode == 0, result.stdout + result.stderr


def test_a_manual_payment_moves_money_records_it_at_lithic_and_frees_credit(billed):
    stack, lithic, rail, customer, issuing = billed
    before = customer(BALANCES)["accountInfo"]

    payment = customer(
        PAY,
        input={"option": "STATEMENT_BALANCE", "sourceAccountId": BANK, "idempotencyKey": "k-1"},
    )["makePayment"]

    assert payment["amount"] == 20_000 and payment["origin"] == "MANUAL"
    assert settled(customer, payment["id"])["status"] == "SETTLED"
    assert rail.transfer(payment["id"])["status"] == "SETTLED"
    [recorded] = external_payments(lithic, issuing)
    assert (recorded["token"], recorded["status"]) == (payment["id"], "SETTLED")
    after = customer(BALANCES)["accountInfo"]
    assert after["currentBalance"] == before["currentBalance"] - 20_000
    assert after["availableCredit"] == before["availableCredit"] + 20_000
    ledger_check(stack)


def test_make_payment_retried_with_its_key_is_one_payment_and_another_body_is_refused(billed):
    stack, lithic, rail, customer, issuing = billed
    request = {"option": "OTHER", "amount": 5_000, "sourceAccountId": BANK, "idempotencyKey": "k-2"}

    first = customer(PAY, input=request)["makePayment"]
    again = customer(PAY, input=request)["makePayment"]
    with pytest.raises(Exception, match="IDEMPOTENCY_KEY_REUSED|different payment"):
        customer(PAY, input={**request, "amount": 6_000})

    assert first["id"] == again["id"]
    settled(customer, first["id"])
    assert len(customer("{ payments { id } }")["payments"]) == 1
    assert rail.transfer_posts() == 1


def test_bad_payments_get_clear_errors(billed):
    stack, lithic, rail, customer, issuing = billed

    cases = {
        "BAD_AMOUNT": {"option": "OTHER", "amount": 0, "sourceAccountId": BANK},
        "OVERPAYMENT": {"option": "OTHER", "amount": 10_000_000, "sourceAccountId": BANK},
        "NO_SOURCE_ACCOUNT": {"option": "CURRENT_BALANCE", "sourceAccountId": ""},
    }
    for code, payment in cases.items():
        with pytest.raises(Exception, match=code):
            customer(PAY, input=payment)


def _duplicate_next_message(stack, queue: str) -> None:
    connection = pika.BlockingConnection(pika.URLParameters(stack.rabbitmq_url))
    channel = connection.channel()
    method, properties, body = wait_until(
        lambda: (lambda got: got if got[0] else None)(channel.basic_get(queue)),
        what=f"a message on {queue}",
    )
    channel.basic_publish("", queue, body, properties)
    channel.basic_nack(method.delivery_tag, requeue=True)
    connection.close()


def test_each_payment_message_delivered_twice_moves_money_once(billed):
    stack, lithic, rail, customer, issuing = billed
    worker = next(p for p in stack.processes if p.name == "worker")
    worker.stop()

    payment = customer(PAY, input={"option": "OTHER", "amount": 7_000, "sourceAccountId": BANK})[
        "makePayment"
    ]
    _duplicate_next_message(stack, "process_credit_card_payment")
    # Only the rail step runs, so the Lithic step's message waits in its queue to be copied.
    worker = stack.start_worker(queues=("process_credit_card_payment",))
    _duplicate_next_message(stack, "process_credit_card_payment_at_lithic")
    worker.stop()
    stack.start_worker()

    assert settled(customer, payment["id"])["status"] == "SETTLED"
    # Both copies may reach the rail; the transfer id makes the second a no-op.
    assert rail.balance(BANK) == 1_000_000 - 7_000
    assert len(external_payments(lithic, issuing)) == 1
    assert customer(BALANCES)["accountInfo"]["currentBalance"] == 20_000 - 7_000
    listing = stack.run([str(BIN / "ccs"), "dead-letters", "list"])
    assert listing.stdout.strip() == ""
    ledger_check(stack)


def test_a_worker_killed_in_each_payment_actor_moves_money_once(billed):
    stack, lithic, rail, customer, issuing = billed
    # The rail takes the transfer, then answers slowly: the worker dies waiting.
    rail.fault(method="POST", path="^/v1/transfers$", status=200, when="after", delay=6, count=1)

    payment = customer(PAY, input={"option": "OTHER", "amount": 3_000, "sourceAccountId": BANK})[
        "makePayment"
    ]
    wait_until(lambda: rail.transfer(payment["id"]), what="the transfer at the rail")
    next(p for p in stack.processes if p.name == "worker" and p.popen.poll() is None).kill()
    rail.clear_faults()
    lithic.fault(
        method="POST", path="^/v1/external_payments$", status=200, when="after", delay=6, count=1
    )
    stack.start_worker()
    wait_until(lambda: external_payments(lithic, issuing), what="the payment at Lithic")
    next(p for p in stack.processes if p.name == "worker" and p.popen.poll() is None).kill()
    lithic.clear_faults()
    stack.start_worker()

    assert settled(customer, payment["id"])["status"] == "SETTLED"
    assert rail.balance(BANK) == 1_000_000 - 3_000
    assert len(external_payments(lithic, issuing)) == 1
    assert customer(BALANCES)["accountInfo"]["currentBalance"] == 20_000 - 3_000
    ledger_check(stack)


def test_a_return_after_settlement_is_reversed_at_lithic_and_in_the_ledger(billed):
    stack, lithic, rail, customer, issuing = billed
    payment = customer(PAY, input={"option": "OTHER", "amount": 8_000, "sourceAccountId": BANK})[
        "makePayment"
    ]
    settled(customer, payment["id"])

    requests.post(
        f"{stack.rail_url}/_rail/transfers/{payment['id']}/return",
        json={"return_code": "R01"},
        timeout=5,
    ).raise_for_status()

    def returned():
        found = [p for p in customer("{ payments { id status events { kind } } }")["payments"]]
        return next(
            (p for p in found if p["id"] == payment["id"] and p["status"] == "RETURNED"), None
        )

    history = wait_until(returned, what="the return to apply")
    assert "RETURNED_AFTER_SETTLEMENT" in [e["kind"] for e in history["events"]]
    [recorded] = external_payments(lithic, issuing)
    assert recorded["status"] == "REVERSED"
    assert customer(BALANCES)["accountInfo"]["currentBalance"] == 20_000
    ledger_check(stack)


def test_autopay_with_insufficient_funds_fails_notifies_and_is_retried_apart(billed):
    stack, lithic, rail, customer, issuing = billed
    rail.account(BANK, 100)
    customer(
        """mutation { setupAutoPay(input: {mode: MINIMUM_DUE, sourceAccountId: "bank-acct-1",
             agreementAccepted: true}) { id mode } }"""
    )
    due_date = customer("{ amountsDue { paymentDueDate } }")["amountsDue"]["paymentDueDate"]

    sweep = stack.run([str(BIN / "python"), "-c", _sweep(due_date)])
    assert sweep.returncode == 0, sweep.stderr
    wait_until(
        lambda: customer("{ autopay { failedAttempts } }")["autopay"]["failedAttempts"] == 1,
        what="the failed AutoPay attempt",
    )
    assert customer("{ payments { id } }")["payments"] == []

    rail.account(BANK, 1_000_000)
    retry = stack.run([str(BIN / "python"), "-c", _retry_later()])
    assert retry.returncode == 0, retry.stderr
    payment = wait_until(
        lambda: (lambda ps: ps[0] if ps and ps[0]["status"] == "SETTLED" else None)(
            customer("{ payments { id status origin amount } }")["payments"]
        ),
        what="the retried AutoPay payment",
    )
    assert (payment["origin"], payment["amount"]) == ("AUTOPAY", 2_500)
    assert customer("{ autopay { failedAttempts } }")["autopay"]["failedAttempts"] == 1


def _sweep(due_date: str) -> str:
    return (
        "import datetime\n"
        "from app.runtime import bootstrap\n"
        "from app.db import connection\n"
        "from app.payments import autopay\n"
        "bootstrap()\n"
        "with connection():\n"
        f"    print(autopay.sweep(datetime.date.fromisoformat({due_date!r})))\n"
    )


def _retry_later() -> str:
    return (
        "import datetime\n"
        "from app.runtime import bootstrap\n"
        "from app.db import connection, utcnow\n"
        "from app.payments import autopay\n"
        "bootstrap()\n"
        "with connection():\n"
        "    print(autopay.retry_due(utcnow() + datetime.timedelta(hours=25)))\n"
    )
