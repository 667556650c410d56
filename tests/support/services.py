"""Real PostgreSQL and RabbitMQ for tests: skipped where missing, a failure when CI is set."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import uuid

import pytest

PG_HOST, PG_PORT = "127.0.0.1", 5432
RABBIT_HOST, RABBIT_PORT = "127.0.0.1", 5672


def _reachable(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


def require(name: str, host: str, port: int) -> None:
    if _reachable(host, port):
        return
    message = f"{name} is not reachable at {host}:{port}"
    if os.environ.get("CI"):
        pytest.fail(message + " (CI is set: tests that need it must run)")
    pytest.skip(message)


def create_pg_database() -> tuple[str, str]:
    """A fresh, empty PostgreSQL database; returns (url, name)."""
    import psycopg2

    require("PostgreSQL", PG_HOST, PG_PORT)
    name = f"ccs_test_{uuid.uuid4().hex[:10]}"
    conn = psycopg2.connect(host=PG_HOST, port=PG_PORT, dbname="test", user="postgres")
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute(f'CREATE DATABASE "{name}"')
    conn.close()
    return f"postgresql://postgres@{PG_HOST}:{PG_PORT}/{name}", name


def drop_pg_database(name: str) -> None:
    import psycopg2

    conn = psycopg2.connect(host=PG_HOST, port=PG_PORT, dbname="test", user="postgres")
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    conn.close()


def create_rabbit_vhost() -> tuple[str, str | None]:
    """A RabbitMQ vhost of its own, so no test sees another's queues; returns (url, vhost)."""
    require("RabbitMQ", RABBIT_HOST, RABBIT_PORT)
    ctl = shutil.which("rabbitmqctl")
    if ctl is None:
        return f"amqp://guest:guest@{RABBIT_HOST}:{RABBIT_PORT}/%2F", None
    vhost = f"ccs-test-{uuid.uuid4().hex[:10]}"
    subprocess.run([ctl, "-q", "add_vhost", vhost], check=True, capture_output=True, timeout=60)
    subprocess.run(
        [ctl, "-q", "set_permissions", "-p", vhost, "guest", ".*", ".*", ".*"],
        check=True,
        capture_output=True,
        timeout=60,
    )
    return f"amqp://guest:guest@{RABBIT_HOST}:{RABBIT_PORT}/{vhost}", vhost


def delete_rabbit_vhost(vhost: str | None) -> None:
    ctl = shutil.which("rabbitmqctl")
    if vhost and ctl:
        subprocess.run([ctl, "-q", "delete_vhost", vhost], capture_output=True, timeout=60)
