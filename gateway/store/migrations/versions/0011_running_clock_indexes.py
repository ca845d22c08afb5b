"""sla_clocks, tickets: partial indexes on what is still running, for `tickets at-risk`

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-07 11:00:00

`tickets at-risk` asks for the running clocks of the open tickets. Without these indexes it read
every clock ever started (SQLite: SCAN sla_clocks) or every ticket (PostgreSQL: a sequential scan
of tickets): 0.64 s on SQLite and 0.22 s on PostgreSQL with a million closed tickets in the
history, growing with it (`python -m bench.history`). Each index holds only the running clocks or
the open tickets, so it stays the size of today's work however long the history grows.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

RUNNING = sa.text("stopped_at IS NULL AND deadline IS NOT NULL")
OPEN = sa.text("status NOT IN ('resolved', 'closed')")


def upgrade() -> None:
    op.create_index("ix_sla_clocks_running", "sla_clocks", ["ticket_id"], sqlite_where=RUNNING,
                    postgresql_where=RUNNING)
    op.create_index("ix_tickets_open", "tickets", ["id"], sqlite_where=OPEN, postgresql_where=OPEN)


def downgrade() -> None:
    op.drop_index("ix_tickets_open", table_name="tickets")
    op.drop_index("ix_sla_clocks_running", table_name="sla_clocks")
