"""The statements the gateway runs, as traced by bench/sqltrace in its own process: grouped into the
operations a mail or a command costs, timed, and EXPLAINed to find those that read a whole table."""

from __future__ import annotations

import json
import os
import re
import resource
import statistics
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import Engine, create_engine, text

from bench.e2e_harness import BENCH, helpdesk_command

TRACE_DIR = BENCH / "sqltrace"
_ONE = r"(?:\?|%\(\w+\)s(?:::\w+)?)"
_PLACEHOLDERS = re.compile(rf"\({_ONE}(?:,\s*{_ONE})*\)")
_SELECT_LIST = re.compile(r"SELECT ((?:(?!SELECT|FROM).){60,}?) FROM")
_SPACES = re.compile(r"\s+")

# The operations the history benchmark reports, by the statement that does each.
OPERATIONS = {
    "threading lookup": re.compile(r"SELECT messages\.ticket_id\s+FROM messages\s+WHERE messages\.message_id IN", re.I),
    "dedupe": re.compile(r"FROM inbound_messages\s+WHERE inbound_messages\.dedupe_key =", re.I),
    "participant check": re.compile(r"FROM participants\s+WHERE participants\.ticket_id = \S+ AND "
                                    r"participants\.address =", re.I),
    "repeat lookup": re.compile(r"FROM tickets\s+WHERE tickets\.repeat_key =", re.I),
    "listener: stored already?": re.compile(r"FROM inbound_messages\s+WHERE inbound_messages\.source_key IN", re.I),
    "outbox: once per cause + loop guard": re.compile(r"SELECT \(SELECT outbox\.id FROM outbox WHERE "
                                                      r"outbox\.cause_key = .*count\(outbox\.id\)", re.I),
}


def trace_env(prefix: Path) -> dict[str, str]:
    """The environment that makes a `helpdesk` process write its statements to ``prefix``.<pid>.json."""
    path = os.environ.get("PYTHONPATH")
    return {"PYTHONPATH": f"{TRACE_DIR}{os.pathsep}{path}" if path else str(TRACE_DIR),
            "HELPDESK_SQLTRACE": str(prefix)}


def normalise(sql: str) -> str:
    return _SPACES.sub(" ", _PLACEHOLDERS.sub("(…)", sql)).strip()


def short(sql: str, limit: int = 400) -> str:
    """A normalised statement for a report: long column lists elided."""
    text = _SELECT_LIST.sub("SELECT … FROM", sql)
    return text if len(text) <= limit else text[:limit] + " …"


@dataclass
class Statement:
    sql: str  # one of its texts as run (placeholders as the driver wants them)
    params: object
    count: int = 0
    seconds: float = 0.0

    @property
    def mean_us(self) -> float:
        return 1e6 * self.seconds / self.count if self.count else 0.0


@dataclass
class Trace:
    statements: dict[str, Statement] = field(default_factory=dict)  # normalised SQL -> totals

    def add(self, rows: list[dict]) -> None:  # type: ignore[type-arg]
        for row in rows:
            key = normalise(row["sql"])
            st = self.statements.setdefault(key, Statement(row["sql"], row["params"]))
            st.count += row["count"]
            st.seconds += row["seconds"]

    @classmethod
    def load(cls, prefix: Path) -> Trace:
        trace = cls()
        for path in prefix.parent.glob(prefix.name + ".*.json"):
            trace.add(json.loads(path.read_text()))
        return trace

    @property
    def seconds(self) -> float:
        return sum(s.seconds for s in self.statements.values())

    def operation(self, name: str) -> Statement | None:
        found = [s for k, s in self.statements.items() if OPERATIONS[name].search(k)]
        if not found:
            return None
        total = Statement(found[0].sql, found[0].params)
        total.count, total.seconds = sum(s.count for s in found), sum(s.seconds for s in found)
        return total


def timed_command(config: Path, args: list[str], prefix: Path, runs: int = 3) -> tuple[float, float, Trace, str]:
    """The median wall and CPU (user + system) seconds of ``helpdesk args`` over ``runs`` runs, the
    statements of the last run (traced), and what it said on failure ("" when it succeeded)."""
    walls: list[float] = []
    cpus: list[float] = []
    for i in range(runs):
        traced = prefix.with_name(f"{prefix.name}-{i}")
        env = {**os.environ, **trace_env(traced)}
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        t0 = time.perf_counter()
        result = subprocess.run([*helpdesk_command(), "-c", str(config), *args], capture_output=True, env=env,
                                cwd="/", timeout=7200)
        walls.append(time.perf_counter() - t0)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpus.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
        if result.returncode != 0:
            lines = result.stderr.decode(errors="replace").strip().splitlines() or ["(nothing on stderr)"]
            said = next((line for line in reversed(lines) if "Error" in line), lines[-1])
            return walls[-1], cpus[-1], Trace.load(traced), f"exit {result.returncode}: {said[:300]}"
        if walls[0] > 60:  # one run of a slow command says enough
            break
    return statistics.median(walls), statistics.median(cpus), Trace.load(traced), ""


# Plans that read a whole table (or a whole index of it) row by row; on SQLite also a search of an
# index by a range alone (``ticket_id>?`` is how SQLite reads "ticket_id IS NOT NULL": every row).
_SQLITE_SCAN = re.compile(r"\bSCAN (\w+)[^\n]*"
                          r"|\bSEARCH (\w+) USING (?:COVERING )?INDEX \w+ \(\w+[<>]\?(?: AND \w+[<>]\?)?\)")
_PG_SCAN = re.compile(r"Seq Scan on (\w+)")
_NOT_NULL_ONLY = re.compile(r"Index Cond: \(\w+ IS NOT NULL\)\s*$")
_PG_INDEX_SCAN = re.compile(r"Index (?:Only )?Scan(?: Backward)? using \w+ on (\w+)")


def _pg_full_index_scans(plan: str, partial: set[str]) -> set[str]:
    """Tables read through a whole index (an index scan with no Index Cond: every entry, in order)."""
    found: set[str] = set()
    lines = plan.splitlines()
    for i, line in enumerate(lines):
        match = _PG_INDEX_SCAN.search(line)
        if not match or _through_partial(match.group(0), partial):
            continue
        details = []
        for below in lines[i + 1:]:
            if "->" in below:
                break
            details.append(below)
        # "ticket_id IS NOT NULL" bounds nothing: the whole index is read, as with no condition at all.
        if not any("Index Cond" in d and not _NOT_NULL_ONLY.search(d) for d in details):
            found.add(match.group(1))
    return found


@dataclass(frozen=True, slots=True)
class Scan:
    sql: str
    plan: str
    tables: tuple[str, ...]


def explain(url: str, statements: dict[str, Statement], big_tables: set[str]) -> list[Scan]:
    """Every statement whose plan scans one of ``big_tables`` (or sorts rows it read from one)."""
    engine = create_engine(url)
    found: list[Scan] = []
    partial = _partial_indexes(engine)
    raw = engine.raw_connection()
    try:
        cur = raw.cursor()
        sqlite = engine.dialect.name == "sqlite"
        for key, st in statements.items():
            head = key.split(" ", 1)[0].upper()
            if head not in ("SELECT", "UPDATE", "DELETE", "WITH") or st.params is None:
                continue
            try:
                cur.execute(("EXPLAIN QUERY PLAN " if sqlite else "EXPLAIN ") + st.sql, st.params)
                rows = cur.fetchall()
            except Exception as exc:  # a statement whose sample parameters do not fit EXPLAIN: say so
                found.append(Scan(key, f"(EXPLAIN failed: {exc.__class__.__name__})", ()))
                raw.rollback()
                continue
            plan = "\n".join(str(r[-1] if sqlite else r[0])[:160] for r in rows)
            pattern = _SQLITE_SCAN if sqlite else _PG_SCAN
            scanned = {g for m in pattern.finditer(plan) for g in m.groups() if g
                       and not (sqlite and _first_rows_only(m.group(0), key))
                       and not _through_partial(m.group(0), partial)}
            if not sqlite and " LIMIT " not in key:
                scanned |= _pg_full_index_scans(plan, partial)
            tables = tuple(sorted(scanned & big_tables))
            if tables:
                found.append(Scan(key, plan, tables))
        raw.rollback()
    finally:
        raw.close()
        engine.dispose()
    return found


def _partial_indexes(engine: Engine) -> set[str]:
    """Indexes with a WHERE: reading all of one reads what it holds (the running clocks), not the table."""
    query = ("SELECT name FROM sqlite_master WHERE type = 'index' AND sql LIKE '% WHERE %'"
             if engine.dialect.name == "sqlite" else "SELECT indexname FROM pg_indexes WHERE indexdef LIKE '% WHERE %'")
    with engine.connect() as conn:
        return {str(name) for (name,) in conn.execute(text(query))}


def _through_partial(step: str, partial: set[str]) -> bool:
    return any(f"INDEX {name}" in step or f"using {name} " in step for name in partial)


def _first_rows_only(step: str, sql: str) -> bool:
    """A range search on the column the statement orders by, with a LIMIT: it reads what it returns."""
    found = re.search(r"\((\w+)[<>]\?\)", step)
    return bool(found and re.search(rf"ORDER BY \w+\.{found.group(1)} LIMIT", sql))


def table_sizes(url: str, tables: tuple[str, ...]) -> dict[str, int]:
    engine = create_engine(url)
    with engine.connect() as conn:
        sizes = {t: int(conn.scalar(text(f"SELECT count(*) FROM {t}")) or 0) for t in tables}
    engine.dispose()
    return sizes
