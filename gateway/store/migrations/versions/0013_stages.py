"""tickets: the stages of the plan a ticket entered, and when its stage's people are next told

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-08 10:00:00

``stages``: the stages of its plan the ticket entered by an engineer's ``#escalate STAGE``, in
order (a JSON list; NULL: none). ``stage_at``: when it entered the last one; the clocks that stage
starts count from then. ``inform_at``: when the people of the stage are next mailed how the ticket
goes (its ``inform_every``); NULL once the ticket settles. All nullable: existing tickets entered
no stage.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("tickets") as batch:
        batch.add_column(sa.Column("stages", sa.JSON(), nullable=True))
        batch.add_column(sa.Column("stage_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("inform_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("tickets") as batch:
        batch.drop_column("inform_at")
        batch.drop_column("stage_at")
        batch.drop_column("stages")
