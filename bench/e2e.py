"""Benchmark: a customer's mail end to end, through the real listener, against a bare SMTP server.

    .venv/bin/python -m bench.e2e [--mails 2000] [--clients 1,8] [--workers 0,1] [--database sqlite|postgresql]
                                  [--transports directory,relay] [--engineers] [--no-django]

A support corpus (70% new requests, 20% quoted replies to one of them, 10% requests with an
attachment) is sent by 1, then 8 concurrent SMTP clients (processes of their own; a thread's mails
by one client, in order) to:
  (a) aiosmtpd with its no-op handler (Sink), measured before and after the gateway; the mean is
      the reference "bare" rate;
  (b) `helpdesk run` (config.example.toml: SQLite, WAL, synchronous=FULL; the loop guard's
      per-address cap raised so every request is answered; its two example engineers left out
      unless --engineers, which has them told of every new ticket and reply, 2.5 more mails per
      mail), acknowledgements written as .eml files by the directory transport (each fsynced);
  (c) the same, acknowledgements sent to an aiosmtpd relay in a process of its own;
and, once, (d) django-helpdesk's own per-message ingest function (helpdesk.email.extract_email_metadata)
on the same corpus in a venv of its own, Django on SQLite, no SMTP at all.
The gateway's figure is mails / (first mail sent -> last acknowledgement written or received).
Each gateway run is repeated for each --workers count ([processing] workers: 0 does everything in
the listener's process; N > 0 has N worker processes process and send beside it); its CPU is the
listener's and its workers'. --database postgresql gives each run a fresh database on the local
server: with --workers 1,2,4 that is the scale-out measurement.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import django_helpdesk
from bench.e2e_harness import fresh_dir, support_corpus
from bench.e2e_run import RunResult, bare, through_gateway
from bench.history import create_database, drop_database


def describe_corpus(mails: list) -> str:  # type: ignore[type-arg]
    new = sum(1 for m in mails if m.new)
    attached = sum(1 for m in mails if m.new and b"filename=" in m.raw)
    return (f"{len(mails)} mails: {new - attached} requests, {len(mails) - new} quoted replies, "
            f"{attached} requests with an attachment; {new} acknowledgements expected")


def check(result: RunResult, expected: int) -> str:
    """Every mail stored and processed, every request acknowledged once; else what is wrong."""
    c = result.counts
    problems = []
    stored = sum(n for k, n in c.items() if k.startswith("inbound "))
    if stored != result.mails:
        problems.append(f"{stored} inbound rows for {result.mails} mails")
    if c.get("inbound pending", 0):
        problems.append(f"{c['inbound pending']} still pending")
    acks = sum(n for k, n in c.items() if k.startswith("outbox acknowledgement "))
    if acks != expected:
        problems.append(f"{acks} acknowledgement rows, {expected} expected")
    if c.get("tickets acknowledged twice") or result.repeats:
        problems.append(f"{c.get('tickets acknowledged twice')} tickets acknowledged twice, "
                        f"{result.repeats} acknowledgements seen twice")
    return "ok" if not problems else "PROBLEM: " + "; ".join(problems)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mails", type=int, default=2000)
    parser.add_argument("--clients", default="1,8", help="comma-separated client counts (default 1,8)")
    parser.add_argument("--workers", default="0,1",
                        help="comma-separated [processing] workers to run with (default 0,1: all in the listener's "
                             "process, then one worker process beside it)")
    parser.add_argument("--database", choices=["sqlite", "postgresql"], default="sqlite",
                        help="postgresql: a fresh database per run on the local server (bench/history.py's)")
    parser.add_argument("--transports", default="directory,relay", help="directory, relay or both (default)")
    parser.add_argument("--engineers", action="store_true", help="keep the example engineers (notified of all)")
    parser.add_argument("--no-django", action="store_true", help="leave out django-helpdesk")
    parser.add_argument("--django-venv", type=Path, default=django_helpdesk.DEFAULT_VENV)
    parser.add_argument("--workdir", type=Path, help="keep the runs' files here (default: a temporary directory)")
    args = parser.parse_args()
    mails = support_corpus(args.mails)
    expected = sum(1 for m in mails if m.new)
    print(f"corpus: {describe_corpus(mails)}; engineers notified: {'yes' if args.engineers else 'no'}; "
          f"database: {args.database}")
    with tempfile.TemporaryDirectory(prefix="helpdesk-e2e-") as tmp:
        base = args.workdir or Path(tmp)
        rows: list[tuple[str, int, float]] = []
        for clients in (int(c) for c in args.clients.split(",")):
            before = bare(mails, clients, base)
            runs = [(f"{name}, {workers} worker{'s' if workers != 1 else ''}",
                     _run(mails, clients, base, name, workers, args)) for workers in _counts(args.workers)
                    for name in args.transports.split(",")]
            after = bare(mails, clients, base)
            reference = (before.rate + after.rate) / 2
            print(f"\n{clients} SMTP client{'s' if clients > 1 else ''}:")
            print(f"  bare aiosmtpd, no-op handler        {reference:8.1f} mails/s"
                  f"  (before {before.rate:.1f}, after {after.rate:.1f})")
            for name, result in runs:
                rows.append((name, clients, result.rate))
                print(f"  helpdesk run, {name:22}{result.rate:8.1f} mails/s  ratio {result.rate / reference:5.3f}"
                      f"   (CPU {result.cpu_ms_per_mail:.1f} ms a mail; 250 to all at {result.accept_rate:.1f} mails/s;"
                      f" {result.acks} acknowledgements"
                      f" + {result.staff_mails} staff mails; 250->ack p50 {result.percentile(0.5) or 0:.2f}s"
                      f" p99 {result.percentile(0.99) or 0:.2f}s; {check(result, expected)})\n"
                      f"  {'':36}{result.share_ms()}", flush=True)
        if not args.no_django:
            _django(mails, args.django_venv, rows)


def _counts(text: str) -> list[int]:
    return [int(c) for c in text.split(",")]


def _run(mails: list, clients: int, base: Path, transport: str, workers: int,  # type: ignore[type-arg]
         args: argparse.Namespace) -> RunResult:
    relay = transport == "relay"
    name = f"gateway-{transport}-{clients}-{workers}"
    url = create_database(args.database, fresh_dir(base, name), f"bench_e2e_{clients}_{workers}_{transport}") \
        if args.database == "postgresql" else None
    try:
        return through_gateway(mails, clients, base, relay=relay, name=name, db_url=url, engineers=args.engineers,
                               workers=workers, work=base / name if url else None)
    finally:
        if url:
            drop_database(url)


def _django(mails: list, venv: Path, rows: list[tuple[str, int, float]]) -> None:  # type: ignore[type-arg]
    print("\ndjango-helpdesk, its per-message ingest function on the same corpus (no SMTP):")
    dj = django_helpdesk.measure(mails, venv)
    if dj.rate is None:
        print(f"  {dj.detail}")
        return
    print(f"  extract_email_metadata              {dj.rate:8.1f} mails/s  ({dj.detail})")
    for name, clients, rate in rows:
        print(f"  helpdesk run, {name}, {clients} client(s): {rate / dj.rate:5.2f}x django-helpdesk")


if __name__ == "__main__":
    main()
