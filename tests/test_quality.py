"""Quality figures of a run, the checks against a site's history, and reading the trend."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from pipelines.quality import (
    WORDS_CAP,
    RunQuality,
    Thresholds,
    evaluate,
    format_trend,
    site_history,
    trend_rows,
)
from pipelines.storage import FileStorage


def record(
    words: int, *, title: str = "T", date: str | None = "2026-12-01", **quality: Any
) -> dict:
    return {
        "title": title,
        "published": date,
        "authors": ["A"],
        "word_count": words,
        "quality": quality,
    }


def summary(**changes: Any) -> dict[str, Any]:
    run = RunQuality("s")
    for words in (300, 320, 280, 310, 290):
        run.add(record(words))
    out = run.summary({"newswarc/pages/article_candidates": 5, "newswarc/articles/written": 5})
    return out | changes


def test_run_summary_counts_missing_fields_short_texts_cleaning_and_rejections() -> None:
    run = RunQuality("daily", short_words=150)
    run.add(record(400, removed_blocks=2))
    run.add(record(100, title="", date=None))
    run.add({"title": "x", "authors": [], "word_count": 10**6, "quality": {}})
    stats = {
        "newswarc/pages/article_candidates": 6,
        "newswarc/articles/written": 2,
        "newswarc/articles/unchanged": 1,
        "newswarc/skipped/too_short": 2,
        "newswarc/errors/extract_failed/timeout": 1,
        "newswarc/skipped/not_article": 9,  # listing pages: no candidates, not rejections
    }
    s = run.summary(stats)
    assert s["rejected"] == {"extract_failed/timeout": 1, "too_short": 2}
    assert (s["candidates"], s["extracted"], s["articles_archived"], s["unchanged"]) == (6, 3, 2, 1)
    assert s["missing_title_share"] == 0.3333 and s["missing_date_share"] == 0.6667
    assert s["missing_authors_share"] == 0.3333
    assert s["median_words"] == 400 and run.words[WORDS_CAP] == 1  # capped, bounded
    assert s["short_share"] == 0.3333 and s["cleaned_share"] == 0.3333
    assert RunQuality("empty").summary({})["median_words"] is None


def test_every_candidate_rejected_is_critical_even_without_history() -> None:
    current = summary(candidates=8, extracted=0, articles_archived=0, rejected={"too_short": 8})
    current |= {"median_words": None, "missing_date_share": None}
    (alert,) = evaluate(current, [])
    assert (alert.level, alert.check) == ("CRITICAL", "all_rejected")
    assert "every one of 8 article candidates was rejected (too_short 8)" in alert.message
    # A quiet run (no candidates at all: nothing new on the site) raises nothing.
    assert evaluate(summary(candidates=0, extracted=0, rejected={}), []) == []


def test_drops_and_rises_against_the_median_of_recent_runs() -> None:
    history = [summary(), summary(median_words=200.0), summary(median_words=320.0)]
    assert evaluate(summary(), history) == []
    (warning,) = evaluate(summary(median_words=150.0), history)
    assert (warning.level, warning.check, warning.baseline) == ("WARNING", "words_drop", 300.0)
    (critical,) = evaluate(summary(median_words=60.0), history)
    assert critical.level == "CRITICAL" and "80% below the recent 300" in critical.message
    checks = {
        (a.level, a.check)
        for a in evaluate(
            summary(
                missing_date_share=0.4,
                missing_title_share=0.8,
                missing_authors_share=0.6,
                short_share=0.5,
                cleaned_share=1.0,
            ),
            history,
        )
    }
    assert checks == {
        ("WARNING", "missing_date"),
        ("CRITICAL", "missing_title"),
        ("WARNING", "missing_authors"),
        ("WARNING", "short_texts"),
        ("WARNING", "cleaned_change"),
    }
    # Just under every threshold: nothing.
    near = summary(median_words=181.0, missing_date_share=0.29, short_share=0.29)
    assert evaluate(near, history) == []


def test_small_runs_and_runs_without_history_are_not_judged_on_shares() -> None:
    small = summary(extracted=2, missing_date_share=1.0)
    assert evaluate(small, [summary()]) == []
    assert evaluate(summary(missing_date_share=1.0), []) == []
    assert evaluate(summary(missing_date_share=1.0), [summary(extracted=1)]) == []
    failed = summary(candidates=10, rejected={"extract_failed/timeout": 3})
    assert [a.check for a in evaluate(failed, [])] == ["extract_failed"]


def test_thresholds_from_settings() -> None:
    t = Thresholds.from_mapping({"words_drop_warning": "0.2", "min_articles": 1})
    assert t.words_drop_warning == 0.2 and t.min_articles == 1
    assert [a.level for a in evaluate(summary(median_words=230.0), [summary()], t)] == ["WARNING"]
    off = Thresholds.from_mapping({"all_rejected_critical": "false"})
    assert evaluate(summary(candidates=8, extracted=0, rejected={}), [], off) == []
    with pytest.raises(ValueError, match="unknown quality thresholds: colour"):
        Thresholds.from_mapping({"colour": 1})


def test_history_and_trend_read_finished_runs_of_the_site(tmp_path: Path) -> None:
    crawls = tmp_path / "crawls"
    crawls.mkdir()

    def manifest(crawl_id: str, site: str, reason: str = "finished", **q: Any) -> None:
        data = {
            "crawl_id": crawl_id,
            "finish_reason": reason,
            "site": {"name": site},
            "quality": summary(site=site, **q),
            "quality_alerts": [{"level": "WARNING", "check": "words_drop"}] if q else [],
        }
        (crawls / f"{crawl_id}.json").write_text(json.dumps(data))

    manifest("20261201T000000Z-aaaaaa", "a", median_words=100.0)
    manifest("20261202T000000Z-bbbbbb", "b")
    manifest("20261203T000000Z-cccccc", "a", reason="shutdown")
    manifest("20261204T000000Z-dddddd", "a")
    (crawls / "20261205T000000Z-broken.json").write_text("{not json")
    storage = FileStorage(tmp_path)
    history = site_history(storage, "a", limit=5)
    assert [h["median_words"] for h in history] == [300.0, 100.0]  # newest first, no shutdown
    assert [h["median_words"] for h in site_history(storage, "a", limit=5, scan=1)] == [300.0]
    assert (
        site_history(storage, "a", limit=1, exclude="20261204T000000Z-dddddd")[0]["median_words"]
        == 100.0
    )
    rows = list(trend_rows(storage, "a"))
    assert [r["crawl_id"][-6:] for r in rows] == ["aaaaaa", "cccccc", "dddddd"]
    lines = list(format_trend(trend_rows(storage)))
    assert lines[0] == "site a: 3 runs" and lines[5] == "site b: 1 runs"
    assert lines[2].endswith("WARNING words_drop") and lines[4].endswith("  -")
