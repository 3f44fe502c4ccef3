"""delivery: digests (and operator notices) with their own outbox state, alerts held in them,
and per-channel state shared by workers (rate-limit bucket, failure streak, pause, notice)

Revision ID: 0002_delivery
Revises: 0001
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002_delivery"
down_revision = "0001"
branch_labels = None
depends_on = None

When = sa.DateTime  # naive UTC; monitor.storage.tables.UTCDateTime converts at the edges
OPEN = sa.text("status = 'open'")


def upgrade() -> None:
    op.create_table(
        "digest",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("channel", sa.String(), nullable=False),
        sa.Column("kind", sa.String(), nullable=False),
        sa.Column("reason", sa.String(), nullable=False),
        sa.Column("status", sa.String(), nullable=False),
        sa.Column("idempotency_key", sa.String(), nullable=False, unique=True),
        sa.Column("due_at", When(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", When(), nullable=False),
        sa.Column("last_error", sa.String(), nullable=True),
        sa.Column("title", sa.String(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("created_at", When(), nullable=False),
        sa.Column("closed_at", When(), nullable=True),
        sa.Column("sent_at", When(), nullable=True),
        sa.Column("lease_owner", sa.String(), nullable=True),
        sa.Column("lease_until", When(), nullable=True),
    )
    op.create_index(
        "ux_digest_open_channel",
        "digest",
        ["channel"],
        unique=True,
        sqlite_where=OPEN,
        postgresql_where=OPEN,
    )
    op.create_index("ix_digest_due", "digest", ["status", "channel"])
    with op.batch_alter_table("alert") as batch:
        batch.add_column(sa.Column("digest_id", sa.Integer(), nullable=True))
        batch.create_foreign_key("fk_alert_digest_id_digest", "digest", ["digest_id"], ["id"])
        batch.create_index("ix_alert_digest_id", ["digest_id"])
    op.create_table(
        "channel_state",
        sa.Column("channel", sa.String(), primary_key=True),
        sa.Column("tokens", sa.Float(), nullable=True),
        sa.Column("tokens_at", When(), nullable=True),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("failing_since", When(), nullable=True),
        sa.Column("last_error", sa.String(), nullable=True),
        sa.Column("paused_until", When(), nullable=True),
        sa.Column("notified_at", When(), nullable=True),
        sa.Column("updated_at", When(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("channel_state")
    with op.batch_alter_table("alert") as batch:
        batch.drop_index("ix_alert_digest_id")
        batch.drop_constraint("fk_alert_digest_id_digest", type_="foreignkey")
        batch.drop_column("digest_id")
    op.drop_index("ix_digest_due", table_name="digest")
    op.drop_index("ux_digest_open_channel", table_name="digest")
    op.drop_table("digest")
