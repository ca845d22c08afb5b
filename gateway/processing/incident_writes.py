"""The writes for mail to an incident's address: the post goes out to everyone affected, or the mail is held."""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy.orm import Session

from gateway.app import App
from gateway.config.staff import Engineer
from gateway.incidents.lifecycle import resolve, send_report, update
from gateway.outbound import engineer_mail as engineer_notify
from gateway.processing.disposition import Disposition
from gateway.store.claimed import Claimed
from gateway.store.models import Incident
from gateway.store.tickets import record

log = logging.getLogger("gateway.process")


def apply_incident_mail(session: Session, app: App, row: Claimed, d: Disposition, now: datetime) -> None:
    """Route ``incident``: a proven engineer's update, restoration notice or report, to everyone affected."""
    engineer, reply, identity = d.engineer, d.reply, d.identity
    assert d.incident is not None and engineer is not None and reply is not None and identity is not None
    incident = session.get(Incident, d.incident)
    assert incident is not None
    command = next((c for c in reply.commands if c.name == "incident"), None)
    if command is not None and command.args[0] == "resolve":
        reach = resolve(session, app, incident, reply.text, engineer.handle, now, inbound_id=row.id)
    elif command is not None:
        reach = send_report(session, app, incident, command.args[1], reply.text, engineer.handle, now,
                            inbound_id=row.id)
    else:
        reach = update(session, app, incident, reply.text, engineer.handle, now, inbound_id=row.id)
    row.state, row.ticket_id = "done", None
    record(session, None, "incident-mail", now, inbound_id=row.id, actor=engineer.address, incident=incident.id,
           proof=identity.proof, command=command.line if command else None, message_id=d.mail.message_id,
           **reach.as_dict())
    log.info("%s: engineer %s on incident #%d: %d ticket(s), %d status contact(s) reached", d.mail.message_id,
             engineer.handle, incident.id, len(reach.tickets), len(reach.status_contacts))


def hold_incident_mail(session: Session, app: App, row: Claimed, d: Disposition, now: datetime) -> None:
    """Routes ``incident-unproven`` and ``incident-refused``: held, nothing sent; the engineer told why."""
    identity, mail = d.identity, d.mail
    assert identity is not None
    sender = mail.sender.key if mail.sender else ""
    row.state, row.ticket_id = "held", None
    row.reason = f"mail to incident #{d.incident}: {d.reason}; nothing sent{_refused(d)}"[:2000]
    record(session, None, "held", now, inbound_id=row.id, sender=sender, reason=row.reason, incident=d.incident,
           message_id=mail.message_id)
    if d.route == "incident-refused" and d.engineer is not None:
        engineer_notify.refuse(session, app, d.engineer, None, mail, list(d.refusals), d.reason,
                               cause=f"refused:{row.id}", now=now)
        return
    told: list[Engineer] = []
    for engineer in (identity.claimed, identity.token_owner):
        if engineer is not None and engineer not in told:
            engineer_notify.alert(session, app, engineer, None, mail, identity.reason, now, inbound_id=row.id)
            told.append(engineer)


def _refused(d: Disposition) -> str:
    return "".join(f"; {r.line!r}: {r.why}" for r in d.refusals)
