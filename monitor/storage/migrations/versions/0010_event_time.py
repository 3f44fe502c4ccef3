"""stories: event time, and stories that continue one another

Revision ID: 0010_event_time
Revises: 0009_lease_owner_index
Create Date: 2026-12-07

- `article.event_at`: when the article's event happened as the store believes it (its published
  date when plausible, else its first sighting, `fetched_at`); stories are placed by it.
  Existing rows get it from what they have: `published_at` when it is no more than 5 minutes
  after `fetched_at` and no more than 60 days before it (the defaults of
  `pipeline.cluster.event_time`), else `fetched_at`. Each story's first and last times become
  its articles' earliest and latest event times.
- `story.continues_id`: the earlier story a story continues (a later report of its thread,
  past that story's span), shown by `monitor stories` and carried in alerts.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010_event_time"
down_revision = "0009_lease_owner_index"
branch_labels = None
depends_on = None

SLACK_S = 300
MAX_AGE_DAYS = 60


def upgrade() -> None:
    op.add_column("article", sa.Column("event_at", sa.DateTime(), nullable=True))
    op.add_column("story", sa.Column("continues_id", sa.Integer(), nullable=True))
    if op.get_bind().dialect.name == "sqlite":
        plausible = (
            f"julianday(published_at) BETWEEN julianday(fetched_at) - {MAX_AGE_DAYS} "
            f"AND julianday(fetched_at) + {SLACK_S} / 86400.0"
        )
    else:
        plausible = (
            f"published_at BETWEEN fetched_at - interval '{MAX_AGE_DAYS} days' "
            f"AND fetched_at + interval '{SLACK_S} seconds'"
        )
    op.execute(
        "UPDATE article SET event_at = CASE "
        f"WHEN published_at IS NOT NULL AND {plausible} AND published_at < fetched_at "
        "THEN published_at ELSE fetched_at END"
    )
    op.execute(
        "UPDATE story SET "
        "first_seen_at = COALESCE((SELECT MIN(a.event_at) FROM article a "
        "WHERE a.story_id = story.id), first_seen_at), "
        "last_seen_at = COALESCE((SELECT MAX(a.event_at) FROM article a "
        "WHERE a.story_id = story.id), last_seen_at)"
    )


def downgrade() -> None:
    # In place on both databases (see 0005): copying the tables trips the foreign keys.
    op.drop_column("story", "continues_id")
    op.drop_column("article", "event_at")
