"""inbound_messages: the Message-IDs of the mail still waiting, indexed

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-07 13:00:00

The inbound queue records a mail's Message-ID when it is stored (read from its header block).
With several processes processing on PostgreSQL, a reply can be taken up while the mail it
answers is still being processed by another: it then waits for it instead of opening a ticket
of its own. The index holds only the pending rows, so it stays the size of the queue.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

PENDING = sa.text("state = 'pending'")


def upgrade() -> None:
    op.create_index("ix_inbound_pending_message_id", "inbound_messages", ["message_id"], sqlite_where=PENDING,
                    postgresql_where=PENDING)


def downgrade() -> None:
    op.drop_index("ix_inbound_pending_message_id", table_name="inbound_messages")
