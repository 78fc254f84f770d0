"""Engines and migrations.

SQLite (the default) runs in WAL mode with ``synchronous=FULL`` -- an acknowledged webhook
survives power loss, and the intake's group commit keeps that affordable -- and every transaction
starts with ``BEGIN IMMEDIATE`` so two writers never deadlock on a lock upgrade. PostgreSQL is used
through psycopg 3 (``postgresql+psycopg://``).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from importlib import resources
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import make_url


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def as_utc(value: datetime | None) -> datetime | None:
    """SQLite hands back naive datetimes; everything kesu stores is UTC."""
    if value is None:
        return None
    if value.tzinfo is None:
        return value.replace(tzinfo=timezone.utc)
    return value.astimezone(timezone.utc)


def parse_utc(value: Any) -> datetime | None:
    """A stored time value -- ISO text (a JSON record) or a datetime (a column) -- in UTC; None
    when it is neither."""
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            return None
    return as_utc(value) if isinstance(value, datetime) else None


def normalize_url(url: str) -> str:
    """Accept ``postgresql://`` and ``postgres://`` and use psycopg 3 for them."""
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://"):]
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://"):]
    return url


def is_sqlite(engine: Engine) -> bool:
    return engine.dialect.name == "sqlite"


def make_engine(url: str, **kw: Any) -> Engine:
    url = normalize_url(url)
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        engine = create_engine(
            url,
            connect_args={"check_same_thread": False, "timeout": 30},
            pool_size=kw.pop("pool_size", 8),
            max_overflow=kw.pop("max_overflow", 8),
            **kw,
        )

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
            # Let SQLAlchemy's "begin" event issue BEGIN itself (pysqlite's own handling defers it).
            dbapi_conn.isolation_level = None
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=FULL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.close()

        @event.listens_for(engine, "begin")
        def _begin_immediate(conn: Any) -> None:
            # ``synchronous`` cannot change inside a transaction: set it before BEGIN, and only
            # when this connection's last transaction wanted the other level.
            # On the driver's connection: these two statements start every transaction, and
            # SQLAlchemy's execution path would cost ten times what SQLite does for them.
            raw = conn.connection.driver_connection
            options = conn.get_execution_options()
            level = "NORMAL" if options.get("kesu_durable") is False else "FULL"
            if not options.get("kesu_read") and conn.info.get("kesu_synchronous", "FULL") != level:
                raw.execute(f"PRAGMA synchronous={level}")
                conn.info["kesu_synchronous"] = level
            # A read-only transaction takes no write lock (WAL: it reads a snapshot, never waits).
            raw.execute("BEGIN" if options.get("kesu_read") else "BEGIN IMMEDIATE")

        return engine
    return create_engine(url, pool_size=kw.pop("pool_size", 10), max_overflow=kw.pop("max_overflow", 10),
                         pool_pre_ping=True, **kw)


@contextmanager
def transaction(engine: Engine, *, durable: bool = True, read: bool = False) -> Iterator[Connection]:
    """One transaction, like ``engine.begin()``, with two choices:

    * ``durable=False``: its commit returns before it reaches the disk (SQLite WAL
      ``synchronous=NORMAL``, PostgreSQL ``synchronous_commit = off``). A crash of the machine (not
      of the process: the commit is in the WAL file / server already) may lose it, and only it and
      later relaxed ones: a durable commit after it flushes it too (the log is sequential). For
      what a retry redoes anyway -- a claim (its events are pending again), an event's "done" mark
      after its durable decision (the event is processed again and finds its decision applied).
      Never for what must survive before kesu calls the helpdesk (the outbox row) or acknowledges a
      webhook.
    * ``read=True``: reads only; on SQLite no write lock (``BEGIN`` instead of ``BEGIN IMMEDIATE``).
    """
    with engine.connect() as conn:
        if not durable or read:
            conn = conn.execution_options(kesu_durable=durable, kesu_read=read)
        with conn.begin():
            if not durable and conn.dialect.name == "postgresql":
                conn.exec_driver_sql("SET LOCAL synchronous_commit TO OFF")
            yield conn


def alembic_config(engine: Engine) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(resources.files("kesu") / "migrations"))
    cfg.set_main_option("sqlalchemy.url", engine.url.render_as_string(hide_password=False).replace("%", "%%"))
    return cfg


def migrate(engine: Engine, revision: str = "head") -> None:
    """Bring the schema to ``revision`` (idempotent; safe to run at every start)."""
    cfg = alembic_config(engine)
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)


def current_revision(engine: Engine) -> str | None:
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()
