"""Serve the rail emulator: in a thread for tests, or as the `ccs-rail-emulator` command."""

from __future__ import annotations

import argparse
import logging
import os
import threading
from dataclasses import dataclass

from app.config import DEV_WEBHOOK_SECRET
from app.serving import ThreadingWSGIServer, serve_in_thread, stop_server, wait_for_signal

from .app import create_app
from .config import RailConfig
from .state import Rail

logger = logging.getLogger(__name__)

DEFAULT_PORT = 8200
HOST = "127.0.0.1"


@dataclass
class RunningRail:
    """A rail emulator served on a background thread."""

    url: str
    rail: Rail
    server: ThreadingWSGIServer
    thread: threading.Thread

    def stop(self) -> None:
        """Stop serving and stop the rail's background threads."""
        stop_server(self.server, self.thread)
        self.rail.close()


def start_in_thread(config: RailConfig, host: str = HOST, port: int = 0) -> RunningRail:
    """Start a rail emulator on `host:port` (0 picks a free port) and return at once."""
    app = create_app(config)
    server, thread, url = serve_in_thread(app, host, port, "rail-emulator-http")
    return RunningRail(url=url, rail=app.rail, server=server, thread=thread)


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="ccs-rail-emulator", description="Run the local payment-rail emulator."
    )
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", DEFAULT_PORT)))
    parser.add_argument(
        "--api-key",
        action="append",
        dest="api_keys",
        help="an accepted API key (repeatable; default $PAYMENT_RAIL_API_KEY or rail-key)",
    )
    parser.add_argument("--webhook-url", default=os.environ.get("PAYMENT_RAIL_WEBHOOK_URL"))
    # Defaults to the service's own dev secret, so a local pair works without flags.
    parser.add_argument(
        "--webhook-secret",
        default=os.environ.get("PAYMENT_RAIL_WEBHOOK_SECRET") or DEV_WEBHOOK_SECRET,
    )
    parser.add_argument("--settle-delay", type=float, default=0.0)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    """Console entry point: serve on 127.0.0.1 until SIGTERM or SIGINT."""
    args = _parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    api_keys = tuple(args.api_keys or [os.environ.get("PAYMENT_RAIL_API_KEY") or "rail-key"])
    config = RailConfig(
        api_keys=api_keys,
        webhook_url=args.webhook_url,
        webhook_secret=args.webhook_secret,
        settle_delay=args.settle_delay,
    )
    running = start_in_thread(config, port=args.port)
    logger.info("payment rail emulator listening on %s", running.url)
    wait_for_signal()
    logger.info("payment rail emulator stopping")
    running.stop()


if __name__ == "__main__":
    main()
