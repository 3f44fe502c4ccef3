"""initial schema: feeds, entries, articles, stories, rule matches, the alert outbox

Revision ID: 0001
Revises:
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

When = sa.DateTime  # naive UTC; monitor.storage.tables.UTCDateTime converts at the edges


def upgrade() -> None:
    op.create_table(
        "feed",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("name", sa.String(), nullable=False, unique=True),
        sa.Column("config_url", sa.String(), nullable=False),
        sa.Column("url", sa.String(), nullable=False),
        sa.Column("status", sa.String(), nullable=False),
        sa.Column("interval_s", sa.Float(), nullable=False),
        sa.Column("etag", sa.String(), nullable=True),
        sa.Column("last_modified", sa.String(), nullable=True),
        sa.Column("body_hash", sa.String(), nullable=True),
        sa.Column("next_poll_at", When(), nullable=False, index=True),
        sa.Column("last_polled_at", When(), nullable=True),
        sa.Column("last_success_at", When(), nullable=True),
        sa.Column("last_new_entry_at", When(), nullable=True),
        sa.Column("last_status", sa.Integer(), nullable=True),
        sa.Column("error_count", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.String(), nullable=True),
        sa.Column("entries_seen", sa.Integer(), nullable=False),
        sa.Column("lease_owner", sa.String(), nullable=True),
        sa.Column("lease_until", When(), nullable=True),
        sa.Column("created_at", When(), nullable=False),
    )
    op.create_table(
        "story",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("title", sa.String(), nullable=False),
        sa.Column("first_seen_at", When(), nullable=False, index=True),
        sa.Column("last_seen_at", When(), nullable=False),
        sa.Column("article_count", sa.Integer(), nullable=False),
    )
    op.create_table(
        "article",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("canonical_url", sa.String(), nullable=False, unique=True),
        sa.Column("url", sa.String(), nullable=False),
        sa.Column("source", sa.String(), nullable=False),
        sa.Column("title", sa.String(), nullable=False),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("text_hash", sa.String(), nullable=False, index=True),
        sa.Column("language", sa.String(), nullable=True),
        sa.Column("authors", sa.String(), nullable=False),
        sa.Column("published_at", When(), nullable=True),
        sa.Column("fetched_at", When(), nullable=False, index=True),
        sa.Column("extraction", sa.String(), nullable=False),
        sa.Column("extraction_error", sa.String(), nullable=True),
        sa.Column("story_id", sa.Integer(), sa.ForeignKey("story.id"), nullable=True, index=True),
    )
    op.create_table(
        "entry",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("feed_id", sa.Integer(), sa.ForeignKey("feed.id"), nullable=False),
        sa.Column("guid", sa.String(), nullable=False),
        sa.Column(
            "article_id", sa.Integer(), sa.ForeignKey("article.id"), nullable=True, index=True
        ),
        sa.Column("seen_at", When(), nullable=False),
        sa.UniqueConstraint("feed_id", "guid", name="uq_entry_feed_guid"),
    )
    op.create_table(
        "rule_match",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "article_id", sa.Integer(), sa.ForeignKey("article.id"), nullable=False, index=True
        ),
        sa.Column("watchlist", sa.String(), nullable=False),
        sa.Column("rule", sa.String(), nullable=False),
        sa.Column("severity", sa.String(), nullable=False),
        sa.Column("hits", sa.Text(), nullable=False),
        sa.Column("snippet", sa.Text(), nullable=False),
        sa.Column("created_at", When(), nullable=False),
        sa.UniqueConstraint("article_id", "watchlist", "rule", name="uq_match_article_rule"),
    )
    op.create_table(
        "alert",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("story_id", sa.Integer(), sa.ForeignKey("story.id"), nullable=False),
        sa.Column("article_id", sa.Integer(), sa.ForeignKey("article.id"), nullable=False),
        sa.Column("watchlist", sa.String(), nullable=False),
        sa.Column("channel", sa.String(), nullable=False),
        sa.Column("severity", sa.String(), nullable=False),
        sa.Column("rules", sa.String(), nullable=False),
        sa.Column("snippet", sa.Text(), nullable=False),
        sa.Column("idempotency_key", sa.String(), nullable=False, unique=True),
        sa.Column("status", sa.String(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", When(), nullable=False),
        sa.Column("last_error", sa.String(), nullable=True),
        sa.Column("created_at", When(), nullable=False),
        sa.Column("sent_at", When(), nullable=True),
        sa.Column("lease_owner", sa.String(), nullable=True),
        sa.Column("lease_until", When(), nullable=True),
        sa.UniqueConstraint("story_id", "watchlist", "channel", name="uq_alert_story_channel"),
    )
    op.create_index("ix_alert_due", "alert", ["status", "next_attempt_at"])
    op.create_table(
        "delivery_attempt",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("alert_id", sa.Integer(), sa.ForeignKey("alert.id"), nullable=False, index=True),
        sa.Column("at", When(), nullable=False),
        sa.Column("ok", sa.Boolean(), nullable=False),
        sa.Column("detail", sa.String(), nullable=False),
        sa.Column("duration_ms", sa.Integer(), nullable=False),
    )


def downgrade() -> None:
    for table in ("delivery_attempt", "alert", "rule_match", "entry", "article", "story", "feed"):
        op.drop_table(table)
