"""The service's own sections: [gateway], [database], [smtp], [processing], [sla], as typed values."""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from gateway.config.languages import parse_language
from gateway.config.reader import Reader, as_addresses, as_bool, as_port, as_str, as_types, as_zone, env_name
from gateway.config.tls import server_context
from gateway.config.values import parse_address, parse_domain, parse_host_names, parse_interval, parse_size


@dataclass(frozen=True)
class GatewaySettings:
    support_address: str
    aliases: tuple[str, ...]
    name: str
    timezone: ZoneInfo
    secret_env: str
    data_dir: Path
    message_id_domain: str
    default_plan: str
    reopen_window: timedelta
    # Customers' language when neither the directory nor their first mail says one (ISO 639-1).
    language: str = "en"

    @property
    def support_domain(self) -> str:
        return self.support_address.rpartition("@")[2]

    @property
    def all_addresses(self) -> tuple[str, ...]:
        return (self.support_address, *self.aliases)


@dataclass(frozen=True)
class DatabaseSettings:
    url: str


@dataclass(frozen=True)
class SmtpSettings:
    enabled: bool
    host: str
    port: int
    lmtp: bool
    max_message_size: int
    tls_cert: Path | None = None
    tls_key: Path | None = None
    require_tls: bool = False
    # Host names our MTA writes in the `by` clause of its Received header: its acceptance
    # time starts the SLA clock of mail it delivers to the listener or the pipe.
    mta_hosts: frozenset[str] = frozenset()


@dataclass(frozen=True)
class ProcessingSettings:
    poll_interval: timedelta
    attachment_max_size: int
    blocked_attachment_types: tuple[str, ...]
    parse_time_budget: timedelta
    # Processes that process and send beside the listener's (0: the listener's process does it all).
    workers: int = 0
    # A sender who opened this many tickets of one subject shape within the window opens no more of
    # it: the next such mail joins the latest still open, as a repeat (0: never).
    repeats_after: int = 5
    repeats_window: timedelta = timedelta(hours=1)


@dataclass(frozen=True)
class SlaSettings:
    sweep_interval: timedelta


def database_url(value: object) -> str:
    """A SQLAlchemy URL for SQLite or PostgreSQL."""
    if not isinstance(value, str):
        raise ValueError("write a URL like sqlite:///var/helpdesk.sqlite3 or postgresql+psycopg://user@host/db")
    try:
        backend = make_url(value).get_backend_name()
    except ArgumentError as exc:
        raise ValueError(f"{value!r} is not a database URL; write it like sqlite:///var/helpdesk.sqlite3 "
                         "or postgresql+psycopg://user@host/db") from exc
    if backend not in ("sqlite", "postgresql"):
        raise ValueError(f"{value!r}: the gateway runs on sqlite or postgresql, not {backend}")
    return value


def load_gateway(r: Reader, data: dict[str, Any], base: Path) -> GatewaySettings:
    """[gateway]: the support address, its name, zone, secret and data directory."""
    g = r.table(data, "gateway")
    r.unknown(g, "gateway", {"support_address", "aliases", "name", "timezone", "secret_env",
                             "data_dir", "message_id_domain", "default_plan",
                             "unknown_senders", "non_contacts", "reopen_window", "language"})
    support = r.get(g, "gateway.support_address", "", parse_address)
    r.require(g, "gateway.support_address", 'set it to the address customers write to, '
              'like support_address = "support@example.com"')
    data_dir = base / r.get(g, "gateway.data_dir", "var", as_str)
    return GatewaySettings(
        support_address=support,
        aliases=r.get(g, "gateway.aliases", (), as_addresses),
        name=r.get(g, "gateway.name", "Support", as_str),
        timezone=r.get(g, "gateway.timezone", ZoneInfo("UTC"), as_zone),
        secret_env=r.get(g, "gateway.secret_env", "HELPDESK_SECRET", env_name),
        data_dir=data_dir,
        message_id_domain=r.get(g, "gateway.message_id_domain",
                                support.rpartition("@")[2] or "localhost", parse_domain),
        default_plan=r.get(g, "gateway.default_plan", "standard", as_str),
        reopen_window=r.get(g, "gateway.reopen_window", timedelta(days=14), parse_interval),
        language=r.get(g, "gateway.language", "en", parse_language),
    )


def load_database(r: Reader, data: dict[str, Any], base: Path, data_dir: Path) -> DatabaseSettings:
    """[database]: the URL; a relative SQLite path is relative to the config file."""
    d = r.table(data, "database")
    r.unknown(d, "database", {"url"})
    default_url = f"sqlite:///{data_dir / 'helpdesk.sqlite3'}"
    url = r.get(d, "database.url", default_url, database_url)
    if url.startswith("sqlite:///") and not url.startswith("sqlite:////"):
        rel = url.removeprefix("sqlite:///")
        if rel and rel != ":memory:":
            url = f"sqlite:///{base / rel}"
    return DatabaseSettings(url=url)


def load_smtp(r: Reader, data: dict[str, Any], base: Path) -> SmtpSettings:
    """[smtp]: the listener, its size limit, STARTTLS, and our MTA's host names."""
    s = r.table(data, "smtp")
    r.unknown(s, "smtp", {"enabled", "host", "port", "lmtp", "max_message_size", "tls_cert", "tls_key",
                          "require_tls", "mta_hosts"})
    tls_cert, tls_key = (base / name if name else None for name in (
        r.get(s, "smtp.tls_cert", None, as_str), r.get(s, "smtp.tls_key", None, as_str)))
    if (tls_cert is None) != (tls_key is None):
        r.problems.append("smtp.tls_key: tls_cert and tls_key go together; give both PEM files, or neither")
    elif tls_cert is not None and tls_key is not None:
        try:
            server_context(tls_cert, tls_key)
        except (OSError, ssl.SSLError) as exc:
            r.problems.append(f"smtp.tls_cert: cannot load {tls_cert} with {tls_key}: {exc.strerror or exc}; "
                              "give the PEM certificate chain and its private key")
    require_tls = r.get(s, "smtp.require_tls", False, as_bool)
    if require_tls and tls_cert is None:
        r.problems.append("smtp.require_tls: there is no STARTTLS without tls_cert and tls_key; give them, "
                          "or set require_tls = false")
    return SmtpSettings(
        enabled=r.get(s, "smtp.enabled", True, as_bool),
        host=r.get(s, "smtp.host", "127.0.0.1", as_str),
        port=r.get(s, "smtp.port", 2525, as_port),
        lmtp=r.get(s, "smtp.lmtp", False, as_bool),
        max_message_size=r.get(s, "smtp.max_message_size", 25 * 1000**2, parse_size),
        tls_cert=tls_cert,
        tls_key=tls_key,
        require_tls=require_tls,
        mta_hosts=r.get(s, "smtp.mta_hosts", frozenset(), parse_host_names),
    )


def load_processing(r: Reader, data: dict[str, Any]) -> ProcessingSettings:
    """[processing]: how often to look, attachment limits, the parse budget."""
    p = r.table(data, "processing")
    r.unknown(p, "processing", {"poll_interval", "attachment_max_size",
                                "blocked_attachment_types", "parse_time_budget", "workers",
                                "repeats_after", "repeats_window"})
    return ProcessingSettings(
        poll_interval=r.get(p, "processing.poll_interval", timedelta(seconds=1), parse_interval),
        attachment_max_size=r.get(p, "processing.attachment_max_size", 20 * 1000**2, parse_size),
        blocked_attachment_types=r.get(p, "processing.blocked_attachment_types",
                                       (".exe", ".scr", ".bat", ".cmd", ".com", ".pif", ".vbs",
                                        ".js", ".jar", ".msi"), as_types),
        parse_time_budget=r.get(p, "processing.parse_time_budget", timedelta(seconds=5),
                                parse_interval),
        workers=r.get(p, "processing.workers", 0, _workers),
        repeats_after=r.get(p, "processing.repeats_after", 5, _repeats_after),
        repeats_window=r.get(p, "processing.repeats_window", timedelta(hours=1), parse_interval),
    )


def _workers(value: Any) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= 16:
        raise ValueError("how many worker processes process and send beside the listener, 0 (all in one "
                         "process) to 16, like workers = 1")
    return value


def _repeats_after(value: Any) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= 1000:
        raise ValueError("how many tickets of one subject shape a sender opens within repeats_window before "
                         "their next such mail joins the latest as a repeat, 1 to 1000, or 0 for never, "
                         "like repeats_after = 5")
    return value


def load_sla(r: Reader, data: dict[str, Any]) -> SlaSettings:
    """[sla]: how often the safety sweep looks for deadlines the scheduler missed."""
    sl = r.table(data, "sla")
    r.unknown(sl, "sla", {"sweep_interval"})
    return SlaSettings(sweep_interval=r.get(sl, "sla.sweep_interval", timedelta(seconds=30), parse_interval))
