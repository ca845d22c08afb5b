"""tickets: promises made case by case (an ETA, an agreed update cadence) and merges

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-07 10:00:00

``eta``: the estimated time to resolution an engineer gave (``#eta``), shown to the customer in
status and update notices. ``update_every``: the update cadence agreed for this ticket
(``#update-every``), replacing the plan's until set back. ``merged_into``: the ticket this one
was merged into (``#merge``); mail to a merged ticket lands there.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("tickets") as batch:
        batch.add_column(sa.Column("eta", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("update_every", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("merged_into", sa.Integer(), nullable=True))
        batch.create_foreign_key("fk_tickets_merged_into", "tickets", ["merged_into"], ["id"])


def downgrade() -> None:
    with op.batch_alter_table("tickets") as batch:
        batch.drop_constraint("fk_tickets_merged_into", type_="foreignkey")
        batch.drop_column("merged_into")
        batch.drop_column("update_every")
        batch.drop_column("eta")
