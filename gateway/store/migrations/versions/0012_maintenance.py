"""maintenance_windows: planned and emergency work, the notices it owes and when

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-07 12:30:00

A window is scheduled with a kind whose lead time the policy sets; its advance notice, the
reminder at its start and the completion notice go to the affected organisations' status
contacts once each (cause keys in the outbox). ``next_at`` is the instant the scheduler wakes
for it.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_AT = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "maintenance_windows",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=48), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("starts_at", _AT, nullable=False),
        sa.Column("ends_at", _AT, nullable=False),
        sa.Column("organisations", sa.JSON(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("notice_at", _AT, nullable=True),
        sa.Column("noticed_at", _AT, nullable=True),
        sa.Column("started_at", _AT, nullable=True),
        sa.Column("completed_at", _AT, nullable=True),
        sa.Column("cancelled_at", _AT, nullable=True),
        sa.Column("cancel_reason", sa.Text(), nullable=True),
        sa.Column("scheduled_at", _AT, nullable=False),
        sa.Column("scheduled_by", sa.String(length=320), nullable=False),
        sa.Column("forced", sa.Boolean(), nullable=False),
        sa.Column("next_at", _AT, nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_maintenance_windows_next_at", "maintenance_windows", ["next_at"])


def downgrade() -> None:
    op.drop_index("ix_maintenance_windows_next_at", table_name="maintenance_windows")
    op.drop_table("maintenance_windows")
