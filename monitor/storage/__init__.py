"""storage: the single source of truth between stages, and nothing else: queries and writes,
transactions, leases, migrations. It decides nothing (which story, which alert, when to send:
that is `monitor.pipeline`'s) and imports nothing above it (a contract in `pyproject.toml`).

`Store` owns the engine; `storage.tx` is how statements run and fail; the query modules hold
the queries, one module per aggregate (`feeds`, `articles`, `stories`, `alerts`, `digests`,
`channel_state`).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from monitor.errors import StoreError
from monitor.storage import engine as _engine
from monitor.storage.tx import Tx, insert_new_statement, store_error


class Store:
    """A database with an up-to-date schema. Reads run in `read()`, writes in `write()` (a
    connection) or `transaction()` (a `Tx`); a database error leaves any of them as a
    `StoreError`."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.dialect = engine.dialect.name

    @classmethod
    def open(cls, url: str, *, migrate: bool = True) -> Store:
        engine = _engine.create(url)
        if migrate:
            _engine.migrate(engine)
        return cls(engine)

    @contextmanager
    def write(self) -> Iterator[sa.Connection]:
        """One transaction that will write (on SQLite: BEGIN IMMEDIATE, so writers queue)."""
        try:
            with (
                self.engine.connect().execution_options(sqlite_immediate=True) as conn,
                conn.begin(),
            ):
                yield conn
        except sa.exc.DBAPIError as exc:
            raise store_error(exc) from exc

    @contextmanager
    def read(self) -> Iterator[sa.Connection]:
        try:
            with self.engine.connect() as conn, conn.begin():
                yield conn
        except sa.exc.DBAPIError as exc:
            raise store_error(exc) from exc

    @contextmanager
    def transaction(self) -> Iterator[Tx]:
        """`write()` as a `Tx`: savepoints, and what runs after the commit."""
        with self.write() as conn:
            tx = Tx(conn)
            try:
                yield tx
            finally:
                tx._close()
        tx._committed()

    def ping(self) -> bool:
        try:
            with self.read() as conn:
                conn.execute(sa.text("SELECT 1"))
            return True
        except (StoreError, sa.exc.SQLAlchemyError):
            return False

    def close(self) -> None:
        self.engine.dispose()

    def __repr__(self) -> str:
        return f"Store({_engine.redact(str(self.engine.url))})"


def insert_new(
    conn: sa.Connection, table: sa.Table, rows: Sequence[Mapping[str, Any]]
) -> list[int]:
    """INSERT … ON CONFLICT DO NOTHING; the ids of the rows that were new (see `Tx.insert_new`).

    Uniqueness is the database's job: two workers inserting the same key both succeed and only
    one row exists afterwards.
    """
    if not rows:
        return []
    stmt = insert_new_statement(conn.dialect.name, table)
    if len(rows) == 1:
        return list(conn.execute(stmt, dict(rows[0])).scalars())
    return list(conn.execute(stmt, [dict(r) for r in rows]).scalars())
