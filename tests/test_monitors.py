"""Quality monitors in real crawls: a changed template raises alerts, a normal run none."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from crawler.sites import load_site
from tests.crawlrun import ROOT, crawl_env, run_crawl
from tests.site.quality import QualitySite

NEWSWARC = str(Path(sys.executable).parent / "newswarc")


@pytest.fixture(scope="module")
def quality_site() -> Iterator[QualitySite]:
    site = QualitySite().start()
    yield site
    site.stop()


def manifests(archive: Path) -> list[dict[str, Any]]:
    return [json.loads(p.read_text()) for p in sorted((archive / "crawls").glob("*.json"))]


def test_template_changes_raise_alerts_and_a_normal_run_none(
    quality_site: QualitySite, tmp_path: Path
) -> None:
    archive = tmp_path / "archive"
    sites = tmp_path / "sites"
    sites.mkdir()
    config = sites / "harbour.toml"
    config.write_text(
        f'name = "harbour"\nallowed_domains = ["127.0.0.1"]\n'
        f'start_urls = ["{quality_site.base_url}/"]\narchive_uri = "{archive}"\n'
        f"[articles]\nallow = ['/story/']\n"
        f'[schedule]\ncron = "* * * * *"\n'
    )
    load_site(str(config))
    settings_env = {"NEWSWARC_ARCHIVE_URI": str(archive)}

    # Run 1: no history, nothing to compare with. Run 2: new stories, same template: no alert.
    for edition in (1, 2):
        quality_site.edition = edition
        result = run_crawl(
            tmp_path, ["-a", f"site={config}"], {"NEWSWARC_ARCHIVE_URI": str(archive)}
        )
        assert result.returncode == 0, result.log[-3000:]
        assert "newswarc quality alert" not in result.log
        assert "  quality alerts:  none" in result.log
    first, second = manifests(archive)
    for manifest in (first, second):
        q = manifest["quality"]
        assert (q["site"], q["candidates"], q["extracted"], q["articles_archived"]) == (
            "harbour",
            6,
            6,
            6,
        )
        assert q["missing_date_share"] == 0 and q["missing_title_share"] == 0
        assert q["missing_authors_share"] == 0 and q["rejected"] == {}
        assert 200 < q["median_words"] < 400
        assert manifest["quality_alerts"] == []
    assert (first["quality_history_runs"], second["quality_history_runs"]) == (0, 1)

    # Run 3: the body moved into a JSON blob for client-side rendering; 3 of 8 paragraphs left.
    quality_site.edition, quality_site.template = 3, "body_in_script"
    result = run_crawl(tmp_path, ["-a", f"site={config}"], {"NEWSWARC_ARCHIVE_URI": str(archive)})
    assert result.returncode == 0, result.log[-3000:]
    third = manifests(archive)[-1]
    checks = {a["check"]: a for a in third["quality_alerts"]}
    assert "words_drop" in checks, third["quality_alerts"]
    drop = checks["words_drop"]
    assert drop["level"] == "WARNING" and drop["value"] < 0.6 * drop["baseline"]
    assert (
        drop["baseline"] == second["quality"]["median_words"]
        or drop["baseline"]
        == (first["quality"]["median_words"] + second["quality"]["median_words"]) / 2
    )
    assert "WARNING: newswarc quality alert harbour words_drop: median words" in result.log
    assert "  quality alerts:  WARNING words_drop; WARNING short_texts" in result.log
    assert "missing_date" not in checks

    # Run 4, through the scheduler: the dates vanish. CRITICAL, and exit 3 with --fail-on-alert.
    quality_site.edition, quality_site.template = 4, "dates_gone"
    env = crawl_env(tmp_path, settings_env)
    env["ARCHIVE_URI"] = str(archive)
    state = tmp_path / "state"
    schedule = [NEWSWARC, "schedule", "--once", "--fail-on-alert", "--sites", str(sites)]
    proc = subprocess.run(
        [*schedule, "--state", str(state)],
        check=False,
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert proc.returncode == 3, proc.stderr[-3000:]
    assert "harbour ok exit=0" in proc.stderr
    assert "quality alerts: CRITICAL missing_date: no date in 100% of articles" in proc.stderr
    fourth = manifests(archive)[-1]
    assert fourth["quality"]["missing_date_share"] == 1.0
    assert [a["level"] for a in fourth["quality_alerts"] if a["check"] == "missing_date"] == [
        "CRITICAL"
    ]
    (log,) = (state / "logs" / "harbour").glob("*.log")
    assert "CRITICAL: newswarc quality alert harbour missing_date" in log.read_text()
    runs = json.loads((state / "harbour.json").read_text())["runs"]
    assert runs[-1]["outcome"] == "ok" and runs[-1]["alerts"][0].startswith("CRITICAL missing")

    # `newswarc quality` shows the trend over the four runs, alerts included.
    shown = subprocess.run(
        [NEWSWARC, "quality", str(archive), "--site", "harbour"],
        check=False,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert shown.returncode == 0, shown.stderr
    lines = shown.stdout.splitlines()
    assert lines[0] == "site harbour: 4 runs"
    rows = lines[2:]
    assert [r.split()[0] for r in rows] == [m["crawl_id"] for m in manifests(archive)]
    assert rows[0].endswith("  -") and rows[1].endswith("  -")
    assert "WARNING words_drop" in rows[2] and "CRITICAL missing_date" in rows[3]
    assert rows[3].split()[7] == "100%"  # the !date column
    none = subprocess.run(
        [NEWSWARC, "quality", str(archive), "--site", "elsewhere"],
        check=False,
        capture_output=True,
        text=True,
    )
    assert none.returncode == 1 and "no runs" in none.stdout


def test_schema_errors_fail_spidermons_validation_monitor(caplog: pytest.LogCaptureFixture) -> None:
    from scrapy.utils.test import get_crawler

    from crawler.monitors import SCHEMA, QualityExtension, SchemaValidationPipeline

    settings = {
        "SPIDERMON_ENABLED": True,
        "SPIDERMON_VALIDATION_SCHEMAS": [SCHEMA],
        "SPIDERMON_MAX_ITEM_VALIDATION_ERRORS": 0,
    }
    crawler = get_crawler(settings_dict=settings)
    assert crawler.stats is not None
    pipeline = SchemaValidationPipeline.from_crawler(crawler)
    broken = {"url": "http://127.0.0.1/a", "text": "words " * 50, "word_count": "fifty"}
    assert pipeline.process_item(broken) is broken  # counted, not dropped
    assert crawler.stats.get_value("spidermon/validation/items/errors") == 1
    stats = crawler.stats.get_stats()
    assert stats["spidermon/validation/fields/errors/invalid_int/word_count"] == 1
    assert stats["spidermon/validation/fields/errors/missing_required_field/title"] == 1
    ext = QualityExtension.from_crawler(crawler)
    ext.run.site = "harbour"
    ext.run.add(broken)
    with caplog.at_level("INFO"):
        alerts = ext.judge(ext.run.summary(crawler.stats.get_stats()), [])
    assert [(a.level, a.check) for a in alerts] == [("WARNING", "schema_invalid")]
    assert "Records match the article JSON Schema/test_stat_monitor... FAIL" in caplog.text
    assert "newswarc quality alert harbour schema_invalid: 1 records do not match" in caplog.text
    assert crawler.stats.get_value("newswarc/quality/alerts/warning") == 1
