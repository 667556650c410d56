"""Shared pieces of the benchmark scripts: a deployment, a bare Falcon endpoint, load loops."""

from __future__ import annotations

import contextlib
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.support import services  # noqa: E402
from tests.support.stack import BIN, Stack, free_port, wait_for_http  # noqa: E402

BARE_APP = """
import falcon, os
from playhouse.db_url import connect
db = connect(os.environ["DATABASE_URL"].replace("postgresql://", "postgresql+pool://"),
             max_connections=20)

class Insert:
    def on_post(self, req, resp):
        body = req.bounded_stream.read()
        db.connect(reuse_if_open=True)
        try:
            db.execute_sql("INSERT INTO bench_row (body) VALUES (%s)", (body.decode(),))
        finally:
            db.close()
        resp.media = {"ok": True}

app = falcon.App()
app.add_route("/insert", Insert())
"""


@contextlib.contextmanager
def deployment(**stack_options) -> Iterator[tuple[Stack, str]]:
    """A whole stack on a fresh database and vhost, plus the bare endpoint's URL."""
    database_url, db_name = services.create_pg_database()
    rabbitmq_url, vhost = services.create_rabbit_vhost()
    workdir = Path(tempfile.mkdtemp(prefix="ccs-bench-"))
    stack = Stack(
        database_url=database_url, rabbitmq_url=rabbitmq_url, workdir=workdir, **stack_options
    )
    try:
        # Made here, once: two gunicorn workers creating it at boot can race and crash one.
        import psycopg2

        with psycopg2.connect(database_url) as conn, conn.cursor() as cur:
            cur.execute("CREATE TABLE bench_row (id serial primary key, body text)")
        (workdir / "bare_app.py").write_text(BARE_APP)
        bare_port = free_port()
        bare = stack.spawn(
            "bare",
            [
                str(BIN / "gunicorn"),
                "bare_app:app",
                "-k",
                "gthread",
                "--workers",
                "2",
                "--threads",
                "4",
                "--bind",
                f"127.0.0.1:{bare_port}",
                "--chdir",
                str(workdir),
            ],
        )
        wait_for_http(f"http://127.0.0.1:{bare_port}/insert", process=bare.popen)
        yield stack, f"http://127.0.0.1:{bare_port}/insert"
    finally:
        stack.stop()
        services.delete_rabbit_vhost(vhost)
        services.drop_pg_database(db_name)


def _ok(response: requests.Response) -> bool:
    if response.status_code != 200:
        return False
    body = response.json()
    return not body.get("errors")


def summarize(latencies: list[float], errors: int, wall: float) -> dict:
    latencies = sorted(latencies)
    return {
        "requests": len(latencies),
        "errors": errors,
        "p50_ms": 1000 * statistics.median(latencies),
        "p99_ms": 1000 * latencies[min(len(latencies) - 1, int(0.99 * len(latencies)))],
        "max_ms": 1000 * latencies[-1],
        "rps": len(latencies) / wall,
    }


def closed_loop(url: str, requests_: list[tuple[bytes, dict]], concurrency: int) -> dict:
    """Send every (body, headers) once from `concurrency` keep-alive clients, back to back."""
    latencies: list[float] = []
    errors = 0
    lock = threading.Lock()
    queue = list(requests_)

    def client():
        nonlocal errors
        session = requests.Session()
        while True:
            with lock:
                if not queue:
                    return
                body, headers = queue.pop()
            started = time.perf_counter()
            try:
                ok = _ok(session.post(url, data=body, headers=headers, timeout=30))
            except (requests.RequestException, ValueError) as exc:
                print(f"request failed: {exc}", file=sys.stderr)
                ok = False
            elapsed = time.perf_counter() - started
            with lock:
                latencies.append(elapsed)
                errors += not ok

    started = time.perf_counter()
    threads = [threading.Thread(target=client) for _ in range(concurrency)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return summarize(latencies, errors, time.perf_counter() - started)


def open_loop(
    url: str, requests_: list[tuple[bytes, dict]], rate: float, workers: int = 64
) -> dict:
    """Send at a fixed rate, timing each request from when it was due (no coordinated omission)."""
    latencies: list[float] = []
    errors = 0
    lock = threading.Lock()
    local = threading.local()

    def send(due: float, body: bytes, headers: dict):
        nonlocal errors
        session = getattr(local, "session", None) or requests.Session()
        local.session = session
        try:
            ok = _ok(session.post(url, data=body, headers=headers, timeout=30))
        except (requests.RequestException, ValueError) as exc:
            print(f"request failed: {exc}", file=sys.stderr)
            ok = False
        elapsed = time.perf_counter() - due
        with lock:
            latencies.append(elapsed)
            errors += not ok

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=workers) as pool:
        for index, (body, headers) in enumerate(requests_):
            due = started + index / rate
            delay = due - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            pool.submit(send, due, body, headers)
    return summarize(latencies, errors, time.perf_counter() - started)


def print_table(title: str, rows: list[tuple[str, dict]]) -> None:
    print(f"\n{title}")
    print(f"{'endpoint':<30}{'p50 ms':>9}{'p99 ms':>9}{'max ms':>9}{'req/s':>9}{'errors':>8}")
    for name, result in rows:
        print(
            f"{name:<30}{result['p50_ms']:>9.2f}{result['p99_ms']:>9.2f}{result['max_ms']:>9.1f}"
            f"{result['rps']:>9.0f}{result['errors']:>8}"
        )
