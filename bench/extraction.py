"""Extraction quality on the fixture corpus: newswarc against plain trafilatura, same pages.

Runs `newswarc extract --list` over `tests/fixtures/extraction/pages`, and plain
`trafilatura.extract` (default options, with metadata) on the same bytes, and scores both against
the gold files: the ScrapingHub article-extraction-benchmark metric (precision, recall and F1 over
4-word shingles, averaged per page), the share of pages that leak a related headline, and the share
whose title, publication date and authors are right.

    .venv/bin/python bench/extraction.py [--show-failures] [--sweep] [--corpus FOLDER]

A ``--corpus`` folder in the WCXB format (``html/``, ``ground-truth/``: real pages, e.g.
``../shared/corpora/wcxb-dev-articles``) runs the real-page bench of `bench/wcxb.py` instead:
newswarc and trafilatura (default; favor_precision with comments off) in process, same bytes,
word and shingle F1, with/without snippets, metadata, failures and CPU per page, even and odd ids
apart. There ``--only even|odd``, ``--limit N``, ``--ids a,b``, ``--extractor newswarc``,
``--jobs N`` and ``--csv FILE`` apply.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.wcxb import EXTRACTORS, NEWSWARC, bench, is_wcxb  # noqa: E402
from tests.scoring import corpus_scores, leaks, norm, page_counts  # noqa: E402

CORPUS = ROOT / "tests/fixtures/extraction"
REAL_CORPUS = ROOT.parent / "shared/corpora/wcxb-dev-articles"


def load_gold(corpus: Path = CORPUS) -> list[tuple[Path, dict[str, Any]]]:
    """Return (page path, gold record) for every page of a corpus folder."""
    return [
        (corpus / "pages" / (g.stem + ".html"), json.loads(g.read_text("utf-8")))
        for g in sorted((corpus / "gold").glob("*.json"))
        if (corpus / "pages" / (g.stem + ".html")).exists()
    ]


def run_newswarc(gold: list[tuple[Path, dict[str, Any]]]) -> dict[str, dict[str, Any]]:
    """Run `newswarc extract --list` once over all pages; return records by source path."""
    with tempfile.NamedTemporaryFile("w", suffix=".tsv", delete=False) as fh:
        for path, g in gold:
            fh.write(f"{path}\t{g['url']}\n")
    cmd = [str(Path(sys.executable).parent / "newswarc"), "extract", "--list", fh.name]
    out = subprocess.run(cmd, capture_output=True, text=True, check=False).stdout
    Path(fh.name).unlink()
    records = [json.loads(line) for line in out.splitlines()]
    return {r["source"]: r for r in records}


def run_trafilatura(gold: list[tuple[Path, dict[str, Any]]]) -> dict[str, dict[str, Any]]:
    """Run plain trafilatura with its defaults; return title, date, authors and text by path."""
    import trafilatura

    out = {}
    for path, g in gold:
        raw = trafilatura.extract(
            path.read_bytes(), url=g["url"], output_format="json", with_metadata=True
        )
        doc = json.loads(raw) if raw else {}
        out[str(path)] = {
            "text": doc.get("text") or "",
            "title": doc.get("title"),
            "published": doc.get("date"),
            "authors": [a.strip() for a in (doc.get("author") or "").split(";") if a.strip()],
        }
    return out


def date_right(gold: str | None, got: str | None) -> bool:
    """A date is right when its calendar day matches the gold one (or both are absent)."""
    if not gold:
        return not got
    return bool(got) and str(got)[:10] == gold[:10]


def score(
    gold: list[tuple[Path, dict[str, Any]]], got: dict[str, dict[str, Any]]
) -> dict[str, Any]:
    """Score one extractor's output against the gold records."""
    counts, leaking, fails = [], 0, []
    right = {"title": 0, "date": 0, "authors": 0}
    related_pages = 0
    for path, g in gold:
        r = got.get(str(path)) or {}
        text = r.get("text") or ""
        counts.append(page_counts(g["text"], text))
        if g["related_headlines"]:
            related_pages += 1
            if leaks(text, g["related_headlines"]):
                leaking += 1
                fails.append((path.name, "leak", leaks(text, g["related_headlines"])))
        if norm(r.get("title") or "") == norm(g["title"]):
            right["title"] += 1
        else:
            fails.append((path.name, "title", r.get("title")))
        if date_right(g.get("published"), r.get("published")):
            right["date"] += 1
        else:
            fails.append((path.name, "date", (g.get("published"), r.get("published"))))
        if sorted(map(norm, r.get("authors") or [])) == sorted(map(norm, g["authors"])):
            right["authors"] += 1
        else:
            fails.append((path.name, "authors", (g["authors"], r.get("authors"))))
    n = len(gold)
    return {
        **corpus_scores(counts),
        "leak": leaking / max(related_pages, 1),
        **{k: v / n for k, v in right.items()},
        "failures": fails,
    }


SWEEP = {
    "chosen (comments off)": {},
    "comments on (trafilatura default)": {"comments": True},
    "favor precision": {"precision": True},
    "favor recall": {"recall": True},
    "tables off": {"tables": False},
    "fast (no fallback)": {"fast": True},
}


def sweep(gold: list[tuple[Path, dict[str, Any]]]) -> None:
    """Score newswarc's extraction under each trafilatura option set, to choose on evidence."""
    from trafilatura.settings import Extractor

    from pipelines.extract import extract_article

    print(f"\n{'trafilatura options in newswarc':<36} {'precision':>9} {'recall':>7} {'F1':>6}")
    for name, change in SWEEP.items():
        settings = {
            "output_format": "python",
            "with_metadata": True,
            "comments": False,
            "formatting": False,
            **change,
        }
        options = Extractor(**settings)
        counts = []
        for path, g in gold:
            record = extract_article(path.read_bytes(), g["url"], options=options)
            counts.append(page_counts(g["text"], record["text"] if record else ""))
        s = corpus_scores(counts)
        print(f"{name:<36} {s['precision']:9.3f} {s['recall']:7.3f} {s['f1']:6.3f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--show-failures", action="store_true")
    parser.add_argument("--sweep", action="store_true", help="also score trafilatura options")
    parser.add_argument(
        "--corpus",
        type=Path,
        default=None,
        help="a folder with pages/ and gold/, or a WCXB folder with html/ and ground-truth/ "
        f"(default: {CORPUS.relative_to(ROOT)})",
    )
    real = parser.add_argument_group("WCXB folders only")
    real.add_argument("--csv", type=Path, help="write per-page scores to this file")
    real.add_argument("--only", choices=("even", "odd"), help="only the even or the odd ids")
    real.add_argument("--limit", type=int, help="only the first N pages (after --only, --ids)")
    real.add_argument("--ids", help="only these page ids, comma-separated")
    real.add_argument(
        "--extractor",
        choices=("all", "newswarc"),
        default="all",
        help="newswarc: skip the trafilatura runs (fast tuning loop)",
    )
    real.add_argument("--jobs", type=int, default=1, help="worker processes over pages")
    args = parser.parse_args()
    if args.corpus is None:
        if is_wcxb(REAL_CORPUS):
            print(
                f"real-page corpus found at {REAL_CORPUS}: scoring the fixture corpus; "
                f"run with --corpus {REAL_CORPUS} (or make bench-extraction) for real pages"
            )
        else:
            print(f"real-page corpus not found at {REAL_CORPUS}, scoring the fixture corpora")
        args.corpus = CORPUS
    if is_wcxb(args.corpus):
        bench(
            args.corpus,
            only=args.only,
            limit=args.limit,
            ids=args.ids.split(",") if args.ids else None,
            extractors=(NEWSWARC,) if args.extractor == "newswarc" else EXTRACTORS,
            jobs=args.jobs,
            csv_path=args.csv,
        )
        return
    gold = load_gold(args.corpus)
    rows = {
        "newswarc": score(gold, run_newswarc(gold)),
        "trafilatura": score(gold, run_trafilatura(gold)),
    }
    related = sum(1 for _, g in gold if g["related_headlines"])
    print(f"{len(gold)} pages ({related} with inline related links)")
    heads = ("precision", "recall", "F1", "leaking", "title", "date", "authors")
    widths = (9, 7, 6, 8, 6, 6, 8)
    print(f"{'extractor':<12} " + " ".join(f"{h:>{w}}" for h, w in zip(heads, widths, strict=True)))
    for name, s in rows.items():
        print(
            f"{name:<12} {s['precision']:9.3f} {s['recall']:7.3f} {s['f1']:6.3f} {s['leak']:8.1%} "
            f"{s['title']:6.1%} {s['date']:6.1%} {s['authors']:8.1%}"
        )
    if args.sweep:
        sweep(gold)
    if args.show_failures:
        for name, s in rows.items():
            print(f"\n{name} failures:")
            for fail in s["failures"]:
                print("  ", fail)


if __name__ == "__main__":
    main()
