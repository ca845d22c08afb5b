"""Mail to an incident's own address: who wrote it (proven an engineer or not), and what it asks for.

The address is ``support+i<incident>-<token>@domain``, a token bound to one engineer: mail to it
from that engineer proves itself, as a ticket's engineer reply address does; mail from anyone
else must prove itself otherwise (our MTA's Authentication-Results, DKIM) or is held. What it
asks: its text is an update to everyone affected; ``#incident resolve`` makes it the restoration
notice, ``#incident report KIND`` a report. Nothing here writes.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from sqlalchemy.orm import Session

from gateway.app import App
from gateway.config.staff import Engineer
from gateway.outbound import incident_address
from gateway.processing.correlate import candidate_recipients
from gateway.processing.engineers import auth_results
from gateway.processing.engineers.identity import (
    PROOF_APPROVED,
    PROOF_TOKEN,
    Identity,
    authenticate,
    engineer_by_address,
)
from gateway.store.claimed import APPROVED, APPROVED_AS_ENGINEER
from gateway.store.models import Incident
from parsers import ParsedMail
from parsers.addresses import parse_addresses
from parsers.commands import Refusal, Reply, parse_reply


@dataclass(frozen=True, slots=True)
class IncidentMail:
    """The decision on a mail to an incident's address: ``route`` is incident, incident-unproven or incident-refused."""

    incident_id: int
    route: str
    reason: str
    identity: Identity
    reply: Reply | None = None
    refusals: tuple[Refusal, ...] = ()
    token_owner: Engineer | None = None  # the engineer the address was issued to


def incident_token(app: App, mail: ParsedMail, rcpts: tuple[str, ...]) -> incident_address.IncidentToken | None:
    """The first incident address of ours the mail was sent to (envelope first, then its headers)."""
    for rcpt in candidate_recipients(mail, rcpts):
        token = incident_address.parse_incident_address(rcpt, app.support_addresses)
        if token is not None:
            return token
    return None


def _prove(app: App, raw: bytes, mail: ParsedMail, rcpts: tuple[str, ...],
           token: incident_address.IncidentToken) -> Identity:
    """The incident address issued to the sender proves them, unless our MTA says the From is forged;
    otherwise the proofs of any engineer's mail (Authentication-Results, DKIM)."""
    staff = app.config.staff
    claimed = engineer_by_address(staff, mail.sender.key) if mail.sender else None
    single = len(mail.header_all("From")) == 1 and len(parse_addresses(list(mail.header_all("From")))) == 1
    if claimed is not None and single and staff.auth.reply_token and \
            incident_address.verify(app.secret, token, claimed.address):
        ids = staff.auth.trusted_authserv_ids
        block = auth_results.trusted_block(mail.headers, ids) if ids else ()
        if auth_results.refuted(block, mail.sender.domain if mail.sender else "") is None:
            return Identity(claimed, claimed, PROOF_TOKEN, f"incident address issued to {claimed.handle}")
    identity = authenticate(app, raw, mail, rcpts)
    if claimed is not None and identity.engineer is None:
        # authenticate looked for a ticket's reply address; this mail went to an incident's.
        said = f"not sent to a reply address issued to {claimed.handle}"
        meant = f"not sent to the address of incident #{token.incident_id} issued to {claimed.handle}"
        identity = dataclasses.replace(identity, reason=identity.reason.replace(said, meant))
    return identity


def read_incident_mail(session: Session, app: App, mail: ParsedMail, raw: bytes, rcpts: tuple[str, ...],
                       approval: str | None) -> IncidentMail | None:
    """The decision on ``mail`` when it was sent to an incident's address; None when it was not (or a
    reviewer approved it as its sender's own mail, which goes on as anybody's would)."""
    token = incident_token(app, mail, rcpts)
    if token is None:
        return None
    owner = next((e for e in app.config.staff.engineers.values()
                  if incident_address.verify(app.secret, token, e.address)), None)
    identity = _prove(app, raw, mail, rcpts, token)
    if identity.engineer is None and identity.claimed is not None and approval == APPROVED_AS_ENGINEER:
        identity = dataclasses.replace(identity, engineer=identity.claimed, proof=PROOF_APPROVED,
                                       reason=f"approved by a reviewer; unproven because {identity.reason}")
    if identity.engineer is None:
        if approval == APPROVED:
            return None
        return IncidentMail(token.incident_id, "incident-unproven", identity.reason, identity, token_owner=owner)
    incident = session.get(Incident, token.incident_id)
    if incident is None:
        return IncidentMail(token.incident_id, "incident-refused", f"there is no incident #{token.incident_id}",
                            identity, token_owner=owner)
    reply = parse_reply(mail.reply_text)
    refusals = (*reply.refusals, *_check(app, incident, reply))
    if refusals:
        return IncidentMail(incident.id, "incident-refused", f"{len(refusals)} command(s) refused", identity, reply,
                            refusals, owner)
    if not reply.text:
        return IncidentMail(incident.id, "incident-refused", "nothing to send: write the text below the commands, "
                            "above the quoted mail", identity, reply, (), owner)
    if incident.status != "open" and not any(c.name == "incident" for c in reply.commands):
        return IncidentMail(incident.id, "incident-refused", f"incident #{incident.id} is resolved: updates are "
                            "over; a report is sent with #incident report KIND", identity, reply, (), owner)
    return IncidentMail(incident.id, "incident", identity.reason, identity, reply, (), owner)


def _check(app: App, incident: Incident, reply: Reply) -> list[Refusal]:
    """In mail to an incident, the commands are ``#incident resolve`` and ``#incident report KIND``, one of them."""
    refusals = []
    kinds = app.config.incidents.report_kinds()
    for c in reply.commands:
        if c.name != "incident" or c.args[0] not in ("resolve", "report"):
            refusals.append(Refusal(c.line, "mail to an incident takes #incident resolve or #incident report KIND "
                                            "only; ticket commands are written on the ticket"))
        elif c.args[0] == "resolve" and incident.status != "open":
            refusals.append(Refusal(c.line, f"incident #{incident.id} is resolved already"))
        elif c.args[0] == "report" and c.args[1] not in kinds:
            refusals.append(Refusal(c.line, f"no report called {c.args[1]!r}; the reports are "
                                            f"{', '.join(sorted(kinds))}"))
    if len(reply.commands) > 1 and not refusals:
        refusals.append(Refusal(reply.commands[1].line, "one command per mail: the text is either the restoration "
                                                        "notice or a report"))
    return refusals
