from __future__ import annotations

import os

import pytest

from pipelines.extract import extract_article

PARAS = [
    "The city council voted on Tuesday to approve the construction of a new flood barrier "
    "along the river, ending a decade of delays and disputes over its cost.",
    "Engineers said the barrier would protect more than forty thousand homes from the kind of "
    "surge that flooded the old town twice in the last five years.",
    "Opponents argued that the money would be better spent on moving vulnerable households, "
    "but the motion passed by eleven votes to four after a long debate.",
]


def page(title: str = "Council approves flood barrier | Daily Meridian", extra: str = "") -> bytes:
    body = "".join(f"<p>{p}</p>" for p in PARAS)
    return (
        f'<html lang="en"><head><meta charset="utf-8"><title>{title}</title>'
        '<meta property="og:site_name" content="Daily Meridian"></head>'
        "<body><article><h1>Council approves flood barrier</h1>"
        f"{body}{extra}</article></body></html>"
    ).encode()


def test_record_fields() -> None:
    record = extract_article(page(), "https://news.example/2026/11/26/flood-barrier.html")
    assert record is not None
    assert record["title"] == "Council approves flood barrier"
    assert record["site_name"] == "Daily Meridian"
    assert record["language"] == "en"
    for para in PARAS:
        assert para in record["text"].split("\n")
    assert record["word_count"] == len(record["text"].split())
    assert len(record["text_sha1"]) == 40
    assert record["extractor"]["name"] == "trafilatura"


@pytest.mark.parametrize(
    "body",
    [b"", b"\x00\x01\x02" * 1000, os.urandom(20_000), b"<html><body><p>unclosed <b>tag"],
)
def test_broken_input_gives_none_or_a_record_never_an_exception(body: bytes) -> None:
    result = extract_article(body, "https://news.example/x")
    assert result is None or isinstance(result["text"], str)


def test_truncated_page_keeps_what_arrived() -> None:
    data = page()
    cut = data[: data.index(PARAS[2].encode()[:40].decode().encode())]
    record = extract_article(cut, "https://news.example/2026/11/26/flood-barrier.html")
    assert record is not None and PARAS[0] in record["text"]


def test_url_defaults_to_the_canonical_link() -> None:
    data = page().replace(
        b"</head>", b'<link rel="canonical" href="https://news.example/a/1"></head>'
    )
    record = extract_article(data, None)
    assert record is not None and record["canonical_url"] == "https://news.example/a/1"
