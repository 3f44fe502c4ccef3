"""storage: the single source of truth between stages. `Store` owns the engine; the query modules
(`feeds`, `articles`, `alerts`) hold the queries, one module per aggregate."""

from __future__ import annotations

import functools
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine

from monitor.storage import engine as _engine


class Store:
    """A database with an up-to-date schema. Writes run in `write()`, reads in `read()`."""

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
        with self.engine.connect().execution_options(sqlite_immediate=True) as conn, conn.begin():
            yield conn

    @contextmanager
    def read(self) -> Iterator[sa.Connection]:
        with self.engine.connect() as conn, conn.begin():
            yield conn

    def ping(self) -> bool:
        try:
            with self.read() as conn:
                conn.execute(sa.text("SELECT 1"))
            return True
        except sa.exc.SQLAlchemyError:
            return False

    def close(self) -> None:
        self.engine.dispose()

    def __repr__(self) -> str:
        return f"Store({_engine.redact(str(self.engine.url))})"


class Prepared:
    """A statement compiled once for the DB-API's positional parameters, run on the DB-API
    cursor: on SQLite, SQLAlchemy's work per execution costs more than the database's. Values
    go through the columns' types as SQLAlchemy would send them."""

    def __init__(
        self, stmt: sa.ClauseElement, dialect: sa.Dialect, column_keys: Sequence[str] = ()
    ) -> None:
        positional: sa.Dialect = type(dialect)(  # type: ignore[call-arg]
            paramstyle="format" if dialect.name == "postgresql" else "qmark"
        )
        compiled: Any = stmt.compile(dialect=positional, column_keys=list(column_keys) or None)
        self.sql: str = compiled.string
        self.names: tuple[str, ...] = tuple(compiled.positiontup or ())
        self.defaults = {name: bind.value for name, bind in compiled.binds.items()}
        self.processors: dict[str, Any] = dict(compiled._bind_processors)
        # Per distinct name: its default and type processor, looked up once here rather than
        # for every row (this runs about ten times per stored article). A name can stand at
        # several positions (the story lookup binds its window's start once per lookup key): its
        # value is converted once.
        self._plan = [
            (name, self.defaults.get(name), self.processors.get(name))
            for name in dict.fromkeys(self.names)
        ]
        self._repeats = len(self._plan) != len(self.names)

    def params(self, values: Mapping[str, Any]) -> list[Any]:
        out = []
        for name, default, process in self._plan:
            value = values.get(name, default)
            out.append(value if process is None else process(value))
        if self._repeats:
            by_name = dict(zip((name for name, _, _ in self._plan), out, strict=True))
            return [by_name[name] for name in self.names]
        return out


@functools.cache
def _insert_new_statement(dialect: str, table: sa.Table) -> Any:
    # Built once per table: constructing a statement costs more than running it on SQLite.
    module = postgresql if dialect == "postgresql" else sqlite
    return module.insert(table).on_conflict_do_nothing().returning(table.c.id)


def insert_new(
    conn: sa.Connection, table: sa.Table, rows: Sequence[Mapping[str, Any]]
) -> list[int]:
    """INSERT … ON CONFLICT DO NOTHING; the ids of the rows that were new.

    Uniqueness is the database's job: two workers inserting the same key both succeed and only
    one row exists afterwards.
    """
    if not rows:
        return []
    stmt = _insert_new_statement(conn.dialect.name, table)
    if len(rows) == 1:
        return list(conn.execute(stmt, dict(rows[0])).scalars())
    return list(conn.execute(stmt, [dict(r) for r in rows]).scalars())
