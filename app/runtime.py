"""Process start-up shared by every process type: configuration, database, broker, Lithic."""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field

import dramatiq

from app.config import Config
from app.crypto import Sealer
from app.db import init_db
from app.lithic.client import LithicClient
from app.logs import configure_logging
from app.messaging.broker import build_broker
from app.payments.rail import HttpPaymentRail

logger = logging.getLogger(__name__)


@dataclass
class Runtime:
    config: Config
    broker: dramatiq.Broker
    lithic: LithicClient
    sealer: Sealer
    rail: object | None = None
    emulator: object | None = None
    worker: dramatiq.Worker | None = None
    stoppers: list = field(default_factory=list)

    def stop(self) -> None:
        for stop in reversed(self.stoppers):
            stop()
        self.stoppers.clear()


_runtime: Runtime | None = None
_lock = threading.RLock()


def bootstrap(config: Config | None = None) -> Runtime:
    """Set the process up once; later calls return the same runtime."""
    global _runtime
    with _lock:
        if _runtime is not None:
            return _runtime
        configure_logging()
        config = config or Config.from_env()
        init_db(config)
        broker = build_broker(config)
        dramatiq.set_broker(broker)
        emulator = None
        base_url = config.lithic_base_url
        if base_url is None:
            emulator = _start_emulator(config)
            base_url = emulator.url
        lithic = LithicClient(config.lithic_api_key, base_url, timeout=config.lithic_timeout)
        rail_url, rail_emulator = config.payment_rail_url, None
        if rail_url is None:
            rail_emulator = _start_rail_emulator(config)
            rail_url = rail_emulator.url
        rail = HttpPaymentRail(rail_url, config.payment_rail_api_key, timeout=config.lithic_timeout)
        _runtime = Runtime(config, broker, lithic, Sealer(config.message_keys), rail, emulator)
        for stand_in in (emulator, rail_emulator):
            if stand_in is not None:
                _runtime.stoppers.append(stand_in.stop)
        if config.uses_embedded_broker:
            # The in-process broker only accepts messages for queues its actors declared.
            import actors  # noqa: F401
        logger.info(
            "runtime.ready env=%s database=%s broker=%s lithic=%s",
            config.env,
            "sqlite" if config.is_sqlite else "postgresql",
            "in-process" if config.uses_embedded_broker else "rabbitmq",
            "emulator" if emulator else "remote",
        )
        return _runtime


def current() -> Runtime:
    """The runtime of this process (bootstrapping it from the environment if needed)."""
    return _runtime or bootstrap()


def reset() -> None:
    """Forget the runtime (tests that bootstrap several configurations)."""
    global _runtime
    with _lock:
        if _runtime is not None:
            _runtime.stop()
        _runtime = None


def start_embedded_worker(runtime: Runtime) -> dramatiq.Worker:
    """Run the actors inside this process, on the in-process broker (the embedded default)."""
    worker = dramatiq.Worker(
        runtime.broker, worker_threads=runtime.config.worker_threads, worker_timeout=100
    )
    worker.start()
    runtime.worker = worker
    runtime.stoppers.append(worker.stop)
    return worker


def _webhook_base(config: Config) -> str:
    return config.public_url or f"http://127.0.0.1:{config.port}"


def _start_rail_emulator(config: Config):
    from app.payments.rail_emulator.config import RailConfig
    from app.payments.rail_emulator.server import start_in_thread

    running = start_in_thread(
        RailConfig(
            api_keys=(config.payment_rail_api_key,),
            webhook_url=f"{_webhook_base(config)}/webhooks/rail",
            webhook_secret=config.payment_rail_webhook_secret,
        )
    )
    logger.info("rail_emulator.started url=%s", running.url)
    return running


def _start_emulator(config: Config):
    from app.lithic.emulator.config import EmulatorConfig
    from app.lithic.emulator.server import start_in_thread

    webhook_base = _webhook_base(config)
    emulator_config = EmulatorConfig(
        api_keys=(config.lithic_api_key,),
        webhook_url=f"{webhook_base}/webhooks/lithic",
        webhook_secret=config.lithic_webhook_secret,
        fulfilment_delay=config.emulator_fulfilment_delay,
    )
    running = start_in_thread(emulator_config, port=config.embedded_emulator_port)
    # Lithic asks our ASA endpoint about every swipe once the responder is enrolled.
    LithicClient(config.lithic_api_key, running.url).request(
        "POST",
        "/v1/responder_endpoints",
        json={"type": "AUTH_STREAM_ACCESS", "url": f"{webhook_base}/asa/lithic"},
    )
    logger.info("emulator.started url=%s", running.url)
    return running
