"""Sisimai's set of emails (../shared/peer-corpora/sisimai): bounces, automatic mail and abuse
reports are never acknowledged, and who bounced is read right.

The expected failed recipients are in tests/data/sisimai_recipients.tsv (Sisimai's own answers);
where the gateway deliberately answers otherwise the case is listed below with the reason.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest

from parsers import OwnIdentity, ParsedMail, Verdict, parse, screen

SISIMAI = Path(__file__).resolve().parents[2].parent / "shared" / "peer-corpora" / "sisimai" / "maildir"
EXPECTED = Path(__file__).parents[1] / "data" / "sisimai_recipients.tsv"
RECEIVED = datetime(2024, 1, 6, 12, 0, tzinfo=UTC)
OWN = OwnIdentity(frozenset({"support@helpdesk.example"}), "helpdesk.example", "helpdesk.example-7f3a")

ORIGINAL = "Original-Recipient names the address we sent to; Sisimai reports Final-Recipient"
# Where the gateway's failed recipients differ from Sisimai's, and why.
DIFFERENT_RECIPIENTS = {
    "lhost-exchange2007-04.eml": ORIGINAL,
    "lhost-postfix-01.eml": ORIGINAL,
    "lhost-postfix-32.eml": ORIGINAL + " (the same mailbox, its local part unquoted)",
    "lhost-postfix-49.eml": ORIGINAL + " (a report quoted in a forwarded bounce)",
    "lhost-postfix-77.eml": ORIGINAL,
    "lhost-postfix-78.eml": ORIGINAL,
    "lhost-postfix-79.eml": ORIGINAL,
    "rfc3464-09.eml": ORIGINAL,
    "rhost-google-03.eml": ORIGINAL,
    "rhost-google-04.eml": ORIGINAL,
    "rhost-google-06.eml": ORIGINAL,
    "lhost-domino-03.eml": "the delivery-status part names .org, the text .com: the structured report wins",
    "lhost-exim-03.eml": "X-Failed-Recipients (Exim's own header) names another address than its text",
    "lhost-office365-04.eml": "Final-Recipient, where Sisimai takes a mailto: link of the HTML text",
    "lhost-exim-52.eml": "a malformed 'addr <addr>' recipient: both of its addresses are reported",
    # The report itself names no address: only the returned message's headers do, and those are
    # never read for a failed recipient (the gateway then counts the bounce against a mail's
    # only recipient).
    "lhost-v5sendmail-01.eml": "the transcript names the host only",
    "lhost-verizon-01.eml": "'No valid recipients for this MM': the address is in the returned headers only",
    "lhost-postfix-64.eml": "'Delivery report unavailable': the address is in the returned message only",
    "lhost-fml-03.eml": "a list server's loop alert names no failed recipient",
    "lhost-x1-02.eml": "the report travels as an application/octet-stream attachment",
}
# Mails whose verdict is not the one their file name suggests, and why that is right.
OTHER_KIND = {
    "lhost-sendmail-14.eml": ("clean", "a person forwarding a bounce with a note of their own: a request"),
    "lhost-fml-02.eml": ("list", "a list server's 'you are not a member' reply: list mail, not acknowledged"),
    "lhost-amazonses-11.eml": ("feedback-report", "an SES complaint notice: a recipient's abuse report"),
    "arf-26.eml": ("auto-reply", "an automatic answer to an unsubscribe request, not a feedback report"),
}
_VALID = re.compile(r"^(?:\"[^\"]+\"|[^\s\"<>()@,;:]+)@[a-z0-9-]+(?:\.[a-z0-9-]+)+$")


@dataclass(frozen=True)
class Sample:
    name: str
    mail: ParsedMail
    verdict: Verdict

    @property
    def family(self) -> str:
        if self.name.startswith(("lhost-", "rhost-", "rfc3464-")):
            return "bounce"
        if self.name.startswith("arf-"):
            return "feedback-report"
        if self.name.startswith("rfc3834-"):
            return "auto-reply"
        return "clean"

    @property
    def recipients(self) -> set[str]:
        bounce = self.verdict.bounce
        return set(bounce.failed_recipients) if bounce is not None else set()


def sisimai_or_skip() -> Path:
    """The set of emails; absent is a skip for a user's clone, a failure in CI."""
    if SISIMAI.is_dir():
        return SISIMAI
    reason = f"the sisimai set of emails is not at {SISIMAI} (it lives in ../shared)"
    if os.environ.get("CI"):
        pytest.fail(f"CI is set but {reason}")
    pytest.skip(reason)


def _sample(path: Path) -> Sample:
    mail = parse(path.read_bytes(), received_at=RECEIVED)
    return Sample(path.name, mail, screen(mail, OWN))


@pytest.fixture(scope="module")
def samples() -> dict[str, Sample]:
    root = sisimai_or_skip()
    return {p.name: _sample(p) for p in sorted((root / "bsd").glob("*.eml"))}


def _expected() -> dict[str, set[str]]:
    rows = [line.split("\t") for line in EXPECTED.read_text("utf-8").splitlines() if not line.startswith("#")]
    return {row[0]: set(row[1].split()) for row in rows}


def test_bounces_automatic_mail_and_feedback_reports_are_never_acknowledged(
    samples: dict[str, Sample], capsys: pytest.CaptureFixture[str]
) -> None:
    answerable = [s.name for s in samples.values() if s.verdict.answerable]
    wrong = {
        s.name: (s.verdict.kind, s.verdict.reason)
        for s in samples.values()
        if s.verdict.kind != OTHER_KIND.get(s.name, (s.family,))[0]
    }
    rate = 1 - len(answerable) / len(samples)
    with capsys.disabled():
        print(f"\nsisimai: {rate:.1%} of {len(samples)} bounces, automatic mails and reports "
              f"never acknowledged; acknowledged: {answerable}")
        for name, (kind, why) in OTHER_KIND.items():
            print(f"  {name} is {kind}: {why}")
    assert rate >= 0.99
    assert set(answerable) <= {n for n, (kind, _) in OTHER_KIND.items() if kind == "clean"}
    assert wrong == {}


def test_feedback_reports_are_their_own_kind(samples: dict[str, Sample]) -> None:
    reports = [s for s in samples.values() if s.family == "feedback-report" and s.name not in OTHER_KIND]
    assert len(reports) >= 16
    assert {s.name: s.verdict.kind for s in reports} == {s.name: "feedback-report" for s in reports}
    complaints = [s for s in reports if s.verdict.feedback is not None and s.verdict.feedback.complaint]
    assert len(complaints) >= 12  # the rest are DMARC failure reports (auth-failure)


def test_who_bounced(samples: dict[str, Sample], capsys: pytest.CaptureFixture[str]) -> None:
    expected = _expected()
    bounces = [s for s in samples.values() if s.family == "bounce" and s.name not in OTHER_KIND]
    assert {s.name for s in bounces} | set(OTHER_KIND) >= set(expected)
    failures = [s for s in bounces if s.verdict.bounce is not None and s.verdict.bounce.failed]
    named = [s for s in failures if s.recipients]
    implausible = {
        s.name: sorted(a for a in s.recipients if not _plausible(a, s, expected.get(s.name, set())))
        for s in failures
    }
    implausible = {name: found for name, found in implausible.items() if found}
    agree = [s for s in bounces if s.recipients == expected.get(s.name)]
    differ = {
        s.name: (sorted(s.recipients), sorted(expected.get(s.name, ())))
        for s in bounces
        if s.recipients != expected.get(s.name)
    }
    unexplained = {name: found for name, found in differ.items() if name not in DIFFERENT_RECIPIENTS}
    with capsys.disabled():
        print(f"\nsisimai: {len(named)} of {len(failures)} bounces ({len(named) / len(failures):.1%}) "
              f"name a failed recipient; {len(agree)} of {len(bounces)} ({len(agree) / len(bounces):.1%}) "
              "name exactly Sisimai's")
        for name, (got, want) in sorted(differ.items()):
            print(f"  {name}: {got} where Sisimai says {want}: {DIFFERENT_RECIPIENTS.get(name, 'UNEXPLAINED')}")
    assert len(named) / len(failures) >= 0.95
    assert implausible == {}
    assert unexplained == {}
    assert set(DIFFERENT_RECIPIENTS) <= set(differ), "a listed difference is gone: drop it from the list"


def _plausible(address: str, sample: Sample, expected: set[str]) -> bool:
    """An address we could have sent to: a mailbox, not a link, not the server that reports,
    not the sender of the returned mail (unless it was also its recipient)."""
    if not _VALID.match(address) or address.startswith("mailto:"):
        return False
    if sample.mail.sender is not None and address == sample.mail.sender.key:
        return False
    senders = {f.sender.key for f in sample.mail.forwarded if f.sender is not None}
    return address not in senders or address in expected


def test_mail_that_is_no_bounce() -> None:
    root = sisimai_or_skip() / "not"
    kinds = {p.name: _sample(p).verdict.kind for p in sorted(root.glob("*.eml"))}
    # rb-issue-368-bug is a bounce ("reject reason: Mailbox full", null return path,
    # Auto-Submitted) that an older Sisimai failed to read; it is in "not" for that bug.
    assert kinds == {"is-not-bounce-01.eml": "clean", "is-not-bounce-02.eml": "clean",
                     "rb-issue-368-bug.eml": "bounce"}


def test_a_missing_set_skips_for_users_and_fails_in_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(f"{__name__}.SISIMAI", Path("/nonexistent/sisimai"))
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception):
        sisimai_or_skip()
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception):
        sisimai_or_skip()
