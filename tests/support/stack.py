"""Real processes for end-to-end tests: the Lithic emulator, gunicorn and a dramatiq worker."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import requests

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
WEBHOOK_SECRET = "whsec_" + "dGVzdC13ZWJob29rLXNlY3JldC0wMTIzNDU2Nzg5YWI="
API_KEY = "test-lithic-key"
RAIL_KEY = "test-rail-key"
JWT_SECRET = "test-jwt-secret-0123456789abcdef0123456789"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_http(url: str, timeout: float = 30.0, process: subprocess.Popen | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"process exited with {process.returncode} before {url} answered")
        try:
            requests.get(url, timeout=1)
            return
        except requests.RequestException:
            time.sleep(0.1)
    raise TimeoutError(f"{url} did not answer within {timeout}s")


def wait_until(predicate, timeout: float = 30.0, interval: float = 0.2, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise TimeoutError(f"{what} not reached within {timeout}s")


@dataclass
class Process:
    name: str
    popen: subprocess.Popen
    log_path: Path

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 15) -> None:
        if self.popen.poll() is not None:
            return
        try:
            os.killpg(self.popen.pid, sig)
        except ProcessLookupError:
            return
        try:
            self.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.popen.pid, signal.SIGKILL)
            self.popen.wait(5)

    def kill(self) -> None:
        """SIGKILL the whole process group: no graceful shutdown, no acks."""
        self.stop(signal.SIGKILL)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


@dataclass
class Stack:
    """One isolated deployment: its own database, queues namespace and ports."""

    database_url: str
    rabbitmq_url: str
    workdir: Path
    web_port: int = field(default_factory=free_port)
    emulator_port: int = field(default_factory=free_port)
    rail_port: int = field(default_factory=free_port)
    processes: list[Process] = field(default_factory=list)
    fulfilment_delay: float | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.web_port}"

    @property
    def emulator_url(self) -> str:
        return f"http://127.0.0.1:{self.emulator_port}"

    @property
    def rail_url(self) -> str:
        return f"http://127.0.0.1:{self.rail_port}"

    def env(self, **overrides: str) -> dict[str, str]:
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("DATABASE_", "RABBITMQ_", "LITHIC_", "PAYMENT_", "PORT"))
        }
        env.update(
            PYTHONPATH=str(REPO),
            DATABASE_URL=self.database_url,
            RABBITMQ_URL=self.rabbitmq_url,
            LITHIC_API_KEY=API_KEY,
            LITHIC_BASE_URL=self.emulator_url,
            LITHIC_WEBHOOK_SECRET=WEBHOOK_SECRET,
            PAYMENT_RAIL_URL=self.rail_url,
            PAYMENT_RAIL_API_KEY=RAIL_KEY,
            PAYMENT_RAIL_WEBHOOK_SECRET=WEBHOOK_SECRET,
            JWT_SECRET=JWT_SECRET,
            MIN_BACKOFF_MS="200",
            MAX_RETRIES="3",
            dramatiq_restart_delay="500",
            LOG_LEVEL="INFO",
        )
        env.update(overrides)
        return env

    def spawn(self, name: str, argv: list[str], **env: str) -> Process:
        log_path = self.workdir / f"{name}-{uuid.uuid4().hex[:6]}.log"
        log = open(log_path, "wb")  # noqa: SIM115 (the child owns it)
        popen = subprocess.Popen(
            argv,
            cwd=REPO,
            env=self.env(**env),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        process = Process(name, popen, log_path)
        self.processes.append(process)
        return process

    def run(self, argv: list[str], **env: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            argv, cwd=REPO, env=self.env(**env), capture_output=True, text=True, timeout=120
        )

    def start_emulator(self) -> Process:
        argv = [
            str(BIN / "ccs-lithic-emulator"),
            "--port",
            str(self.emulator_port),
            "--api-key",
            API_KEY,
            "--webhook-url",
            f"{self.url}/webhooks/lithic",
            "--webhook-secret",
            WEBHOOK_SECRET,
        ]
        if self.fulfilment_delay is not None:
            argv += ["--fulfilment-delay", str(self.fulfilment_delay)]
        process = self.spawn("emulator", argv)
        wait_for_http(f"{self.emulator_url}/v1/status", process=process.popen)
        return process

    def start_rail(self, settle_delay: float = 0.0) -> Process:
        process = self.spawn(
            "rail",
            [
                str(BIN / "ccs-rail-emulator"),
                "--port",
                str(self.rail_port),
                "--api-key",
                RAIL_KEY,
                "--webhook-url",
                f"{self.url}/webhooks/rail",
                "--webhook-secret",
                WEBHOOK_SECRET,
                "--settle-delay",
                str(settle_delay),
            ],
        )
        wait_for_http(f"{self.rail_url}/_rail/requests", process=process.popen)
        return process

    def migrate(self) -> None:
        result = self.run([str(BIN / "ccs"), "migrate"])
        assert result.returncode == 0, result.stderr

    def start_web(self, **env: str) -> Process:
        process = self.spawn(
            "web",
            [
                str(BIN / "gunicorn"),
                "app.wsgi:app",
                "-k",
                "gthread",
                "--workers",
                "2",
                "--threads",
                "4",
                "--bind",
                f"127.0.0.1:{self.web_port}",
                "--graceful-timeout",
                "5",
            ],
            **env,
        )
        wait_for_http(f"{self.url}/health", process=process.popen)
        return process

    def start_worker(
        self, processes: int = 1, threads: int = 4, queues: tuple[str, ...] = (), **env: str
    ) -> Process:
        argv = [
            str(BIN / "dramatiq"),
            "actors",
            "--processes",
            str(processes),
            "--threads",
            str(threads),
        ]
        if queues:
            argv += ["--queues", *queues]
        return self.spawn("worker", argv, **env)

    def start(self) -> Stack:
        self.start_emulator()
        self.start_rail()
        self.migrate()
        self.start_web()
        self.start_worker()
        return self

    def stop(self) -> None:
        for process in reversed(self.processes):
            process.stop()

    def logs(self) -> str:
        return "\n".join(f"===== {p.name}\n{p.log()[-6000:]}" for p in self.processes)
