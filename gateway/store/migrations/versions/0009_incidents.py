"""incidents: one outage, many tickets; its posts, the reports it owes, its own trail

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-10 09:00:00

An incident links tickets; what it says (updates, the restoration notice, reports) goes to each
linked ticket's customer and to the status contacts of each affected organisation, once per
cause key in the outbox. The reports owed after it are clocks of their own, woken by the
scheduler through ``incidents.next_deadline``.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_AT = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "incidents",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("priority", sa.String(length=4), nullable=False),
        sa.Column("opened_at", _AT, nullable=False),
        sa.Column("opened_by", sa.String(length=320), nullable=False),
        sa.Column("ticket_id", sa.Integer(), nullable=True),
        sa.Column("resolved_at", _AT, nullable=True),
        sa.Column("resolved_by", sa.String(length=320), nullable=True),
        sa.Column("next_deadline", _AT, nullable=True),
        sa.ForeignKeyConstraint(["ticket_id"], ["tickets.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_incidents_next_deadline", "incidents", ["next_deadline"])
    op.create_table(
        "incident_links",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("incident_id", sa.Integer(), nullable=False),
        sa.Column("ticket_id", sa.Integer(), nullable=False),
        sa.Column("linked_at", _AT, nullable=False),
        sa.Column("linked_by", sa.String(length=320), nullable=False),
        sa.ForeignKeyConstraint(["incident_id"], ["incidents.id"]),
        sa.ForeignKeyConstraint(["ticket_id"], ["tickets.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("incident_id", "ticket_id"),
    )
    op.create_index("ix_incident_links_incident_id", "incident_links", ["incident_id"])
    op.create_index("ix_incident_links_ticket_id", "incident_links", ["ticket_id"])
    op.create_table(
        "incident_posts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("incident_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("report", sa.String(length=64), nullable=True),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("by", sa.String(length=320), nullable=False),
        sa.Column("at", _AT, nullable=False),
        sa.Column("inbound_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.ForeignKeyConstraint(["incident_id"], ["incidents.id"]),
        sa.ForeignKeyConstraint(["inbound_id"], ["inbound_messages.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_incident_posts_incident_id", "incident_posts", ["incident_id"])
    op.create_table(
        "incident_clocks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("incident_id", sa.Integer(), nullable=False),
        sa.Column("report", sa.String(length=64), nullable=False),
        sa.Column("target", sa.String(length=64), nullable=False),
        sa.Column("calendar", sa.String(length=200), nullable=False),
        sa.Column("started_at", _AT, nullable=False),
        sa.Column("deadline", _AT, nullable=True),
        sa.Column("remind_at", _AT, nullable=True),
        sa.Column("reminded_at", _AT, nullable=True),
        sa.Column("breached_at", _AT, nullable=True),
        sa.Column("met_at", _AT, nullable=True),
        sa.ForeignKeyConstraint(["incident_id"], ["incidents.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("incident_id", "report"),
    )
    op.create_index("ix_incident_clocks_incident_id", "incident_clocks", ["incident_id"])
    op.create_table(
        "incident_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("incident_id", sa.Integer(), nullable=False),
        sa.Column("at", _AT, nullable=False),
        sa.Column("kind", sa.String(length=48), nullable=False),
        sa.Column("actor", sa.String(length=320), nullable=False),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(["incident_id"], ["incidents.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_incident_events_incident_id", "incident_events", ["incident_id"])


def downgrade() -> None:
    op.drop_index("ix_incident_links_ticket_id", table_name="incident_links")
    for table in ("incident_events", "incident_clocks", "incident_posts", "incident_links"):
        op.drop_index(f"ix_{table}_incident_id", table_name=table)
        op.drop_table(table)
    op.drop_index("ix_incidents_next_deadline", table_name="incidents")
    op.drop_table("incidents")
