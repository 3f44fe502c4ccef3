"""Move a test database's schema to a given Alembic revision, the way `monitor migrate` does,
on the test's own engine (so SQLite files and the PostgreSQL test schema both work)."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import command
from alembic.config import Config

from monitor.storage import engine as store_engine


def migrate(engine: sa.Engine, revision: str, *, down: bool = False) -> None:
    """Upgrade (or, with `down`, downgrade) to `revision` in one transaction."""
    cfg = Config()
    cfg.set_main_option("script_location", str(store_engine.MIGRATIONS))
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        (command.downgrade if down else command.upgrade)(cfg, revision)
