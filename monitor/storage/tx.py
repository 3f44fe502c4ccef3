"""storage.tx: how storage runs statements, in one model for every query module.

- Statements are SQLAlchemy Core, always. The few that every stored article runs are compiled
  once per database (`Statement`) and run on the DB-API cursor: on SQLite, SQLAlchemy's own
  work per execution costs more than the database's. The rest go through the connection
  (`Tx.execute`).
- A database error leaves storage as one of the project's `StoreError`s (`store_error`), from
  either path and from `Store.read()`/`write()`: callers never see a driver's exception.
- A `Tx` is one write transaction. `savepoint()` makes a part of it atomic on its own.
- What a transaction learns that is worth keeping in memory (a decoded story profile, say) is
  kept with `remember()`: the rest of the transaction sees it (`recall()`), the shared cache
  gets it only after the commit, and a savepoint rolled back forgets it. No cache ever holds
  what the database does not. `after_commit()` runs any other code at that moment.
- `each()` runs one step per item in one transaction, an item that fails failing alone.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from monitor.errors import Conflict, StatementFailed, StoreError, StoreUnavailable

if TYPE_CHECKING:
    from monitor.storage import Store

K = TypeVar("K")
V = TypeVar("V")
T = TypeVar("T")
R = TypeVar("R")


def store_error(exc: BaseException) -> StoreError:
    """A driver's (or SQLAlchemy's) database error as the project's own: `StoreUnavailable`
    when the database could not run the statement, `StatementFailed` when it refused it. The
    message is the database's own on one line, without the statement and its parameters."""
    if isinstance(exc, StoreError):
        return exc
    orig = getattr(exc, "orig", None) or exc
    message = " ".join(str(orig).split()) or type(orig).__name__
    unavailable = (sa.exc.OperationalError, sa.exc.InterfaceError)
    if isinstance(exc, unavailable) or getattr(exc, "connection_invalidated", False):
        return StoreUnavailable(message)
    names = {cls.__name__ for cls in type(orig).__mro__}  # a PEP 249 driver's own classes
    if names & {"OperationalError", "InterfaceError"}:
        return StoreUnavailable(message)
    return StatementFailed(message)


def insert(dialect: str, table: sa.Table) -> Any:
    """The dialect's INSERT for `table`, which knows ON CONFLICT (both engines have it)."""
    return (postgresql if dialect == "postgresql" else sqlite).insert(table)


@functools.cache
def insert_new_statement(dialect: str, table: sa.Table) -> Any:
    """INSERT … ON CONFLICT DO NOTHING RETURNING id, built once per table: on SQLite building a
    statement costs more than running it."""
    return insert(dialect, table).on_conflict_do_nothing().returning(table.c.id)


class Statement:
    """A statement compiled once per database for the DB-API's positional parameters.

    `build` is the statement, or a function of the dialect's name that builds it (for an
    INSERT … ON CONFLICT, whose construct differs by dialect). `columns` names the columns an
    INSERT sets, in the order its values are given. Values go through the columns' types as
    SQLAlchemy would send them."""

    def __init__(
        self,
        build: sa.ClauseElement | Callable[[str], sa.ClauseElement],
        columns: Sequence[str] = (),
    ) -> None:
        self._build = build
        self._columns = list(columns)
        self._compiled: dict[tuple[str, str], _Compiled] = {}

    def on(self, dialect: sa.Dialect) -> _Compiled:
        key = (dialect.name, dialect.driver)
        found = self._compiled.get(key)
        if found is None:
            stmt = self._build if isinstance(self._build, sa.ClauseElement) else None
            if stmt is None:
                assert callable(self._build)
                stmt = self._build(dialect.name)
            found = self._compiled[key] = _Compiled(stmt, dialect, self._columns)
        return found


class _Compiled:
    def __init__(self, stmt: sa.ClauseElement, dialect: sa.Dialect, columns: list[str]) -> None:
        positional: sa.Dialect = type(dialect)(  # type: ignore[call-arg]
            paramstyle="format" if dialect.name == "postgresql" else "qmark"
        )
        compiled: Any = stmt.compile(dialect=positional, column_keys=columns or None)
        self.sql: str = compiled.string
        self.names: tuple[str, ...] = tuple(compiled.positiontup or ())
        defaults = {name: bind.value for name, bind in compiled.binds.items()}
        processors: dict[str, Any] = dict(compiled._bind_processors)
        # Per distinct name: its default and type processor, looked up once here rather than
        # for every execution. A name can stand at several positions (the story lookup binds
        # its window's start once per lookup key): its value is converted once.
        self._plan = [
            (name, defaults.get(name), processors.get(name)) for name in dict.fromkeys(self.names)
        ]
        # Where each position's value is in the plan's order, when a name repeats.
        slot = {name: i for i, (name, _, _) in enumerate(self._plan)}
        self._order = [slot[name] for name in self.names] if len(slot) != len(self.names) else None

    def params(self, values: Mapping[str, Any]) -> list[Any]:
        get = values.get
        out = [
            get(name, default) if process is None else process(get(name, default))
            for name, default, process in self._plan
        ]
        order = self._order
        return out if order is None else [out[i] for i in order]

    def varying(self, fixed: Mapping[str, Any], name: str, values: Iterable[Any]) -> list[Any]:
        """One parameter row per value of `name`, the others `fixed` (converted once)."""
        template = self.params({**fixed, name: None})
        at = [i for i, n in enumerate(self.names) if n == name]
        process = next(p for n, _, p in self._plan if n == name)
        rows = []
        for value in values:
            row = template.copy()
            converted = value if process is None else process(value)
            for i in at:
                row[i] = converted
            rows.append(row)
        return rows


class Cache(Protocol[K, V]):
    """What `Tx.remember` publishes to after the commit: any bounded mapping."""

    def get(self, key: K) -> V | None: ...

    def update(self, values: Mapping[K, V]) -> None: ...


@dataclass
class _Frame:
    """What the transaction, or one savepoint of it, has learnt so far."""

    callbacks: list[Callable[[], None]] = field(default_factory=list)
    memo: dict[int, tuple[Cache[Any, Any], dict[Any, Any]]] = field(default_factory=dict)

    def absorb(self, inner: _Frame) -> None:
        self.callbacks.extend(inner.callbacks)
        for key, (cache, values) in inner.memo.items():
            self.memo.setdefault(key, (cache, {}))[1].update(values)


class Tx:
    """One write transaction (`Store.transaction()`)."""

    def __init__(self, conn: sa.Connection) -> None:
        self.conn = conn
        self.dialect = conn.dialect
        self._cursor: Any = conn.connection.cursor()
        self._driver_error: type[Exception] = conn.dialect.loaded_dbapi.Error
        self._frames = [_Frame()]

    # -- statements ------------------------------------------------------------------------

    def rows(self, stmt: Statement, values: Mapping[str, Any]) -> list[tuple[Any, ...]]:
        compiled = stmt.on(self.dialect)
        try:
            self._cursor.execute(compiled.sql, compiled.params(values))
            return list(self._cursor.fetchall())
        except self._driver_error as exc:
            raise store_error(exc) from exc

    def run(self, stmt: Statement, values: Mapping[str, Any]) -> None:
        compiled = stmt.on(self.dialect)
        try:
            self._cursor.execute(compiled.sql, compiled.params(values))
        except self._driver_error as exc:
            raise store_error(exc) from exc

    def many(
        self, stmt: Statement, fixed: Mapping[str, Any], name: str, values: Iterable[Any]
    ) -> None:
        """Run `stmt` once per value of the parameter `name`, the others `fixed`."""
        compiled = stmt.on(self.dialect)
        rows = compiled.varying(fixed, name, values)
        if not rows:
            return
        try:
            self._cursor.executemany(compiled.sql, rows)
        except self._driver_error as exc:
            raise store_error(exc) from exc

    def execute(
        self, stmt: sa.Executable, values: Mapping[str, Any] | Sequence[Mapping[str, Any]] = ()
    ) -> sa.CursorResult[Any]:
        """Any other statement, through SQLAlchemy's connection."""
        try:
            return self.conn.execute(stmt, values or None)
        except sa.exc.DBAPIError as exc:
            raise store_error(exc) from exc

    def insert_new(self, table: sa.Table, rows: Sequence[Mapping[str, Any]]) -> list[int]:
        """INSERT … ON CONFLICT DO NOTHING; the ids of the rows that were new. Uniqueness is
        the database's job: two workers inserting the same key both succeed, one row exists."""
        if not rows:
            return []
        stmt = insert_new_statement(self.dialect.name, table)
        values = dict(rows[0]) if len(rows) == 1 else [dict(r) for r in rows]
        return list(self.execute(stmt, values).scalars())

    # -- savepoints and what outlives the transaction ------------------------------------

    @contextmanager
    def savepoint(self) -> Iterator[None]:
        """A part of the transaction that an exception undoes alone (and re-raises): its
        writes, and what it `remember`ed or asked to run `after_commit`.

        Issued on the DB-API cursor: SQLAlchemy's nested transaction costs more than the rest
        of an entry's statements on SQLite."""
        name = f"monitor_{len(self._frames)}"
        self._command(f"SAVEPOINT {name}")
        self._frames.append(_Frame())
        try:
            yield
        except BaseException:
            self._frames.pop()
            self._command(f"ROLLBACK TO SAVEPOINT {name}")
            self._command(f"RELEASE SAVEPOINT {name}")
            raise
        inner = self._frames.pop()
        self._command(f"RELEASE SAVEPOINT {name}")
        self._frames[-1].absorb(inner)

    def after_commit(self, callback: Callable[[], None]) -> None:
        """Run `callback` once this transaction has committed (never if it is rolled back, nor
        if the savepoint it was asked in is)."""
        self._frames[-1].callbacks.append(callback)

    def remember(self, cache: Cache[K, V], key: K, value: V) -> None:
        """Keep `value` for `recall` in this transaction; `cache` gets it after the commit."""
        frame = self._frames[-1]
        found = frame.memo.get(id(cache))
        if found is None:
            found = frame.memo[id(cache)] = (cache, {})
        found[1][key] = value

    def recall(self, cache: Cache[K, V], key: K) -> V | None:
        """What this transaction remembered under `key`, else what `cache` holds."""
        for frame in reversed(self._frames):
            found = frame.memo.get(id(cache))
            if found is not None:
                value: V | None = found[1].get(key)
                if value is not None:
                    return value
        return cache.get(key)

    def _command(self, sql: str) -> None:
        try:
            self._cursor.execute(sql)
        except self._driver_error as exc:
            raise store_error(exc) from exc

    def _committed(self) -> None:
        (frame,) = self._frames
        for cache, values in frame.memo.values():
            cache.update(values)
        for callback in frame.callbacks:
            callback()

    def _close(self) -> None:
        self._cursor.close()


class _Isolate(Exception):
    """An item failed in a transaction without savepoints: run the group again with them."""


def each(
    store: Store,
    items: Sequence[T],
    step: Callable[[Tx, T], R],
    *,
    begin: Callable[[Tx], None] | None = None,
    tries: int = 3,
) -> list[R | StoreError]:
    """Run `step` for every item, in order, in one transaction (after `begin`, if given); an
    item whose statements fail is undone alone and its `StoreError` is returned in its place,
    while the others commit. An item that meets a `Conflict` (another worker wrote its row
    first) is run again, up to `tries` times, and then finds that row.

    Savepoints are not free (on SQLite each page an item changes is first copied to the
    savepoint's journal), so the first attempt has none and gives up at the first failing
    item; the group is then run again with each item in a savepoint of its own. Exceptions
    other than `StoreError`s are bugs: they roll the whole transaction back and propagate."""
    if not items:
        return []
    try:
        with store.transaction() as tx:
            if begin is not None:
                begin(tx)
            done: list[R | StoreError] = []
            for item in items:
                try:
                    done.append(step(tx, item))
                except StoreError as exc:
                    raise _Isolate from exc
        return done
    except _Isolate:
        pass
    with store.transaction() as tx:
        if begin is not None:
            begin(tx)
        return [_isolated(tx, item, step, tries) for item in items]


def _isolated(tx: Tx, item: T, step: Callable[[Tx, T], R], tries: int) -> R | StoreError:
    for _ in range(tries):
        try:
            with tx.savepoint():
                return step(tx, item)
        except Conflict:
            continue  # another worker stored this row a moment ago: the next try finds it
        except StoreError as exc:
            return exc
    return Conflict("another worker kept storing the same row first; tried again later")
