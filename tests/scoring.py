"""Text-extraction scoring: the ScrapingHub article-extraction-benchmark metric and helpers.

Precision and recall over 4-word shingles (counted with multiplicity), normalized per page so
long articles do not weigh more, averaged over pages; F1 from the averaged precision and recall.
"""

from __future__ import annotations

import html
import re
import statistics
import unicodedata
from collections import Counter

_TOKEN = re.compile(r"\w+", re.UNICODE)


def tokens(text: str) -> list[str]:
    """Return the word tokens of ``text`` (any script)."""
    return _TOKEN.findall(text or "")


def shingles(text: str, n: int = 4) -> Counter[tuple[str, ...]]:
    """Return the multiset of ``n``-token shingles of ``text``."""
    toks = tokens(text)
    return Counter(
        tuple(toks[i : i + n]) for i in range(max(1, len(toks) - n + 1)) if toks[i : i + n]
    )


def page_counts(gold: str, predicted: str) -> tuple[float, float, float]:
    """Return one page's (tp, fp, fn) shares over shingles, summing to 1 (or all 0)."""
    g, p = shingles(gold), shingles(predicted)
    tp = sum((g & p).values())
    fp = sum((p - g).values())
    fn = sum((g - p).values())
    total = tp + fp + fn
    return (tp / total, fp / total, fn / total) if total else (0.0, 0.0, 0.0)


def _precision(tp: float, fp: float, fn: float) -> float:
    if fp == fn == 0:
        return 1.0
    return 0.0 if tp == fp == 0 else tp / (tp + fp)


def _recall(tp: float, fp: float, fn: float) -> float:
    if fp == fn == 0:
        return 1.0
    return 0.0 if tp == fn == 0 else tp / (tp + fn)


def corpus_scores(pages: list[tuple[float, float, float]]) -> dict[str, float]:
    """Return averaged precision, recall and their F1 over pages."""
    precision = statistics.mean(_precision(*c) for c in pages if c[0] + c[1] > 0)
    recall = statistics.mean(_recall(*c) for c in pages if c[0] + c[2] > 0)
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": precision, "recall": recall, "f1": f1}


def norm(text: str) -> str:
    """Normalize for containment checks: NFKC, no tatweel or zero-width marks, single spaces."""
    text = unicodedata.normalize("NFKC", text or "")
    text = re.sub("[\u0640\u200b-\u200f\u2066-\u2069]", "", text)
    return " ".join(text.split()).casefold()


def leaks(text: str, headlines: list[str]) -> list[str]:
    """Return the related headlines that appear in ``text``."""
    body = norm(text)
    return [h for h in headlines if norm(h) and norm(h) in body]


def word_scores(gold: str, predicted: str) -> tuple[float, float, float]:
    """Return one page's word (precision, recall, F1), as WCXB's ``evaluate.py`` counts them.

    Both texts are lower-cased and split on ``\\w+``; the words are bags, and the overlap is the
    sum of the smaller count of each word. Two empty texts score 1; an empty side scores 0.
    """
    g = Counter(tokens((gold or "").lower()))
    p = Counter(tokens((predicted or "").lower()))
    n_gold, n_pred = sum(g.values()), sum(p.values())
    if not n_gold and not n_pred:
        return 1.0, 1.0, 1.0
    overlap = sum((g & p).values())
    precision = overlap / n_pred if n_pred else 0.0
    recall = overlap / n_gold if n_gold else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return precision, recall, f1


def shingle_scores(gold: str, predicted: str) -> tuple[float, float, float]:
    """Return one page's 4-word-shingle (precision, recall, F1), the per-page terms of
    `corpus_scores`."""
    counts = page_counts(gold, predicted)
    precision, recall = _precision(*counts), _recall(*counts)
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return precision, recall, f1


_TYPOGRAPHY = str.maketrans(
    {c: "'" for c in "\u2018\u2019\u201a\u201b\u2032"}
    | {c: '"' for c in "\u201c\u201d\u201e\u201f\u2033\u00ab\u00bb"}
    | {c: "-" for c in "\u2010\u2011\u2012\u2013\u2014\u2015\u2212"}
)


def fold(text: str) -> str:
    """Fold typographic quotes, apostrophes and dashes to ASCII (gold snippets often are)."""
    return (text or "").translate(_TYPOGRAPHY)


def found(text: str, snippets: list[str], *, folded: bool = False) -> list[str]:
    """Return the non-empty ``snippets`` found in ``text`` (normalized, case-insensitive).

    With ``folded``, typographic quotes and dashes match their ASCII forms on both sides,
    Markdown list markers at line starts are ignored, entities are decoded and a space before
    a closing or after an opening punctuation mark does not count (gold snippets were copied
    with spaces where a link ended: "camera types , we're", "( Philodendron )").
    """
    if not folded:
        return leaks(text, snippets)
    body = _tight(norm(_unlisted(fold(html.unescape(text)))))
    keys = [(s, _tight(norm(_unlisted(fold(html.unescape(s)))))) for s in snippets]
    return [s for s, key in keys if key and key in body]


def _tight(text: str) -> str:
    return re.sub(r"([(\[])\s+", r"\1", re.sub(r"\s+([,.;:!?)\]])", r"\1", text))


def _unlisted(text: str) -> str:
    """Drop Markdown list markers at line starts ("- item"): gold snippets keep them."""
    return re.sub(r"(?m)^[ \t]*[-*•][ \t]+", "", text)


_NAME_SEPARATORS = re.compile(r"\s*(?:[,;&]|\band\b)\s*", re.IGNORECASE)


def author_names(authors: str | list[str] | None) -> set[str]:
    """Return the normalized names in an author string (split on , ; & and "and") or list."""
    parts = [authors] if isinstance(authors, str) else list(authors or [])
    return {norm(n) for part in parts for n in _NAME_SEPARATORS.split(part or "") if norm(n)}


def _name_key(text: str) -> str:
    return " ".join(re.sub(r"[.,'’]", " ", norm(fold(html.unescape(text or "")))).split())


def same_title(gold: str, got: str | None) -> bool:
    """Titles match after normalization, entities decoded, quotes and dashes folded.

    A closing "?" or "!" does not count: gold titles drop it as often as pages print it.
    """
    return _name_key(gold).rstrip("?!") == _name_key(got or "").rstrip("?!")


def author_right(gold: str, got: list[str] | str | None) -> bool:
    """Tell whether extracted authors match a gold author string.

    Gold strings carry credentials and job titles after commas ("Jane Roe, Ph.D.", "John Doe,
    CEO of X"), so splitting them into a set of names is unfair to every extractor. Instead: at
    least one name was found, every name found occurs in the gold string (no extra people, no
    junk such as "Full Bio"), and the gold's first name is one of them (given more fully or with
    a title either side: "Dr. Jane Roe" and "Jane Roe" match).
    """
    names = [got] if isinstance(got, str) else list(got or [])
    keys = [_name_key(n) for n in names if _name_key(n)]
    whole = _name_key(gold)
    if not keys or not whole:
        return False
    first = _name_key(_NAME_SEPARATORS.split(html.unescape(gold), maxsplit=1)[0])
    padded = f" {whole} "
    return all(f" {k} " in padded for k in keys) and any(_same_person(k, first) for k in keys)


def _same_person(a: str, b: str) -> bool:
    """One name holds the other as whole words, and the shorter has a first and a last name."""
    short, long_ = sorted((a, b), key=len)
    return a == b or (len(short.split()) >= 2 and f" {short} " in f" {long_} ")
