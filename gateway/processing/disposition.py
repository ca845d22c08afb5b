"""What becomes of a mail: the one decision table, read by processing and by ``helpdesk explain``.

``decide`` reads the mail, the config and the database as they stand, and writes nothing; it
returns a ``Disposition`` naming the route (which writes ``apply`` makes), the outcome a user sees,
the ticket, and the priority. Processing applies exactly that disposition and ``explain`` shows it,
so what ``explain`` says of a mail is what processing does with it.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from gateway.app import App
from gateway.config.customers import SenderInfo
from gateway.config.staff import Engineer
from gateway.processing.classify import classify, reopens
from gateway.processing.contact_ack import ContactReply, contact_reply
from gateway.processing.correlate import Correlation, correlate
from gateway.processing.engineers.commands import check
from gateway.processing.engineers.identity import (
    PROOF_APPROVED,
    Identity,
    authenticate,
    engineer_by_address,
    is_staff_mail,
    ticket_of,
)
from gateway.processing.incident_mail import IncidentMail, read_incident_mail
from gateway.processing.participants import admission
from gateway.processing.repeats import repeat_of
from gateway.store.claimed import APPROVED, APPROVED_AS_ENGINEER
from gateway.store.history import in_history
from gateway.store.models import InboundMessage, Ticket, table_of
from parsers import ParsedMail, Verdict, screen
from parsers.commands import Refusal, Reply, parse_reply
from rules import Classification

# The states of a mail that another copy of it is a duplicate of: not "duplicate" itself (a copy
# of a held mail must not make the held one, once approved, a duplicate of its own copy).
ORIGINAL_STATES = ("done", "screened", "held", "rejected")
OUTCOMES = ("ticket", "reply", "repeat", "engineer", "contact", "held", "rejected", "screened", "duplicate",
            "quarantined")

_INBOUND = table_of(InboundMessage)
_EARLIER_COPY = select(_INBOUND.c.id).where(
    _INBOUND.c.dedupe_key == bindparam("key"), _INBOUND.c.id != bindparam("row_id"),
    _INBOUND.c.state.in_(ORIGINAL_STATES)).limit(1)


@dataclass(frozen=True, slots=True)
class Arrival:
    """How a mail came, beside its own bytes: what the decision needs to know of its delivery."""

    raw: bytes
    received_at: datetime
    envelope_from: str | None = None
    rcpt_to: tuple[str, ...] = ()
    approval: str | None = None  # a reviewer's verdict on a held mail (APPROVED, APPROVED_AS_ENGINEER)
    row_id: int = -1  # the stored row: not an earlier copy of itself


@dataclass(frozen=True, slots=True)
class Disposition:
    """The decision on one mail. ``route`` names the writes; ``outcome`` is one of ``OUTCOMES``."""

    route: str
    outcome: str
    reason: str
    mail: ParsedMail
    key: str
    verdict: Verdict | None = None
    corr: Correlation | None = None
    ticket: Ticket | None = None  # joined (reply, engineer, contact) or followed up (follow-up)
    info: SenderInfo | None = None
    classification: Classification | None = None
    priority: str | None = None  # the ticket's priority once the mail is applied
    contact: ContactReply | None = None
    identity: Identity | None = None
    reply: Reply | None = None
    refusals: tuple[Refusal, ...] = ()
    admitted_as: str | None = None  # a reply's writer: customer, participant, colleague or approved
    earlier: int | None = None  # the inbound row a duplicate is a copy of
    incident: int | None = None  # mail to an incident's own address: which incident

    @property
    def engineer(self) -> Engineer | None:
        return self.identity.engineer if self.identity is not None else None


def dedupe_key(mail: ParsedMail) -> str:
    return hashlib.sha256(f"{mail.message_id}\0{mail.body_hash}".encode("utf-8", "surrogateescape")).hexdigest()


def decide(session: Session, app: App, mail: ParsedMail, arrival: Arrival, *,
           unwritten: Mapping[str, int] | None = None) -> Disposition:
    """The disposition of ``mail``: the decision table, in order, first match wins.

    ``unwritten`` holds the dedupe keys of mails decided earlier in the same batch whose outcomes
    are not in the database yet: a second copy among them is a duplicate too.
    """
    key = dedupe_key(mail)
    base = Disposition(route="", outcome="", reason="", mail=mail, key=key)
    earlier = (unwritten or {}).get(key) or session.connection().scalar(
        _EARLIER_COPY, {"key": key, "row_id": arrival.row_id})
    if earlier is not None:
        return _as(base, "duplicate", "duplicate", f"same Message-ID and body as inbound {earlier}", earlier=earlier)
    verdict = screen(mail, app.own, envelope_from=arrival.envelope_from)
    corr = correlate(session, mail, arrival.rcpt_to, support_addresses=app.support_addresses, secret=app.secret)
    base = dataclasses.replace(base, verdict=verdict, corr=corr)
    if verdict.kind != "clean":
        return _as(base, "screened", "screened", verdict.reason)
    incident = read_incident_mail(session, app, mail, arrival.raw, arrival.rcpt_to, arrival.approval)
    if incident is not None:
        return _incident(base, incident)
    # An escalation contact who is not an engineer (the on-call person, a manager) answering
    # their own escalation mail: before the engineers' check, which would hold them as unproven.
    contact = contact_reply(app, mail, arrival.rcpt_to)
    if contact is not None and engineer_by_address(app.config.staff, contact.contact.address) is None:
        return _contact(session, base, contact)
    if is_staff_mail(app, mail, corr) and (staff := _engineer(session, app, base, arrival)) is not None:
        return staff
    if contact is not None:
        return _contact(session, base, contact)
    if corr.ticket_id is not None:
        ticket = session.get(Ticket, corr.ticket_id)
        assert ticket is not None
        if reopens(app, ticket, arrival.received_at):
            return _reply(session, app, base, ticket, arrival)
        return _new(app, base, arrival, parent=ticket)  # too late to reopen: a follow-up ticket
    if mail.sender is not None and (repeated := repeat_of(
            session, app.config.processing, mail.sender.key, mail.subject, arrival.received_at)) is not None:
        return _as(base, "repeat", "repeat", f"repeats ticket #{repeated.id}: {app.config.processing.repeats_after} "
                   "or more of this subject's shape from this sender, the latest of them open", ticket=repeated,
                   priority=repeated.priority)
    return _new(app, base, arrival, parent=None)


def _as(base: Disposition, route: str, outcome: str, reason: str, **facts: object) -> Disposition:
    return dataclasses.replace(base, route=route, outcome=outcome, reason=reason, **facts)  # type: ignore[arg-type]


def _incident(base: Disposition, found: IncidentMail) -> Disposition:
    """Mail to an incident's address: an engineer's post to everyone affected, or held."""
    identity = dataclasses.replace(found.identity, token_owner=found.token_owner or found.identity.token_owner)
    outcome = "engineer" if found.route == "incident" else "held"
    return _as(base, found.route, outcome, found.reason, identity=identity, reply=found.reply,
               refusals=found.refusals, incident=found.incident_id)


def _contact(session: Session, base: Disposition, who: ContactReply) -> Disposition:
    """An escalation contact's reply: only ``#ack`` is taken from a contact."""
    handle = who.contact.handle
    ticket = session.get(Ticket, who.ticket_id)
    if ticket is None:
        return _as(base, "contact-held", "held", f"contact {handle}: ticket #{who.ticket_id} does not exist",
                   contact=who)
    reply = parse_reply(base.mail.reply_text)
    others = [c.line for c in reply.commands if c.name != "ack"] + [r.line for r in reply.refusals]
    if others:
        return _as(base, "contact-held", "held", f"contact {handle} is not an engineer: only #ack is taken from "
                   f"a contact, not {', '.join(others)}; nothing applied", contact=who, ticket=ticket)
    return _as(base, "contact", "contact", f"contact {handle}", contact=who, ticket=ticket, reply=reply,
               priority=ticket.priority)


def _engineer(session: Session, app: App, base: Disposition, arrival: Arrival) -> Disposition | None:
    """Mail in an engineer's name. None: a reviewer approved unproven mail as the sender's own
    (``helpdesk held approve`` without --as-engineer), and it goes on as anybody's mail would."""
    mail, corr = base.mail, base.corr
    assert corr is not None
    identity = authenticate(app, arrival.raw, mail, arrival.rcpt_to)
    if identity.engineer is None and identity.claimed is not None and arrival.approval == APPROVED_AS_ENGINEER:
        identity = dataclasses.replace(identity, engineer=identity.claimed, proof=PROOF_APPROVED,
                                       reason=f"approved by a reviewer; unproven because {identity.reason}")
    engineer = identity.engineer
    if engineer is None:
        if arrival.approval == APPROVED:
            return None
        return _as(base, "engineer-unproven", "held", identity.reason, identity=identity)
    ticket = ticket_of(session, identity, corr, mail)
    if ticket is None:
        return _as(base, "engineer-refused", "held",
                   "no ticket found: reply to a ticket notification, or keep [#N] in the subject", identity=identity)
    reply = parse_reply(mail.reply_text)
    refusals = (*reply.refusals, *check(session, app, ticket, engineer, reply.commands))
    if refusals:
        return _as(base, "engineer-refused", "held", f"{len(refusals)} command(s) refused", identity=identity,
                   ticket=ticket, refusals=refusals)
    if not reply.commands and not reply.text:
        return _as(base, "engineer-refused", "held",
                   "nothing to do: no text above the quoted notification and no command", identity=identity,
                   ticket=ticket)
    priorities = [c.args[0] for c in reply.commands if c.name == "priority"]
    return _as(base, "engineer", "engineer", identity.reason, identity=identity, ticket=ticket, reply=reply,
               priority=priorities[-1] if priorities else ticket.priority)


def _reply(session: Session, app: App, base: Disposition, ticket: Ticket, arrival: Arrival) -> Disposition:
    """A mail on an open ticket (or one recent enough to reopen): its writer must belong there."""
    mail = base.mail
    sender = mail.sender.key if mail.sender else ""
    admitted = admission(session, app, ticket, sender, arrival.approval)
    if admitted is None:
        return _as(base, "reply-held", "held",
                   f"{sender or 'a mail without From'} is neither the customer of ticket #{ticket.id}, a participant "
                   "from its organisation, nor an engineer: held as unverified, not added to the ticket",
                   ticket=ticket)
    if not sender or (in_history(session) and ticket.clocks):
        return _as(base, "reply", "reply", f"joins ticket #{ticket.id}", ticket=ticket, admitted_as=admitted,
                   priority=ticket.priority)
    # What the reply changes, it changes from when it arrived, and never before the ticket's
    # last change of status. A reply may raise the priority, never lower it ("P1" < "P2").
    at = max(arrival.received_at, ticket.status_since or arrival.received_at)
    info, result = classify(app, mail, at, current=ticket.priority)
    return _as(base, "reply", "reply", f"joins ticket #{ticket.id}", ticket=ticket, admitted_as=admitted,
               info=info, classification=result, priority=min(result.priority, ticket.priority))


def _new(app: App, base: Disposition, arrival: Arrival, *, parent: Ticket | None) -> Disposition:
    """A new ticket (following up ``parent`` when it is too late to reopen it), if its sender may open one."""
    mail = base.mail
    if mail.sender is None:
        return _as(base, "no-sender", "screened", "no usable From address: nobody to open a ticket for or to answer")
    info, result = classify(app, mail, arrival.received_at, reply=parent is not None)
    policy = info.policy if arrival.approval != APPROVED else "accept"
    facts: dict[str, object] = {"info": info, "classification": result, "ticket": parent}
    if policy != "accept":
        org = info.organisation
        who = "a designated contact of " + org.name if org else "a known customer contact"
        if policy == "hold":
            return _as(base, "held", "held", f"{mail.sender.key} is not {who}: held for an engineer to approve",
                       **facts)
        return _as(base, "rejected", "rejected", f"{mail.sender.key} is not {who}", **facts)
    return _as(base, "follow-up" if parent is not None else "ticket", "ticket",
               f"follows up ticket #{parent.id}" if parent is not None else "a new ticket",
               priority=result.priority, **facts)
