"""Real-page extraction bench on a WCXB-format folder: newswarc and plain trafilatura, same run.

A WCXB folder holds ``html/<id>.html.gz`` (the page as served) and ``ground-truth/<id>.json``
(``url`` and ``ground_truth``: ``main_content``, ``title``, ``author``, ``publish_date``,
``with``, ``without``). Every extractor gets the same raw page bytes and decodes them itself; each
call is timed with ``time.process_time`` in the process that makes it.
"""

from __future__ import annotations

import contextlib
import csv
import gzip
import json
import logging
import re
import statistics
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests.scoring import (  # noqa: E402
    author_right,
    corpus_scores,
    found,
    norm,
    page_counts,
    same_title,
    shingle_scores,
    word_scores,
)

NEWSWARC = "newswarc"
TRAF = "trafilatura default"
TRAF_PRECISION = "trafilatura precision"
EXTRACTORS = (NEWSWARC, TRAF, TRAF_PRECISION)


def is_wcxb(path: Path) -> bool:
    """Tell whether ``path`` is a folder in the WCXB format."""
    return (path / "html").is_dir() and (path / "ground-truth").is_dir()


@dataclass
class Page:
    """One corpus page: its id, half (even/odd), URL and gold record."""

    id: str
    half: str
    url: str
    html: Path
    gold: dict[str, Any]


def load_pages(corpus: Path) -> list[Page]:
    """Return the pages of a WCXB folder in id order, each assigned to the even or odd half.

    The half comes from the numeric part of the file name; when a name has none, from the
    page's position in sorted order.
    """
    files = sorted((corpus / "ground-truth").glob("*.json"))
    pages = []
    for position, gt in enumerate(files):
        html = corpus / "html" / (gt.stem + ".html.gz")
        if not html.exists():
            continue
        record = json.loads(gt.read_text("utf-8"))
        digits = re.sub(r"\D", "", gt.stem)
        number = int(digits) if digits else position
        pages.append(
            Page(
                id=gt.stem,
                half="even" if number % 2 == 0 else "odd",
                url=record.get("url") or "",
                html=html,
                gold=record.get("ground_truth") or {},
            )
        )
    return pages


def _newswarc(body: bytes, url: str) -> dict[str, Any] | None:
    from pipelines.extract import extract_article

    record = extract_article(body, url)
    if record is None:
        return None
    return {
        "text": record.get("text") or "",
        "title": record.get("title"),
        "authors": record.get("authors") or [],
        # Both dates the record carries: WCXB's gold is the date a page displays, which is
        # its last update as often as its first publication.
        "date": [record.get("published"), record.get("modified")],
    }


def _trafilatura(**options: Any) -> Callable[[bytes, str], dict[str, Any] | None]:
    def run(body: bytes, url: str) -> dict[str, Any] | None:
        import trafilatura

        raw = trafilatura.extract(
            body, url=url, with_metadata=True, output_format="json", **options
        )
        if not raw:
            return None
        doc = json.loads(raw)
        return {
            "text": doc.get("text") or "",
            "title": doc.get("title"),
            "authors": doc.get("author") or "",
            "date": doc.get("date"),
        }

    return run


RUNNERS: dict[str, Callable[[bytes, str], dict[str, Any] | None]] = {
    NEWSWARC: _newswarc,
    TRAF: _trafilatura(),
    TRAF_PRECISION: _trafilatura(favor_precision=True, include_comments=False),
}


def date_right(gold: str, got: Any) -> bool:
    """A date is right when it names the gold calendar day (or month, when gold is a month).

    ``got`` may list several dates (published, modified): one of them must be the gold one.
    """
    dates = got if isinstance(got, list) else [got]
    return any(bool(d) and str(d)[: min(len(gold), 10)] == gold[:10] for d in dates)


def score_page(page: Page, extractor: str, got: dict[str, Any] | None) -> dict[str, Any]:
    """Score one extractor's output on one page; None scores as an empty extraction."""
    g = page.gold
    gold_text = g.get("main_content") or ""
    text = (got or {}).get("text") or ""
    with_ = [s for s in g.get("with") or [] if norm(s)]
    without = [s for s in g.get("without") or [] if norm(s)]
    row: dict[str, Any] = {"id": page.id, "url": page.url, "half": page.half}
    row["extractor"] = extractor
    row["word_p"], row["word_r"], row["word_f1"] = word_scores(gold_text, text)
    row["shingle_p"], row["shingle_r"], row["shingle_f1"] = shingle_scores(gold_text, text)
    row["counts"] = page_counts(gold_text, text)
    # Strict: the benchmark's substring test. Folded: typographic quotes and dashes match ASCII,
    # since many gold snippets were typed with ASCII ones that the page itself never had.
    for key, snippets in (("with", with_), ("without", without)):
        row[key + "_n"] = len(snippets)
        row[key + "_strict"] = len(found(text, snippets))
        row[key + "_found"] = len(found(text, snippets, folded=True))
    row["with_kept"] = row["with_found"] / len(with_) if with_ else None
    row["without_leaked"] = row["without_found"] / len(without) if without else None
    row["with_kept_strict"] = row["with_strict"] / len(with_) if with_ else None
    row["without_leaked_strict"] = row["without_strict"] / len(without) if without else None
    title = g.get("title") or ""
    row["title_right"] = same_title(title, (got or {}).get("title")) if norm(title) else None
    author = g.get("author") or ""
    row["author_right"] = author_right(author, (got or {}).get("authors")) if norm(author) else None
    day = (g.get("publish_date") or "").strip()
    row["date_right"] = date_right(day, (got or {}).get("date")) if day else None
    row["empty"] = bool(gold_text.strip()) and not text.strip()
    return row


def run_page(page: Page, extractors: Iterable[str]) -> list[dict[str, Any]]:
    """Run each extractor on one page's raw bytes, timing each call in CPU seconds."""
    body = gzip.decompress(page.html.read_bytes())
    rows = []
    for name in extractors:
        error = ""
        start = time.process_time()
        try:
            got = RUNNERS[name](body, page.url)
        except Exception as exc:  # a crash is a finding: record it and go on
            got, error = None, f"{type(exc).__name__}: {exc}"
        cpu = time.process_time() - start
        row = score_page(page, name, got)
        row["cpu_ms"] = cpu * 1000
        row["error"] = error
        if error:
            row["empty"] = False
        elif row["empty"]:
            row["error"] = "empty: " + ("returned None" if got is None else "empty text")
        rows.append(row)
    return rows


def warm_up(extractors: Iterable[str]) -> None:
    """Import and run each extractor once, untimed, so no page pays for first-call setup."""
    logging.disable(logging.WARNING)
    sample = sorted((ROOT / "tests/fixtures/extraction/pages").glob("*.html"))[:1]
    body = sample[0].read_bytes() if sample else b"<html><body><p>Warm up.</p></body></html>"
    for name in extractors:
        with contextlib.suppress(Exception):  # the pages will record it
            RUNNERS[name](body, "https://example.org/warm-up")


def _run_page_args(args: tuple[Page, tuple[str, ...]]) -> list[dict[str, Any]]:
    return run_page(*args)


def run_all(pages: list[Page], extractors: tuple[str, ...], jobs: int) -> list[dict[str, Any]]:
    """Run the extractors on all pages, in ``jobs`` worker processes when more than one."""
    tasks = [(p, extractors) for p in pages]
    rows: list[dict[str, Any]] = []
    done = 0
    if jobs > 1:
        import multiprocessing

        with multiprocessing.get_context("spawn").Pool(jobs, warm_up, (extractors,)) as pool:
            for result in pool.imap(_run_page_args, tasks, chunksize=4):
                rows += result
                done += 1
                _progress(done, len(pages))
    else:
        warm_up(extractors)
        for task in tasks:
            rows += run_page(*task)
            done += 1
            _progress(done, len(pages))
    print(file=sys.stderr)
    return rows


def _progress(done: int, total: int) -> None:
    if done % 25 == 0 or done == total:
        print(f"\r{done}/{total} pages", end="", file=sys.stderr, flush=True)


@dataclass
class Summary:
    """One extractor's figures over a set of pages."""

    pages: int
    word: tuple[float, float, float]
    shingle: dict[str, float]
    with_micro: float
    with_macro: float
    without_micro: float
    without_macro: float
    with_strict: float
    without_strict: float
    meta: dict[str, tuple[int, int]]
    failed: list[dict[str, Any]] = field(default_factory=list)
    empty: list[dict[str, Any]] = field(default_factory=list)
    cpu_ms: float = 0.0
    cpu_total: float = 0.0


def _share(rows: list[dict[str, Any]], key: str, hits: str = "_found") -> tuple[float, float]:
    n = sum(r[key + "_n"] for r in rows)
    hit = sum(r[key + hits] for r in rows)
    per_page = [r[key + hits] / r[key + "_n"] for r in rows if r[key + "_n"]]
    return hit / n if n else 0.0, statistics.mean(per_page) if per_page else 0.0


def summarize(rows: list[dict[str, Any]]) -> Summary:
    """Return the figures of one extractor's rows."""
    with_micro, with_macro = _share(rows, "with")
    without_micro, without_macro = _share(rows, "without")
    meta = {}
    for key in ("title", "author", "date"):
        judged = [r[key + "_right"] for r in rows if r[key + "_right"] is not None]
        meta[key] = (sum(judged), len(judged))
    return Summary(
        pages=len(rows),
        word=(
            statistics.mean(r["word_p"] for r in rows),
            statistics.mean(r["word_r"] for r in rows),
            statistics.mean(r["word_f1"] for r in rows),
        ),
        shingle=corpus_scores([r["counts"] for r in rows]),
        with_micro=with_micro,
        with_macro=with_macro,
        without_micro=without_micro,
        without_macro=without_macro,
        with_strict=_share(rows, "with", "_strict")[0],
        without_strict=_share(rows, "without", "_strict")[0],
        meta=meta,
        failed=[r for r in rows if r["error"] and not r["empty"]],
        empty=[r for r in rows if r["empty"]],
        cpu_ms=statistics.mean(r["cpu_ms"] for r in rows),
        cpu_total=sum(r["cpu_ms"] for r in rows),
    )


def _pct(ok: int, n: int) -> str:
    return f"{ok / n:6.1%} {ok:>3}/{n:<3}" if n else f"{'-':>6} {'0/0':<7}"


def print_tables(scope: str, sums: dict[str, Summary]) -> None:
    """Print the quality and the metadata/cost tables for one set of pages."""
    n = next(iter(sums.values())).pages
    print(f"\n== {scope} ({n} pages) ==")
    print(
        f"{'extractor':<22} {'word P':>6} {'R':>6} {'F1':>6} | {'shingle P':>9} {'R':>6} "
        f"{'F1':>6} | {'with kept':>9} {'/page':>6} {'strict':>6} | {'without':>7} {'/page':>6} "
        f"{'strict':>6}"
    )
    for name, s in sums.items():
        sh = s.shingle
        print(
            f"{name:<22} {s.word[0]:6.3f} {s.word[1]:6.3f} {s.word[2]:6.3f} | "
            f"{sh['precision']:9.3f} {sh['recall']:6.3f} {sh['f1']:6.3f} | "
            f"{s.with_micro:9.1%} {s.with_macro:6.1%} {s.with_strict:6.1%} | "
            f"{s.without_micro:7.1%} {s.without_macro:6.1%} {s.without_strict:6.1%}"
        )
    print(
        f"{'extractor':<22} {'title':<14} {'author':<14} {'date':<14} {'failed':>6} "
        f"{'empty':>5} {'CPU ms/page':>11}"
    )
    for name, s in sums.items():
        m = s.meta
        print(
            f"{name:<22} {_pct(*m['title'])} {_pct(*m['author'])} {_pct(*m['date'])} "
            f"{len(s.failed):>6} {len(s.empty):>5} {s.cpu_ms:11.1f}"
        )
    if NEWSWARC in sums and TRAF in sums and sums[TRAF].cpu_total:
        ratio = sums[NEWSWARC].cpu_total / sums[TRAF].cpu_total
        print(f"CPU newswarc / trafilatura default: {ratio:.2f} x")


def _targets(sums: dict[str, Summary]) -> list[tuple[str, bool | None, str]]:
    """Return issue 9's targets as (name, passed or None when not measurable, figures)."""
    nw = sums.get(NEWSWARC)
    tr, tp = sums.get(TRAF), sums.get(TRAF_PRECISION)
    out: list[tuple[str, bool | None, str]] = []
    if nw is None:
        return out
    if tp is not None:
        want = tp.shingle["f1"] + 0.02
        out.append(
            (
                "shingle F1 >= trafilatura precision + 0.02",
                nw.shingle["f1"] >= want,
                f"{nw.shingle['f1']:.3f} vs {want:.3f}",
            )
        )
    if tr is not None:
        want = tr.word[2] + 0.02
        out.append(
            (
                "word F1 >= trafilatura default + 0.02",
                nw.word[2] >= want,
                f"{nw.word[2]:.3f} vs {want:.3f}",
            )
        )
    out.append(("without leaked <= 3 %", nw.without_micro <= 0.03, f"{nw.without_micro:.1%}"))
    out.append(("with kept >= 97 %", nw.with_micro >= 0.97, f"{nw.with_micro:.1%}"))
    out.append(
        (
            "0 failures, 0 empty",
            not nw.failed and not nw.empty,
            f"{len(nw.failed)} failed, {len(nw.empty)} empty",
        )
    )
    for key, want_share in (("title", 0.95), ("date", 0.90), ("author", 0.85)):
        ok, n = nw.meta[key]
        share = ok / n if n else 0.0
        out.append((f"{key} >= {want_share:.0%}", share >= want_share, f"{share:.1%} of {n}"))
    if tr is not None and tr.cpu_total:
        ratio = nw.cpu_total / tr.cpu_total
        out.append(("CPU <= 1.0 x trafilatura default", ratio <= 1.0, f"{ratio:.2f} x"))
    return out


def print_targets(by_scope: dict[str, dict[str, Summary]]) -> None:
    """Print each target as PASS/FAIL per half and over all pages, then the halves' gap."""
    print("\n== issue 9 targets (newswarc; a target passes when it holds on every set shown) ==")
    results = {scope: _targets(sums) for scope, sums in by_scope.items()}
    first = next(iter(results.values()))
    for i, (name, _, _) in enumerate(first):
        cells = [(scope, res[i][1], res[i][2]) for scope, res in results.items()]
        verdict = "PASS" if all(ok for _, ok, _ in cells) else "FAIL"
        figures = "; ".join(f"{scope} {fig}" for scope, _, fig in cells)
        print(f"{verdict}  {name:<44} {figures}")
    if "even" in by_scope and "odd" in by_scope:
        even, odd = by_scope["even"][NEWSWARC], by_scope["odd"][NEWSWARC]
        dw = abs(odd.word[2] - even.word[2])
        ds = abs(odd.shingle["f1"] - even.shingle["f1"])
        verdict = "PASS" if dw <= 0.01 and ds <= 0.01 else "FAIL"
        print(
            f"{verdict}  {'odd half within 0.01 F1 of even half':<44} "
            f"word {odd.word[2]:.3f} vs {even.word[2]:.3f} ({dw:.3f}); "
            f"shingle {odd.shingle['f1']:.3f} vs {even.shingle['f1']:.3f} ({ds:.3f})"
        )


def print_problems(rows: list[dict[str, Any]], extractors: tuple[str, ...]) -> None:
    """List the pages each extractor failed on or returned empty, with the reason."""
    for name in extractors:
        bad = [r for r in rows if r["extractor"] == name and r["error"]]
        print(f"\n{name}: {len(bad)} pages failed or empty")
        for r in bad:
            print(f"  {r['id']} ({r['half']}) {r['url']}\n      {r['error'][:300]}")


CSV_FIELDS = (
    "id", "url", "half", "extractor", "word_p", "word_r", "word_f1", "shingle_p", "shingle_r",
    "shingle_f1", "with_kept", "without_leaked", "with_kept_strict", "without_leaked_strict",
    "title_right", "author_right", "date_right",
    "cpu_ms", "error",
)  # fmt: skip


def write_csv(path: Path, rows: list[dict[str, Any]]) -> None:
    """Write one line of per-page scores per page and extractor."""
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, CSV_FIELDS, extrasaction="ignore")
        writer.writeheader()
        for r in rows:
            out = {k: r[k] for k in CSV_FIELDS}
            for k in ("word_p", "word_r", "word_f1", "shingle_p", "shingle_r", "shingle_f1"):
                out[k] = f"{r[k]:.4f}"
            for k in ("with_kept", "without_leaked", "with_kept_strict", "without_leaked_strict"):
                out[k] = "" if r[k] is None else f"{r[k]:.4f}"
            for k in ("title_right", "author_right", "date_right"):
                out[k] = "" if r[k] is None else int(r[k])
            out["cpu_ms"] = f"{r['cpu_ms']:.1f}"
            writer.writerow(out)


def bench(
    corpus: Path,
    *,
    only: str | None = None,
    limit: int | None = None,
    ids: list[str] | None = None,
    extractors: tuple[str, ...] = EXTRACTORS,
    jobs: int = 1,
    csv_path: Path | None = None,
    show_problems: bool = True,
) -> None:
    """Run the real-page bench on a WCXB folder and print its tables and the issue's targets."""
    pages = load_pages(corpus)
    if ids:
        wanted = {i.strip() for i in ids}
        pages = [p for p in pages if p.id in wanted or p.id.lstrip("0") in wanted]
    if only:
        pages = [p for p in pages if p.half == only]
    if limit:
        pages = pages[:limit]
    if not pages:
        raise SystemExit(f"no pages selected in {corpus}")
    print(
        f"{corpus}: {len(pages)} pages ({sum(p.half == 'even' for p in pages)} even ids, "
        f"{sum(p.half == 'odd' for p in pages)} odd); extractors: {', '.join(extractors)}"
    )
    start = time.monotonic()
    rows = run_all(pages, extractors, jobs)
    by_scope: dict[str, dict[str, Summary]] = {}
    for scope in ("even", "odd", "all"):
        chosen = [r for r in rows if scope == "all" or r["half"] == scope]
        if chosen:
            by_scope[scope] = {
                name: summarize([r for r in chosen if r["extractor"] == name])
                for name in extractors
            }
    print(
        "\nword: WCXB's metric (lower-cased \\w+ words as bags; P, R and F1 per page, averaged)."
        "\nshingle: ScrapingHub's (4-word shingles; P and R per page, averaged; F1 of the means)."
        "\nwith kept / without leaked: share of all snippets (micro; the targets use it) and mean"
        "\nshare per page (/page): case-insensitive substring after NFKC and whitespace"
        "\nnormalization, typographic quotes and dashes folded to ASCII; strict: micro, unfolded"
        "\n(the benchmark's own test; gold snippets often carry ASCII quotes the page lacks)."
        "\ntitle/author/date: right over the pages whose gold field is non-empty (right/judged);"
        "\ntitles compared with entities decoded and quotes folded; authors right when every name"
        "\nfound is in the gold string and its first name is among them (gold strings carry"
        "\ncredentials after commas: 'Jane Roe, Ph.D.'); the day of a date must match: newswarc's"
        "\npublished or modified (the gold is the date a page displays, first publication or last"
        "\nupdate), trafilatura's date."
    )
    for scope, sums in by_scope.items():
        print_tables("all pages" if scope == "all" else f"{scope} ids", sums)
    print_targets(by_scope)
    if show_problems:
        print_problems(rows, extractors)
    if csv_path:
        write_csv(csv_path, rows)
        print(f"\nper-page scores: {csv_path}")
    print(f"wall time {time.monotonic() - start:.0f} s, jobs {jobs}")
