"""storage.engine: a SQLAlchemy engine for the configured URL, with its schema brought up to date.

SQLite gets WAL (readers never block the writer), `synchronous=NORMAL` (durable at each
checkpoint, safe in WAL), a page cache of up to 256 MiB per connection and a pool that hands out
the most recently used connection first (so one connection, whose cache stays warm, does most
of the work), a checkpoint every 100,000 pages, a busy timeout, foreign keys, and
`BEGIN IMMEDIATE` for write transactions so two writers queue instead of failing on a lock
upgrade. PostgreSQL migrations run under an advisory lock so several workers
starting at once do not race.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import sqlalchemy as sa
from alembic import command
from alembic.config import Config as AlembicConfig
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import event
from sqlalchemy.engine import Engine, make_url

from monitor.errors import StoreError

MIGRATIONS = Path(__file__).parent / "migrations"
_MIGRATION_LOCK = 0x6D6F6E69  # "moni": PostgreSQL advisory lock key for schema upgrades


def create(url: str) -> Engine:
    """An engine for `url`; a SQLite file's folder is created if missing."""
    try:
        parsed = make_url(url)
    except sa.exc.ArgumentError:
        raise StoreError(f"not a database URL: {redact(url)}") from None
    kwargs: dict[str, Any] = {"future": True}
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).expanduser().parent.mkdir(parents=True, exist_ok=True)
        kwargs["connect_args"] = {"timeout": 30, "check_same_thread": False}
        # A connection's page cache is dropped whenever another connection has written: handing
        # out the last one used keeps the writer's cache (the story lookup trees) warm.
        kwargs["pool_use_lifo"] = True
        engine = sa.create_engine(parsed, **kwargs)
        _sqlite_setup(engine)
    else:
        kwargs.update(pool_pre_ping=True, pool_size=5, max_overflow=10)
        try:
            engine = sa.create_engine(parsed, **kwargs)
        except ModuleNotFoundError as exc:
            raise StoreError(
                f"no driver for {parsed.get_backend_name()} ({exc.name})",
                hint="install the extra: pip install 'monitor[postgres]'",
            ) from None
    return engine


def _sqlite_setup(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # Let SQLAlchemy's "begin" event issue BEGIN itself (pysqlite's own handling defers it).
        dbapi_conn.isolation_level = None
        cursor = dbapi_conn.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        # Story placement touches many scattered index pages (LSH bands, lookup keys): a page
        # cache that holds them (a maximum: pages are allocated as they are read) saves reading
        # them again, and a dirty page that does not fit is written to the WAL twice in one
        # transaction. Checkpointing every 100,000 pages (the WAL grows to some 400 MB) instead
        # of 1,000 copies (and syncs) a hot page once for many transactions, not each time.
        cursor.execute("PRAGMA cache_size=-262144")  # KiB
        cursor.execute("PRAGMA wal_autocheckpoint=100000")  # pages
        cursor.execute("PRAGMA journal_size_limit=67108864")  # bytes kept of the WAL after
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: sa.Connection) -> None:
        immediate = conn.get_execution_options().get("sqlite_immediate", False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


def migrate(engine: Engine) -> None:
    """Apply every pending Alembic migration (the daemon does this at start)."""
    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    try:
        with engine.begin() as conn:
            if conn.dialect.name == "postgresql":
                conn.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": _MIGRATION_LOCK})
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "head")
    except sa.exc.OperationalError as exc:
        raise StoreError(
            f"cannot open the database {redact(str(engine.url))}: {exc.orig}"
        ) from None


def is_current(engine: Engine) -> bool:
    """True when the schema is at the newest migration (for /readyz)."""
    head = ScriptDirectory(str(MIGRATIONS)).get_current_head()
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision() == head


def redact(url: str) -> str:
    """The URL with any password hidden, for logs and errors."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except sa.exc.ArgumentError:
        return "<unparsable URL>"
