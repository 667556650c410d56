"""Shared fixtures: the in-process runtime (SQLite, in-process broker, emulator, HTTP)."""

from __future__ import annotations

import threading

import pytest

from tests.support.stack import free_port


@pytest.fixture(scope="session")
def runtime(tmp_path_factory):
    """One embedded-default process for the fast tests: SQLite file, StubBroker, emulator."""
    from app import db as database
    from app import runtime as runtime_module
    from app.config import Config
    from app.serving import make_threaded_server
    from app.web import create_app

    port = free_port()
    config = Config.from_env(
        {
            "DATABASE_URL": f"sqlite:///{tmp_path_factory.mktemp('db')}/ccs.db",
            "PORT": str(port),
            "MIN_BACKOFF_MS": "10",
            "MAX_RETRIES": "2",
        }
    )
    rt = runtime_module.bootstrap(config)
    database.migrate(config)
    runtime_module.start_embedded_worker(rt)
    app = create_app(config)
    server = make_threaded_server(app, "127.0.0.1", port)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    rt.app = app
    rt.url = f"http://127.0.0.1:{port}"
    yield rt
    server.shutdown()
    runtime_module.reset()


@pytest.fixture
def clean_db(runtime):
    """Empty every table before the test."""
    from app import db as database
    from app.models import MODELS

    with database.connection():
        for model in reversed(MODELS):
            model.delete().execute()
    runtime.broker.flush_all()
    yield runtime
