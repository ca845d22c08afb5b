"""An incident's own address for each engineer: ``support+i<incident>-<token>@domain``, signed and bound to them.

Like an engineer's reply address on a ticket, the token is an HMAC of the incident and the
engineer's address under the reply-token secret: mail to it from that engineer proves itself,
and the address is worth nothing to anyone else. The ``i`` keeps it apart from ticket addresses
(``support+<ticket>-<token>``), whose part after ``+`` is all digits.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from dataclasses import dataclass

from gateway.outbound.reply_token import TOKEN_LENGTH

_PLUS = re.compile(rf"^(?P<local>[^+@]+)\+i(?P<incident>\d{{1,12}})-(?P<token>[a-z2-7]{{{TOKEN_LENGTH}}})$")


def _digest(secret: bytes, incident_id: int, engineer: str) -> str:
    message = f"incident:{incident_id}:to:{engineer.lower()}"
    mac = hmac.new(secret, message.encode("utf-8"), hashlib.sha256).digest()
    return base64.b32encode(mac).decode("ascii").lower()[:TOKEN_LENGTH]


def incident_address(secret: bytes, support_address: str, incident_id: int, engineer: str) -> str:
    """The address through which ``engineer`` (their configured address) writes to incident ``incident_id``."""
    local, _, domain = support_address.rpartition("@")
    return f"{local}+i{incident_id}-{_digest(secret, incident_id, engineer)}@{domain}"


@dataclass(frozen=True, slots=True)
class IncidentToken:
    incident_id: int
    token: str
    address: str


def parse_incident_address(address: str, support_addresses: tuple[str, ...]) -> IncidentToken | None:
    """The incident and token in ``support+i<incident>-<token>@domain``, if it is one of ours."""
    local, _, domain = address.lower().rpartition("@")
    match = _PLUS.match(local)
    if not match or f"{match.group('local')}@{domain}" not in {a.lower() for a in support_addresses}:
        return None
    return IncidentToken(int(match.group("incident")), match.group("token"), address.lower())


def verify(secret: bytes, token: IncidentToken, engineer: str) -> bool:
    """True when the token is the one issued to ``engineer`` for this incident."""
    return hmac.compare_digest(token.token, _digest(secret, token.incident_id, engineer))
