"""[outbound]: where the gateway's mail goes, how it logs in and signs, and its caps."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from dkim.crypto import parse_pem_private_key

from gateway.config.reader import Reader, as_count, as_port, as_str, env_name, one_of, read_ca_file
from gateway.config.service import GatewaySettings
from gateway.config.values import default_helo_name, helo_name, parse_address, parse_interval

# A relay takes mail from several sessions at once (Postfix's smtpd from up to 100); more than this
# from one gateway would only queue there, or hold up SQLite's write lock with their records.
MAX_SESSIONS = 16


@dataclass(frozen=True)
class OutboundSettings:
    transport: str
    host: str
    port: int
    security: str
    username: str | None
    password_env: str | None
    ca_file: Path | None
    directory: Path
    from_address: str
    dkim_selector: str | None
    dkim_key_file: Path | None
    dkim_domain: str
    timeout: timedelta
    retry_lifetime: timedelta
    max_per_address_per_hour: int
    max_per_ticket_per_hour: int
    helo_name: str = "localhost.localdomain"
    sessions: int = 1  # relay sessions at once, each with a sender of its own, in each process that sends



def key_problem(path: Path) -> str | None:
    """Why this file is not a PEM private key dkimpy can sign with, or None."""
    try:
        parse_pem_private_key(path.read_bytes())
    except OSError as exc:
        return f"cannot read {path}: {exc.strerror}"
    except Exception as exc:  # dkimpy raises several kinds for a bad key
        return f"{path} is not a PEM private key: {exc}"
    return None



def _sessions(value: Any) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= MAX_SESSIONS:
        raise ValueError(f"how many mails go to the relay at once, each in a session of its own, 1 to "
                         f"{MAX_SESSIONS}, like sessions = 4")
    return value


def load_outbound(r: Reader, data: dict[str, Any], base: Path, gateway: GatewaySettings) -> OutboundSettings:
    """[outbound]: the relay or directory, its login and TLS, DKIM, retries and the caps."""
    support, data_dir = gateway.support_address, gateway.data_dir
    o = r.table(data, "outbound")
    r.unknown(o, "outbound", {"transport", "host", "port", "security", "username",
                              "password_env", "directory", "from", "timeout", "retry_lifetime",
                              "max_per_address_per_hour", "max_per_ticket_per_hour", "ca_file",
                              "dkim_selector", "dkim_key_file", "dkim_domain", "helo_name", "sessions"})
    transport = r.get(o, "outbound.transport", "directory", one_of("smtp", "directory"))
    security = r.get(o, "outbound.security", "none", one_of("none", "starttls", "tls"))
    password_env = r.get(o, "outbound.password_env", None, env_name)
    username = r.get(o, "outbound.username", None, as_str)
    if username and not password_env:
        # Without it the gateway would not log in, and a relay that wants a login refuses
        # every mail.
        r.problems.append("outbound.password_env: username is set but no password; name the "
                          'environment variable that holds it, like password_env = "HELPDESK_SMTP_PASSWORD"')
    ca_path = read_ca_file(r, o, "outbound.ca_file", base, "the relay")
    from_address = r.get(o, "outbound.from", support, parse_address)
    dkim_selector = r.get(o, "outbound.dkim_selector", None, as_str)
    dkim_key = r.get(o, "outbound.dkim_key_file", None, as_str)
    dkim_key_file = base / dkim_key if dkim_key else None
    if (dkim_selector is None) != (dkim_key_file is None):
        r.problems.append("outbound.dkim_key_file: dkim_selector and dkim_key_file go together; give both "
                          "(the selector's TXT record published under <selector>._domainkey), or neither")
    elif dkim_key_file is not None:
        problem = key_problem(dkim_key_file)
        if problem:
            r.problems.append(f"outbound.dkim_key_file: {problem}; give the PEM private key whose public "
                              "half is in the selector's TXT record")
    outbound = OutboundSettings(
        transport=transport,
        host=r.get(o, "outbound.host", "127.0.0.1", as_str),
        port=r.get(o, "outbound.port", 465 if security == "tls" else 25, as_port),
        security=security,
        username=username,
        password_env=password_env,
        ca_file=ca_path,
        directory=base / r.get(o, "outbound.directory", str(data_dir / "outbox"), as_str),
        from_address=from_address,
        dkim_selector=dkim_selector,
        dkim_key_file=dkim_key_file,
        dkim_domain=r.get(o, "outbound.dkim_domain", from_address.rpartition("@")[2], as_str),
        timeout=r.get(o, "outbound.timeout", timedelta(seconds=30), parse_interval),
        retry_lifetime=r.get(o, "outbound.retry_lifetime", timedelta(days=2), parse_interval),
        max_per_address_per_hour=r.get(o, "outbound.max_per_address_per_hour", 5, as_count),
        max_per_ticket_per_hour=r.get(o, "outbound.max_per_ticket_per_hour", 20, as_count),
        helo_name=r.get(o, "outbound.helo_name", default_helo_name(gateway.message_id_domain), helo_name),
        sessions=r.get(o, "outbound.sessions", 1, _sessions),
    )
    if transport == "smtp" and "host" not in o:
        r.problems.append('outbound.host: transport is "smtp" but no relay host is set; '
                          'set host = "smtp.example.com" or use transport = "directory"')

    return outbound
