"""Engineers in the thread: their mail to tickets, notifications to them, and third parties kept out."""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy.orm import Session

from gateway.app import App
from gateway.config.staff import Engineer
from gateway.outbound import engineer_mail as engineer_notify
from gateway.outbound.compose import OutAttachment
from gateway.processing.correlate import Correlation
from gateway.processing.disposition import Disposition
from gateway.processing.engineers import canned
from gateway.processing.engineers import commands as ticket_commands
from gateway.processing.engineers.case_commands import BEFORE_RELAY
from gateway.processing.engineers.identity import (
    Identity,
)
from gateway.processing.engineers.relay_to_customer import relay
from gateway.store.claimed import APPROVED_AS_ENGINEER, Claimed
from gateway.store.models import Ticket
from gateway.store.tickets import add_message, attachment_refusal, record
from gateway.tickets.workflow import public_update
from parsers import ParsedMail
from parsers.commands import Refusal

log = logging.getLogger("gateway.process")



def _hold_unproven(session: Session, app: App, row: Claimed, mail: ParsedMail, identity: Identity,
                   corr: Correlation, now: datetime) -> None:
    """Unproven mail in an engineer's name (or to an engineer's address): held, the engineer told once a day."""
    sender = mail.sender.key if mail.sender else ""
    ticket_id = corr.ticket_id if corr.ticket_id is not None else identity.token_ticket
    who = f"in the name of engineer {identity.claimed.handle}: " if identity.claimed else ""
    if row.verdict == APPROVED_AS_ENGINEER:
        who = "approved as an engineer's, but a reviewer cannot make a non-engineer's mail an engineer's: " + who
    row.state, row.ticket_id = "held", ticket_id
    row.reason = f"unverified mail {who}{identity.reason}; not relayed, no command run"[:2000]
    record(session, ticket_id, "held", now, inbound_id=row.id, sender=sender, reason=row.reason,
           message_id=mail.message_id)
    told: list[Engineer] = []
    for engineer in (identity.claimed, identity.token_owner):
        if engineer is not None and engineer not in told:
            engineer_notify.alert(session, app, engineer, ticket_id, mail, identity.reason, now, inbound_id=row.id)
            told.append(engineer)


def _refuse(session: Session, app: App, row: Claimed, mail: ParsedMail, engineer: Engineer, ticket: Ticket | None,
            refusals: list[Refusal], reason: str, now: datetime) -> None:
    """Nothing applied, nothing relayed; the engineer is told why, the mail kept as held."""
    detail = "".join(f"; {r.line!r}: {r.why}" for r in refusals)
    row.state, row.ticket_id = "held", ticket.id if ticket else None
    row.reason = f"engineer {engineer.handle}: {reason}; nothing applied or relayed{detail}"[:2000]
    record(session, ticket.id if ticket else None, "commands-refused", now, inbound_id=row.id, actor=engineer.address,
           reason=reason, refused=[{"line": r.line, "why": r.why} for r in refusals], message_id=mail.message_id)
    engineer_notify.refuse(session, app, engineer, ticket, mail, refusals, reason, cause=f"refused:{row.id}", now=now)
    log.info("%s: engineer %s refused: %s", mail.message_id, engineer.handle, reason)


def apply_engineer(session: Session, app: App, row: Claimed, d: Disposition, now: datetime) -> None:
    """A proven engineer's reply (route ``engineer``): commands run, text relayed to the customer."""
    mail, engineer, ticket, reply, identity = d.mail, d.engineer, d.ticket, d.reply, d.identity
    assert engineer is not None and ticket is not None and reply is not None and identity is not None
    # The promises first (#eta, #update-every): a canned reply in the same mail states them.
    first = tuple(c for c in reply.commands if c.name in BEFORE_RELAY)
    ticket_commands.apply(session, app, ticket, engineer, first, now)
    text = reply.text if reply.is_note else canned.reply_text(app, ticket, engineer, reply, now)
    kind = "note" if reply.is_note else ("engineer" if text else "commands")
    add_message(session, ticket, mail, inbound_id=row.id, kind=kind, now=now,
                blocked_types=app.config.processing.blocked_attachment_types,
                attachment_max_size=app.config.processing.attachment_max_size,
                reply_text=text or "\n".join(c.line for c in reply.commands))
    reached = False
    if kind == "engineer":
        reached = _relay(session, app, row, ticket, engineer, mail, text, now)
        for c in reply.commands:
            if c.name == "reply":
                record(session, ticket.id, "canned-reply", now, actor=engineer.address, name=c.args[0],
                       reached_customer=reached)
    elif kind == "note":
        record(session, ticket.id, "internal-note", now, inbound_id=row.id, actor=engineer.address,
               message_id=mail.message_id)
    rest = tuple(c for c in reply.commands if c.name not in BEFORE_RELAY)
    ticket_commands.apply(session, app, ticket, engineer, rest, now, (*mail.in_reply_to, *mail.references))
    record(session, ticket.id, "engineer-mail", now, inbound_id=row.id, actor=engineer.address, proof=identity.proof,
           kind=kind, reached_customer=reached, commands=[c.line for c in reply.commands], message_id=mail.message_id)
    row.state, row.ticket_id = "done", ticket.id
    log.info("%s: engineer %s on ticket #%d (%s, proof %s)", mail.message_id, engineer.handle, ticket.id, kind,
             identity.proof)


def _relay(session: Session, app: App, row: Claimed, ticket: Ticket, engineer: Engineer, mail: ParsedMail, text: str,
           now: datetime) -> bool:
    """The engineer's words (and the files that may go) relayed to the customer; whether it reached them."""
    files, kept_back = _relayable(app, mail)
    reached = relay(session, app, ticket, engineer, text, cause=f"relay:{row.id}",
                    already_sent_to=frozenset(a.key for a in (*mail.to, *mail.cc)), now=now, attachments=files)
    if reached:
        public_update(session, app, ticket, now, engineer.address)
    if files:
        record(session, ticket.id, "attachments-relayed", now, actor=engineer.address,
               files=[f.filename for f in files])
    if kept_back:
        # Kept on the ticket (where allowed), not sent: the record says which and why.
        record(session, ticket.id, "attachments-not-relayed", now, actor=engineer.address,
               files=[name for name, _why in kept_back], reasons=[why for _name, why in kept_back])
    return reached


def hold_engineer(session: Session, app: App, row: Claimed, d: Disposition, now: datetime) -> None:
    """Routes ``engineer-unproven`` and ``engineer-refused``: held, the engineer told."""
    assert d.identity is not None and d.corr is not None
    if d.route == "engineer-unproven":
        _hold_unproven(session, app, row, d.mail, d.identity, d.corr, now)
    else:
        assert d.engineer is not None
        _refuse(session, app, row, d.mail, d.engineer, d.ticket, list(d.refusals), d.reason, now)


def _relayable(app: App, mail: ParsedMail) -> tuple[tuple[OutAttachment, ...], list[tuple[str, str]]]:
    """The engineer's files that go to the customer, and those kept back with the reason.

    Parts the HTML body shows (signature logos, pasted images: inline, with a Content-ID for the
    HTML to refer to) stay behind with the HTML: the customer gets the text. A file a mail
    client merely marks inline (Apple Mail does, a PDF in a plain-text mail say) is a file. A
    file the ticket would refuse (blocked type, over the size limit) is not sent either.
    """
    files: list[OutAttachment] = []
    kept_back: list[tuple[str, str]] = []
    processing = app.config.processing
    for part in mail.attachments:
        of_the_html = part.inline and bool(part.content_id) and mail.html is not None
        why = "inline in the HTML body" if of_the_html else attachment_refusal(
            part.filename, part.content_type, part.size, processing.blocked_attachment_types,
            processing.attachment_max_size)
        if why is None and not part.data:
            why = "empty"
        if why is None:
            files.append(OutAttachment(part.filename, part.content_type, part.data))
        else:
            kept_back.append((part.filename, why))
    return tuple(files), kept_back


def notify_engineers(session: Session, app: App, ticket: Ticket, mail: ParsedMail, kind: str,
                     now: datetime) -> None:
    """Tell the routed group or assignee about a new ticket or a customer reply."""
    engineer_notify.notify(session, app, ticket, mail, kind, now)
