"""Serve the emulator: in a thread for tests, or as the `ccs-lithic-emulator` command."""

from __future__ import annotations

import argparse
import logging
import os
import threading
from dataclasses import dataclass

from app.config import DEV_WEBHOOK_SECRET
from app.serving import ThreadingWSGIServer, make_threaded_server, stop_server, wait_for_signal

from .app import Emulator, create_app
from .config import EmulatorConfig

logger = logging.getLogger(__name__)

DEFAULT_PORT = 8100


@dataclass
class RunningEmulator:
    """An emulator served on a background thread."""

    url: str
    emulator: Emulator
    server: ThreadingWSGIServer
    thread: threading.Thread

    def stop(self) -> None:
        """Stop serving and stop the emulator's background threads."""
        stop_server(self.server, self.thread)
        self.emulator.close()


def start_in_thread(
    config: EmulatorConfig, host: str = "127.0.0.1", port: int = 0
) -> RunningEmulator:
    """Start an emulator on `host:port` (0 picks a free port) and return at once."""
    app = create_app(config)
    server = make_threaded_server(app, host, port)
    bound_host, bound_port = server.server_address[:2]
    url = f"http://{bound_host}:{bound_port}"
    # The emulator must know its own URL before the first request (webhook and ASA payloads).
    app.emulator.bound_url = url
    thread = threading.Thread(
        target=server.serve_forever,
        kwargs={"poll_interval": 0.05},
        name="lithic-emulator-http",
        daemon=True,
    )
    thread.start()
    return RunningEmulator(url=url, emulator=app.emulator, server=server, thread=thread)


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="ccs-lithic-emulator", description="Run the local Lithic API emulator."
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", DEFAULT_PORT)))
    parser.add_argument(
        "--api-key",
        action="append",
        dest="api_keys",
        help="an accepted API key (repeatable; default $LITHIC_API_KEY or emulator-key)",
    )
    parser.add_argument("--webhook-url", default=os.environ.get("LITHIC_WEBHOOK_URL"))
    # Defaults to the service's own dev secret, so a local pair works without flags.
    parser.add_argument(
        "--webhook-secret",
        default=os.environ.get("LITHIC_WEBHOOK_SECRET") or DEV_WEBHOOK_SECRET,
    )
    parser.add_argument("--fulfilment-delay", type=float, default=None)
    parser.add_argument("--public-url", default=None)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    """Console entry point: serve until SIGTERM or SIGINT."""
    args = _parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    api_keys = tuple(args.api_keys or [os.environ.get("LITHIC_API_KEY") or "emulator-key"])
    config = EmulatorConfig(
        api_keys=api_keys,
        webhook_url=args.webhook_url,
        webhook_secret=args.webhook_secret,
        fulfilment_delay=args.fulfilment_delay,
        public_url=args.public_url,
    )
    running = start_in_thread(config, host=args.host, port=args.port)
    logger.info("lithic emulator listening on %s", running.emulator.public_url)
    wait_for_signal()
    logger.info("lithic emulator stopping")
    running.stop()


if __name__ == "__main__":
    main()
