"""Database binding: one proxy for every process type, connections per request and per message."""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlparse

import peewee
from playhouse.db_url import connect as connect_url
from playhouse.migrations import Runner

from app.config import Config

logger = logging.getLogger(__name__)

db = peewee.DatabaseProxy()
MIGRATIONS_DIR = Path(__file__).parent / "migrations"

# The transient database failures worth a retry: lost connections, lock timeouts, serialization.
TRANSIENT_DB_ERRORS = (peewee.OperationalError, peewee.InterfaceError)


def utcnow() -> dt.datetime:
    """Now, as a naive UTC datetime (how every timestamp is stored)."""
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def new_id() -> str:
    """A new primary key: a random UUID as text, portable across SQLite and PostgreSQL."""
    return str(uuid.uuid4())


class BaseModel(peewee.Model):
    class Meta:
        database = db
        legacy_table_names = False


class UUIDKeyModel(BaseModel):
    id = peewee.CharField(primary_key=True, max_length=36, default=new_id)


def build_database(config: Config) -> peewee.Database:
    """Create the peewee database for a URL: pooled PostgreSQL, or plain SQLite in WAL mode."""
    url = config.database_url
    if config.is_sqlite:
        path = url[len("sqlite:///") :]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        # NOTE: plain SqliteDatabase is one connection per thread; pooling SQLite across threads
        # breaks (peewee#2949). WAL + busy timeout + IMMEDIATE writes avoid "database is locked".
        return peewee.SqliteDatabase(
            path,
            timeout=30,
            pragmas={"journal_mode": "wal", "foreign_keys": 1, "busy_timeout": 30000},
        )
    parsed = urlparse(url)
    scheme = "postgresql+pool"
    pooled = url.replace(f"{parsed.scheme}://", f"{scheme}://", 1)
    # The pool probes idle connections on checkout, so a restarted server heals (peewee#2036).
    return connect_url(
        pooled,
        max_connections=config.db_max_connections,
        stale_timeout=300,
        timeout=10,
    )


def init_db(config: Config) -> peewee.Database:
    """Bind the proxy to the configured database (every process type calls this once)."""
    database = build_database(config)
    db.initialize(database)
    return database


def is_sqlite() -> bool:
    return isinstance(db.obj, peewee.SqliteDatabase)


def transaction() -> contextlib.AbstractContextManager:
    """A write transaction: IMMEDIATE on SQLite, so concurrent writers queue instead of failing."""
    if is_sqlite() and not db.in_transaction():
        return db.atomic("IMMEDIATE")
    return db.atomic()


def execute(statement: str, params: tuple = ()):
    """Run hand-written SQL written with `?` placeholders, on either database.

    Kept for the hot paths (ASA decisions, the ledger), where building queries through the ORM
    costs more than the database does.
    """
    if db.obj.param != "?":
        statement = statement.replace("?", db.obj.param)
    return db.execute_sql(statement, params)


def for_update(query: peewee.ModelSelect) -> peewee.ModelSelect:
    """Lock the selected rows on PostgreSQL; SQLite's IMMEDIATE transaction already serializes."""
    return query if is_sqlite() else query.for_update()


@contextlib.contextmanager
def connection() -> Iterator[None]:
    """Hold a connection for the duration of a unit of work, then give it back."""
    db.connect(reuse_if_open=True)
    try:
        yield
    finally:
        close_connection()


def close_connection() -> None:
    """Return this thread's connection (to the pool on PostgreSQL), rolling back a leftover."""
    if db.obj is None or db.is_closed():
        return
    try:
        if db.in_transaction():
            db.rollback()
        db.close()
    except peewee.PeeweeException:
        logger.warning("db.close_failed", exc_info=True)


def migrate(config: Config | None = None) -> list[str]:
    """Apply pending migrations (the release process type)."""
    if db.obj is None:
        init_db(config or Config.from_env())
    with connection():
        runner = Runner(db.obj, directory=str(MIGRATIONS_DIR))
        applied = runner.up()
    for name in applied:
        logger.info("db.migration_applied name=%s", name)
    return applied
