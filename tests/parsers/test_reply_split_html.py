"""Reply splitting through parse(): HTML replies as clients quote, and inline forwards."""

from __future__ import annotations

from datetime import UTC, datetime
from email.message import EmailMessage

import pytest

from parsers import parse


def _reply_of_html(html: str) -> str:
    message = EmailMessage()
    message["From"] = "bob@example.com"
    message.set_content(html, subtype="html")
    return parse(message.as_bytes(), received_at=datetime(2024, 1, 6, tzinfo=UTC)).reply_text


HTML_CASES = {
    "gmail-quote-without-blockquote": (
        '<div dir="ltr">Fixed, thanks.</div><div class="gmail_quote"><div class="gmail_attr">'
        "On Mon, Jan 1, 2024 at 10:00 AM Support &lt;support@example.com&gt; wrote:<br></div>"
        "<div>Hello Bob, please restart the printer.</div></div>"
    ),
    "outlook-web-two-fields": (
        "<div>Fixed, thanks.</div><hr style=\"display:inline-block;width:98%\">"
        '<div id="divRplyFwdMsg" dir="ltr"><b>From:</b> Support<br><b>Sent:</b> Monday, '
        "1 January 2024 10:00</div><div>Hello Bob, please restart the printer.</div>"
    ),
    "outlook-desktop-rule": (
        "<p>Fixed, thanks.</p><div style=\"border:none;border-top:solid #E1E1E1 1.0pt;"
        'padding:3.0pt 0cm 0cm 0cm"><p><b>Von:</b> Support<br><b>Gesendet:</b> Montag</p></div>'
        "<p>Hallo Bob, bitte starten Sie den Drucker neu.</p>"
    ),
    "hr-then-date-block": (
        "<div>Fixed, thanks.<br><hr>Date: Mon, 1 Jan 2024 10:00:00 +0100<br>"
        "To: bob@example.com<br>Subject: Printer<br><br>Hello Bob</div>"
    ),
    "blockquote-after-attribution": (
        "Fixed, thanks.<div>On 1 Jan 2024, at 10:00, Support wrote:</div>"
        "<blockquote>Hello Bob, please restart the printer.</blockquote>"
    ),
}


@pytest.mark.parametrize("name", sorted(HTML_CASES))
def test_html_reply_part_is_the_new_text(name: str) -> None:
    assert _reply_of_html(HTML_CASES[name]) == "Fixed, thanks."


def test_inline_forward_is_kept_apart_from_the_note() -> None:
    body = (
        "FYI, this is the error our users get.\n\n---------- Forwarded message ---------\n"
        "From: Monitor <monitor@example.com>\nDate: Mon, 1 Jan 2024 at 10:00\n"
        "Subject: Disk full\nTo: Bob <bob@example.com>\n\nDisk /var is full.\n"
    )
    message = EmailMessage()
    message["From"] = "bob@example.com"
    message.set_content(body)
    mail = parse(message.as_bytes(), received_at=datetime(2024, 1, 6, tzinfo=UTC))
    assert mail.reply_text == "FYI, this is the error our users get."
    assert "Disk /var is full." in mail.text
