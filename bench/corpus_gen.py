"""Seeded generator of realistic support mail for the benchmarks (new requests, replies, attachments)."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime

SUBJECTS = ["Cannot log in to the portal", "Calls dropping since this morning", "Invoice question",
            "Export to CSV fails", "Feature request: dark mode", "Whole site is down", "Slow reports",
            "How do I add a user?", "Error 500 on checkout", "Quote for extra training"]
LINES = ["Hi team,", "Since about 9am our engineers cannot connect.", "We tried restarting the browser.",
         "This is affecting the whole call centre.", "Please advise as soon as possible.",
         "Attached is a screenshot of the error.", "Kind regards,", "It works for some users but not others.",
         "Is there a workaround we can use in the meantime?", "Thanks in advance for your help."]


def generate(n: int, seed: int = 7) -> list[bytes]:
    rnd = random.Random(seed)
    start = datetime(2026, 11, 2, 8, 0, tzinfo=UTC)
    sent: list[tuple[str, str, str]] = []  # (message-id, sender, subject)
    out: list[bytes] = []
    for i in range(n):
        msg = EmailMessage()
        when = start + timedelta(minutes=7 * i)
        if sent and rnd.random() < 0.35:
            parent_id, sender, subject = rnd.choice(sent)
            msg["Subject"] = "Re: " + subject
            msg["In-Reply-To"] = parent_id
            msg["References"] = parent_id
            quoted = "\n".join("> " + rnd.choice(LINES) for _ in range(rnd.randint(5, 30)))
            body = f"{rnd.choice(LINES)}\n{rnd.choice(LINES)}\n\nOn {format_datetime(when)}, Support wrote:\n{quoted}\n"
        else:
            sender = f"user{rnd.randint(1, 400)}@customer{rnd.randint(1, 40)}.example"
            subject = rnd.choice(SUBJECTS)
            msg["Subject"] = subject
            body = "\n".join(rnd.choice(LINES) for _ in range(rnd.randint(3, 15))) + "\n\n-- \nJane Doe\nIT Manager\n"
        mid = f"<bench{i}.{rnd.getrandbits(32)}@{sender.split('@')[1]}>"
        msg["From"] = f"Customer {i} <{sender}>"
        msg["To"] = "support@example.com"
        msg["Date"] = format_datetime(when)
        msg["Message-ID"] = mid
        msg.set_content(body)
        if rnd.random() < 0.3:
            msg.add_alternative(f"<html><body><p>{body.replace(chr(10), '<br>')}</p></body></html>", subtype="html")
        if rnd.random() < 0.2:
            msg.add_attachment(rnd.randbytes(rnd.randint(2_000, 60_000)), maintype="application",
                               subtype="octet-stream", filename=f"log-{i}.bin")
        sent.append((mid, sender, str(msg["Subject"]).removeprefix("Re: ")))
        out.append(msg.as_bytes())
    return out
