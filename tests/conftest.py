"""Shared fixtures: stores on every engine we support, and real local servers."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from monitor.storage import Store
from tests.servers import Receiver, Site

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = Path(__file__).resolve().parent / "fixtures"
SHARED = ROOT.parent / "shared"
PG_URL = os.environ.get("MONITOR_TEST_DATABASE_URL")


def pytest_report_header() -> list[str]:
    pg = "PostgreSQL at $MONITOR_TEST_DATABASE_URL" if PG_URL else "no PostgreSQL (set it to test)"
    shared = f"corpora at {SHARED}" if SHARED.is_dir() else "no ../shared corpora"
    return [f"monitor tests: SQLite, {pg}; {shared}"]


def pg_schema_url(schema: str) -> str:
    assert PG_URL
    sep = "&" if "?" in PG_URL else "?"
    return f"{PG_URL}{sep}options=-csearch_path%3D{schema}"


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A PostgreSQL URL whose tables live in a fresh schema, dropped afterwards."""
    if not PG_URL:
        pytest.skip("MONITOR_TEST_DATABASE_URL is not set; PostgreSQL tests skipped")
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(PG_URL)
    with admin.begin() as conn:
        conn.execute(sa.text(f"CREATE SCHEMA {schema}"))
    try:
        yield pg_schema_url(schema)
    finally:
        with admin.begin() as conn:
            conn.execute(sa.text(f"DROP SCHEMA {schema} CASCADE"))
        admin.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh database URL, once on SQLite and once on PostgreSQL (when available)."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/monitor.db"
    return str(request.getfixturevalue("pg_url"))


@pytest.fixture
def store(db_url: str) -> Iterator[Store]:
    s = Store.open(db_url)
    try:
        yield s
    finally:
        s.close()


@pytest.fixture
def site() -> Iterator[Site]:
    """A scriptable HTTP server on 127.0.0.1 that serves files and canned answers."""
    with Site.running() as server:
        yield server


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    """A webhook receiver on 127.0.0.1 that records every request."""
    with Receiver.running() as server:
        yield server


def shared(*parts: str) -> Path:
    path = SHARED.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"{path} not present (the corpora live in ../shared beside the repository)")
    return path
