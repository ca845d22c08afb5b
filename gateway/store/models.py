"""The database tables, as typed SQLAlchemy 2 models. All instants are stored as UTC."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, ClassVar, TypeVar, cast

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, make_transient_to_detached, mapped_column, relationship
from sqlalchemy.types import TypeDecorator


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes in, aware UTC datetimes out, on SQLite as on PostgreSQL."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the database; pass an aware UTC instant")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        datetime: UTCDateTime(), dict[str, Any]: JSON(), list[str]: JSON()}


class InboundMessage(Base):
    """A raw message as a source handed it over: the durable inbound queue."""

    __tablename__ = "inbound_messages"
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    source: Mapped[str] = mapped_column(String(16))
    source_key: Mapped[str] = mapped_column(String(255), unique=True)
    mail_from: Mapped[str | None] = mapped_column(Text)
    rcpt_to: Mapped[list[str]] = mapped_column(default=list)
    raw: Mapped[bytes] = mapped_column(LargeBinary)
    size: Mapped[int] = mapped_column(Integer)
    received_at: Mapped[datetime]
    # pending -> done | screened | duplicate | held | quarantined
    state: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    # Why it is quarantined, screened or held: shown by `helpdesk quarantine list`.
    reason: Mapped[str | None] = mapped_column(Text)
    verdict: Mapped[str | None] = mapped_column(String(32))
    message_id: Mapped[str | None] = mapped_column(Text)
    # sha256 of Message-ID and body hash: a second delivery of the same mail is a duplicate.
    dedupe_key: Mapped[str | None] = mapped_column(String(64), index=True)
    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("tickets.id"))
    processed_at: Mapped[datetime | None]

    __table_args__ = (Index("ix_inbound_state_id", "state", "id"),
                      # A reply asks whether its parent still waits in the queue (processing/apply.py).
                      Index("ix_inbound_pending_message_id", "message_id", sqlite_where=text("state = 'pending'"),
                            postgresql_where=text("state = 'pending'")))


# A ticket in one of these is done: its clocks, escalations and notices no longer run.
CLOSED_STATUSES = ("resolved", "closed")
_OPEN = text("status NOT IN ({})".format(", ".join(f"'{s}'" for s in CLOSED_STATUSES)))
_RUNNING = text("stopped_at IS NULL AND deadline IS NOT NULL")


class Ticket(Base):
    __tablename__ = "tickets"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    subject: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(24), default="open")
    priority: Mapped[str] = mapped_column(String(4))
    plan: Mapped[str] = mapped_column(String(64))
    organisation: Mapped[str | None] = mapped_column(String(200))
    customer_address: Mapped[str] = mapped_column(Text)
    customer_name: Mapped[str] = mapped_column(Text, default="")
    verified: Mapped[bool] = mapped_column(Boolean, default=True)
    assignee: Mapped[str | None] = mapped_column(String(200))
    route_group: Mapped[str | None] = mapped_column(String(200))
    tags: Mapped[list[str]] = mapped_column(default=list)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    next_deadline: Mapped[datetime | None] = mapped_column(index=True)
    # When the current status began: the stale-case and resolution-proposed timers count from it.
    status_since: Mapped[datetime | None]
    # The customer's time zone for promises, and the calendar their business hours follow.
    timezone: Mapped[str | None] = mapped_column(String(64))
    # The customer's language (ISO 639-1), chosen once when the ticket opens: their mail is in it.
    language: Mapped[str | None] = mapped_column(String(16))
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("tickets.id"))
    first_response_at: Mapped[datetime | None]
    last_public_update_at: Mapped[datetime | None]
    # Promises made case by case: the estimated time to resolution given to the customer, and
    # the update cadence agreed with them (a target as written, "2 hours"; None: the plan's).
    eta: Mapped[datetime | None]
    update_every: Mapped[str | None] = mapped_column(String(64))
    # The ticket this one was merged into: its mail, people and promises went there, and so
    # does mail that still comes to this one.
    merged_into: Mapped[int | None] = mapped_column(ForeignKey("tickets.id"), index=True)
    # The stages of its plan the ticket entered (#escalate STAGE), in order (None: none yet); when
    # it entered the last; and when its stage's people are next told how it goes (migration 0012).
    stages: Mapped[list[str] | None] = mapped_column(JSON)
    stage_at: Mapped[datetime | None]
    inform_at: Mapped[datetime | None]
    # Its customer and the shape of its subject (gateway.processing.repeats), hashed: a machine
    # sending the same alert again finds the ticket by it. How many repeats it took since, and
    # when the last came (migration 0016).
    repeat_key: Mapped[str | None] = mapped_column(String(64))
    repeats: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    last_repeat_at: Mapped[datetime | None]

    # The open tickets alone (migration 0011): `tickets at-risk` reads them, not the whole history.
    __table_args__ = (Index("ix_tickets_open", "id", sqlite_where=_OPEN, postgresql_where=_OPEN),
                      Index("ix_tickets_repeat", "repeat_key", "created_at", "id"))

    messages: Mapped[list[Message]] = relationship(back_populates="ticket",
                                                   order_by="Message.id")
    events: Mapped[list[Event]] = relationship(order_by="Event.id", viewonly=True)
    participants: Mapped[list[Participant]] = relationship(order_by="Participant.id",
                                                           viewonly=True)
    # Loaded once per transaction and kept in step by the ORM: the SLA code asks for a
    # ticket's clocks several times while processing one mail, and a new ticket's (none yet)
    # need no query at all.
    clocks: Mapped[list[SlaClock]] = relationship(order_by="SlaClock.id")


class Participant(Base):
    """Someone on a ticket's customer side (or an engineer) who may write to it."""

    __tablename__ = "participants"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id"))
    address: Mapped[str] = mapped_column(String(320))
    name: Mapped[str] = mapped_column(Text, default="")
    role: Mapped[str] = mapped_column(String(16))
    __table_args__ = (UniqueConstraint("ticket_id", "address"),)


class Message(Base):
    """A mail on a ticket, in (from a customer or engineer) or out (sent by the gateway)."""

    __tablename__ = "messages"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id"), index=True)
    inbound_id: Mapped[int | None] = mapped_column(ForeignKey("inbound_messages.id"))
    direction: Mapped[str] = mapped_column(String(4))
    kind: Mapped[str] = mapped_column(String(32))
    message_id: Mapped[str] = mapped_column(String(998), index=True)
    in_reply_to: Mapped[str | None] = mapped_column(Text)
    references: Mapped[str | None] = mapped_column(Text)
    from_address: Mapped[str] = mapped_column(Text)
    to_addresses: Mapped[list[str]] = mapped_column(default=list)
    subject: Mapped[str] = mapped_column(Text)
    body_text: Mapped[str] = mapped_column(Text)
    reply_text: Mapped[str] = mapped_column(Text, default="")
    body_html: Mapped[str | None] = mapped_column(Text)
    body_hash: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime]

    ticket: Mapped[Ticket] = relationship(back_populates="messages")
    attachments: Mapped[list[Attachment]] = relationship(order_by="Attachment.id")


class Blob(Base):
    """Attachment bytes, content-addressed: never stored under a name from the mail."""

    __tablename__ = "blobs"
    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    size: Mapped[int] = mapped_column(Integer)
    data: Mapped[bytes] = mapped_column(LargeBinary)


class Attachment(Base):
    __tablename__ = "attachments"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    message_pk: Mapped[int] = mapped_column(ForeignKey("messages.id"), index=True)
    filename: Mapped[str] = mapped_column(Text)
    content_type: Mapped[str] = mapped_column(String(255))
    size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    content_id: Mapped[str | None] = mapped_column(Text)
    inline: Mapped[bool] = mapped_column(Boolean, default=False)
    stored: Mapped[bool] = mapped_column(Boolean, default=True)
    note: Mapped[str | None] = mapped_column(Text)


class OutboxMessage(Base):
    """A mail the gateway must send, rendered in full; ``cause_key`` makes it once per cause."""

    __tablename__ = "outbox"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("tickets.id"), index=True)
    cause_key: Mapped[str] = mapped_column(String(255), unique=True)
    kind: Mapped[str] = mapped_column(String(32))
    message_id: Mapped[str] = mapped_column(String(998), index=True)
    mail_from: Mapped[str] = mapped_column(Text)
    rcpt_to: Mapped[list[str]] = mapped_column()
    # The first recipient, lower-cased: what the loop guard counts per hour.
    recipient: Mapped[str] = mapped_column(String(320))
    raw: Mapped[bytes] = mapped_column(LargeBinary)
    # pending -> sending -> sent | failed; suppressed when a cap or screen held it back
    state: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime]
    lease_until: Mapped[datetime | None]
    # The sender holding the lease: it takes the row again under this name just before sending.
    lease_owner: Mapped[str | None] = mapped_column(String(64))
    # Committed just before DATA, cleared with the relay's answer: a row leased by a dead
    # sender with this set may have been delivered. It goes again, same Message-ID,
    # and ``unknown_outcomes`` counts such attempts.
    on_wire_at: Mapped[datetime | None]
    unknown_outcomes: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    created_at: Mapped[datetime]
    sent_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (Index("ix_outbox_state_next", "state", "next_attempt_at"),
                      Index("ix_outbox_recipient_created", "recipient", "created_at"))


class Event(Base):
    """The audit trail: what happened to a ticket (or a message), when, by whom, and why."""

    __tablename__ = "events"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("tickets.id"), index=True)
    inbound_id: Mapped[int | None] = mapped_column(ForeignKey("inbound_messages.id"))
    at: Mapped[datetime]
    kind: Mapped[str] = mapped_column(String(48))
    actor: Mapped[str] = mapped_column(String(320), default="gateway")
    detail: Mapped[dict[str, Any]] = mapped_column(default=dict)
    # By instant (migration 0012): `report sla` reads the period's events, not the whole trail.
    __table_args__ = (Index("ix_events_at", "at"),)


class AddressFlag(Base):
    """What the gateway knows about a correspondent: hard bounces, rate-limit notes."""

    __tablename__ = "address_flags"
    address: Mapped[str] = mapped_column(String(320), primary_key=True)
    hard_bounces: Mapped[int] = mapped_column(Integer, default=0)
    undeliverable: Mapped[bool] = mapped_column(Boolean, default=False)
    updated_at: Mapped[datetime]


class SlaClock(Base):
    """One SLA clock of one ticket: its target, calendar, deadline, pause and breach state."""

    __tablename__ = "sla_clocks"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id"), index=True)
    name: Mapped[str] = mapped_column(String(32))
    target: Mapped[str] = mapped_column(String(64))
    calendar: Mapped[str] = mapped_column(String(200))
    started_at: Mapped[datetime]
    deadline: Mapped[datetime | None]
    warn_at: Mapped[datetime | None]
    # While paused: the time left, in the clock's own measure (business or wall-clock seconds).
    paused_remaining: Mapped[float | None]
    paused_warn_remaining: Mapped[float | None]
    stopped_at: Mapped[datetime | None]
    warned_at: Mapped[datetime | None]
    breached_at: Mapped[datetime | None]
    reminded_at: Mapped[datetime | None]
    # The running clocks alone (migration 0011): `tickets at-risk` reads them, not every clock ever started.
    __table_args__ = (UniqueConstraint("ticket_id", "name"),
                      Index("ix_sla_clocks_running", "ticket_id", sqlite_where=_RUNNING, postgresql_where=_RUNNING),
                      # Those not stopped, or stopped since a period began (migration 0012): `report sla`.
                      Index("ix_sla_clocks_stopped_at", "stopped_at"))


class ImapState(Base):
    """An IMAP poller's place in one mailbox folder, its heartbeat, and the lease of its poller."""

    __tablename__ = "imap_state"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    account: Mapped[str] = mapped_column(String(64))
    folder: Mapped[str] = mapped_column(String(255))
    uidvalidity: Mapped[int | None] = mapped_column(BigInteger)
    # UIDs above this one are fetched even when \Seen; at or below it, only while unseen. It is
    # the highest UID stored, or what was already in the folder when the poller first saw it.
    last_uid: Mapped[int] = mapped_column(BigInteger, default=0)
    last_stored_uid: Mapped[int | None] = mapped_column(BigInteger)
    stored_count: Mapped[int] = mapped_column(Integer, default=0)
    # Messages still waiting in the folder after the last pass (held ones included).
    backlog: Mapped[int] = mapped_column(Integer, default=0)
    # UID -> why it stays in the mailbox (too large, the server would not give it): reported once.
    held: Mapped[dict[str, Any]] = mapped_column(default=dict)
    last_success_at: Mapped[datetime | None]
    last_stored_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    last_error_at: Mapped[datetime | None]
    # One poller per mailbox: the holder renews lease_until; another process takes over after it.
    lease_owner: Mapped[str | None] = mapped_column(String(255))
    lease_until: Mapped[datetime | None]
    updated_at: Mapped[datetime]
    __table_args__ = (UniqueConstraint("account", "folder"),)


class Escalation(Base):
    """One escalation tier fired on one ticket: when it fell due, its rounds, who acknowledged it."""

    __tablename__ = "escalations"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id"), index=True)
    policy: Mapped[str] = mapped_column(String(64))
    tier: Mapped[str] = mapped_column(String(64))
    # When its trigger fell due (a "+30m after previous" tier counts from this), and when it fired.
    trigger_at: Mapped[datetime]
    fired_at: Mapped[datetime]
    # Rounds mailed so far: the first, then one per repeat interval until acknowledged.
    rounds: Mapped[int] = mapped_column(Integer, default=0)
    last_round_at: Mapped[datetime]
    acknowledged_at: Mapped[datetime | None]
    acknowledged_by: Mapped[str | None] = mapped_column(String(320))
    # After-hours tiers: when the customer was told that the on-call engineer has been paged.
    status_notice_at: Mapped[datetime | None]
    __table_args__ = (UniqueConstraint("ticket_id", "policy", "tier"),)


class EscalationSchedule(Base):
    """When escalation must look at a ticket again, and a digest of the ticket state that was computed
    from: when the digest no longer matches (a clock stopped, the priority changed), it is due at once."""

    __tablename__ = "escalation_schedules"
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id"), primary_key=True)
    next_at: Mapped[datetime | None]
    basis: Mapped[str] = mapped_column(String(64))
    computed_at: Mapped[datetime]


class Incident(Base):
    """One outage affecting many tickets: what it tells them reaches each linked ticket's customer once."""

    __tablename__ = "incidents"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    # open -> resolved; a resolved incident takes no more tickets or updates, only its reports.
    status: Mapped[str] = mapped_column(String(16), default="open")
    priority: Mapped[str] = mapped_column(String(4))
    opened_at: Mapped[datetime]
    opened_by: Mapped[str] = mapped_column(String(320))
    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("tickets.id"))  # the ticket it was opened from
    resolved_at: Mapped[datetime | None]
    resolved_by: Mapped[str | None] = mapped_column(String(320))
    # The earliest reminder or deadline of the reports it owes: the scheduler wakes for it.
    next_deadline: Mapped[datetime | None] = mapped_column(index=True)


class IncidentLink(Base):
    """A ticket affected by an incident: its customer is told of the incident in the ticket's thread."""

    __tablename__ = "incident_links"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id"), index=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id"), index=True)
    linked_at: Mapped[datetime]
    linked_by: Mapped[str] = mapped_column(String(320))
    __table_args__ = (UniqueConstraint("incident_id", "ticket_id"),)


class IncidentPost(Base):
    """What an incident told everyone affected: an update, the restoration notice, or a report."""

    __tablename__ = "incident_posts"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))  # update | restored | report
    report: Mapped[str | None] = mapped_column(String(64))  # the report's kind, e.g. "pir"
    text: Mapped[str] = mapped_column(Text)
    by: Mapped[str] = mapped_column(String(320))
    at: Mapped[datetime]
    inbound_id: Mapped[int | None] = mapped_column(ForeignKey("inbound_messages.id"))  # when written by mail


class IncidentClock(Base):
    """A report an incident owes: due by a deadline, a reminder before it, escalated at the breach."""

    __tablename__ = "incident_clocks"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id"), index=True)
    report: Mapped[str] = mapped_column(String(64))
    target: Mapped[str] = mapped_column(String(64))
    calendar: Mapped[str] = mapped_column(String(200))
    started_at: Mapped[datetime]
    deadline: Mapped[datetime | None]
    remind_at: Mapped[datetime | None]
    reminded_at: Mapped[datetime | None]
    breached_at: Mapped[datetime | None]
    met_at: Mapped[datetime | None]  # when the report went out
    __table_args__ = (UniqueConstraint("incident_id", "report"),)


class IncidentEvent(Base):
    """An incident's own trail: opened, tickets linked, posts, report clocks, resolution."""

    __tablename__ = "incident_events"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id"), index=True)
    at: Mapped[datetime]
    kind: Mapped[str] = mapped_column(String(48))
    actor: Mapped[str] = mapped_column(String(320), default="gateway")
    detail: Mapped[dict[str, Any]] = mapped_column(default=dict)


class DigestSchedule(Base):
    """When a digest next goes to one of its recipients (a slot: a person, an organisation's contact,
    the on-call): the scheduler claims rows whose ``next_at`` has come, as it claims tickets."""

    __tablename__ = "digest_schedules"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    digest: Mapped[str] = mapped_column(String(64))
    slot: Mapped[str] = mapped_column(String(400))
    # What next_at was computed from (cadence, calendar, time zone): when the config changes it,
    # next_at is computed again from the present.
    basis: Mapped[str] = mapped_column(String(64))
    next_at: Mapped[datetime | None] = mapped_column(index=True)
    last_at: Mapped[datetime | None]
    updated_at: Mapped[datetime]
    __table_args__ = (UniqueConstraint("digest", "slot"),)


def table_of(model: type[Base]) -> Table:
    """A model's table, typed as one, for the prebuilt Core statements of the hot paths."""
    return cast(Table, model.__table__)


_Model = TypeVar("_Model", bound=Base)


def attach_loaded(session: Session, instance: _Model) -> _Model:
    """``instance``, whose row was just written with a Core statement, in ``session`` as if loaded
    from it: its later changes are UPDATEs, and the unit of work never inserts it again."""
    make_transient_to_detached(instance)
    session.add(instance)
    return instance


class MaintenanceWindow(Base):
    """Planned or emergency work on the service: who is told, when, and what became of it."""

    __tablename__ = "maintenance_windows"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(48))  # a [maintenance.kinds.KIND] name
    title: Mapped[str] = mapped_column(String(200))
    text: Mapped[str] = mapped_column(Text)
    starts_at: Mapped[datetime]
    ends_at: Mapped[datetime]
    # The organisations it affects by name; None: every organisation.
    organisations: Mapped[list[str] | None]
    # scheduled -> started -> completed, or cancelled at any point before completion.
    status: Mapped[str] = mapped_column(String(16), default="scheduled")
    notice_at: Mapped[datetime | None]  # when the advance notice goes; None: the kind sends none
    noticed_at: Mapped[datetime | None]
    started_at: Mapped[datetime | None]
    completed_at: Mapped[datetime | None]
    cancelled_at: Mapped[datetime | None]
    cancel_reason: Mapped[str | None] = mapped_column(Text)
    scheduled_at: Mapped[datetime]
    scheduled_by: Mapped[str] = mapped_column(String(320))
    forced: Mapped[bool] = mapped_column(Boolean, default=False)  # scheduled inside its lead time, on purpose
    # The next instant it has something to do (notice, start, completion): the scheduler wakes for it.
    next_at: Mapped[datetime | None] = mapped_column(index=True)
