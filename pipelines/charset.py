"""Decode HTML bytes to text: BOM, HTTP header, ``<meta>`` declarations, then detection."""

from __future__ import annotations

import codecs
import re

from w3lib.encoding import html_body_declared_encoding, http_content_type_encoding, read_bom

# Labels browsers map to a superset encoding (WHATWG Encoding Standard); decoding with the
# superset never fails where the label would, and matches what a reader's browser shows.
_SUPERSETS = {
    "iso-8859-1": "cp1252",
    "latin-1": "cp1252",
    "latin1": "cp1252",
    "ascii": "cp1252",
    "us-ascii": "cp1252",
    "iso-8859-9": "cp1254",
    "iso-8859-11": "cp874",
    "tis-620": "cp874",
    "gb2312": "gb18030",
    "gbk": "gb18030",
    "x-gbk": "gb18030",
    "euc-kr": "cp949",
    "ks_c_5601-1987": "cp949",
    "shift_jis": "cp932",
    "sjis": "cp932",
    "utf8": "utf-8",
    "arabic": "iso-8859-6",
}

_BAD_SHARE = 0.002  # replacement characters tolerated in a declared decoding


def normalize_encoding(label: str | None) -> str | None:
    """Return the Python codec for a charset label, or None if unknown."""
    if not label:
        return None
    label = label.strip().strip("\"'").lower()
    label = _SUPERSETS.get(label, label)
    try:
        name = codecs.lookup(label).name
    except LookupError:
        return None
    return _SUPERSETS.get(name, name)


def _errors(text: str) -> int:
    return text.count("\ufffd")


def _looks_utf8(body: bytes) -> bool:
    if not re.search(rb"[\x80-\xff]", body):
        return False
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def decode_html(body: bytes, content_type: str | None = None) -> tuple[str, str]:
    """Decode an HTML page the way a careful browser would and return (text, encoding).

    Order: byte-order mark; then the HTTP ``Content-Type`` charset and the page's own
    ``<meta charset>``/``http-equiv`` declaration; a declaration is believed only if the bytes
    decode cleanly with it. Bytes that are valid UTF-8 win over a single-byte declaration (the
    usual mislabel); otherwise charset detection decides. Never raises.
    """
    bom_enc, bom = read_bom(body)
    if bom_enc and bom:
        bom_codec = normalize_encoding(bom_enc) or "utf-8"
        return body[len(bom) :].decode(bom_codec, "replace"), bom_codec
    declared: list[str] = []
    header = normalize_encoding(http_content_type_encoding(content_type)) if content_type else None
    meta = normalize_encoding(html_body_declared_encoding(body))
    for label in (header, meta):
        if label and label not in declared:
            declared.append(label)
    utf8 = _looks_utf8(body)
    for enc in declared:
        if enc != "utf-8" and utf8 and _single_byte(enc):
            # Valid multi-byte UTF-8 is almost never legitimate text in a single-byte charset.
            continue
        text = body.decode(enc, "replace")
        if _errors(text) <= max(1, len(text) * _BAD_SHARE):
            if _single_byte(enc) and _latin_mojibake(text):
                # Declared Latin, but the letters say another script (cp1256 Arabic read as
                # cp1252 gives "ÇáÓÝÇÑÉ"): let detection decide.
                return _detect(body, declared)
            return text, enc
    if utf8 or not re.search(rb"[\x80-\xff]", body):
        return body.decode("utf-8", "replace"), "utf-8"
    return _detect(body, declared)


def _latin_mojibake(text: str) -> bool:
    """Tell whether text is mostly accented Latin capitals and symbols: another script misread."""
    body = re.sub(r"<[^>]*>", " ", text[:200_000])
    letters = [c for c in body if c.isalpha()]
    if len(letters) < 200:
        return False
    high = sum("\u00c0" <= c <= "\u00ff" for c in letters)
    return high / len(letters) > 0.3


def _single_byte(enc: str) -> bool:
    try:
        return len("\u00e9".encode(enc, "ignore")) <= 1 and codecs.lookup(enc).name != "utf-8"
    except LookupError:
        return False


def _detect(body: bytes, declared: list[str]) -> tuple[str, str]:
    from charset_normalizer import from_bytes

    best = from_bytes(body).best()
    if best is not None and best.encoding:
        found = normalize_encoding(best.encoding) or best.encoding
        return body.decode(found, "replace"), found
    enc = declared[0] if declared else "cp1252"
    return body.decode(enc, "replace"), enc
