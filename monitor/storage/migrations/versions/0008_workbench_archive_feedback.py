"""the analyst's workbench: archive retention and feedback (muted stories, irrelevant alerts)

Revision ID: 0008_workbench_archive_feedback
Revises: 0007_feed_entries_dropped
Create Date: 2026-12-08

- `article.pruned_at`: when the archive dropped the article's text, summary and signature
  (`archive.keep`); its keys (canonical URL, text hash, story) stay, so it never alerts again.
  A partial index over the articles not pruned yet, by time, finds the next ones to prune and
  how far back the archive reaches without reading the pruned ones.
- `story.muted_at`: a person muted the story; it queues no more alerts.
- `alert.irrelevant_at`: a person marked the alert as not relevant (per-rule noise counts),
  with a partial index, since few are marked.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008_workbench_archive_feedback"
down_revision = "0007_feed_entries_dropped"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("article", sa.Column("pruned_at", sa.DateTime(), nullable=True))
    op.add_column("story", sa.Column("muted_at", sa.DateTime(), nullable=True))
    op.add_column("alert", sa.Column("irrelevant_at", sa.DateTime(), nullable=True))
    op.create_index(
        "ix_article_unpruned",
        "article",
        ["fetched_at"],
        sqlite_where=sa.text("pruned_at IS NULL"),
        postgresql_where=sa.text("pruned_at IS NULL"),
    )
    op.create_index(
        "ix_alert_irrelevant",
        "alert",
        ["watchlist"],
        sqlite_where=sa.text("irrelevant_at IS NOT NULL"),
        postgresql_where=sa.text("irrelevant_at IS NOT NULL"),
    )


def downgrade() -> None:
    # In place on both databases (see 0005): copying the tables trips the foreign keys.
    op.drop_index("ix_alert_irrelevant", table_name="alert")
    op.drop_index("ix_article_unpruned", table_name="article")
    op.drop_column("alert", "irrelevant_at")
    op.drop_column("story", "muted_at")
    op.drop_column("article", "pruned_at")
