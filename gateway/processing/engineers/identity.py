"""Whether a mail really comes from the engineer it names: reply token, our MTA's results, dkimpy."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import dkim
from sqlalchemy.orm import Session

from gateway.app import App
from gateway.config.staff import Engineer, Staff
from gateway.outbound import reply_token
from gateway.processing.correlate import Correlation, candidate_recipients
from gateway.processing.engineers import auth_results
from gateway.store.models import Ticket
from gateway.store.tickets import landing_ticket
from parsers import ParsedMail
from parsers.addresses import parse_addresses

log = logging.getLogger("gateway.process")

PROOF_TOKEN = "reply-token"
PROOF_AUTH_RESULTS = "authentication-results"
PROOF_DKIM = "dkim"
PROOF_APPROVED = "approved"  # a reviewer ran `helpdesk held approve --as-engineer` on the held mail


def engineer_by_address(staff: Staff, address: str) -> Engineer | None:
    """The engineer configured with this exact address (handles are not addresses)."""
    key = address.lower()
    return next((a for a in staff.engineers.values() if a.address == key), None)


@dataclass(frozen=True, slots=True)
class TokenSeen:
    """A reply address of ours among the recipients that verifies: for whom and which ticket."""

    ticket_id: int
    address: str
    owner: Engineer | None  # None: the ticket's customer token


def tokens_in(app: App, mail: ParsedMail, envelope_rcpts: tuple[str, ...]) -> list[TokenSeen]:
    """Every verifying reply token the mail was sent to, customer's or an engineer's."""
    found = []
    for rcpt in candidate_recipients(mail, envelope_rcpts):
        token = reply_token.parse_reply_address(rcpt, app.support_addresses)
        if token is None:
            continue
        if reply_token.verify(app.secret, token):
            found.append(TokenSeen(token.ticket_id, rcpt, None))
            continue
        owner = next((a for a in app.config.staff.engineers.values()
                      if reply_token.verify(app.secret, token, bound_to=a.address)), None)
        if owner is not None:
            found.append(TokenSeen(token.ticket_id, rcpt, owner))
    return found


@dataclass(frozen=True, slots=True)
class Identity:
    """Who the mail claims to be from, who it is proven to be from (if anyone), and how."""

    claimed: Engineer | None
    engineer: Engineer | None
    proof: str | None
    reason: str
    # The ticket of the reply token that proved the sender; unproven, of another engineer's token.
    token_ticket: int | None = None
    token_owner: Engineer | None = None  # an engineer whose reply address the mail was sent to

    @property
    def proven(self) -> bool:
        return self.engineer is not None


DnsFunc = Callable[..., bytes | None]


def _key_map_dns(keys: Mapping[str, str]) -> DnsFunc:
    def lookup(name: bytes | str, timeout: int = 5) -> bytes | None:
        text = name.decode("ascii", "replace") if isinstance(name, bytes) else name
        value = keys.get(text.lower().rstrip("."))
        return value.encode("ascii") if value is not None else None
    return lookup


def dkim_verdict(raw: bytes, from_domain: str, keys: Mapping[str, str]) -> tuple[bool, str]:
    """Verify the DKIM signatures ourselves with dkimpy; pass when one aligned with From verifies.

    With ``keys`` (DNS name to TXT record) no network is used; without, dkimpy asks DNS.
    A signature with ``l=`` leaves part of the body unsigned, so it does not count.
    """

    try:
        checker = dkim.DKIM(raw, minkey=1024)
    except Exception as exc:  # a third-party parser on hostile input: a failed proof, not a crash
        return False, f"dkimpy cannot read the message: {exc.__class__.__name__}"
    count = sum(1 for name, _v in checker.headers if name.lower() == b"dkim-signature")
    if count == 0:
        return False, "no DKIM-Signature"
    dnsfunc: DnsFunc = _key_map_dns(keys) if keys else dkim.get_txt
    why = []
    for idx in range(count):
        try:
            ok = bool(checker.verify(idx=idx, dnsfunc=dnsfunc))
        except Exception as exc:  # DKIMException, and whatever else a hostile signature provokes
            why.append(f"signature {idx + 1}: {exc.__class__.__name__}: {exc}"[:300])
            continue
        fields = checker.signature_fields or {}
        domain = fields.get(b"d", b"").decode("ascii", "replace").lower()
        if b"l" in fields:
            why.append(f"signature {idx + 1} (d={domain}) has l=: part of the body is unsigned")
        elif b"from" not in (checker.include_headers or ()):
            why.append(f"signature {idx + 1} (d={domain}) does not sign From")
        elif not ok:
            why.append(f"signature {idx + 1} (d={domain}) does not verify")
        elif not auth_results.aligned(domain, from_domain):
            why.append(f"signature {idx + 1} (d={domain}) is not aligned with {from_domain}")
        else:
            return True, f"dkimpy: signature d={domain} verifies"
    return False, "; ".join(why)


def authenticate(app: App, raw: bytes, mail: ParsedMail, envelope_rcpts: tuple[str, ...]) -> Identity:
    """Prove the sender is the engineer named in From, by any proof the config accepts."""
    staff = app.config.staff
    auth = staff.auth
    sender = mail.sender.key if mail.sender else ""
    claimed = engineer_by_address(staff, sender) if sender else None
    tokens = tokens_in(app, mail, envelope_rcpts)
    other = next((t for t in tokens if t.owner is not None and t.owner != claimed), None)
    foreign, foreign_ticket = (other.owner, other.ticket_id) if other else (None, None)
    if claimed is None:
        who = f"{sender or 'a mail without From'} is not an engineer"
        if foreign is not None:
            return Identity(None, None, None, f"{who} but wrote to the reply address issued to {foreign.handle}",
                            token_ticket=foreign_ticket, token_owner=foreign)
        return Identity(None, None, None, who)
    if len(mail.header_all("From")) != 1 or len(_from_addresses(mail)) != 1:
        return Identity(claimed, None, None, "more than one From: which one signed is unclear",
                        token_ticket=foreign_ticket, token_owner=foreign)
    reasons = []
    own = next((t for t in tokens if t.owner == claimed), None)
    block = auth_results.trusted_block(mail.headers, auth.trusted_authserv_ids) if auth.trusted_authserv_ids else ()
    forged = auth_results.refuted(block, mail.sender.domain if mail.sender else "")
    if forged is not None:
        # The engineer's reply address proves nothing when our own MTA says the From is forged:
        # a customer the engineer wrote to directly has seen that address.
        return Identity(claimed, None, None, f"{forged}: the From is forged",
                        token_ticket=own.ticket_id if own else foreign_ticket, token_owner=claimed if own else foreign)
    if auth.reply_token:
        if own is not None:
            return Identity(claimed, claimed, PROOF_TOKEN, f"reply address issued to {claimed.handle}",
                            token_ticket=own.ticket_id)
        reasons.append("not sent to a reply address issued to " + claimed.handle
                       + (f" (it was issued to {foreign.handle})" if foreign else ""))
    if auth.trusted_authserv_ids:
        ok, why = auth_results.verdict(block, mail.sender.domain if mail.sender else "")
        if ok:
            return Identity(claimed, claimed, PROOF_AUTH_RESULTS, why, token_owner=foreign)
        reasons.append(why)
    if auth.verify_dkim:
        ok, why = dkim_verdict(raw, mail.sender.domain if mail.sender else "", auth.dkim_keys)
        if ok:
            return Identity(claimed, claimed, PROOF_DKIM, why, token_owner=foreign)
        reasons.append(why)
    if not reasons:
        reasons.append("no proof is accepted: [engineers] enables neither reply_token, trusted_authserv_ids "
                       "nor verify_dkim")
    return Identity(claimed, None, None, "; ".join(reasons), token_ticket=foreign_ticket, token_owner=foreign)


def _from_addresses(mail: ParsedMail) -> list[str]:
    return [a.key for a in parse_addresses(list(mail.header_all("From")))]


_SUBJECT_TAG = re.compile(r"\[#(\d{1,12})\]")


def is_staff_mail(app: App, mail: ParsedMail, corr: Correlation) -> bool:
    """Mail that claims to come from an engineer, or carries a token issued to one."""
    staff = app.config.staff
    if not staff.engineers:
        return False
    if corr.via == "engineer-token":
        return True
    if mail.sender is not None and engineer_by_address(staff, mail.sender.key) is not None:
        return True
    # Header recipients only (the envelope is not at hand here): an engineer's reply address in
    # To or Cc from anyone else is a leaked or guessed token, and is held below.
    return any(t.owner is not None for t in tokens_in(app, mail, ()))


def ticket_of(session: Session, identity: Identity, corr: Correlation, mail: ParsedMail) -> Ticket | None:
    """The ticket a proven engineer's mail is about: the token's; else the thread's or a [#N] tag."""
    if identity.proof == PROOF_TOKEN:
        number = identity.token_ticket
    elif corr.ticket_id is not None:
        number = corr.ticket_id
    else:
        # Engineers are not participants, so correlate() ignores their [#N]; a proven one may use it.
        tag = _SUBJECT_TAG.search(mail.subject) if identity.proven else None
        number = int(tag.group(1)) if tag else None
    # A merged ticket's mail, an engineer's included, lands on the ticket it was merged into.
    return session.get(Ticket, landing_ticket(session, number)) if number is not None else None
