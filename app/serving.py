"""Serving a WSGI app from a thread: the embedded default and the emulators share this."""

from __future__ import annotations

import logging
import signal
import socketserver
import threading
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

logger = logging.getLogger(__name__)


class ThreadingWSGIServer(socketserver.ThreadingMixIn, WSGIServer):
    """wsgiref's server, one thread per request, so slow calls do not block the others."""

    daemon_threads = True
    allow_reuse_address = True


class QuietHandler(WSGIRequestHandler):
    """Sends wsgiref's per-request lines to our logger at debug level instead of stderr."""

    def log_message(self, format: str, *args) -> None:  # noqa: A002 - wsgiref's signature
        logger.debug("request: " + format, *args)


def make_threaded_server(app, host: str, port: int) -> ThreadingWSGIServer:
    """A threaded server for `app` on `host:port` (0 picks a free port), not yet serving."""
    return make_server(
        host, port, app, server_class=ThreadingWSGIServer, handler_class=QuietHandler
    )


def serve_in_thread(app, host: str, port: int, name: str):
    """Serve `app` from a daemon thread; returns (server, thread, url)."""
    server = make_threaded_server(app, host, port)
    bound_host, bound_port = server.server_address[:2]
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, name=name, daemon=True
    )
    thread.start()
    return server, thread, f"http://{bound_host}:{bound_port}"


def stop_server(server: ThreadingWSGIServer, thread: threading.Thread) -> None:
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


def wait_for_signal() -> None:
    """Block until SIGTERM or SIGINT."""
    stop = threading.Event()

    def _on_signal(signum: int, frame: object) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGINT, _on_signal)
    while not stop.wait(0.5):
        pass
