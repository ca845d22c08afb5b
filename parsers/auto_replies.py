"""Recognising automatic replies (RFC 3834) and mailing-list mail (RFC 2369, RFC 2919)."""

from __future__ import annotations

import re

from parsers.mail import ParsedMail

# Out-of-office subjects in the languages we serve, anchored at the start: a customer's
# "Re: our out of office setup is broken" is not an auto-reply.
_AUTO_SUBJECT = re.compile(
    r"(?i)^\s*(?:\[[^\]]{0,40}\]\s*)?(?:"
    r"out of (?:the )?office|ooo\b|automatic reply|auto(?:matic)?[- ]?(?:reply|response|respons)"
    r"|autoreply|autorespon|auto:|away until|away from (?:the office|my (?:desk|e-?mail))"
    r"|on vacation|vacation (?:reply|message|notice)|i am out of the office"
    r"|abwesenheitsnotiz|abwesenheit|automatische antwort|automatische r[üu]ckantwort"
    r"|ich bin nicht im b[üu]ro|nicht im b[üu]ro|urlaubsantwort"
    r"|r[ée]ponse automatique|absence|absent du bureau|message d'absence"
    r"|respuesta autom[áa]tica|fuera de la oficina|ausente|fuera de oficina"
    r"|risposta automatica|fuori sede|fuori ufficio|automatisch antwoord|afwezig"
    r"|resposta autom[áa]tica|fora do escrit[óo]rio"
    r")"
    # ... as an automatic subject has it: the phrase, then a colon, a dash, a bracket, a date
    # or nothing. "Out of office settings lost" or "Absence of invoices" is a customer's request.
    r"\w*(?:\s*(?:$|[:(\[\-–—/|,!.]|\d)|\s+(?:until|till|from|to|on|re|aw|wg|fw|fwd|bis|ab|vom|du|jusqu|au|"
    r"hasta|del|dal|al|fino|tot|van|at[ée])\b)"
)
_REPORT_AUTOMATIC = {"disposition-notification"}  # read receipts, RFC 8098


def _comment_free(value: str) -> str:
    """A structured header value without its RFC 5322 comments, lower-case."""
    return re.sub(r"\([^)]*\)", "", value).strip().lower()


def auto_reply_reason(mail: ParsedMail, report_type: str) -> str | None:
    """Why ``mail`` is an automatic reply, or None."""
    for value in mail.header_all("Auto-Submitted"):
        # RFC 3834 section 5.1: anything but "no" is automatic.
        if _comment_free(value).split(";")[0].strip() not in ("", "no"):
            return f"Auto-Submitted: {value}"
    for name in ("X-Autoreply", "X-Autorespond", "X-Autoresponse", "X-Auto-Reply", "X-Vacation"):
        flag = mail.header(name)
        if flag is not None and _comment_free(flag) not in ("no", "false", "0"):
            return f"{name}: {flag}"
    for value in mail.header_all("Precedence"):
        if _comment_free(value) == "auto_reply":
            return f"Precedence: {value}"
    if report_type in _REPORT_AUTOMATIC:
        return f"multipart/report; report-type={report_type}"
    if _AUTO_SUBJECT.match(mail.subject):
        return f"out-of-office subject: {mail.subject[:80]}"
    # Exchange marks its own OOF mail "X-Auto-Response-Suppress: All" *and* the header is
    # on much ordinary Outlook mail, so it counts only with the OOF message class.
    if (mail.header("X-MS-Exchange-Generated-Message-Source") or "").lower().startswith("oof"):
        return "X-MS-Exchange-Generated-Message-Source: OOF"
    return None


_LIST_HEADERS = (
    "List-Unsubscribe",
    "List-Post",
    "List-Help",
    "List-Subscribe",
    "List-Owner",
    "List-Archive",
    "Mailing-List",
    "X-Mailing-List",
    "X-BeenThere",
    "X-Mailman-Version",
    "X-List",
    "X-Ml-Name",
)


def list_reason(mail: ParsedMail) -> str | None:
    """Why ``mail`` is list or bulk mail, or None."""
    list_id = mail.header("List-Id")
    if list_id is not None:
        return f"List-Id: {list_id}"
    for value in mail.header_all("Precedence"):
        if _comment_free(value) in ("list", "bulk", "junk"):
            return f"Precedence: {value}"
    for name in _LIST_HEADERS:
        found = mail.header(name)
        if found is not None:
            return f"{name}: {found[:120]}"
    sender = mail.header("Sender") or ""
    if re.search(r"(?i)\b(?:owner-|[\w.-]+-(?:owner|request|bounces?)@)", sender):
        return f"list Sender: {sender[:120]}"
    return None
