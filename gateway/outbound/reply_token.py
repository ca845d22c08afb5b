"""Signed reply addresses: ``support+<ticket>-<token>@domain`` binds a reply to its ticket."""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import re
import secrets
from dataclasses import dataclass
from pathlib import Path

TOKEN_LENGTH = 16
_SECRET_FILE = "reply-token.secret"
_PLUS = re.compile(rf"^(?P<local>[^+@]+)\+(?P<ticket>\d{{1,12}})-(?P<token>[a-z2-7]{{{TOKEN_LENGTH}}})$")


_MIN_SECRET = 32  # bytes of a kept secret: the generated one has 64 hex digits


def load_secret(env_name: str, data_dir: Path) -> bytes:
    """The reply-token secret: from the environment variable, else kept in the data directory.

    A generated secret is written once with mode 0600 and reused, so tokens issued before a
    restart still verify after it.
    """
    value = os.environ.get(env_name)
    if value:
        return value.encode("utf-8")
    path = data_dir / _SECRET_FILE
    try:
        kept = path.read_bytes().strip()
    except FileNotFoundError:
        kept = b""
    if len(kept) >= _MIN_SECRET:
        return kept
    # None yet, or a file left empty by a crash while it was written: an empty key would make
    # every token forgeable. A new one is written whole (to a temporary name, then renamed).
    data_dir.mkdir(parents=True, exist_ok=True)
    fresh = secrets.token_hex(32).encode("ascii")
    tmp = path.with_name(f"{_SECRET_FILE}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, fresh)
        os.fsync(fd)
    finally:
        os.close(fd)
    try:
        os.link(tmp, path)  # only if still absent: a concurrent first start keeps one secret
    except FileExistsError:
        if len(path.read_bytes().strip()) < _MIN_SECRET:
            os.replace(tmp, path)
            return fresh
        tmp.unlink()
        return path.read_bytes().strip()
    tmp.unlink()
    return fresh


def _digest(secret: bytes, ticket_id: int, bound_to: str | None) -> str:
    message = f"ticket:{ticket_id}" if bound_to is None else f"ticket:{ticket_id}:to:{bound_to.lower()}"
    mac = hmac.new(secret, message.encode("utf-8"), hashlib.sha256).digest()
    # Lower-case base32: survives MTAs that fold the local part's case.
    return base64.b32encode(mac).decode("ascii").lower()[:TOKEN_LENGTH]


def make_token(secret: bytes, ticket_id: int, bound_to: str | None = None) -> str:
    """A customer token (``bound_to`` None) or one issued to one recipient, e.g. an engineer."""
    return _digest(secret, ticket_id, bound_to)


def reply_address(support_address: str, ticket_id: int, token: str) -> str:
    local, _, domain = support_address.rpartition("@")
    return f"{local}+{ticket_id}-{token}@{domain}"


@dataclass(frozen=True, slots=True)
class ReplyToken:
    ticket_id: int
    token: str


def parse_reply_address(address: str, support_addresses: tuple[str, ...]) -> ReplyToken | None:
    """The ticket and token in ``support+<ticket>-<token>@domain``, if it is one of ours."""
    local, _, domain = address.lower().rpartition("@")
    match = _PLUS.match(local)
    if not match:
        return None
    base = f"{match.group('local')}@{domain}"
    if base not in {a.lower() for a in support_addresses}:
        return None
    return ReplyToken(ticket_id=int(match.group("ticket")), token=match.group("token"))


def verify(secret: bytes, token: ReplyToken, bound_to: str | None = None) -> bool:
    """True when the token is the one we issued for this ticket (and recipient, if bound)."""
    return hmac.compare_digest(token.token, _digest(secret, token.ticket_id, bound_to))


def is_support_recipient(address: str, support_addresses: tuple[str, ...]) -> bool:
    """A support address itself or any ``local+anything@domain`` form of one (printable)."""
    if not address.isprintable():
        return False
    local, _, domain = address.lower().rpartition("@")
    base = f"{local.split('+', 1)[0]}@{domain}"
    return base in {a.lower() for a in support_addresses}
