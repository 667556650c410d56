"""End-to-end fixtures: a whole deployment on real PostgreSQL and RabbitMQ."""

from __future__ import annotations

import pytest

from tests.support import services
from tests.support.stack import Stack


@pytest.fixture
def stack_parts(tmp_path):
    """An isolated database and vhost; the test starts the processes it needs."""
    database_url, db_name = services.create_pg_database()
    rabbitmq_url, vhost = services.create_rabbit_vhost()
    stack = Stack(database_url=database_url, rabbitmq_url=rabbitmq_url, workdir=tmp_path)
    yield stack
    stack.stop()
    services.delete_rabbit_vhost(vhost)
    services.drop_pg_database(db_name)


@pytest.fixture
def stack(stack_parts, request):
    """Emulator, migrated database, gunicorn and a dramatiq worker, all running."""
    stack_parts.fulfilment_delay = 1.0
    stack_parts.start()
    yield stack_parts
    if request.node.rep_call.failed if hasattr(request.node, "rep_call") else False:
        print(stack_parts.logs())


@pytest.hookimpl(hookwrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    setattr(item, f"rep_{report.when}", report)
