"""Benchmark: does a mail, or a command, cost more when the database holds years of history?

    .venv/bin/python -m bench.history [--tickets 1000000] [--small 1000] [--database sqlite,postgresql]

A template of --small tickets is made by `helpdesk run` itself (a request, its acknowledgement, a
quoted reply: three messages per ticket). A small database holds that template alone; a large one
holds --tickets tickets: clones of it as closed history spread over three years (bench/history_seed.py),
then the template, unchanged but for its ids. On each, with the gateway's statements traced in its
own process (bench/sqltrace):
  - `tickets show` (a recent ticket), `tickets at-risk`, `report sla` for the last 30 days (the same
    recent tickets in both: the history ends a month before them): the median wall and CPU time of
    three runs;
  - the end-to-end figure of bench/e2e.py (one client, directory transport, acknowledgements only)
    for its corpus with, after every tenth mail, one probe: a reply to a recent ticket, a "[#N]"
    follow-up without thread headers (the participant check), a second copy of a request under
    another envelope (dedupe), a reply to a message of the history (which the small database never had);
  - the mean time (to its first row) of the statements behind the threading lookup, dedupe and
    participant check, and of every statement that grew.
Then every statement seen is EXPLAINed on the large database; those that scan a table are listed.
"""

from __future__ import annotations

import argparse
import shutil
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import create_engine, text

from bench.e2e_harness import Mail, fresh_dir, helpdesk, support_corpus, write_config
from bench.e2e_run import through_gateway
from bench.history_ops import OPERATIONS, Trace, explain, short, table_sizes, timed_command, trace_env
from bench.history_probes import probes, template_corpus
from bench.history_seed import TABLES, seed

PG_SERVER = "postgresql+psycopg://postgres@127.0.0.1:5432"


def schema_head(base: Path) -> str:
    """The schema revision this helpdesk migrates to (a template made at another is made again)."""
    work = fresh_dir(base, "head")
    helpdesk(write_config(work, smtp_port=1), "db", "upgrade")
    with sqlite3.connect(work / "var" / "helpdesk.sqlite3") as conn:
        return str(conn.execute("SELECT version_num FROM alembic_version").fetchone()[0])


def make_template(base: Path, tickets: int) -> Path:
    """The database `helpdesk run` writes for ``tickets`` requests and a reply to each (kept in base)."""
    done = base / f"template-{tickets}-{schema_head(base)}.sqlite3"
    if done.exists():
        return done
    print(f"making the template: {tickets} tickets through helpdesk run ...", flush=True)
    work = fresh_dir(base, "template")
    result = through_gateway(template_corpus(tickets), 1, base, relay=False, work=work, engineers=False)
    print(f"  {result.rate:.1f} mails/s; {result.counts}")
    shutil.copy(work / "var" / "helpdesk.sqlite3", done)
    return done


def create_database(backend: str, work: Path, name: str) -> str:
    if backend == "sqlite":
        return f"sqlite:///{work}/var/helpdesk.sqlite3"
    admin = create_engine(f"{PG_SERVER}/postgres", isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f"DROP DATABASE IF EXISTS {name}"))
        conn.execute(text(f"CREATE DATABASE {name}"))
    admin.dispose()
    return f"{PG_SERVER}/{name}"


def drop_database(url: str) -> None:
    if not url.startswith("postgresql"):
        return
    admin = create_engine(f"{PG_SERVER}/postgres", isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f"DROP DATABASE IF EXISTS {url.rsplit('/', 1)[1]} WITH (FORCE)"))
    admin.dispose()


def add_indexes(url: str, statements: list[str]) -> None:
    engine = create_engine(url)
    with engine.begin() as conn:
        for statement in statements:
            conn.execute(text(statement))
        if statements and not url.startswith("sqlite"):
            conn.execute(text("ANALYZE"))
    engine.dispose()


def recent_tickets(url: str, limit: int) -> list[tuple[int, str, str, str]]:
    """(ticket, customer, its request's Message-ID, subject) of the newest tickets."""
    engine = create_engine(url)
    with engine.connect() as conn:
        rows = conn.execute(text(
            "SELECT t.id, t.customer_address, m.message_id, t.subject FROM tickets t "
            "JOIN messages m ON m.id = (SELECT min(id) FROM messages WHERE ticket_id = t.id) "
            "WHERE t.id > (SELECT max(id) FROM tickets) - :n ORDER BY t.id"), {"n": limit}).all()
    engine.dispose()
    return [(int(r[0]), r[1], r[2], r[3]) for r in rows]


def measure(label: str, url: str, work: Path, mails: list[Mail], report: tuple[str, str]) -> dict:  # type: ignore[type-arg]
    config = write_config(work, smtp_port=1, db_url=url)
    recent = recent_tickets(url, 1)[0][0]
    out: dict = {"commands": {}, "traces": {}}  # type: ignore[type-arg]
    commands = {"tickets show": ["tickets", "show", str(recent)], "tickets at-risk": ["tickets", "at-risk"],
                "report sla (30 days)": ["report", "sla", "--from", report[0], "--to", report[1]]}
    for name, args in commands.items():
        wall, cpu, trace, failed = timed_command(config, args, work / f"trace-{name.split()[1]}")
        out["commands"][name] = (wall, cpu, failed)
        out["traces"][name] = trace
        print(f"  {label}: {name}: {wall:.2f}s wall, {cpu:.2f}s CPU {'FAILED ' + failed if failed else ''}",
              flush=True)
    prefix = work / "trace-run"
    expected = sum(1 for m in mails if m.new)
    result = through_gateway(mails, 1, work, relay=False, work=work, db_url=url, expected=expected,
                             env=trace_env(prefix), stall=600, engineers=False)
    out["e2e"] = result
    out["traces"]["run"] = Trace.load(prefix)
    print(f"  {label}: end to end {result.rate:.1f} mails/s (250 to all at {result.accept_rate:.1f}/s)", flush=True)
    return out


def compare(small: dict, large: dict, n_small: int, n_large: int) -> None:  # type: ignore[type-arg]
    print(f"\n  {'':34}{f'{n_small:,} tickets':>16}{f'{n_large:,} tickets':>18}   ratio (<= 2 wanted)")
    s, big = small["e2e"], large["e2e"]
    print(f"  {'end to end, mails/s':34}{s.rate:16.1f}{big.rate:18.1f}   {big.rate / s.rate:5.2f} (>= 0.8 wanted)")
    print(f"  {'  its CPU, ms a mail':34}{s.cpu_ms_per_mail:16.2f}{big.cpu_ms_per_mail:18.2f}   "
          f"{big.cpu_ms_per_mail / s.cpu_ms_per_mail:5.2f}")
    for name in small["commands"]:
        (w1, c1, f1), (w2, c2, f2) = small["commands"][name], large["commands"][name]
        print(f"  {name + ', wall s':34}{w1:16.2f}{w2:18.2f}   {w2 / w1:5.2f}   (CPU {c1:.2f}s -> {c2:.2f}s,"
              f" {c2 / c1:.2f}x){' FAILED: ' + (f2 or f1) if f1 or f2 else ''}")
    for name in OPERATIONS:
        a, b = small["traces"]["run"].operation(name), large["traces"]["run"].operation(name)
        if a is None or b is None:
            print(f"  {name:34}{'not run' if a is None else f'{a.mean_us:.0f} us':>16}"
                  f"{'not run' if b is None else f'{b.mean_us:.0f} us':>18}")
            continue
        print(f"  {name + ', per call':34}{f'{a.mean_us:.0f} us':>16}{f'{b.mean_us:.0f} us':>18}   "
              f"{b.mean_us / a.mean_us:5.2f}   ({a.count} and {b.count} calls)")
    print("  statements that grew most (mean per call to its first row, small -> large):")
    for trace in small["traces"]:
        a, b = small["traces"][trace], large["traces"][trace]
        grown = sorted(((st.mean_us / a.statements[k].mean_us, k, st) for k, st in b.statements.items()
                        if k in a.statements and a.statements[k].mean_us > 0 and st.seconds > 0.002), reverse=True)
        for ratio, key, st in grown[:5 if trace == "run" else 2]:
            if ratio >= 1.5:
                print(f"    {trace:15} {ratio:6.2f}x {a.statements[key].mean_us:9.0f} -> {st.mean_us:9.0f} us "
                      f"x{st.count:<5} {short(key, 90)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tickets", type=int, default=1_000_000)
    parser.add_argument("--small", type=int, default=1000)
    parser.add_argument("--mails", type=int, default=1000, help="the end-to-end corpus (plus a probe every tenth)")
    parser.add_argument("--database", default="sqlite,postgresql")
    parser.add_argument("--workdir", type=Path, help="keep the databases here (default: a temporary directory)")
    parser.add_argument("--with-index", action="append", default=[], metavar="SQL",
                        help="a CREATE INDEX run on both databases after seeding (to try an index before "
                             "its migration is written); may be given more than once")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="helpdesk-history-") as tmp:
        base = args.workdir or Path(tmp)
        base.mkdir(parents=True, exist_ok=True)
        template = make_template(base, args.small)
        now = time.time()
        report = (time.strftime("%Y-%m-%d", time.gmtime(now - 30 * 86400)),
                  time.strftime("%Y-%m-%d", time.gmtime(now + 86400)))
        for backend in args.database.split(","):
            print(f"\n{backend}:")
            results, urls = {}, {}
            for label, size in (("small", args.small), ("large", args.tickets)):
                work = fresh_dir(base, f"{backend}-{label}")
                url = create_database(backend, work, f"helpdesk_history_{label}")
                config = write_config(work, smtp_port=1, db_url=url)
                helpdesk(config, "db", "upgrade")
                took = seed(url, template, size)
                add_indexes(url, args.with_index)
                sizes = table_sizes(url, ("tickets", "messages", "events", "inbound_messages", "outbox"))
                print(f"  {label}: seeded in {took:.0f}s: {', '.join(f'{v:,} {k}' for k, v in sizes.items())}",
                      flush=True)
                copies = args.tickets // args.small - 1
                mails = probes(support_corpus(args.mails), recent_tickets(url, args.small), copies)
                results[label], urls[label] = measure(label, url, work, mails, report), url
            compare(results["small"], results["large"], args.small, args.tickets)
            statements = {}
            for trace in results["large"]["traces"].values():
                statements.update(trace.statements)
            big = {t for t, n in table_sizes(urls["large"], TABLES).items() if n >= 10_000}
            scans = explain(urls["large"], statements, big)
            print(f"\n  statements whose plan scans a table of 10,000 rows or more on the large database ({backend}):"
                  f" {len(scans)}")
            for scan in scans:
                print(f"  - {short(scan.sql)}\n      plan: {scan.plan.replace(chr(10), ' | ')}")
            for url in urls.values():
                drop_database(url)


if __name__ == "__main__":
    main()
