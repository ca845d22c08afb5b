"""What in an HTML mail a mail client would drop or refuse: scripts, style sheets, fetched things, layout CSS."""

from __future__ import annotations

import re
from html.parser import HTMLParser

REFUSED_TAGS = {"script", "style", "link", "img", "iframe", "object", "embed", "form", "svg", "video", "audio",
                "base"}
# CSS that mail clients ignore or strip (Outlook, Gmail), or that fetches something.
REFUSED_CSS = re.compile(r"display\s*:\s*(flex|grid)|position\s*:|url\(|@import|expression\(", re.IGNORECASE)


class _Audit(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.problems: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in REFUSED_TAGS:
            self.problems.append(f"<{tag}>")
        for name, value in attrs:
            if name.startswith("on"):
                self.problems.append(f"<{tag} {name}>")
            if name in ("src", "href", "background") and value:
                self.problems.append(f"<{tag} {name}={value!r}>")
            if name == "style" and value and REFUSED_CSS.search(value):
                self.problems.append(f"<{tag} style={value!r}>")
            if name == "class":
                self.problems.append(f"<{tag} class>: styles must be inline")


def mail_safe_problems(html: str) -> list[str]:
    audit = _Audit()
    audit.feed(html)
    audit.close()
    return audit.problems
