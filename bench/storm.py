"""Benchmark: a storm of mail in one burst through the listener, drained to an SMTP relay.

    .venv/bin/python -m bench.storm [--mails 20000] [--clients 8] [--alerts 0.3] [--workers N]
                                    [--sessions N] [--relay-delay SECONDS]

A mass outage: --clients concurrent SMTP clients send, as fast as the listener answers, mail from
distinct customers (a request each, then a quoted reply to it) and, for the --alerts share, a
monitoring system in a loop (one address, a new number in the subject each time: its first five
open tickets, the rest join the fifth as repeats, [processing] repeats_after). `helpdesk run` (config.example.toml
as shipped, loop guard included: 5 automatic mails an hour to one address) hands its acknowledgements
to an aiosmtpd relay in a process of its own. Reported:
  - the rate the listener answered 250, and the time until the last acknowledgement reached the relay;
  - the time from each mail's 250 to its acknowledgement reaching the relay, p50/p99/max;
  - the gateway's resident memory and the inbound backlog over time (is memory bounded by the
    backlog?);
  - what the database holds: every mail stored and processed, one acknowledgement per ticket (sent,
    or suppressed by the loop guard for the monitoring address), none delivered twice.
On loopback the relay answers at once; --relay-delay has it take that long for each mail, as one
across a network does, and --sessions sets [outbound] sessions, the mails handed to it at once.
"""

from __future__ import annotations

import argparse
import random
import sqlite3
import sys
import tempfile
import threading
import time
from email.message import EmailMessage
from email.policy import SMTP as SMTP_POLICY
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.corpus_gen import LINES, SUBJECTS
from bench.e2e_harness import SUPPORT, Mail, fresh_dir
from bench.e2e_run import through_gateway

SHIPPED_CAP = 5  # config.example.toml: max_per_address_per_hour
SHIPPED_REPEATS_AFTER = 5  # config.example.toml: [processing] repeats_after (in the hour)


def storm_corpus(n: int, alerts: float, seed: int = 13) -> list[Mail]:
    """Customers' requests each followed (later) by a reply, and a monitoring loop's alerts, interleaved."""
    rnd = random.Random(seed)
    n_alerts = int(n * alerts)
    customers = (n - n_alerts) // 2
    out: list[Mail] = []
    for i in range(customers):
        sender = f"ops{i}@tenant{i % 500}.example"
        subject = f"{rnd.choice(SUBJECTS)} ({i})"
        mid = f"<storm{i}.{rnd.getrandbits(32)}@tenant{i % 500}.example>"
        body = "Since 09:02 nothing works for any of our users.\n" + "\n".join(rnd.choice(LINES) for _ in range(4))
        out.append(Mail(i, True, mid, sender, _mail(sender, subject, body, mid)))
        rid = f"<stormr{i}.{rnd.getrandbits(32)}@tenant{i % 500}.example>"
        quoted = "\n".join("> " + line for line in body.splitlines())
        reply = f"Still down. Any news?\n\nOn Monday, Support wrote:\n{quoted}\n"
        out.append(Mail(i, False, rid, sender, _mail(sender, "Re: " + subject, reply, rid, mid)))
    monitor = "alerts@monitoring.example"
    for j in range(n - 2 * customers):
        mid = f"<alert{j}.{rnd.getrandbits(32)}@monitoring.example>"
        body = f"CRITICAL: host db{j % 40}.prod is unreachable (check {j})\n"
        out.append(Mail(customers + 1, True, mid, monitor, _mail(monitor, f"ALERT {j}: db{j % 40} down", body, mid)))
    return out


def _mail(sender: str, subject: str, body: str, mid: str, in_reply_to: str | None = None) -> bytes:
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = sender, SUPPORT, subject
    msg["Date"], msg["Message-ID"] = "Mon, 07 Dec 2026 09:05:00 +0000", mid
    if in_reply_to:
        msg["In-Reply-To"] = msg["References"] = in_reply_to
    msg.set_content(body)
    return msg.as_bytes(policy=SMTP_POLICY)


class Backlog(threading.Thread):
    """Every second: mails stored so far, still pending, outbox rows sent (read-only, beside the gateway)."""

    def __init__(self, db: Path) -> None:
        super().__init__(daemon=True)
        self.db, self.samples = db, []  # (monotonic, stored, pending, sent)
        self.stopping = threading.Event()

    def run(self) -> None:
        conn = None
        while not self.stopping.wait(1.0):
            try:
                conn = conn or sqlite3.connect(f"file:{self.db}?mode=ro", uri=True, timeout=5)
                stored = conn.execute("SELECT count(*) FROM inbound_messages").fetchone()[0]
                pending = conn.execute("SELECT count(*) FROM inbound_messages WHERE state = 'pending'").fetchone()[0]
                sent = conn.execute("SELECT count(*) FROM outbox WHERE state = 'sent'").fetchone()[0]
                self.samples.append((time.monotonic(), stored, pending, sent))
            except sqlite3.Error:
                continue

    def drained(self, mails: int) -> bool:
        """The last sample saw every mail stored and none pending."""
        return bool(self.samples) and self.samples[-1][1] == mails and not self.samples[-1][2]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mails", type=int, default=20_000)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--alerts", type=float, default=0.3, help="share of the mails from the monitoring loop")
    parser.add_argument("--workdir", type=Path)
    parser.add_argument("--workers", type=int, default=0, help="[processing] workers (default 0: one process)")
    parser.add_argument("--sessions", type=int, default=1, help="[outbound] sessions (default 1)")
    parser.add_argument("--relay-delay", type=float, default=0.0,
                        help="seconds the relay takes to answer each mail, as across a network (default 0)")
    args = parser.parse_args()
    mails = storm_corpus(args.mails, args.alerts)
    tickets = sum(1 for m in mails if m.new)
    alerts = sum(1 for m in mails if m.sender.startswith("alerts@"))
    # The alerts have one subject shape: the first five open tickets, the rest join the fifth as repeats.
    alert_tickets = min(alerts, SHIPPED_REPEATS_AFTER)
    tickets -= alerts - alert_tickets
    expected = tickets - alert_tickets + min(alert_tickets, SHIPPED_CAP)
    print(f"storm: {len(mails)} mails from {args.clients} clients: {tickets - alert_tickets} customers (a request "
          f"and a reply each), {alerts} alerts from one monitoring address ({alert_tickets} tickets, the rest "
          f"repeats on the last of them); {expected} acknowledgements expected at the relay (the loop guard lets "
          f"{SHIPPED_CAP} an hour through to one address)")
    with tempfile.TemporaryDirectory(prefix="helpdesk-storm-") as tmp:
        work = fresh_dir(args.workdir or Path(tmp), "storm")
        backlog = Backlog(work / "var" / "helpdesk.sqlite3")
        backlog.start()
        result = through_gateway(mails, args.clients, work, relay=True, work=work, per_address_cap=None,
                                 workers=args.workers, sessions=args.sessions, relay_delay=args.relay_delay,
                                 expected=expected, stall=300, engineers=False,
                                 settled=lambda: backlog.drained(len(mails)))
        backlog.stopping.set()
    rss, t0 = result.rss, result.started
    print(f"  250 to every mail after {result.accept_seconds:.1f}s ({result.accept_rate:.1f} mails/s, "
          f"{result.retried} answers 4xx and tried again)")
    drained = next((at - t0 for at, n, pending, _ in backlog.samples if n == len(mails) and not pending), None)
    print(f"  last acknowledgement at the relay after {result.seconds:.1f}s; every mail processed after "
          f"{drained or float('nan'):.0f}s (sampled each second); helpdesk run used {result.cpu_ms_per_mail:.1f} ms"
          f" of CPU a mail")
    p50, p99 = result.percentile(0.5) or 0, result.percentile(0.99) or 0
    print(f"  250 -> acknowledgement at the relay: p50 {p50:.1f}s, p99 {p99:.1f}s,"
          f" max {max(result.latencies, default=0):.1f}s ({len(result.latencies)} acknowledgements)")
    peak = max(backlog.samples, key=lambda s: s[2]) if backlog.samples else None
    top = max(k for _, k in rss)
    print(f"  resident memory of helpdesk run: start {rss[0][1] / 1024:.0f} MB, max {top / 1024:.0f} MB,"
          f" end {rss[-1][1] / 1024:.0f} MB" + (f"; backlog peaked at {peak[2]} pending mails, "
                                                 f"{peak[0] - t0:.0f}s in" if peak else ""))
    print("  time since the first mail; mails stored, of them pending; outbox rows sent; resident MB")
    timeline = [s for s in backlog.samples if s[0] >= t0 - 1]
    step = max(1, len(timeline) // 15)
    for at, stored, pending, sent in [*timeline[::step], *timeline[-1:]]:
        kb = min(rss, key=lambda s, at=at: abs(s[0] - at))[1] if rss else 0
        print(f"  {at - t0:5.0f}s {stored:7} {pending:8} {sent:6} {kb / 1024:8.0f}")
    c = result.counts
    stored = sum(n for k, n in c.items() if k.startswith("inbound "))
    states = ", ".join(f"{k[8:]} {n}" for k, n in c.items() if k.startswith("inbound "))
    print(f"  database: {stored} inbound rows ({states})"
          f", {c.get('tickets')} tickets ({c.get('repeats', 0)} repeats folded into them), acknowledgements: "
          f"{c.get('outbox acknowledgement sent', 0)} sent, "
          f"{c.get('outbox acknowledgement suppressed', 0)} suppressed by the loop guard; "
          f"tickets acknowledged twice: {c.get('tickets acknowledged twice')}; delivered twice at the relay: "
          f"{result.repeats}")
    ok = (stored == len(mails) and not c.get("inbound pending") and c.get("tickets") == tickets
          and c.get("repeats") == alerts - alert_tickets
          and c.get("outbox acknowledgement sent", 0) + c.get("outbox acknowledgement suppressed", 0) == tickets
          and not c.get("tickets acknowledged twice") and not result.repeats)
    print(f"  {'ok: every mail stored and processed, every ticket acknowledged once' if ok else 'PROBLEM (see above)'}")


if __name__ == "__main__":
    main()
