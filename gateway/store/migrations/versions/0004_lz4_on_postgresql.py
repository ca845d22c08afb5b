"""on PostgreSQL, mail bytes and bodies compressed with lz4 instead of pglz

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-22 08:30:00

PostgreSQL compresses every value over ~2 kB it stores out of line, with pglz unless told
otherwise. For raw mail that cost a third of the time of storing it: a durable batch of 200
10 kB mails went from 2,400 to 3,600 messages/second with lz4, at the same size on disk
(`python bench/imap.py --database-url ...`). Only values written from now on are affected.
A server before 14, or built without lz4, keeps pglz; SQLite has no such setting.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COLUMNS = (("inbound_messages", "raw"), ("outbox", "raw"), ("blobs", "data"),
           ("messages", "body_text"), ("messages", "body_html"))


def _set(method: str) -> None:
    bind = op.get_bind()
    if bind.dialect.name != "postgresql" or (bind.dialect.server_version_info or (0,)) < (14,):
        return
    try:
        with bind.begin_nested():
            for table, column in COLUMNS:
                op.execute(f"ALTER TABLE {table} ALTER COLUMN {column} SET COMPRESSION {method}")
    except sa.exc.DBAPIError:
        pass  # compression method lz4 not supported by this build: pglz stays


def upgrade() -> None:
    _set("lz4")


def downgrade() -> None:
    _set("default")
