"""The mails of the history benchmark: the template's, and the probes mixed into its end-to-end corpus."""

from __future__ import annotations

import random
from email.message import EmailMessage
from email.policy import SMTP as SMTP_POLICY

from bench.corpus_gen import LINES, SUBJECTS
from bench.e2e_harness import SUPPORT, Mail


def _mail(sender: str, subject: str, body: str, mid: str, in_reply_to: str | None = None) -> bytes:
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = SUPPORT
    msg["Subject"] = subject
    msg["Date"] = "Mon, 07 Dec 2026 09:00:00 +0000"
    msg["Message-ID"] = mid
    if in_reply_to:
        msg["In-Reply-To"] = in_reply_to
        msg["References"] = in_reply_to
    msg.set_content(body)
    return msg.as_bytes(policy=SMTP_POLICY)


def template_corpus(tickets: int, seed: int = 5) -> list[Mail]:
    """``tickets`` requests, then a quoted reply to each: three messages per ticket with its acknowledgement."""
    rnd = random.Random(seed)
    requests = []
    for i in range(tickets):
        sender = f"client{i % 700}@org{i % 90}.example"
        subject = f"{rnd.choice(SUBJECTS)} (t{i})"
        body = "\n".join(rnd.choice(LINES) for _ in range(rnd.randint(3, 12)))
        mid = f"<tpl{i}.{rnd.getrandbits(32)}@org{i % 90}.example>"
        requests.append(Mail(i, True, mid, sender, _mail(sender, subject, body, mid)))
    replies = []
    for i, req in enumerate(requests):
        quoted = "\n".join("> " + rnd.choice(LINES) for _ in range(rnd.randint(4, 20)))
        mid = f"<tplr{i}.{rnd.getrandbits(32)}@org{i % 90}.example>"
        subject = "Re: " + req.raw.split(b"Subject: ", 1)[1].split(b"\r\n", 1)[0].decode()
        body = f"{rnd.choice(LINES)}\n\nOn Monday, Support wrote:\n{quoted}\n"
        replies.append(Mail(i, False, mid, req.sender, _mail(req.sender, subject, body, mid, req.message_id)))
    return requests + replies


def probes(mails: list[Mail], recent: list[tuple[int, str, str, str]], copies: int, seed: int = 3) -> list[Mail]:
    """``mails`` with, after every tenth, one probe, in turn: a reply to a recent ticket; a "[#N]"
    follow-up from its customer without thread headers; a copy of the last request under another
    envelope (the same Message-ID and body: a duplicate); a reply to a message of the history
    (in the large database a closed ticket of years ago, in the small one a message it never had)."""
    rnd = random.Random(seed)
    out: list[Mail] = []
    last_request: Mail | None = None
    for i, mail in enumerate(mails):
        out.append(mail)
        if mail.new:
            last_request = mail
        if i % 10 != 9:
            continue
        kind = (i // 10) % 4
        ticket, customer, request_id, subject = rnd.choice(recent)
        mid = f"<probe{i}.{rnd.getrandbits(32)}@probe.example>"
        body = "\n".join(rnd.choice(LINES) for _ in range(rnd.randint(2, 6)))
        if kind == 0:
            out.append(Mail(-i, False, mid, customer, _mail(customer, "Re: " + subject, body, mid, request_id)))
        elif kind == 1:
            out.append(Mail(-i, False, mid, customer, _mail(customer, f"Re: [#{ticket}] {subject}", body, mid)))
        elif kind == 2 and last_request is not None:
            raw = b"Received: from relay2.example by mx.example.com; Mon, 7 Dec 2026 09:00:01 +0000\r\n" + \
                  last_request.raw
            out.append(Mail(last_request.thread, False, last_request.message_id + "#copy", last_request.sender, raw))
        elif kind == 3:
            old = f"<h{rnd.randrange(max(copies, 1))}.{request_id[1:]}"
            out.append(Mail(-i, True, mid, customer, _mail(customer, "Re: " + subject, body, mid, old)))
    return out
