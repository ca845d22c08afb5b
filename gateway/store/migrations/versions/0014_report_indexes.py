"""events, sla_clocks, tickets: `report sla` reads a period, not the whole history; merges found by index

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-08 10:00:00

`report sla` replays the clock events of the tickets a period can count: those with a clock event
in the period (``ix_events_at``) and those with a clock not stopped before it
(``ix_sla_clocks_stopped_at``: still running, paused, or stopped since). Without them both reads
scan their table, every event and every clock ever written. ``ix_tickets_merged_into``: `tickets
show` asks which tickets were merged into the one shown, which read every ticket without it.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_events_at", "events", ["at"])
    op.create_index("ix_sla_clocks_stopped_at", "sla_clocks", ["stopped_at"])
    op.create_index("ix_tickets_merged_into", "tickets", ["merged_into"])


def downgrade() -> None:
    op.drop_index("ix_tickets_merged_into", table_name="tickets")
    op.drop_index("ix_sla_clocks_stopped_at", table_name="sla_clocks")
    op.drop_index("ix_events_at", table_name="events")
