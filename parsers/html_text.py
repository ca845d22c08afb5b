"""Customer HTML: sanitised for display with nh3, and converted to plain text for the body."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import nh3

# cid: links inline images to their MIME parts (RFC 2392); every other scheme is nh3's
# default allow-list, which has no javascript:, vbscript: or data:.
_URL_SCHEMES = set(nh3.ALLOWED_URL_SCHEMES) | {"cid"}
_DROP_WITH_CONTENT = {"script", "style", "title"}
_TAGS = set(nh3.ALLOWED_TAGS) - _DROP_WITH_CONTENT


def sanitise_html(html: str) -> str:
    """HTML safe to show: no script, no event handlers, no javascript: URLs."""
    return nh3.clean(
        html,
        tags=_TAGS,
        clean_content_tags=_DROP_WITH_CONTENT,
        url_schemes=_URL_SCHEMES,
    )


_BLOCK = {
    "p", "div", "br", "tr", "li", "ul", "ol", "table", "h1", "h2", "h3", "h4", "h5", "h6",
    "pre", "hr", "blockquote", "dl", "dt", "dd", "section", "article", "header", "footer",
    "address", "form", "fieldset", "center",
}  # fmt: skip
_PARAGRAPH = {"p", "blockquote", "table", "ul", "ol", "h1", "h2", "h3", "h4", "h5", "h6", "pre"}
_SKIP = {"script", "style", "head", "title", "template", "noscript"}
_VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}
# Text a reader never sees (a preheader, or words hidden to steer whoever reads the source):
# left out, so that neither the rules nor an engineer's notice take it for the customer's.
_HIDDEN_STYLE = re.compile(r"(?:display\s*:\s*none|visibility\s*:\s*hidden)", re.IGNORECASE)


def _hidden(attrs: list[tuple[str, str | None]]) -> bool:
    return any(name == "hidden" or (name == "style" and value and _HIDDEN_STYLE.search(value))
               for name, value in attrs)
# Where a client starts the quoted message: Outlook's reply header (web and desktop) and the
# "border-top" rule desktop Outlook and Windows Mail draw above it. Written as the line of
# underscores Outlook's own text part has there, as is every <hr>.
_QUOTE_IDS = {"divrplyfwdmsg", "olk_src_body_section", "appendonsend", "x_divrplyfwdmsg"}
_TOP_RULE = re.compile(r"border-top\s*:[^;]{0,40}solid|border-top-style\s*:\s*solid", re.IGNORECASE)
RULE_LINE = "_" * 32


def _starts_quote(tag: str, attrs: list[tuple[str, str | None]]) -> bool:
    for name, value in attrs:
        if name == "id" and value and value.lower() in _QUOTE_IDS:
            return True
        if name == "style" and value and tag == "div" and _TOP_RULE.search(value[:500]):
            return True
    return False


_SPACES = re.compile(r"[ \t\r\n\f\v\u00a0\u200b]+")
_BLANK_RUNS = re.compile(r"\n{3,}")
MAX_HTML_TO_TEXT = 1_000_000


class _TextExtractor(HTMLParser):
    """Collects text, turning block elements into line breaks and blockquotes into ``>``."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.lines: list[str] = []
        self._line: list[str] = []
        self._skip = 0
        self._quote = 0
        self._pre = 0
        self._hidden = 0  # open elements inside (and including) a hidden one

    def _break(self, blank: bool = False) -> None:
        text = "".join(self._line)
        if not self._pre:
            text = _SPACES.sub(" ", text).strip()
        prefix = "> " * self._quote
        if text:
            self.lines.append((prefix + text).rstrip())
        if blank and self.lines and self.lines[-1].strip("> "):
            self.lines.append(prefix.rstrip())
        self._line = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if self._hidden or (tag not in _VOID and _hidden(attrs)):
            self._hidden += tag not in _VOID
            return
        if not self._skip and (tag == "hr" or _starts_quote(tag, attrs)):
            self._break()
            if not (self.lines and self.lines[-1].endswith(RULE_LINE)):  # one rule, not two
                self._line.append(RULE_LINE)
                self._break()
        if tag in _SKIP:
            self._skip += 1
        elif tag in _BLOCK:
            self._break(blank=tag in _PARAGRAPH or (tag == "br" and not "".join(self._line)))
            if tag == "blockquote":
                self._quote += 1
            elif tag == "pre":
                self._pre += 1
            elif tag == "li":
                self._line.append("- ")
        elif tag == "img":
            alt = dict(attrs).get("alt")
            if alt:
                self._line.append(f"[{alt}]")

    def handle_endtag(self, tag: str) -> None:
        if self._hidden:
            self._hidden -= tag not in _VOID
            return
        if tag in _SKIP:
            self._skip = max(0, self._skip - 1)
        elif tag in _BLOCK:
            self._break()
            if tag == "blockquote":
                self._quote = max(0, self._quote - 1)
            elif tag == "pre":
                self._pre = max(0, self._pre - 1)
            self._break(blank=tag in _PARAGRAPH)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)
        if tag not in ("br", "hr", "img"):
            self.handle_endtag(tag)

    def handle_data(self, data: str) -> None:
        if self._skip or self._hidden:
            return
        if self._pre:
            for i, chunk in enumerate(data.split("\n")):
                if i:
                    self._break()
                self._line.append(chunk)
        else:
            self._line.append(data)


def html_to_text(html: str) -> str:
    """Readable plain text for ``html``; quoted blocks keep a ``>`` prefix per level.

    Only the first ``MAX_HTML_TO_TEXT`` characters are converted (about half a second of
    work): the text is for reading a ticket, the full HTML is kept for display.
    """
    extractor = _TextExtractor()
    try:
        extractor.feed(html[:MAX_HTML_TO_TEXT])
        extractor.close()
    except Exception:  # HTMLParser is lenient, but a hostile document must not stop a mail
        pass
    extractor._break()
    text = "\n".join(extractor.lines).strip("\n")
    return _BLANK_RUNS.sub("\n\n", text)
