"""events, sla_clocks: indexes on when, so `report sla` reads a period and not the whole history

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-08 10:00:00

`report sla` replays the clock events of the tickets a period can count: those with a clock event
in the period (``ix_events_at``) and those with a clock not stopped before it
(``ix_sla_clocks_stopped_at``: still running, paused, or stopped since). Without them both reads
scan their table, every event and every clock ever written.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_events_at", "events", ["at"])
    op.create_index("ix_sla_clocks_stopped_at", "sla_clocks", ["stopped_at"])


def downgrade() -> None:
    op.drop_index("ix_sla_clocks_stopped_at", table_name="sla_clocks")
    op.drop_index("ix_events_at", table_name="events")
