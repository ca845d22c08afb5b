"""Turning bytes into text: declared charset, then detection, then latin-1; never raises."""

from __future__ import annotations

import codecs
import logging
import re

from charset_normalizer import from_bytes

# charset_normalizer logs at INFO/DEBUG about every guess; it is noise in a mail pipeline.
logging.getLogger("charset_normalizer").setLevel(logging.CRITICAL)

# Labels seen in real mail mapped to the Python codec that decodes what senders actually
# meant: the WHATWG Encoding Standard maps these labels to supersets (e.g. iso-8859-1 is
# windows-1252 on the web, gb2312 is gb18030), and mail clients behave the same way.
_SUPERSETS = {
    "us-ascii": "cp1252",
    "ascii": "cp1252",
    "ansi_x3.4-1968": "cp1252",
    "iso-8859-1": "cp1252",
    "iso8859-1": "cp1252",
    "iso_8859-1": "cp1252",
    "latin1": "cp1252",
    "latin-1": "cp1252",
    "iso-8859-9": "cp1254",
    "iso-8859-11": "cp874",
    "tis-620": "cp874",
    "gb2312": "gb18030",
    "gbk": "gb18030",
    "x-gbk": "gb18030",
    "cp936": "gb18030",
    "euc-cn": "gb18030",
    "big5": "big5hkscs",
    "x-big5": "big5hkscs",
    "shift_jis": "cp932",
    "shift-jis": "cp932",
    "sjis": "cp932",
    "x-sjis": "cp932",
    "ms_kanji": "cp932",
    "windows-31j": "cp932",
    "euc-kr": "cp949",
    "ks_c_5601-1987": "cp949",
    "ks_c_5601": "cp949",
    "iso-2022-jp": "iso2022_jp_ext",
    "csiso2022jp": "iso2022_jp_ext",
    "iso-8859-8-i": "iso-8859-8",
    "iso-8859-6-i": "iso-8859-6",
    "x-mac-roman": "mac_roman",
    "macintosh": "mac_roman",
    "utf8": "utf-8",
    "unicode-1-1-utf-7": "utf-7",
}
# Labels that promise nothing: go straight to detection.
_UNKNOWN = {"", "unknown", "unknown-8bit", "x-unknown", "x-user-defined", "default", "charset"}
# Second tries for a label whose superset still fails (ISO-2022-JP variants in the wild).
# windows-1252 leaves five bytes undefined; latin-1 (what was declared) takes them.
_RETRIES = {
    # Japanese mail labelled ISO-2022-JP is often EUC-JP or UTF-8 bytes (carrier bounces):
    # both are strict enough to try before Shift_JIS, which accepts almost any byte pairs.
    "iso2022_jp_ext": ("iso2022_jp_2", "iso2022_jp_2004", "utf-8", "euc_jp", "cp932"),
    "cp1252": ("iso8859-1",),
}
# Python codecs that are not charsets a mail can honestly declare.
_NOT_MAIL = {"unicode-escape", "raw-unicode-escape", "idna", "punycode", "undefined", "mbcs"}
# Detectors cannot tell Western European code pages apart on short text; mail in any of
# them is most often windows-1252, the most common unlabelled charset in the wild.
_LATIN_GUESSES = {
    "cp1250", "cp1252", "cp1254", "cp1257", "cp1258", "latin_1", "iso8859_2", "iso8859_3",
    "iso8859_4", "iso8859_9", "iso8859_10", "iso8859_13", "iso8859_14", "iso8859_15",
    "iso8859_16", "mac_roman", "mac_latin2", "mac_iceland", "mac_turkish", "cp850", "cp437",
}  # fmt: skip
_ASCII_ENCODED = ("utf-7", "utf-16", "utf-32", "iso2022")
# Single-byte labels that happily decode UTF-8 bytes into mojibake: see _utf8_lie.
_EIGHT_BIT_LATIN = {"cp1252", "cp1250", "iso8859-1", "iso8859-2", "iso8859-15"}


def codec_for(label: str | None) -> str | None:
    """The Python codec to use for a MIME charset label, or None when it is unknown."""
    if label is None:
        return None
    name = label.strip().strip("\"'").lower()
    if name in _UNKNOWN:
        return None
    name = _SUPERSETS.get(name, name)
    try:
        codec = codecs.lookup(name).name
    except (LookupError, ValueError):
        return None
    return None if codec in _NOT_MAIL else codec


_SURROGATES = re.compile(r"[\ud800-\udfff]+")


def _strict(data: bytes, codec: str) -> str | None:
    """``data`` decoded, or None. Lone surrogates (the UTF-7 codec lets them through) cannot
    be stored as UTF-8, so they become U+FFFD."""
    try:
        text = data.decode(codec)
    except (UnicodeDecodeError, LookupError, ValueError):
        return None
    return text if text.isascii() else _SURROGATES.sub("\ufffd", text)


def _utf8_lie(data: bytes) -> str | None:
    """Bytes that are valid UTF-8 with multi-byte sequences are UTF-8, whatever the label says.

    A mail labelled latin-1 whose bytes form valid multi-byte UTF-8 is far more likely a
    mislabelled UTF-8 mail than latin-1 text that happens to spell UTF-8 sequences.
    """
    if data.isascii():
        return None
    return _strict(data, "utf-8")


def _western(data: bytes) -> bool:
    """Text that reads as windows-1252 with mostly ASCII letters: Western European.

    Detectors guess badly on the short texts mail is made of ("Café crème" comes back as
    Farsi). Cyrillic or CJK bytes read as windows-1252 are nearly all non-ASCII letters,
    so the share of accented letters tells the two apart cheaply.
    """
    sample = _strict(data[:65536], "cp1252")
    if sample is None:
        return False
    ascii_letters = sum(1 for c in sample if c.isascii() and c.isalpha())
    other_letters = sum(1 for c in sample if not c.isascii() and c.isalpha())
    return ascii_letters > 0 and other_letters <= 0.3 * (ascii_letters + other_letters)


def detect(data: bytes) -> str | None:
    """Best-guess codec name for ``data`` (charset-normalizer), or None."""
    try:
        best = from_bytes(data[:65536]).best()
    except Exception:  # a detector bug must never stop a mail
        return None
    return None if best is None else str(best.encoding)


_META_CHARSET = re.compile(rb"""(?i)<meta[^>]{0,200}?charset\s*=\s*["']?([A-Za-z0-9._:-]{1,40})""")


def html_charset(data: bytes) -> str | None:
    """The charset an HTML document declares in a <meta> tag (HTML5 8.2.2.2), if any."""
    match = _META_CHARSET.search(data, 0, 4096)
    return match.group(1).decode("ascii") if match else None


def decode_text(data: bytes, declared: str | None) -> tuple[str, str | None]:
    """Decode ``data``: declared charset, then detected, then latin-1 with replacement.

    Returns the text and a human-readable defect when the declared charset was not used.
    """
    codec = codec_for(declared)
    if data.isascii() and (codec is None or not codec.startswith(_ASCII_ENCODED)):
        # ASCII bytes mean the same in every ASCII-compatible charset. UTF-7 and ISO-2022
        # are written in ASCII bytes, and UTF-16/32 are not ASCII-compatible: decode those.
        return data.decode("ascii"), None
    if codec is not None:
        if codec in _EIGHT_BIT_LATIN:
            lied = _utf8_lie(data)
            if lied is not None:
                return lied, f"charset mismatch: {declared} -> utf-8"
        text = _strict(data, codec)
        if text is not None:
            return text, None
        for retry in _RETRIES.get(codec, ()):
            text = _strict(data, retry)
            if text is not None:
                return text, None
    fallback = "utf-8"
    text = _strict(data, fallback)
    if text is None and _western(data):
        fallback, text = "cp1252", _strict(data, "cp1252")
    if text is None:
        fallback = detect(data) or "cp1252"
        if fallback in _LATIN_GUESSES and _strict(data, "cp1252") is not None:
            fallback = "cp1252"
        text = _strict(data, fallback)
    if text is None:
        # latin-1 maps every byte to a character, so this cannot fail (RFC 2046 4.1.2 leaves
        # the unknown to the reader; better readable mojibake than a lost message).
        fallback = "latin-1"
        text = data.decode(fallback)
    label = declared if declared else "none"
    return text, f"charset fallback: {label} -> {fallback}"
