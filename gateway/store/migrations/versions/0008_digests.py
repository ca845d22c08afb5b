"""digests: when each digest next goes to each of its recipients

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-10 09:00:00

One row per digest and recipient slot, its next instant indexed: the scheduler wakes at the
earliest and claims the rows due, as it claims tickets. A mail is still sent once per period
and recipient by its cause key; the row only says when to look.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "digest_schedules",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("slot", sa.String(length=400), nullable=False),
        sa.Column("basis", sa.String(length=64), nullable=False),
        sa.Column("next_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("digest", "slot"),
    )
    with op.batch_alter_table("digest_schedules", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_digest_schedules_next_at"), ["next_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("digest_schedules", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_digest_schedules_next_at"))
    op.drop_table("digest_schedules")
