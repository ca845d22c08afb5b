"""The configuration: one TOML file validated once, at start, into typed values.

Each section has its loader (``service``, ``outbound``, ``imap``, ``staff``, ``customers``, ``plans``,
``calendars``, ``escalation``, ``oncall``), all reading through the one ``Reader``.
"""

from __future__ import annotations

import os
import socket
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gateway.config.canned import CannedReply, load_canned
from gateway.config.digests import DigestSettings, load_digests
from gateway.config.escalation import EscalationSettings, load_escalation, read_notify
from gateway.config.incidents import IncidentSettings, load_incidents
from gateway.config.maintenance import MaintenanceSettings, load_maintenance
from gateway.config.outbound import OutboundSettings, load_outbound
from gateway.config.policy import Policy, load_policy, rule_tables
from gateway.config.reader import Reader, as_bool, as_port, as_str, env_name, one_of, read_ca_file
from gateway.config.service import (
    DatabaseSettings,
    GatewaySettings,
    ProcessingSettings,
    SlaSettings,
    SmtpSettings,
    load_database,
    load_gateway,
    load_processing,
    load_sla,
    load_smtp,
)
from gateway.config.staff import Staff, load_staff
from gateway.config.stages import with_stage_notify
from gateway.errors import ConfigError
from rules import RuleConfigError, RuleSet, compile_rules

__all__ = [
    "Config", "ConfigError", "DatabaseSettings", "GatewaySettings", "OutboundSettings", "ProcessingSettings",
    "Reader", "SlaSettings", "SmtpSettings", "as_bool", "as_port", "as_str", "config_path", "env_name",
    "load_config", "one_of", "read_ca_file", "runtime_problems",
]

DEFAULT_CONFIG_NAME = "config.toml"


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
    # Keys still read under an old name: check-config and run say what to rename.
    deprecations: tuple[str, ...] = ()
    digests: DigestSettings = field(default_factory=DigestSettings)
    incidents: IncidentSettings = field(default_factory=IncidentSettings)
    # [canned.NAME]: the replies engineers send with #reply NAME.
    canned: Mapping[str, CannedReply] = field(default_factory=dict)
    maintenance: MaintenanceSettings = field(default_factory=MaintenanceSettings)


# Sections that later capabilities read from ``Config.raw``; listed so typos are still caught.
_OTHER_SECTIONS = {"customers", "plans", "calendars", "rules", "rule_set", "contacts", "escalation",
                   "oncall", "engineers", "agents", "imap", "sla", "templates", "screening", "metrics", "logging",
                   "canned", "digests", "incidents", "maintenance"}
_SECTIONS = {"gateway", "database", "smtp", "outbound", "processing"} | _OTHER_SECTIONS


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


def load_config(path: Path | None, *, text: str | None = None, add: dict[str, Any] | None = None) -> Config:
    """Read and validate the config; raise ConfigError listing every problem found. ``add`` (a
    scenario's own tables) is merged in first: its lists extend the file's, its tables merge."""
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
    return _build(path, _merged(data, add) if add else data)


def _merged(data: dict[str, Any], add: dict[str, Any]) -> dict[str, Any]:
    out = dict(data)
    for key, value in add.items():
        if isinstance(value, list) and isinstance(out.get(key), list):
            out[key] = [*out[key], *value]
        elif isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merged(out[key], value)
        else:
            out[key] = value
    return out


def _build(path: Path | None, data: dict[str, Any]) -> Config:
    r = Reader()
    for key in data:
        if key not in _SECTIONS:
            r.problems.append(f"{key}: unknown section; the sections are {', '.join(sorted(_SECTIONS))}")
    base = path.parent if path is not None else Path.cwd()
    gateway = load_gateway(r, data, base)
    database = load_database(r, data, base, gateway.data_dir)
    smtp = load_smtp(r, data, base)
    outbound = load_outbound(r, data, base, gateway)
    processing = load_processing(r, data)
    t = r.table(data, "templates")
    r.unknown(t, "templates", {"directory"})
    templates_dir = r.get(t, "templates.directory", None, as_str)
    sla = load_sla(r, data)
    policy = load_policy(r, data, default_plan=gateway.default_plan, default_timezone=gateway.timezone)
    deprecations: list[str] = []
    staff = load_staff(r, data, deprecations)
    rules = _rules(r, data, policy, staff)
    escalation = load_escalation(r, data, staff, policy.plans)
    managers = any(o.account_manager for o in policy.directory.organisations.values())
    policy = with_stage_notify(policy, lambda where, value: read_notify(r, where, value, staff, escalation.oncall,
                                                                        managers))
    digests = load_digests(r, data, staff, policy, escalation.oncall)
    incidents = load_incidents(r, data, policy, staff, escalation.oncall)
    canned = load_canned(r, data)
    maintenance = load_maintenance(r, data, policy)
    if r.problems:
        raise ConfigError(r.problems)
    return Config(path=path, gateway=gateway, database=database, smtp=smtp, outbound=outbound,
                  processing=processing, templates_dir=(base / templates_dir) if templates_dir else None,
                  policy=policy, staff=staff, rules=rules, escalation=escalation, sla=sla,
                  raw=data, deprecations=tuple(deprecations), digests=digests, incidents=incidents,
                  canned=canned, maintenance=maintenance)


def _rules(r: Reader, data: dict[str, Any], policy: Policy, staff: Staff) -> RuleSet:
    """The ``[[rules]]`` of the config with the shipped defaults, as ``[rule_set] mode`` says."""
    try:
        return compile_rules(rule_tables(r, data), organisations=set(policy.directory.organisations),
                             plans=set(policy.plans), groups=staff.groups, contacts=set(staff.contacts))
    except RuleConfigError as exc:
        r.problems.extend(exc.problems)
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
