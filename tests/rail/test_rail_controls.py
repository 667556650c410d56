"""Test-only controls under `/_rail/`: accounts, faults, the request log, reset; the command."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

REPO_ROOT = Path(__file__).resolve().parents[2]


def test_an_account_is_created_then_overwritten(rail, make_api):
    api = make_api(rail.url)

    created = api.control("POST", "/accounts", expect=201, json={"id": "a", "available_balance": 5})
    replaced = api.control(
        "POST", "/accounts", json={"id": "a", "available_balance": 9, "status": "CLOSED"}
    )

    assert created == {"id": "a", "available_balance": 5, "currency": "USD", "status": "OPEN"}
    assert replaced["available_balance"] == 9 and replaced["status"] == "CLOSED"
    assert api.call("GET", "/v1/accounts/a") == replaced


@pytest.mark.parametrize(
    "body",
    [
        {"available_balance": 5},
        {"id": "a"},
        {"id": "a", "available_balance": -1},
        {"id": "a", "available_balance": 1.5},
        {"id": "a", "available_balance": 5, "status": "FROZEN"},
        {"id": "a/b", "available_balance": 5},
    ],
)
def test_bad_account_bodies_are_400s(api, body):
    assert api.control("POST", "/accounts", expect=400, json=body)["code"] == "INVALID_REQUEST"


def arm(api, **fault) -> None:
    api.control("POST", "/faults", expect=201, json=fault)


def test_a_fault_before_processing_changes_nothing(api):
    arm(api, method="POST", path="^/v1/transfers$", status=500, when="before")

    error = api.transfer("pay-1", 100, expect=500)

    assert error == {"error": "Internal server error.", "code": "INTERNAL_ERROR"}
    assert api.call("GET", "/v1/transfers/pay-1", expect=404)["code"] == "TRANSFER_NOT_FOUND"
    assert api.balance() == 10_000


def test_a_fault_after_processing_keeps_the_transfer_and_a_retry_replays_it(api):
    arm(api, method="POST", path="^/v1/transfers$", status=500, when="after")

    api.transfer("pay-1", 100, expect=500)
    replay = api.transfer("pay-1", 100, expect=200)

    assert replay["status"] == "SETTLED"
    assert api.balance() == 9_900


def test_a_fault_lasts_for_its_count_and_matches_its_method_and_path(api):
    arm(api, method="GET", path="^/v1/accounts/", status=503, count=2)

    api.transfer("pay-1", 100)
    for _ in range(2):
        assert api.call("GET", "/v1/accounts/acct-1", expect=503)["code"] == "SERVICE_UNAVAILABLE"
    assert api.balance() == 9_900


def test_a_429_fault_says_when_to_retry_and_a_body_can_be_given(rail, api, api_key):
    arm(api, path="^/v1/accounts/", status=429)
    arm(api, path="^/v1/transfers/", status=502, body={"error": "upstream", "code": "X"})
    headers = {"Authorization": f"Bearer {api_key}"}

    limited = requests.get(f"{rail.url}/v1/accounts/acct-1", headers=headers, timeout=5)
    bad_gateway = api.call("GET", "/v1/transfers/any", expect=502)

    assert limited.status_code == 429 and limited.headers["retry-after"] == "1"
    assert limited.json()["code"] == "RATE_LIMITED"
    assert bad_gateway == {"error": "upstream", "code": "X"}


def test_a_fault_below_400_only_delays(api):
    arm(api, method="GET", path="^/v1/accounts/", status=200, delay=0.3)

    started = time.monotonic()
    balance = api.balance()

    assert balance == 10_000
    assert time.monotonic() - started >= 0.3


def test_a_delayed_fault_after_processing_still_fails(api):
    arm(api, method="POST", path="^/v1/transfers$", status=504, when="after", delay=0.2)

    started = time.monotonic()
    api.transfer("pay-1", 100, expect=504)

    assert time.monotonic() - started >= 0.2
    assert api.balance() == 9_900


def test_faults_are_listed_cleared_and_validated(api):
    arm(api, method="post", path="^/v1/transfers$", status=500, count=3)

    listed = api.control("GET", "/faults")["data"]
    assert [(f["method"], f["status"], f["count"], f["when"]) for f in listed] == [
        ("POST", 500, 3, "before")
    ]
    api.control("DELETE", "/faults", expect=204)
    assert api.control("GET", "/faults") == {"data": []}
    api.transfer("pay-1", 100)
    for bad in ({"path": "("}, {"when": "during"}, {"delay": -1}, {"status": "500"}):
        assert api.control("POST", "/faults", expect=400, json=bad)["code"] == "INVALID_REQUEST"


def test_the_test_routes_are_never_faulted_or_logged(api):
    arm(api, path=".*", status=500, count=5)

    api.control("GET", "/faults")
    assert api.control("GET", "/requests") == []


def test_the_request_log_has_no_bodies_and_can_be_cleared(api, rail):
    api.transfer("pay-1", 100)
    api.call("GET", "/v1/accounts/nobody", expect=404)
    requests.get(f"{rail.url}/v1/accounts/acct-1", timeout=5)

    log = api.control("GET", "/requests")

    assert [(e["method"], e["path"], e["status"]) for e in log] == [
        ("POST", "/v1/transfers", 201),
        ("GET", "/v1/accounts/nobody", 404),
        ("GET", "/v1/accounts/acct-1", 401),
    ]
    assert all(set(entry) == {"method", "path", "status", "at"} for entry in log)
    api.control("DELETE", "/requests", expect=204)
    assert api.control("GET", "/requests") == []


def test_reset_empties_everything(slow_rail):
    api = slow_rail
    api.transfer("pay-1", 100)
    arm(api, path=".*", status=500)

    api.control("POST", "/reset", expect=204)

    assert api.control("GET", "/faults") == {"data": []}
    assert api.control("GET", "/requests") == []
    assert api.call("GET", "/v1/accounts/acct-1", expect=404)["code"] == "ACCOUNT_NOT_FOUND"
    assert api.call("GET", "/v1/transfers/pay-1", expect=404)["code"] == "TRANSFER_NOT_FOUND"
    # The id is free again: a new transfer of it is made, not replayed.
    api.account("acct-1", 1_000)
    assert api.transfer("pay-1", 999, expect=201)["status"] == "PENDING"
    assert api.balance() == 1


@pytest.fixture
def slow_rail(make_rail, make_api):
    rail = make_rail(settle_delay=0.2)
    api = make_api(rail.url)
    api.account("acct-1", 10_000)
    return api


def test_the_command_serves_until_sigterm(api_key):
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "app.payments.rail_emulator.server",
            "--port",
            "0",
            "--api-key",
            api_key,
            "--settle-delay",
            "0",
        ],
        cwd=REPO_ROOT,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        match = None
        for _ in range(20):
            line = process.stderr.readline()
            match = re.search(r"listening on (http://127\.0\.0\.1:\d+)", line)
            if match or not line:
                break
        assert match, line
        url = match.group(1)

        requests.post(f"{url}/_rail/accounts", json={"id": "a", "available_balance": 1}, timeout=5)
        headers = {"Authorization": f"Bearer {api_key}"}
        assert requests.get(f"{url}/v1/accounts/a", headers=headers, timeout=5).ok
        assert requests.get(f"{url}/v1/accounts/a", timeout=5).status_code == 401

        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_the_command_reads_its_settings_from_the_environment(monkeypatch):
    from app.payments.rail_emulator import server

    monkeypatch.setenv("PORT", "8765")
    monkeypatch.setenv("PAYMENT_RAIL_API_KEY", "env-key")
    monkeypatch.setenv("PAYMENT_RAIL_WEBHOOK_SECRET", "whsec_env")
    args = server._parse_args([])
    assert (args.port, args.api_keys, args.webhook_secret, args.settle_delay) == (
        8765,
        None,
        "whsec_env",
        0.0,
    )
    args = server._parse_args(["--api-key", "a", "--api-key", "b", "--settle-delay", "1.5"])
    assert (args.api_keys, args.settle_delay) == (["a", "b"], 1.5)
