"""``helpdesk rules evaluate``: a labelled folder, and the tickets whose priority engineers changed."""

from __future__ import annotations

import email
import email.policy
import json
import subprocess
from collections.abc import Callable
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from sqlalchemy import select

from gateway.store.db import Database
from gateway.store.models import OutboxMessage
from tests import worlds
from tests.support import HELPDESK, OUTSIDE, SHARED, customer_mail, require

LABELLED_DEV = SHARED / "labelled-dev"


def config_text(var: Path) -> str:
    """Dana, and Acme (Alice) on a 24x7 plan; the shipped rules."""
    return worlds.world(
        worlds.gateway(var, timezone=None),
        worlds.outbound(max_per_address_per_hour=100),
        worlds.table("engineers"),
        worlds.dana(),
        worlds.plan(calendar="24x7", default_priority="P3"),
        worlds.acme("alice"),
    )


# Three mails whose words the default rules read plainly.
MAILS = {
    "down.eml": ("Website down", "Our whole website is down for everyone since 9:00. Nobody can log in."),
    "slow.eml": ("Reports slow", "The reports page is very slow for some users this morning."),
    "howto.eml": ("How do I export?", "How do I export the monthly report to CSV?"),
}


def helpdesk(config: Path, *args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([*HELPDESK, "-c", str(config), *args], input=stdin, capture_output=True,
                          cwd=OUTSIDE, timeout=300, check=False)


def setup(tmp_path: Path) -> Path:
    config = tmp_path / "config.toml"
    config.write_text(config_text(tmp_path / "var"), encoding="utf-8")
    return config


def evaluate(config: Path, *args: str) -> dict[str, Any]:
    done = helpdesk(config, "rules", "evaluate", *args, "--json")
    assert done.returncode == 0, done.stderr.decode()
    data: dict[str, Any] = json.loads(done.stdout)
    return data


def test_a_labelled_folder_gives_accuracy_recall_the_matrix_and_the_misses(tmp_path: Path) -> None:
    folder = tmp_path / "labelled"
    folder.mkdir()
    for name, (subject, body) in MAILS.items():
        (folder / name).write_bytes(customer_mail("Alice <alice@acme.example>", subject, body))
    # The how-to is labelled P3 on purpose: a miss to report.
    (folder / "labels.tsv").write_text("file\tpriority\tnote\ndown.eml\tP1\toutage\nslow.eml\tP2\t\n"
                                       "howto.eml\tP3\tlabelled against the rules\n", encoding="utf-8")
    config = setup(tmp_path)
    data = evaluate(config, str(folder))
    assert (data["total"], data["correct"]) == (3, 2)
    assert data["accuracy"] == round(2 / 3, 4)
    assert data["recall"]["P1"] == {"n": 1, "correct": 1, "recall": 1.0}
    assert data["recall"]["P4"] == {"n": 0, "correct": 0, "recall": None}
    assert data["matrix"]["P3"] == {"P1": 0, "P2": 0, "P3": 0, "P4": 1}
    (miss,) = data["misses"]
    assert (miss["mail"], miss["label"], miss["predicted"]) == ("howto.eml", "P3", "P4")
    assert miss["rules"] and miss["note"] == "labelled against the rules"  # the rules it matched
    assert data["after_hours"]["p1_not_paged"] == [] and data["after_hours"]["p3_p4_paged"] == []
    text = helpdesk(config, "rules", "evaluate", str(folder)).stdout.decode()
    assert "2 of 3 right, accuracy 66.7%" in text
    assert "recall: P1 1/1, P2 1/1, P3 0/1, P4 0/0" in text
    assert "P3             0    0    0    1" in text
    assert "howto.eml: label P3, rules P4 (" in text


def test_a_folder_without_labels_is_a_usage_error(tmp_path: Path) -> None:
    config = setup(tmp_path)
    done = helpdesk(config, "rules", "evaluate", str(tmp_path))
    assert done.returncode == 2
    assert "labels.tsv" in done.stderr.decode() and "Traceback" not in done.stderr.decode()
    (tmp_path / "labels.tsv").write_text("file\tpriority\nx.eml\tP7\n", encoding="utf-8")
    done = helpdesk(config, "rules", "evaluate", str(tmp_path))
    assert done.returncode == 2 and "line 2: needs a file name and a priority" in done.stderr.decode()
    done = helpdesk(config, "rules", "evaluate")
    assert done.returncode == 2 and "or give --history" in done.stderr.decode()


def reply_address(var: Path, number: int) -> str:
    """The Reply-To of Dana's notification about ticket ``number``, read from the outbox."""
    db = Database(f"sqlite:///{var}/helpdesk.sqlite3")
    try:
        with db.sessions() as session:
            raws = session.scalars(select(OutboxMessage.raw).where(
                OutboxMessage.kind == "engineer-notification", OutboxMessage.ticket_id == number))
            for raw in raws:
                msg = email.message_from_bytes(raw, policy=email.policy.default)
                assert isinstance(msg, EmailMessage)
                return str(msg["Reply-To"].addresses[0].addr_spec)
    finally:
        db.dispose()
    raise AssertionError(f"no notification about #{number}")


def test_history_labels_each_ticket_with_the_last_priority_an_engineer_set(tmp_path: Path) -> None:
    config = setup(tmp_path)
    for name, (subject, body) in MAILS.items():
        (tmp_path / name).write_bytes(customer_mail("Alice <alice@acme.example>", subject, body))
    done = helpdesk(config, "ingest", "--process", *(str(tmp_path / n) for n in MAILS))
    assert done.returncode == 0, done.stderr.decode()
    # Dana answers ticket 2 in the thread: it is worse than the rules thought.
    token = reply_address(tmp_path / "var", 2)
    reply = EmailMessage()
    reply["From"], reply["To"], reply["Subject"] = "Dana Scully <dana@example.com>", token, "Re: [#2] Reports slow"
    reply["Message-ID"] = "<dana-1@example.com>"
    reply.set_content("#priority P1 no report opens at all\nAlice, we are on it.")
    done = helpdesk(config, "ingest", "--process", "--recipient", token, stdin=reply.as_bytes())
    assert done.returncode == 0, done.stderr.decode()
    # And lowers ticket 1 from the command line, twice: the last one is the label.
    for priority in ("P4", "P2"):
        done = helpdesk(config, "set", "1", "--priority", priority, "--by", "dana")
        assert done.returncode == 0, done.stderr.decode()
    data = evaluate(config, "--history")
    assert data["source"] == "history" and data["total"] == 2  # ticket 3 was never changed
    assert (data["correct"], data["accuracy"]) == (0, 0.0)
    by_ticket = {m["mail"]: m for m in data["misses"]}
    assert (by_ticket["#1"]["label"], by_ticket["#1"]["predicted"]) == ("P2", "P1")
    assert (by_ticket["#2"]["label"], by_ticket["#2"]["predicted"]) == ("P1", "P2")
    assert by_ticket["#2"]["note"] == "set by dana@example.com: Reports slow"
    assert by_ticket["#1"]["rules"] and by_ticket["#2"]["rules"]  # what the rules matched at intake
    assert data["after_hours"]["p1_not_paged"] == ["#2"]
    text = helpdesk(config, "rules", "evaluate", "--history").stdout.decode()
    assert "history: 0 of 2 right, accuracy 0.0%" in text


def test_labelled_dev_figures(tmp_path: Path, record_property: Callable[[str, object], None]) -> None:
    """The shipped rules on labelled-dev: printed and recorded, so every run shows them."""
    require((LABELLED_DEV / "labels.tsv").exists(), f"{LABELLED_DEV} is absent: no labelled mail to measure")
    data = evaluate(setup(tmp_path), str(LABELLED_DEV))
    assert data["total"] == 160
    record_property("accuracy", data["accuracy"])
    record_property("p1_not_paged", len(data["after_hours"]["p1_not_paged"]))
    record_property("p3_p4_paged", len(data["after_hours"]["p3_p4_paged"]))


def test_sender_reads_every_mail_as_sent_by_a_designated_contact(tmp_path: Path) -> None:
    folder = tmp_path / "labelled"
    folder.mkdir()
    (folder / "slow.eml").write_bytes(customer_mail("Stranger <x@elsewhere.example>", *MAILS["slow.eml"]))
    (folder / "labels.tsv").write_text("file\tpriority\nslow.eml\tP1\n", encoding="utf-8")
    config = setup(tmp_path)
    config.write_text(config.read_text(encoding="utf-8") + """
[[rules]]
name = "contact-reports"
description = "A designated contact's reports: P1."
when = { is_contact = true, words = ["reports"] }
then = { priority = "P1" }
""", encoding="utf-8")
    assert evaluate(config, str(folder))["correct"] == 0
    assert evaluate(config, str(folder), "--sender", "alice@acme.example")["correct"] == 1
