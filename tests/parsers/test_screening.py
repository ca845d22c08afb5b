"""screen(): bounces, auto-replies, lists, loops and feedback reports, each with its reason."""

from __future__ import annotations

import time
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
        "User-Engineer: SomeGenerator/1.0\nVersion: 1\n"
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


def _failed(text: str) -> tuple[str, ...]:
    result = verdict(text)
    assert result.kind == "bounce" and result.bounce is not None, result
    return result.bounce.failed_recipients


RETURNED = (
    "From: Support <support@helpdesk.example>\nTo: gone@customer.example\n"
    "Message-ID: <ticket-9.1@helpdesk.example>\nSubject: [#9] Printer\n"
    "List-Subscribe: <mailto:news-request@lists.example?subject=subscribe>\n\nHello\n"
)


@pytest.mark.parametrize(
    "report",
    [
        # Exim: the address on its own line, the reason indented below it.
        "This message was created automatically by mail delivery software.\n\n"
        "A message that you sent could not be delivered to one or more of its\n"
        "recipients. This is a permanent error. The following address(es) failed:\n\n"
        "  gone@customer.example\n    quota exceeded\n\n"
        "------ This is a copy of the message, including all the headers. ------\n\n",
        "The following address(es) failed:\n\ngone@customer.example:\n"
        "    SMTP error from remote mail server after RCPT TO:<gone@customer.example>\n\n"
        "--- The header of the original message is following. ---\n\n",
        # Exchange 2003, IMail/SMTP32, Sendmail v5, OpenSMTPD, DMA, Yahoo.
        "Your message\n\n  To:      other@customer.example\n  Subject: [#9] Printer\n\n"
        "did not reach the following recipient(s):\n\n"
        "gone@customer.example on Thu, 29 Apr 2010 00:00:00 -0000\n"
        "    The recipient name is not recognized\n\n",
        "Delivery failed 20 attempts: gone@customer.example\n\n\nOriginal message follows.\n\n",
        "Intended recipient: gone@customer.example\nReason: mailbox unavailable\n\n",
        "   ----- Transcript of session follows -----\n"
        "554 <gone@customer.example>... Remote protocol error\n\n"
        "   ----- Unsent message follows -----\n",
        "    An error has occurred while attempting to deliver a message for\n"
        "    the following list of recipients:\n\n"
        "gone@customer.example: 550 5.1.1 no such user\n\n    Below is a copy of the original message:\n\n",
        "There was an error delivering your mail to <gone@customer.example>.\n\n"
        "Message headers follow.\n\n",
        "Sorry, we were unable to deliver your message to the following address.\n\n"
        "<gone@customer.example>:\nRemote host said: 550 5.1.1 User Unknown [RCPT_TO]\n\n"
        "--- Below this line is a copy of the message.\n\n",
    ],
)
def test_plain_text_bounces_name_who_bounced_never_the_returned_headers(report: str) -> None:
    text = (
        "From: Mail Delivery System <MAILER-DAEMON@mx.customer.example>\n"
        "To: support@helpdesk.example\nSubject: Mail delivery failed\n\n" + report + RETURNED
    )
    assert _failed(text) == ("gone@customer.example",)


def test_original_recipient_names_the_address_we_sent_to() -> None:
    text = DSN.format(action="failed", status="5.1.1", original_type="message/rfc822",
                      original_body="Hi").replace(
        "Final-Recipient: rfc822; gone@customer.example",
        "Final-Recipient: rfc822; gone.forwarded@mailhost.customer.example")
    assert _failed(text) == ("gone@customer.example",)


def test_postfix_text_expanded_from_names_the_address_we_sent_to() -> None:
    text = (
        "From: MAILER-DAEMON@mx.customer.example\nTo: support@helpdesk.example\n"
        "Subject: Undelivered Mail Returned to Sender\n\n"
        "This is the mail system at host mx.customer.example.\n\n"
        "<bob.home@isp.example> (expanded from <bob@customer.example>): host\n"
        "    mx.isp.example said: 550 5.1.1 user unknown\n"
    )
    assert _failed(text) == ("bob@customer.example",)


def test_a_japanese_carrier_bounce_is_a_bounce() -> None:
    body = (
        "送信先のメールボックスが一杯のため、送信できませんでした。\n\n"
        "Your mail sent on: Thu, 29 Apr 2013 23:45:22 +0900\n"
        "     Could not be delivered to: <gone@customer.example>\n"
        "     As their mailbox is full.\n"
    )
    raw = (
        "From: no-reply@mail.carrier.example\nTo: support@helpdesk.example\n"
        "Subject: =?ISO-2022-JP?B?GyRCJWEhPCVrJSglaSE8RExDThsoQg==?=\n"
        'MIME-Version: 1.0\nContent-Type: text/plain; charset="ISO-2022-JP"\n\n'
    ).encode("ascii") + body.encode("iso-2022-jp")
    result = screen(parse(raw, received_at=RECEIVED), OWN)
    assert result.kind == "bounce" and result.bounce is not None
    assert result.bounce.failed_recipients == ("gone@customer.example",)


def test_euc_jp_bytes_labelled_iso_2022_jp_decode() -> None:
    raw = (
        b'From: Postmaster@carrier.example\nSubject: Mail System Error - Returned Mail\n'
        b'Content-Type: text/plain; charset="ISO-2022-JP"\n\n'
    ) + "次のあて先へのメッセージはエラーのため送信できませんでした。\n".encode("euc_jp")
    assert "送信できませんでした" in parse(raw, received_at=RECEIVED).text


def test_feedback_report_names_type_complainant_and_our_mail() -> None:
    result = verdict(
        "From: feedback@isp.example\nTo: support@helpdesk.example\nSubject: Abuse Report\n"
        'Content-Type: multipart/report; report-type=feedback-report; boundary="f"\n\n'
        "--f\nContent-Type: text/plain\n\nA complaint.\n"
        "--f\nContent-Type: message/feedback-report\n\nFeedback-Type: abuse\nVersion: 1\n"
        "User-Engineer: FBL/1.0\nOriginal-Rcpt-To: Victim@isp.example\n"
        "--f\nContent-Type: message/rfc822\n\n" + RETURNED + "--f--\n"
    )
    assert result.kind == "feedback-report" and result.feedback is not None
    assert result.feedback.feedback_type == "abuse" and result.feedback.complaint
    assert result.feedback.complainants == ("victim@isp.example",)
    assert result.feedback.original_message_ids == ("<ticket-9.1@helpdesk.example>",)


def test_a_complaint_sent_as_multipart_mixed_is_a_feedback_report() -> None:
    result = verdict(
        "From: staff@mail.example\nTo: abuse@helpdesk.example\n"
        "Subject: complaint about message from 192.0.2.1\n"
        'Content-Type: multipart/mixed; boundary="m"\n\n'
        "--m\nContent-Type: message/rfc822\n\n" + RETURNED + "--m--\n"
    )
    assert result.kind == "feedback-report" and not result.answerable
    customer = verdict(
        CUSTOMER + "Subject: Complaint about message from your engineer\n"
        'Content-Type: multipart/mixed; boundary="m"\n\n'
        "--m\nContent-Type: text/plain\n\nSee below.\n"
        "--m\nContent-Type: message/rfc822\n\n" + RETURNED + "--m--\n"
    )
    assert customer.kind == "clean"


def test_a_dmarc_failure_report_is_no_complaint() -> None:
    result = verdict(
        "From: dmarc@isp.example\nTo: support@helpdesk.example\nSubject: DMARC report\n"
        'Content-Type: multipart/report; report-type=feedback-report; boundary="f"\n\n'
        "--f\nContent-Type: message/feedback-report\n\nFeedback-Type: auth-failure\n"
        "Original-Rcpt-To: someone@isp.example\n--f--\n"
    )
    assert result.kind == "feedback-report" and result.feedback is not None
    assert not result.feedback.complaint


def test_json_notices_of_a_sending_service() -> None:
    def notice(kind: str, body: str) -> Verdict:
        return verdict(
            "From: no-reply@notifications.example\nTo: support@helpdesk.example\n"
            "Subject: AWS Notification Message\n\n"
            f'{{"notificationType":"{kind}",{body}}}\n'
        )

    bounce = notice("Bounce", '"bounce":{"bounceType":"Permanent","bouncedRecipients":'
                    '[{"emailAddress":"gone@customer.example","status":"5.1.1"}]}')
    assert bounce.kind == "bounce" and bounce.bounce is not None
    assert bounce.bounce.failed_recipients == ("gone@customer.example",) and bounce.bounce.permanent
    complaint = notice("Complaint", '"complaint":{"complainedRecipients":[{"emailAddress":"v@isp.example"}]}')
    assert complaint.kind == "feedback-report" and complaint.feedback is not None
    assert complaint.feedback.complainants == ("v@isp.example",)


@pytest.mark.parametrize(
    "body",
    [
        ("a" * 63 + "@") * 400,
        ("x@" + "a-" * 400 + "\n") * 50,
        "<a@b.example> (expanded from " * 800,
        ("550 " + "<" * 900 + "\n") * 400,
        ("Final-Recipient: rfc822; " + "a" * 900 + "\n") * 400,
        ("Original-Rcpt-To: " + "a" * 290 + "\n") * 400,
        '"notificationType":"Bounce","bouncedRecipients":[' + '"emailAddress":"' * 3000,
    ],
)
def test_a_hostile_bounce_is_screened_in_bounded_time(body: str) -> None:
    hostile = mail("From: MAILER-DAEMON@mx.example\nTo: support@helpdesk.example\n"
                   "Subject: Undeliverable\n\n" + body)
    started = time.perf_counter()
    result = screen(hostile, OWN)
    assert result.kind == "bounce" and time.perf_counter() - started < 0.5
