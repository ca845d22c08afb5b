"""outbox: the attempt on the wire, and attempts whose outcome was never recorded

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-07 06:30:00

The sender commits ``on_wire_at`` just before DATA and clears it with the relay's answer. A
process that dies in between leaves it set: the row may have been delivered. The sender that
recovers the row counts it in ``unknown_outcomes`` and sends it again with the same Message-ID.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("outbox") as batch:
        batch.add_column(sa.Column("on_wire_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("unknown_outcomes", sa.Integer(), nullable=False, server_default="0"))


def downgrade() -> None:
    with op.batch_alter_table("outbox") as batch:
        batch.drop_column("unknown_outcomes")
        batch.drop_column("on_wire_at")
