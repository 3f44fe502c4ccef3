"""story revision: a number that changes with every change of a story's profile

Revision ID: 0005_story_revision
Revises: 0004_lookup_tables
Create Date: 2026-12-06

Workers keep decoded story profiles in memory and know one is still current while the story's
number is unchanged. That number was the article count, which only ever grew; story repair
(a story split in two) lowers it, and a story that grows back to a count seen before would have
matched a profile from before the split. The revision only grows: each join and each split adds
one. Existing stories start at their article count.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005_story_revision"
down_revision = "0004_lookup_tables"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("story", sa.Column("revision", sa.Integer(), nullable=False, server_default="0"))
    op.execute("UPDATE story SET revision = article_count")


def downgrade() -> None:
    # In place on both databases (SQLite has had DROP COLUMN since 3.35): copying the table, as
    # a batch operation would, trips the foreign keys that point at it.
    op.drop_column("story", "revision")
