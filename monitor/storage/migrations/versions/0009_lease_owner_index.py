"""leases: a partial index on `lease_owner` of feed, alert and digest

Revision ID: 0009_lease_owner_index
Revises: 0008_workbench_archive_feedback
Create Date: 2026-12-07

A worker renews every lease it holds every few seconds (`storage.leases.renew`), and a worker
starting looks up what dead processes of its host held. Only rows being worked on carry an owner,
so an index of those rows alone stays a few entries long however large the tables grow.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009_lease_owner_index"
down_revision = "0008_workbench_archive_feedback"
branch_labels = None
depends_on = None

HELD = sa.text("lease_owner IS NOT NULL")


def upgrade() -> None:
    for table in ("feed", "alert", "digest"):
        op.create_index(
            f"ix_{table}_leased",
            table,
            ["lease_owner"],
            sqlite_where=HELD,
            postgresql_where=HELD,
        )


def downgrade() -> None:
    for table in ("feed", "alert", "digest"):
        op.drop_index(f"ix_{table}_leased", table_name=table)
