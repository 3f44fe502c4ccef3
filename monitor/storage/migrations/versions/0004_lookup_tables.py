"""lookup tables: the LSH band table keyed by (key, seen_at, article_id), one B-tree and no
second index; on SQLite both lookup tables lose the hidden rowid

Revision ID: 0004_lookup_tables
Revises: 0003_stories
Create Date: 2026-11-25

Every article adds about 25 band rows and 16 lookup-key rows under random keys, so once the
window holds many stories nearly every insert lands on a page of its own, outside the page
cache. A SQLite rowid table with a primary key and a second index writes three B-trees per row;
a table clustered on its primary key (`WITHOUT ROWID`) writes one or two. The band lookup reads
(key, seen_at ≥ since) and needs the article id, so a primary key in that order covers it. An
edited article is filed again under its new time rather than keeping the old one; the lookup
reads both rows as one article. The lookup-key index gains the story id: stories that became
active at the same instant come newest id first, on every database (it was the rowid's order).
PostgreSQL has no rowid: there the keys and indexes change in place.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004_lookup_tables"
down_revision = "0003_stories"
branch_labels = None
depends_on = None

When = sa.DateTime  # naive UTC; monitor.storage.tables.UTCDateTime converts at the edges


def _band_table(name: str, *, clustered: bool) -> None:
    article_id = sa.Column("article_id", sa.Integer(), sa.ForeignKey("article.id"))
    if clustered:
        op.create_table(
            name,
            sa.Column("key", sa.BigInteger(), nullable=False),
            sa.Column("seen_at", When(), nullable=False),
            article_id,
            sa.PrimaryKeyConstraint("key", "seen_at", "article_id"),
            sqlite_with_rowid=False,
        )
    else:
        op.create_table(
            name,
            sa.Column("key", sa.BigInteger(), nullable=False),
            article_id,
            sa.Column("seen_at", When(), nullable=False),
            sa.PrimaryKeyConstraint("key", "article_id"),
        )


def _key_table(name: str, *, clustered: bool) -> None:
    op.create_table(
        name,
        sa.Column("key", sa.BigInteger(), primary_key=True, autoincrement=False),
        sa.Column("story_id", sa.Integer(), sa.ForeignKey("story.id"), primary_key=True),
        sa.Column("seen_at", When(), nullable=False),
        sqlite_with_rowid=not clustered,
    )


def _rebuild(table: str, copy: str) -> None:
    """SQLite: replace `table` by `{table}_new` (made already), filled by `copy` in key order,
    so the new B-tree is written page after page."""
    op.execute(f"INSERT INTO {table}_new {copy}")
    op.drop_table(table)
    op.rename_table(f"{table}_new", table)


def upgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        op.drop_index("ix_article_band_recent", "article_band")
        op.drop_constraint("article_band_pkey", "article_band", type_="primary")
        op.create_primary_key("article_band_pkey", "article_band", ["key", "seen_at", "article_id"])
        op.drop_index("ix_story_key_recent", "story_key")
        op.create_index("ix_story_key_recent", "story_key", ["key", "seen_at", "story_id"])
        return
    _band_table("article_band_new", clustered=True)
    _rebuild(
        "article_band",
        '("key", seen_at, article_id) SELECT "key", seen_at, article_id FROM article_band '
        'ORDER BY "key", seen_at, article_id',
    )
    _key_table("story_key_new", clustered=True)
    _rebuild(
        "story_key",
        '("key", story_id, seen_at) SELECT "key", story_id, seen_at FROM story_key '
        'ORDER BY "key", story_id',
    )
    op.create_index("ix_story_key_recent", "story_key", ["key", "seen_at", "story_id"])


def downgrade() -> None:
    # An article filed more than once under a key keeps its latest time.
    latest = (
        '("key", article_id, seen_at) SELECT "key", article_id, MAX(seen_at) FROM article_band '
        'GROUP BY "key", article_id ORDER BY "key", article_id'
    )
    if op.get_bind().dialect.name != "sqlite":
        op.execute(
            "DELETE FROM article_band AS a USING article_band AS b "
            "WHERE a.key = b.key AND a.article_id = b.article_id AND a.seen_at < b.seen_at"
        )
        op.drop_constraint("article_band_pkey", "article_band", type_="primary")
        op.create_primary_key("article_band_pkey", "article_band", ["key", "article_id"])
        op.create_index("ix_article_band_recent", "article_band", ["key", "seen_at"])
        op.drop_index("ix_story_key_recent", "story_key")
        op.create_index("ix_story_key_recent", "story_key", ["key", "seen_at"])
        return
    _band_table("article_band_new", clustered=False)
    _rebuild("article_band", latest)
    op.create_index("ix_article_band_recent", "article_band", ["key", "seen_at"])
    _key_table("story_key_new", clustered=False)
    _rebuild(
        "story_key",
        '("key", story_id, seen_at) SELECT "key", story_id, seen_at FROM story_key '
        'ORDER BY "key", story_id',
    )
    op.create_index("ix_story_key_recent", "story_key", ["key", "seen_at"])
