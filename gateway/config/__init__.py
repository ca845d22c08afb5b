"""The configuration: one TOML file validated once, at start, into typed values."""

from __future__ import annotations

import os
import socket
import ssl
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from gateway.config.escalation import EscalationSettings, load_escalation
from gateway.config.policy import Policy, load_policy, rule_tables
from gateway.config.staff import Staff, load_staff
from gateway.config.tls import server_context
from gateway.config.values import (
    default_helo_name,
    helo_name,
    parse_address,
    parse_domain,
    parse_host_names,
    parse_interval,
    parse_size,
)
from gateway.errors import ConfigError
from gateway.outbound.dkim import key_problem
from gateway.outbound.languages import parse_language
from rules import RuleConfigError, RuleSet, compile_rules

T = TypeVar("T")

DEFAULT_CONFIG_NAME = "config.toml"


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


@dataclass(frozen=True)
class ProcessingSettings:
    poll_interval: timedelta
    attachment_max_size: int
    blocked_attachment_types: tuple[str, ...]
    parse_time_budget: timedelta


@dataclass(frozen=True)
class SlaSettings:
    sweep_interval: timedelta


@dataclass(frozen=True)
class Config:
    path: Path | None
    gateway: GatewaySettings
    database: DatabaseSettings
    smtp: SmtpSettings
    outbound: OutboundSettings
    processing: ProcessingSettings
    templates_dir: Path | None
    policy: Policy
    staff: Staff
    rules: RuleSet
    escalation: EscalationSettings
    sla: SlaSettings
    raw: dict[str, Any] = field(repr=False)


class Reader:
    """Reads keys from TOML tables, converting once and recording each problem with its key."""

    def __init__(self) -> None:
        self.problems: list[str] = []

    def table(self, data: dict[str, Any], key: str) -> dict[str, Any]:
        value = data.get(key.rpartition(".")[2], {})
        if not isinstance(value, dict):
            self.problems.append(f"{key}: must be a table, like [{key}]")
            return {}
        return value

    def get(self, table: dict[str, Any], path: str, default: T, convert: Callable[[Any], T],
            fix: str = "") -> T:
        name = path.rpartition(".")[2]
        if name not in table:
            return default
        try:
            return convert(table[name])
        except (ValueError, TypeError, OverflowError) as exc:
            self.problems.append(f"{path}: {exc}{'; ' + fix if fix else ''}")
            return default

    def unknown(self, table: dict[str, Any], prefix: str, known: set[str]) -> None:
        for key in table:
            if key not in known:
                self.problems.append(
                    f"{prefix}.{key}: unknown key; the keys of [{prefix}] are {', '.join(sorted(known))}")


def read_ca_file(r: Reader, table: dict[str, Any], key: str, base: Path, peer: str) -> Path | None:
    """The PEM file of the CA that signed ``peer``'s certificate (relative to ``base``), or None."""
    name = r.get(table, key, None, as_str)
    path = base / name if name else None
    if path is not None and not path.is_file():
        r.problems.append(f"{key}: {path} is not a readable file; give the PEM file of the "
                          f"certificate authority that signed {peer}'s certificate")
    return path


def as_str(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError("must be a string")
    return value


def as_bool(value: Any) -> bool:
    if not isinstance(value, bool):
        raise ValueError("must be true or false")
    return value


def as_port(value: Any) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not 0 < value < 65536:
        raise ValueError("must be a port number from 1 to 65535")
    return value


def as_count(value: Any) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise ValueError("must be a whole number, 0 or more")
    return value


def one_of(*choices: str) -> Callable[[Any], str]:
    def convert(value: Any) -> str:
        if value not in choices:
            raise ValueError(f"must be one of {', '.join(repr(c) for c in choices)}")
        return str(value)
    return convert


def as_zone(value: Any) -> ZoneInfo:
    try:
        return ZoneInfo(as_str(value))
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"{value!r} is not an IANA time zone like 'Europe/London'") from exc


def env_name(value: Any) -> str:
    text = as_str(value)
    if not text.replace("_", "").isalnum():
        raise ValueError("must be the NAME of an environment variable, like HELPDESK_SECRET")
    return text


def as_addresses(value: Any) -> tuple[str, ...]:
    if not isinstance(value, list):
        raise ValueError("must be a list of addresses")
    return tuple(parse_address(v) for v in value)


def as_types(value: Any) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValueError("must be a list of strings like ['.exe', 'application/x-msdownload']")
    return tuple(v.lower() for v in value)


# Sections that later capabilities read from ``Config.raw``; listed so typos are still caught.
_OTHER_SECTIONS = {"customers", "plans", "calendars", "rules", "rule_set", "contacts", "escalation",
                   "oncall", "agents", "imap", "sla", "templates", "screening", "metrics", "logging"}
_SECTIONS = {"gateway", "database", "smtp", "outbound", "processing"} | _OTHER_SECTIONS


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


def runtime_problems(config: Config) -> list[str]:
    """What ``run`` needs beyond a well-formed file: secrets in its environment, a data
    directory it can write, a listener address that resolves. Commands that only read or store
    mail (an MTA's pipe to ``ingest``, say) do not need them."""
    problems = []
    o = config.outbound
    if o.password_env and o.password_env not in os.environ:
        problems.append(f"outbound.password_env: the environment variable {o.password_env} "
                        "is not set; export it or remove password_env")
    data_dir = config.gateway.data_dir
    try:
        data_dir.mkdir(parents=True, exist_ok=True)
        probe = data_dir / f".write-test-{os.getpid()}"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        problems.append(f"gateway.data_dir: {data_dir} cannot be written ({exc.strerror}); "
                        "point data_dir at a directory the gateway's user owns")
    if config.smtp.enabled:
        try:
            socket.getaddrinfo(config.smtp.host, config.smtp.port, type=socket.SOCK_STREAM)
        except OSError as exc:
            problems.append(f"smtp.host: {config.smtp.host} does not resolve ({exc}); "
                            "use an address of this machine, like 127.0.0.1 or 0.0.0.0")
    return problems


def load_config(path: Path | None, *, text: str | None = None) -> Config:
    """Read and validate the config; raise ConfigError listing every problem found."""
    if text is None:
        if path is None:
            raise ConfigError(["no config file: pass -c FILE, set HELPDESK_CONFIG, "
                               "or create ./config.toml (copy config.example.toml)"])
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise ConfigError([f"{path}: cannot read the config file: {exc.strerror}"]) from exc
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError([f"{path}: not valid TOML: {exc}"]) from exc
    return _build(path, data)


def _build(path: Path | None, data: dict[str, Any]) -> Config:
    r = Reader()
    for key in data:
        if key not in _SECTIONS:
            r.problems.append(f"{key}: unknown section; the sections are {', '.join(sorted(_SECTIONS))}")
    base = path.parent if path is not None else Path.cwd()

    g = r.table(data, "gateway")
    r.unknown(g, "gateway", {"support_address", "aliases", "name", "timezone", "secret_env",
                             "data_dir", "message_id_domain", "default_plan",
                             "unknown_senders", "non_contacts", "reopen_window", "language"})
    support = r.get(g, "gateway.support_address", "", parse_address)
    if "support_address" not in g:
        r.problems.append('gateway.support_address: missing; set it to the address customers '
                          'write to, like support_address = "support@example.com"')
    data_dir = base / r.get(g, "gateway.data_dir", "var", as_str)
    gateway = GatewaySettings(
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

    d = r.table(data, "database")
    r.unknown(d, "database", {"url"})
    default_url = f"sqlite:///{data_dir / 'helpdesk.sqlite3'}"
    url = r.get(d, "database.url", default_url, database_url)
    if url.startswith("sqlite:///") and not url.startswith("sqlite:////"):
        rel = url.removeprefix("sqlite:///")
        if rel and rel != ":memory:":
            url = f"sqlite:///{base / rel}"
    database = DatabaseSettings(url=url)

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
    smtp = SmtpSettings(
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

    o = r.table(data, "outbound")
    r.unknown(o, "outbound", {"transport", "host", "port", "security", "username",
                              "password_env", "directory", "from", "timeout", "retry_lifetime",
                              "max_per_address_per_hour", "max_per_ticket_per_hour", "ca_file",
                              "dkim_selector", "dkim_key_file", "dkim_domain", "helo_name"})
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
    )
    if transport == "smtp" and "host" not in o:
        r.problems.append('outbound.host: transport is "smtp" but no relay host is set; '
                          'set host = "smtp.example.com" or use transport = "directory"')

    p = r.table(data, "processing")
    r.unknown(p, "processing", {"poll_interval", "attachment_max_size",
                                "blocked_attachment_types", "parse_time_budget"})
    processing = ProcessingSettings(
        poll_interval=r.get(p, "processing.poll_interval", timedelta(seconds=1), parse_interval),
        attachment_max_size=r.get(p, "processing.attachment_max_size", 20 * 1000**2, parse_size),
        blocked_attachment_types=r.get(p, "processing.blocked_attachment_types",
                                       (".exe", ".scr", ".bat", ".cmd", ".com", ".pif", ".vbs",
                                        ".js", ".jar", ".msi"), as_types),
        parse_time_budget=r.get(p, "processing.parse_time_budget", timedelta(seconds=5),
                                parse_interval),
    )

    t = r.table(data, "templates")
    r.unknown(t, "templates", {"directory"})
    templates_dir = r.get(t, "templates.directory", None, as_str)

    sl = r.table(data, "sla")
    r.unknown(sl, "sla", {"sweep_interval"})
    sla = SlaSettings(sweep_interval=r.get(sl, "sla.sweep_interval", timedelta(seconds=30), parse_interval))

    policy = load_policy(data, default_plan=gateway.default_plan, default_timezone=gateway.timezone,
                         problems=r.problems)
    staff = load_staff(data, r.problems)
    rules = _rules(data, policy, staff, r.problems)
    escalation = load_escalation(data, staff, set(policy.plans), r.problems)
    if r.problems:
        raise ConfigError(r.problems)
    return Config(path=path, gateway=gateway, database=database, smtp=smtp, outbound=outbound,
                  processing=processing, templates_dir=(base / templates_dir) if templates_dir else None,
                  policy=policy, staff=staff, rules=rules, escalation=escalation, sla=sla,
                  raw=data)


def _rules(data: dict[str, Any], policy: Policy, staff: Staff, problems: list[str]) -> RuleSet:
    """The ``[[rules]]`` of the config with the shipped defaults, as ``[rule_set] mode`` says."""
    tables = rule_tables(data, problems)
    if not isinstance(tables, list):
        problems.append("rules: must be a list of tables, written [[rules]]")
        tables = []
    try:
        return compile_rules(tables, organisations=set(policy.directory.organisations), plans=set(policy.plans),
                             groups=staff.groups, contacts=set(staff.contacts))
    except RuleConfigError as exc:
        problems.extend(exc.problems)
        return compile_rules([], organisations=(), plans=(), groups=(), contacts=())


def config_path(explicit: str | None) -> Path | None:
    """``-c`` wins, then ``$HELPDESK_CONFIG``, then ``./config.toml`` if it exists."""
    if explicit:
        return Path(explicit)
    env = os.environ.get("HELPDESK_CONFIG")
    if env:
        return Path(env)
    default = Path(DEFAULT_CONFIG_NAME)
    return default if default.exists() else None
