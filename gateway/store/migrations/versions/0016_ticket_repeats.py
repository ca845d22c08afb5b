"""tickets: repeats of one alert fold into one ticket

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-07 23:30:00

A ticket keeps the hash of its customer's address and its subject's shape (``repeat_key``), how
many repeats of its first mail it took since (``repeats``) and when the last came
(``last_repeat_at``). A monitoring system in a loop that has opened `[processing] repeats_after`
tickets of one shape within `repeats_window` opens no more: its next mails join the latest. The
index finds a sender's tickets of one shape, and those opened in the window, without a scan.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("tickets") as batch:
        batch.add_column(sa.Column("repeat_key", sa.String(64), nullable=True))
        batch.add_column(sa.Column("repeats", sa.Integer(), nullable=False, server_default="0"))
        batch.add_column(sa.Column("last_repeat_at", sa.DateTime(timezone=True), nullable=True))
    op.create_index("ix_tickets_repeat", "tickets", ["repeat_key", "created_at", "id"])


def downgrade() -> None:
    op.drop_index("ix_tickets_repeat", table_name="tickets")
    with op.batch_alter_table("tickets") as batch:
        batch.drop_column("last_repeat_at")
        batch.drop_column("repeats")
        batch.drop_column("repeat_key")
