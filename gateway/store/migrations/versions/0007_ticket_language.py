"""tickets: the customer's language, chosen once when the ticket opens

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-08 09:00:00

An ISO 639-1 code: the contact's configured language, else the language of the mail that
opened the ticket, else ``[gateway] language``. Mail to the customer is written in it. Tickets
opened before this revision have none and get the default.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("tickets") as batch:
        batch.add_column(sa.Column("language", sa.String(length=16), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("tickets") as batch:
        batch.drop_column("language")
