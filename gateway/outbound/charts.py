"""HTML that mail clients draw: tables and horizontal bar charts, with figures in the reader's locale.

No scripts, no images, no style sheets: each element carries its own inline style, and a bar is a
row of table cells with a width and a background colour, which every mail client renders
(Outlook's Word engine included). Text given to these functions is escaped; what they return is
``Markup``, so the pieces can be put together, or into an autoescaping template, as they are.
The ``data-*`` attributes name the charts and bars for whoever reads the page as a document.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from babel import Locale, UnknownLocaleError
from babel.dates import format_date, format_interval, format_time
from babel.lists import format_list
from babel.numbers import format_decimal, format_percent
from babel.units import format_unit
from markupsafe import Markup

FONT = "font-family:Arial,Helvetica,sans-serif"
INK, MUTED, RULE, TRACK, STRIPE = "#1f2328", "#59636e", "#d1d9e0", "#eef1f4", "#f6f8fa"
# Okabe and Ito's colours, told apart with the common colour blindnesses.
MET, MISSED = "#009e73", "#d55e00"
PALETTE = ("#0072b2", "#e69f00", "#cc79a7", "#56b4e9", "#009e73", "#d55e00", "#f0e442", "#000000")
NONE = "–"


class Figures:
    """Numbers, percentages, durations and dates as the reader's locale writes them."""

    def __init__(self, tag: str) -> None:
        try:
            self.locale = Locale.parse(tag.replace("-", "_"))
        except (UnknownLocaleError, ValueError, TypeError) as exc:
            raise ValueError(f"{tag!r} is not a locale known here (write it like en_GB or de-DE)") from exc

    @property
    def lang(self) -> str:
        """The BCP 47 tag, for ``<html lang>``."""
        parts = (self.locale.language, self.locale.script, self.locale.territory)
        return "-".join(p for p in parts if p)

    @property
    def direction(self) -> str:
        return "rtl" if self.locale.character_order == "right-to-left" else "ltr"

    def number(self, value: float | None) -> str:
        return NONE if value is None else format_decimal(round(value, 1), locale=self.locale)

    def percent(self, value: float | None) -> str:
        """``value`` out of 100, to a tenth."""
        if value is None:
            return NONE
        return format_percent(Decimal(str(round(value, 1))) / 100, locale=self.locale, decimal_quantization=False)

    def duration(self, minutes: float | None) -> str:
        """Minutes in the two largest units: "3 hrs 5 mins", "2 Tage, 4 Std."."""
        if minutes is None:
            return NONE
        total = round(minutes)
        if total < 60:
            parts = [(total, "minute")]
        elif total < 24 * 60:
            parts = [(total // 60, "hour"), (total % 60, "minute")]
        else:
            days, hours = divmod(round(total / 60), 24)
            parts = [(days, "day"), (hours, "hour")]
        units = [format_unit(n, f"duration-{unit}", length="short", locale=self.locale)
                 for n, unit in parts if n or len(parts) == 1]
        return format_list(units, style="unit-narrow", locale=self.locale)

    def day(self, value: date) -> str:
        return format_date(value, "medium", locale=self.locale)

    def days(self, first: date, last: date) -> str:
        """A span of days, both included: "23 – 29 Nov"."""
        if first == last:
            return format_date(first, "d MMM", locale=self.locale)
        return format_interval(first, last, "MMMd", locale=self.locale)

    def period(self, first: date, last: date) -> str:
        return format_interval(first, last, "yMMMd", locale=self.locale)

    def moment(self, value: datetime) -> str:
        """A date and a time of day, in the instant's own offset, without seconds."""
        pattern = str(self.locale.datetime_formats.get("medium", "{1} {0}"))
        return pattern.format(format_time(value, "short", tzinfo=value.tzinfo, locale=self.locale),
                              format_date(value, "medium", locale=self.locale))


@dataclass(frozen=True, slots=True)
class Segment:
    value: float
    colour: str
    name: str = ""


@dataclass(frozen=True, slots=True)
class Bar:
    label: str
    segments: tuple[Segment, ...]
    text: str = ""  # the figure written after the bar

    @property
    def total(self) -> float:
        return sum(s.value for s in self.segments)


@dataclass(frozen=True, slots=True)
class Column:
    title: str
    numeric: bool = False


def _attrs(**values: str) -> Markup:
    return Markup("").join(Markup(' {}="{}"').format(k.replace("_", "-"), v) for k, v in values.items())


def _cell(text: str | Markup, style: str = "", **attrs: str) -> Markup:
    return Markup('<td style="{};font-size:13px;color:{};{}"{}>{}</td>').format(FONT, INK, style, _attrs(**attrs),
                                                                               text)


def widths(values: Sequence[float], scale: float) -> list[int]:
    """Whole percentages of ``scale``, at least 1 for any value above nothing, summing to 100 or less."""
    if scale <= 0:
        return [0 for _ in values]
    out = [max(1, round(100 * v / scale)) if v > 0 else 0 for v in values]
    while sum(out) > 100:
        out[out.index(max(out))] -= 1
    return out


def _track(bar: Bar, scale: float) -> Markup:
    spans = widths([s.value for s in bar.segments], scale)
    cells = []
    for segment, width in zip(bar.segments, spans, strict=True):
        if width:
            cells.append(Markup(
                '<td data-segment="{n}" title="{n}" width="{w}%" bgcolor="{c}" style="width:{w}%;height:14px;'
                'background-color:{c};font-size:0;line-height:0">&nbsp;</td>').format(n=segment.name, w=width,
                                                                                       c=segment.colour))
    rest = 100 - sum(spans)
    if rest:
        cells.append(Markup('<td width="{w}%" bgcolor="{c}" style="width:{w}%;height:14px;background-color:{c};'
                            'font-size:0;line-height:0">&nbsp;</td>').format(w=rest, c=TRACK))
    return Markup('<table role="presentation" width="100%" cellpadding="0" cellspacing="0" border="0" '
                  'style="border-collapse:collapse;width:100%"><tr>{}</tr></table>').format(Markup("").join(cells))


def legend(entries: Iterable[tuple[str, str]]) -> Markup:
    """Colour squares and names, on one line: ``(colour, name)`` pairs."""
    items = [Markup('<span style="color:{}">&#9632;</span>&nbsp;{}').format(colour, name) for colour, name in entries]
    return Markup('<p data-legend="" style="{};font-size:12px;color:{};margin:6px 0 0">{}</p>').format(
        FONT, MUTED, Markup(" &nbsp; ").join(items))


def bar_chart(name: str, title: str, bars: Sequence[Bar], *, scale: float | None = None,
              key: Sequence[tuple[str, str]] = (), empty: str = "nothing to show", note: str = "") -> Markup:
    """A horizontal bar chart: a label, a bar of coloured segments and its figure on each row.

    ``title`` heads it if given; ``scale`` is the full width (the largest bar's total if not
    given); ``key`` its legend."""
    full = scale if scale is not None else max((b.total for b in bars), default=0.0)
    rows = [Markup('<tr data-bar="{}">{}{}{}</tr>').format(
        bar.label, _cell(bar.label, "width:28%;padding:3px 8px 3px 0;white-space:nowrap"),
        Markup('<td style="width:57%;padding:3px 0">{}</td>').format(_track(bar, full)),
        _cell(bar.text, "width:15%;padding:3px 0 3px 8px;white-space:nowrap;text-align:right"))
        for bar in bars]
    if not rows:
        rows = [Markup("<tr>{}</tr>").format(_cell(empty, f"color:{MUTED};padding:3px 0", colspan="3"))]
    foot = [legend(key)] if key else []
    if note:
        foot.append(paragraph(note, muted=True))
    return Markup('<table role="presentation" data-chart="{}" width="100%" cellpadding="0" cellspacing="0" border="0"'
                  ' style="border-collapse:collapse;width:100%;margin:0 0 4px">{}{}</table>{}').format(
        name, Markup("<tr>{}</tr>").format(_cell(title, "font-weight:bold;padding:0 0 6px", colspan="3"))
        if title else "",
        Markup("").join(rows), Markup("").join(foot))


def table(name: str, columns: Sequence[Column], rows: Sequence[Sequence[str | Markup]], *,
          empty: str = "none") -> Markup:
    """A table of text, figures aligned right, every other row shaded."""
    head = Markup("").join(
        _cell(c.title, f"font-weight:bold;padding:4px 6px;border-bottom:2px solid {RULE};white-space:nowrap;"
                       f"text-align:{'right' if c.numeric else 'left'}") for c in columns)
    body = []
    for i, row in enumerate(rows):
        shade = Markup(' bgcolor="{0}" style="background-color:{0}"').format(STRIPE) if i % 2 else Markup("")
        cells = Markup("").join(
            _cell(value, f"padding:4px 6px;border-bottom:1px solid {RULE};vertical-align:top;"
                         f"text-align:{'right' if c.numeric else 'left'}")
            for c, value in zip(columns, row, strict=True))
        body.append(Markup("<tr{}>{}</tr>").format(shade, cells))
    if not body:
        body = [Markup("<tr>{}</tr>").format(_cell(empty, f"color:{MUTED};padding:4px 6px",
                                                   colspan=str(len(columns))))]
    return Markup('<table data-table="{}" width="100%" cellpadding="0" cellspacing="0" border="0" '
                  'style="border-collapse:collapse;width:100%">'
                  '<thead><tr>{}</tr></thead><tbody>{}</tbody></table>').format(name, head, Markup("").join(body))


def tiles(items: Sequence[tuple[str, str]]) -> Markup:
    """Headline figures side by side: ``(figure, what it counts)`` pairs."""
    width = 100 // max(len(items), 1)
    cells = Markup("").join(Markup(
        '<td data-tile="" width="{w}%" style="width:{w}%;padding:10px;border:1px solid {r};{f};vertical-align:top">'
        '<div style="font-size:22px;font-weight:bold;color:{i}">{fig}</div>'
        '<div style="font-size:12px;color:{m}">{what}</div></td>').format(
        w=width, r=RULE, f=FONT, i=INK, m=MUTED, fig=figure, what=what) for figure, what in items)
    return Markup('<table role="presentation" width="100%" cellpadding="0" cellspacing="0" border="0" '
                  'style="border-collapse:collapse;width:100%;margin:0 0 12px"><tr>{}</tr></table>').format(cells)


def heading(text: str, level: int = 2) -> Markup:
    size = {1: 22, 2: 17}.get(level, 15)
    return Markup('<h{l} style="{f};font-size:{s}px;color:{i};margin:20px 0 8px">{t}</h{l}>').format(
        l=level, f=FONT, s=size, i=INK, t=text)


def paragraph(text: str | Markup, *, muted: bool = False) -> Markup:
    colour, size = (MUTED, 12) if muted else (INK, 14)
    return Markup('<p style="{};font-size:{}px;color:{};margin:4px 0 8px">{}</p>').format(FONT, size, colour, text)


def document(title: str, parts: Iterable[Markup], figures: Figures, *, width: int = 760) -> Markup:
    """A whole HTML document: a mail's HTML part, or a page to keep and forward.

    Its Content-Security-Policy forbids scripts and anything fetched from elsewhere; styles
    are inline."""
    return Markup(
        '<!DOCTYPE html>\n<html lang="{lang}" dir="{dir}"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; style-src \'unsafe-inline\'">'
        '<title>{title}</title></head>\n'
        '<body style="margin:0;padding:0;background-color:{bg}" bgcolor="{bg}">'
        '<table role="presentation" width="100%" cellpadding="0" cellspacing="0" border="0" bgcolor="{bg}" '
        'style="background-color:{bg}"><tr><td align="center" style="padding:20px 10px">'
        '<table role="presentation" width="{width}" cellpadding="0" cellspacing="0" border="0" bgcolor="#ffffff" '
        'style="width:100%;max-width:{width}px;background-color:#ffffff;border:1px solid {rule}">'
        '<tr><td style="padding:8px 24px 24px;{font};color:{ink};text-align:{start}">\n{body}\n'
        '</td></tr></table></td></tr></table></body></html>\n').format(
        lang=figures.lang, dir=figures.direction, title=title, bg=STRIPE, width=width, rule=RULE, font=FONT,
        ink=INK, start="right" if figures.direction == "rtl" else "left", body=Markup("\n").join(parts))
