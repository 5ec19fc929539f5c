"""The problem list: bounded per reason, exact counts, in the manifest."""

from __future__ import annotations

from scrapy.utils.test import get_crawler

from crawler.problems import ProblemLog, problem_report


def test_problem_log_is_bounded_but_counts_exactly() -> None:
    log = ProblemLog(None, max_urls=3)
    for i in range(10):
        log.record("too_large", f"http://127.0.0.1/{i}", "big")
    report = log.report()["too_large"]
    assert report["count"] == 10 and len(report["urls"]) == 3
    assert report["urls_left_out"] == 7
    assert report["urls"][0] == {"url": "http://127.0.0.1/0", "detail": "big"}


def test_the_report_comes_from_the_extension_or_is_empty() -> None:
    crawler = get_crawler(settings_dict={"NEWSWARC_PROBLEM_URLS": 1})
    assert problem_report(crawler) == {}
    log = ProblemLog.of(crawler)  # no extension in this crawler: a private one
    assert ProblemLog.of(crawler) is log
    log.record("redirect_loop", "http://127.0.0.1/a", "a -> b -> a")
    log.record("redirect_loop", "http://127.0.0.1/c")
    assert problem_report(crawler)["redirect_loop"]["count"] == 2


def test_each_problem_is_a_stats_counter() -> None:
    from scrapy.statscollectors import MemoryStatsCollector

    crawler = get_crawler()
    stats = MemoryStatsCollector(crawler)
    log = ProblemLog(stats)
    log.record("too_slow", "http://127.0.0.1/drip", "cut after 4 s")
    log.record("too_slow", "http://127.0.0.1/drip2")
    assert stats.get_value("newswarc/problems/too_slow") == 2
