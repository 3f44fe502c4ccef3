"""stories: clustering state (profiles, LSH bands, candidate keys), entry
fingerprints for edits, and follow-up alerts (kind, follow key) under one uniqueness rule

Revision ID: 0003_stories
Revises: 0002_delivery
Create Date: 2026-11-24
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003_stories"
down_revision = "0002_delivery"
branch_labels = None
depends_on = None

When = sa.DateTime  # naive UTC; monitor.storage.tables.UTCDateTime converts at the edges


def upgrade() -> None:
    with op.batch_alter_table("story") as batch:
        batch.add_column(sa.Column("profile", sa.Text(), nullable=False, server_default=""))
        batch.create_index("ix_story_last_seen_at", ["last_seen_at"])
    with op.batch_alter_table("article") as batch:
        batch.add_column(
            sa.Column("story_reason", sa.String(), nullable=False, server_default="new")
        )
        batch.add_column(sa.Column("story_score", sa.Float(), nullable=True))
        batch.add_column(sa.Column("same_as_id", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("signature", sa.LargeBinary(), nullable=True))
        batch.add_column(sa.Column("updated_at", When(), nullable=True))
        batch.create_foreign_key("fk_article_same_as", "article", ["same_as_id"], ["id"])
    with op.batch_alter_table("entry") as batch:
        batch.add_column(sa.Column("fingerprint", sa.String(), nullable=True))
    with op.batch_alter_table("alert") as batch:
        batch.add_column(sa.Column("kind", sa.String(), nullable=False, server_default="story"))
        batch.add_column(sa.Column("follow_key", sa.String(), nullable=False, server_default=""))
        batch.drop_constraint("uq_alert_story_channel", type_="unique")
        batch.create_unique_constraint(
            "uq_alert_story_channel", ["story_id", "watchlist", "channel", "kind", "follow_key"]
        )
    op.create_table(
        "story_key",
        sa.Column("key", sa.BigInteger(), primary_key=True, autoincrement=False),
        sa.Column("story_id", sa.Integer(), sa.ForeignKey("story.id"), primary_key=True),
        sa.Column("seen_at", When(), nullable=False),
    )
    op.create_index("ix_story_key_recent", "story_key", ["key", "seen_at"])
    op.create_table(
        "article_band",
        sa.Column("key", sa.BigInteger(), primary_key=True, autoincrement=False),
        sa.Column("article_id", sa.Integer(), sa.ForeignKey("article.id"), primary_key=True),
        sa.Column("seen_at", When(), nullable=False),
    )
    op.create_index("ix_article_band_recent", "article_band", ["key", "seen_at"])


def downgrade() -> None:
    op.drop_table("article_band")
    op.drop_table("story_key")
    with op.batch_alter_table("alert") as batch:
        batch.drop_constraint("uq_alert_story_channel", type_="unique")
        batch.drop_column("follow_key")
        batch.drop_column("kind")
        batch.create_unique_constraint(
            "uq_alert_story_channel", ["story_id", "watchlist", "channel"]
        )
    with op.batch_alter_table("entry") as batch:
        batch.drop_column("fingerprint")
    with op.batch_alter_table("article") as batch:
        batch.drop_constraint("fk_article_same_as", type_="foreignkey")
        for name in ("updated_at", "signature", "same_as_id", "story_score", "story_reason"):
            batch.drop_column(name)
    with op.batch_alter_table("story") as batch:
        batch.drop_index("ix_story_last_seen_at")
        batch.drop_column("profile")
