from __future__ import annotations

import pytest

from pipelines.charset import decode_html, normalize_encoding

ARABIC = "قالت السفارة الأمريكية في ليبيا إن الزيارة مخطط لها منذ فترة طويلة"


def page(meta: str = "") -> str:
    return f"<html><head>{meta}<title>t</title></head><body><p>{ARABIC}</p></body></html>"


def test_http_header_charset_windows_1256() -> None:
    body = page().encode("cp1256")
    text, enc = decode_html(body, "text/html; charset=windows-1256")
    assert ARABIC in text and enc == "cp1256"


def test_meta_charset_only() -> None:
    body = page('<meta charset="windows-1256">').encode("cp1256")
    text, enc = decode_html(body, "text/html")
    assert ARABIC in text and enc == "cp1256"


def test_http_equiv_only() -> None:
    meta = '<meta http-equiv="Content-Type" content="text/html; charset=windows-1256">'
    text, _ = decode_html(page(meta).encode("cp1256"), None)
    assert ARABIC in text


def test_bom_wins_over_wrong_declaration() -> None:
    body = b"\xef\xbb\xbf" + page('<meta charset="iso-8859-1">').encode("utf-8")
    text, enc = decode_html(body, "text/html; charset=iso-8859-1")
    assert ARABIC in text and enc == "utf-8" and not text.startswith("\ufeff")


def test_utf8_bytes_declared_as_latin1_are_read_as_utf8() -> None:
    text, enc = decode_html(page().encode("utf-8"), "text/html; charset=iso-8859-1")
    assert ARABIC in text and enc == "utf-8"


def test_undeclared_cp1256_is_detected() -> None:
    body = (page() * 5).encode("cp1256")
    text, _ = decode_html(body, "text/html")
    assert ARABIC in text


def test_declared_utf8_with_invalid_bytes_falls_back() -> None:
    body = page('<meta charset="utf-8">').encode("cp1256") * 3
    text, enc = decode_html(body, "text/html; charset=utf-8")
    assert ARABIC in text and enc != "utf-8"


@pytest.mark.parametrize(
    ("label", "codec"),
    [("ISO-8859-1", "cp1252"), ("windows-1256", "cp1256"), ("utf8", "utf-8"), ("bogus", None)],
)
def test_labels_map_to_browser_codecs(label: str, codec: str | None) -> None:
    assert normalize_encoding(label) == codec


def test_arabic_declared_as_latin1_is_not_read_as_latin() -> None:
    body = (page('<meta charset="iso-8859-1">') * 8).encode("cp1256")
    text, enc = decode_html(body, "text/html; charset=iso-8859-1")
    assert ARABIC in text and enc == "cp1256"


def test_real_latin1_french_stays_latin1() -> None:
    french = "<p>L'été dernier, la fréquentation a augmenté à Marrakech et à Fès.</p>" * 20
    text, enc = decode_html(
        f"<html><body>{french}</body></html>".encode("cp1252"), "text/html; charset=iso-8859-1"
    )
    assert "été dernier" in text and enc == "cp1252"
