"""feed truncation: `feed.entries_dropped`, the entries the last read of a feed left out

Revision ID: 0007_feed_entries_dropped
Revises: 0006_epoch_lookup_times
Create Date: 2026-12-07

One fetch gives at most `fetch.max_entries` entries (the newest); a feed that carries more is
read truncated, and `monitor feeds` says so from this count (0: nothing was left out).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007_feed_entries_dropped"
down_revision = "0006_epoch_lookup_times"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "feed", sa.Column("entries_dropped", sa.Integer(), nullable=False, server_default="0")
    )


def downgrade() -> None:
    op.drop_column("feed", "entries_dropped")
