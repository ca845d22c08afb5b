"""screen(): bounces, auto-replies, lists, loops and feedback reports, each with its reason."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from parsers import BounceInfo, OwnIdentity, ParsedMail, Verdict, parse, screen

RECEIVED = datetime(2024, 1, 6, 12, 0, tzinfo=UTC)
OWN = OwnIdentity(
    addresses=frozenset({"support@helpdesk.example", "noreply@helpdesk.example"}),
    message_id_domain="helpdesk.example",
    loop_token="helpdesk.example-7f3a",
)
CUSTOMER = "From: Bob <bob@customer.example>\nTo: support@helpdesk.example\n"


def mail(text: str) -> ParsedMail:
    return parse(text.lstrip("\n").encode("utf-8"), received_at=RECEIVED)


def verdict(text: str, envelope_from: str | None = None) -> Verdict:
    return screen(mail(text), OWN, envelope_from)


def test_a_customer_reply_to_our_message_is_clean() -> None:
    result = verdict(
        CUSTOMER + "Subject: Re: [#12] Printer\nMessage-ID: <r1@customer.example>\n"
        "In-Reply-To: <ticket-12.1@helpdesk.example>\n"
        "References: <ticket-12.1@helpdesk.example>\n\nThanks!\n"
    )
    assert (result.kind, result.bounce, result.answerable) == ("clean", None, True)


def test_a_colleague_on_our_own_domain_is_not_a_loop() -> None:
    result = verdict(
        "From: Ann <ann@helpdesk.example>\nTo: support@helpdesk.example\n"
        "Message-ID: <x1@helpdesk.example>\nSubject: Customer called\n\nPlease call back.\n"
    )
    assert result.kind == "clean"


@pytest.mark.parametrize(
    ("headers", "reason"),
    [
        ("X-Loop: helpdesk.example-7f3a\n", "X-Loop: helpdesk.example-7f3a"),
        ("X-Loop: other-list\nX-Loop: HELPDESK.EXAMPLE-7F3A\n", "X-Loop: HELPDESK.EXAMPLE-7F3A"),
        ("Received: from a by b\n" * 51, "51 Received headers (> 50)"),
    ],
)
def test_loops(headers: str, reason: str) -> None:
    result = verdict(CUSTOMER + headers + "Subject: hi\n\nx\n")
    assert (result.kind, result.reason) == ("loop", reason)


def test_mail_from_our_own_address_is_a_loop() -> None:
    result = verdict("From: Support <Support@Helpdesk.example>\nSubject: [#1] Ack\n\nx\n")
    assert result.kind == "loop" and "Support@Helpdesk.example" in result.reason


@pytest.mark.parametrize(
    ("header", "kind"),
    [
        ("Auto-Submitted: auto-replied", "auto-reply"),
        ("Auto-Submitted: auto-generated (vacation)", "auto-reply"),
        ("Auto-Submitted: auto-notified", "auto-reply"),
        ("Auto-Submitted: no", "clean"),
        ("Auto-Submitted: No (a person wrote this)", "clean"),
        ("X-Autoreply: yes", "auto-reply"),
        ("X-Autorespond: Out of office", "auto-reply"),
        ("Precedence: auto_reply", "auto-reply"),
        ("X-Auto-Response-Suppress: All", "clean"),  # Outlook puts it on ordinary mail
        ("X-Auto-Response-Suppress: DR, OOF, AutoReply", "clean"),
    ],
)
def test_auto_reply_headers(header: str, kind: str) -> None:
    result = verdict(CUSTOMER + header + "\nSubject: Your ticket\n\nx\n")
    assert result.kind == kind
    if kind == "auto-reply":
        assert result.reason == header


@pytest.mark.parametrize(
    "subject",
    [
        "Out of Office: [#12] Printer",
        "Automatic reply: [#12] Printer",
        "Auto: [#12] Printer",
        "AutoReply: Your request",
        "Abwesenheitsnotiz: [#12] Drucker",
        "Automatische Antwort: [#12] Drucker",
        "Réponse automatique : [#12] Imprimante",
        "Absence du bureau",
        "Respuesta automática: [#12] Impresora",
        "Fuera de la oficina: [#12]",
        "=?utf-8?q?R=C3=A9ponse_automatique=C2=A0:_test?=",
    ],
)
def test_out_of_office_subjects(subject: str) -> None:
    result = verdict(CUSTOMER + f"Subject: {subject}\n\nI am away until Monday.\n")
    assert result.kind == "auto-reply" and result.reason.startswith("out-of-office subject")


@pytest.mark.parametrize(("subject", "body"), [
    ("Absence of invoices in the customer portal", "Since Monday no invoices show up."),
    ("Auto-reply rules not working since the upgrade", "Our auto-reply rules stopped working."),
    ("Autoresponder keeps sending blank mails", "The autoresponder sends empty mails."),
    ("Out of office settings lost after migration", "Where did our out-of-office settings go?"),
    ("Absent du bureau ne fonctionne pas", "Le message d'absence ne part plus."),
    ("Delivery failure to Gmail for all our newsletters",
     "Our newsletters could not be delivered to Gmail addresses since Monday."),
])
def test_a_customer_writing_about_auto_replies_or_bounces_is_heard(subject: str, body: str) -> None:
    """Only a machine's subject ("Out of Office: ...", "Undeliverable: ...") marks a mail
    automatic when no header does; a customer's request about those things is a request."""
    assert verdict(CUSTOMER + f"Subject: {subject}\n\n{body}\n").kind == "clean"


def test_a_customer_writing_about_out_of_office_is_clean() -> None:
    assert verdict(CUSTOMER + "Subject: Re: Out of office replies broken\n\nHelp\n").kind == "clean"


@pytest.mark.parametrize(
    ("header", "reason"),
    [
        ("List-Id: Users <users.lists.example>", "List-Id: Users <users.lists.example>"),
        ("Precedence: bulk", "Precedence: bulk"),
        ("Precedence: junk", "Precedence: junk"),
        ("Precedence: list", "Precedence: list"),
        ("List-Unsubscribe: <mailto:leave@lists.example>", "List-Unsubscribe: <mailto:leave"),
    ],
)
def test_list_mail(header: str, reason: str) -> None:
    result = verdict(CUSTOMER + header + "\nSubject: Newsletter\n\nx\n")
    assert result.kind == "list" and result.reason.startswith(reason)


DSN = """
From: Mail Delivery System <MAILER-DAEMON@mx.customer.example>
To: support@helpdesk.example
Subject: Undelivered Mail Returned to Sender
Message-ID: <dsn1@mx.customer.example>
List-Id: even with list headers <it.is.a.bounce>
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status; boundary="r"

--r
Content-Type: text/plain

This is the mail system at host mx.customer.example.

--r
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.customer.example

Final-Recipient: rfc822; gone@customer.example
Original-Recipient: rfc822;gone@customer.example
Action: {action}
Status: {status}
Diagnostic-Code: smtp; 550 5.1.1 user unknown

--r
Content-Type: {original_type}

From: support@helpdesk.example
To: gone@customer.example
Subject: [#12] Printer
Message-ID: <ticket-12.1@helpdesk.example>

{original_body}
--r--
"""


@pytest.mark.parametrize("original_type", ["message/rfc822", "text/rfc822-headers"])
def test_rfc3464_bounce_of_our_mail(original_type: str) -> None:
    result = verdict(
        DSN.format(
            action="failed", status="5.1.1", original_type=original_type, original_body="Hi"
        )
    )
    assert (result.kind, result.reason) == (
        "bounce",
        "multipart/report; report-type=delivery-status",
    )
    assert result.bounce == BounceInfo(
        original_message_ids=("<ticket-12.1@helpdesk.example>",),
        failed_recipients=("gone@customer.example",),
        permanent=True,
    )


def test_a_delay_notice_is_a_temporary_bounce() -> None:
    raw = DSN.format(
        action="delayed", status="4.4.7", original_type="message/rfc822", original_body="Hi"
    )
    result = verdict(raw)
    assert result.kind == "bounce" and result.bounce is not None
    assert not result.bounce.permanent


QMAIL = """
From: MAILER-DAEMON@mail.customer.example
To: support@helpdesk.example
Subject: failure notice

Hi. This is the qmail-send program at mail.customer.example.
I'm afraid I wasn't able to deliver your message to the following addresses.
This is a permanent error; I've given up. Sorry it didn't work out.

<gone@customer.example>:
Sorry, no mailbox here by that name. (#5.1.1)

--- Below this line is a copy of the message.

From: support@helpdesk.example
Message-ID: <ticket-40.2@helpdesk.example>
Subject: [#40] Password

Hello
"""


def test_qmail_bounce() -> None:
    result = verdict(QMAIL)
    assert result.kind == "bounce" and result.bounce is not None
    assert result.bounce.failed_recipients == ("gone@customer.example",)
    assert result.bounce.original_message_ids == ("<ticket-40.2@helpdesk.example>",)
    assert result.bounce.permanent


def test_exchange_ndr_without_report_structure() -> None:
    result = verdict(
        "From: postmaster@customer.example\nTo: support@helpdesk.example\n"
        "Subject: Undeliverable: [#7] Printer\n\n"
        "Your message did not reach some or all of the intended recipients.\n"
    )
    assert result.kind == "bounce"


def test_x_failed_recipients() -> None:
    result = verdict(
        "From: Mail Delivery <system@mx.customer.example>\nTo: support@helpdesk.example\n"
        "X-Failed-Recipients: gone@customer.example, also@customer.example\n"
        "Subject: Mail delivery failed: returning message to sender\n\nfailed.\n"
    )
    assert result.kind == "bounce" and result.bounce is not None
    assert result.bounce.failed_recipients == ("gone@customer.example", "also@customer.example")
    assert result.bounce.permanent


def test_feedback_report() -> None:
    result = verdict(
        "From: abuse@isp.example\nTo: support@helpdesk.example\nSubject: FW: complaint\n"
        'Content-Type: multipart/report; report-type=feedback-report; boundary="f"\n\n'
        "--f\nContent-Type: text/plain\n\nThis is an abuse report.\n"
        "--f\nContent-Type: message/feedback-report\n\nFeedback-Type: abuse\n"
        "User-Agent: SomeGenerator/1.0\nVersion: 1\n"
        "--f--\n"
    )
    assert result.kind == "feedback-report"


def test_read_receipts_are_automatic() -> None:
    result = verdict(
        CUSTOMER + "Subject: Read: [#12]\n"
        'Content-Type: multipart/report; report-type=disposition-notification; boundary="m"\n\n'
        "--m\nContent-Type: text/plain\n\nYour message was read.\n--m--\n"
    )
    assert result.kind == "auto-reply" and "disposition-notification" in result.reason


def test_null_return_path_alone_is_never_answered() -> None:
    text = CUSTOMER + "Subject: Your ticket\n\nSome automated notice.\n"
    assert verdict(text, envelope_from="<>") == Verdict("auto-reply", "null return path")
    assert verdict(text, envelope_from="").kind == "auto-reply"
    assert verdict("Return-Path: <>\n" + text).kind == "auto-reply"
    assert verdict(text, envelope_from="bob@customer.example").kind == "clean"


def test_null_return_path_with_dsn_like_content_is_a_bounce() -> None:
    text = CUSTOMER + "Subject: Delivery Status Notification (Failure)\n\nCould not deliver.\n"
    assert verdict(text, envelope_from="<>").kind == "bounce"
