"""lookup times in seconds: `article_band.seen_at` and `story_key.seen_at` become whole UTC
seconds since the epoch (BIGINT)

Revision ID: 0006_epoch_lookup_times
Revises: 0005_story_revision
Create Date: 2026-12-06

Every new article writes some 32 band rows and 12 lookup-key rows under random keys, and each
row carries its time. On SQLite a date-time is a 26-character text; as an integer it is eight
bytes at most, so the rows are about half as long, the trees have half as many pages, and a
commit writes fewer of them. Nothing is lost: the lookups compare times with a window measured
in hours. PostgreSQL converts in place; SQLite rebuilds the two tables (clustered on their
primary keys, as migration 0004 made them) in key order.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0006_epoch_lookup_times"
down_revision = "0005_story_revision"
branch_labels = None
depends_on = None

TABLES = ("article_band", "story_key")


def _tables(when: sa.types.TypeEngine[Any]) -> None:
    """SQLite: the two lookup tables as `{name}_new`, with `seen_at` of type `when`."""
    op.create_table(
        "article_band_new",
        sa.Column("key", sa.BigInteger(), nullable=False),
        sa.Column("seen_at", when, nullable=False),
        sa.Column("article_id", sa.Integer(), sa.ForeignKey("article.id"), nullable=False),
        sa.PrimaryKeyConstraint("key", "seen_at", "article_id"),
        sqlite_with_rowid=False,
    )
    op.create_table(
        "story_key_new",
        sa.Column("key", sa.BigInteger(), primary_key=True, autoincrement=False),
        sa.Column("story_id", sa.Integer(), sa.ForeignKey("story.id"), primary_key=True),
        sa.Column("seen_at", when, nullable=False),
        sqlite_with_rowid=False,
    )


# Per table: the columns copied as they are, and the primary key's order (the copy is written in
# it, so the new B-tree fills page after page).
_COPY = {
    "article_band": ('"key", article_id', '"key", seen_at, article_id'),
    "story_key": ('"key", story_id', '"key", story_id'),
}


def _sqlite(convert: str) -> None:
    """Copy both tables into the `_new` ones, `seen_at` through `convert`, and swap them in."""
    for table, (columns, order) in _COPY.items():
        op.execute(
            f"INSERT INTO {table}_new ({columns}, seen_at) "
            f"SELECT {columns}, {convert} FROM {table} ORDER BY {order}"
        )
        op.drop_table(table)
        op.rename_table(f"{table}_new", table)
    op.create_index("ix_story_key_recent", "story_key", ["key", "seen_at", "story_id"])


def _convert(
    sqlite_type: sa.types.TypeEngine[Any], sqlite_sql: str, pg_type: str, pg_sql: str
) -> None:
    """`seen_at` of both tables to the new type, through the given conversion."""
    if op.get_bind().dialect.name == "sqlite":
        _tables(sqlite_type)
        _sqlite(sqlite_sql)
        return
    for table in TABLES:
        op.execute(f"ALTER TABLE {table} ALTER COLUMN seen_at TYPE {pg_type} USING {pg_sql}")


def upgrade() -> None:
    _convert(
        sa.BigInteger(),
        "CAST(strftime('%s', seen_at) AS INTEGER)",
        "BIGINT",
        "EXTRACT(EPOCH FROM seen_at)::BIGINT",
    )


def downgrade() -> None:
    _convert(
        sa.DateTime(),
        "strftime('%Y-%m-%d %H:%M:%f000', seen_at, 'unixepoch')",
        "TIMESTAMP WITHOUT TIME ZONE",
        "to_timestamp(seen_at) AT TIME ZONE 'UTC'",
    )
