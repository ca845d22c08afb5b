"""outbox: which sender holds a row's lease

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-03 17:30:00

A sender takes each row again, under its own name, just before it sends it: a process whose
lease ran out (a slow relay, a paused machine) then finds the row taken by another and does
not send it a second time.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("outbox") as batch:
        batch.add_column(sa.Column("lease_owner", sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("outbox") as batch:
        batch.drop_column("lease_owner")
