"""Prometheus metrics: the endpoint scraped during a real crawl, the textfile after it."""

from __future__ import annotations

import socket
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families
from scrapy.utils.test import get_crawler

from crawler.metrics import LAST_SUCCESS, CrawlMetrics, previous_last_success, textfile_name
from pipelines import __version__
from tests.crawlrun import start_crawl


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Parse an exposition with prometheus_client's parser: {(name, labels): value}."""
    out = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def value(parsed: dict[Any, float], name: str, **labels: str) -> float:
    for (n, labs), v in parsed.items():
        if n == name and all(dict(labs).get(k) == w for k, w in labels.items()):
            return v
    raise KeyError(name, labels)


@pytest.fixture(scope="module")
def slow_site() -> Iterator[Any]:
    from tests.site import NewsSite

    # Slow answers keep the crawl running long enough to be scraped more than once.
    site = NewsSite(generated=6, delay=0.15).start()
    yield site
    site.stop()


def test_endpoint_during_a_crawl_and_textfile_after(slow_site: Any, tmp_path: Path) -> None:
    port = free_port()
    textfiles = tmp_path / "textfiles"
    proc = start_crawl(
        tmp_path,
        ["-a", f"start_urls={slow_site.base_url}/"],
        {
            "NEWSWARC_ARCHIVE_URI": str(tmp_path / "archive"),
            "NEWSWARC_METRICS_PORT": port,
            "NEWSWARC_METRICS_TEXTFILE_DIR": str(textfiles),
            "CONCURRENT_REQUESTS_PER_DOMAIN": 2,
        },
    )
    scrapes: list[dict[Any, float]] = []
    url = f"http://127.0.0.1:{port}/metrics"
    try:
        while proc.poll() is None:
            try:
                with urllib.request.urlopen(url, timeout=5) as resp:
                    assert resp.headers["Content-Type"].startswith("text/plain")
                    scrapes.append(samples(resp.read().decode()))
            except OSError:
                pass  # not listening yet, or already stopped
            time.sleep(0.3)
        _out, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err[-3000:]
    assert f"metrics on http://127.0.0.1:{port}/metrics" in err
    running = [s for s in scrapes if value(s, "newswarc_crawl_running") == 1]
    assert len(running) >= 2, f"only {len(running)} scrapes while the crawl ran"
    site = "127.0.0.1"
    fetched = [value(s, "newswarc_pages_fetched_total", site=site) for s in running]
    assert fetched == sorted(fetched) and fetched[-1] > fetched[0]  # counters only grow
    last = running[-1]
    assert value(last, "newswarc_requests_total") >= fetched[-1]
    assert value(last, "newswarc_response_bytes_total") > 0
    assert value(last, "newswarc_upload_backlog_files") >= 0
    # The crawl's one WARC file, open from its first capture until the end.
    assert max(value(s, "newswarc_warc_files_open") for s in running) == 1
    assert value(last, "newswarc_crawl_info", site=site, version=__version__) == 1
    with_articles = [s for s in running if value(s, "newswarc_articles_written_total") > 0]
    assert with_articles, "no scrape saw an article written"
    s = with_articles[-1]
    assert value(s, "newswarc_extraction_duration_seconds_count") >= 1
    assert 0 < value(s, "newswarc_extraction_duration_seconds", quantile="0.5") < 60
    assert value(s, "newswarc_site_extracted_articles") >= 1
    assert 0 < value(s, "newswarc_site_median_words") < 5000
    assert ("newswarc_site_last_success_timestamp_seconds", (("site", site),)) not in s

    # The textfile: written atomically at the end, the same parser reads it.
    path = textfiles / textfile_name(site)
    assert [p.name for p in textfiles.iterdir()] == [path.name]  # no temporary file left
    final = samples(path.read_text())
    assert value(final, "newswarc_crawl_running") == 0
    assert value(final, "newswarc_pages_fetched_total") >= fetched[-1]
    assert value(final, "newswarc_warc_files_open") == 0
    assert value(final, "newswarc_upload_backlog_files") == 0
    assert value(final, "newswarc_warc_files_total") == 1
    assert value(final, "newswarc_warc_bytes_total") > 0
    assert value(final, "newswarc_articles_written_total") == value(
        final, "newswarc_site_extracted_articles"
    )
    skipped = value(final, "newswarc_pages_skipped_total", reason="not_article")
    assert skipped >= 1
    success = value(final, LAST_SUCCESS, site=site)
    assert time.time() - 120 < success <= time.time()
    # Served no longer once the crawl is over.
    with pytest.raises(OSError):
        urllib.request.urlopen(url, timeout=2)


def test_off_by_default_and_one_registry_per_crawler(tmp_path: Path) -> None:
    from scrapy.exceptions import NotConfigured

    with pytest.raises(NotConfigured):
        CrawlMetrics.from_crawler(get_crawler(settings_dict={}))
    settings = {"NEWSWARC_METRICS_TEXTFILE_DIR": str(tmp_path)}
    one = CrawlMetrics.from_crawler(get_crawler(settings_dict=settings))
    two = CrawlMetrics.from_crawler(get_crawler(settings_dict=settings))
    assert one.addr == "127.0.0.1" and one.port is None
    assert one.registry is not two.registry
    one.page_extracted(seconds=0.25, status="ok")
    a, b = samples(_exposition(one)), samples(_exposition(two))
    assert value(a, "newswarc_extraction_duration_seconds_count") == 1
    assert value(b, "newswarc_extraction_duration_seconds_count") == 0


def _exposition(ext: CrawlMetrics) -> str:
    from prometheus_client import generate_latest

    return generate_latest(ext.registry).decode()


def test_a_failed_run_keeps_the_last_success(tmp_path: Path) -> None:
    crawler = get_crawler(settings_dict={"NEWSWARC_METRICS_TEXTFILE_DIR": str(tmp_path)})
    ext = CrawlMetrics.from_crawler(crawler)
    ext.site = "daily"
    ext.run_finished({"finish_reason": "finished"})
    first = previous_last_success(ext.textfile_path, "daily")
    assert first is not None and abs(first - time.time()) < 60
    again = CrawlMetrics.from_crawler(get_crawler(settings_dict=dict(crawler.settings)))
    again.site = "daily"
    again.last_success = previous_last_success(again.textfile_path, "daily")
    again.run_finished({"finish_reason": "shutdown"})
    assert previous_last_success(again.textfile_path, "daily") == first
    assert value(samples(again.textfile_path.read_text()), "newswarc_crawl_running") == 0


def test_a_taken_port_is_one_error_line(caplog: pytest.LogCaptureFixture) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        ext = CrawlMetrics.from_crawler(get_crawler(settings_dict={"NEWSWARC_METRICS_PORT": port}))
        ext.spider_opened(_Spider())  # type: ignore[arg-type]
    assert ext.server is None
    assert f"metrics not served on 127.0.0.1:{port}" in caplog.text


class _Spider:
    name = "x"
    allowed_domains = ("a.example",)


def test_distributed_queue_gauges_read_from_redis_at_scrape_time(
    redis_db: Any, tmp_path: Path
) -> None:
    from scrapy import Request, Spider

    from crawler.distributed import RedisWorker
    from crawler.enqueue import run_keys
    from crawler.redisqueue import LeasedQueue

    crawler = get_crawler(
        settings_dict={
            "EXTENSIONS": {"crawler.distributed.RedisWorker": 90},
            "NEWSWARC_REDIS_URL": redis_db.url,
            "NEWSWARC_REDIS_RUN": "site-daily",
            "NEWSWARC_METRICS_TEXTFILE_DIR": str(tmp_path),
        }
    )
    ext = CrawlMetrics.from_crawler(crawler)
    ext.spider_opened(_Spider())  # type: ignore[arg-type]
    assert isinstance(ext.redis_worker, RedisWorker)
    single = CrawlMetrics.from_crawler(
        get_crawler(settings_dict={"NEWSWARC_METRICS_TEXTFILE_DIR": str(tmp_path)})
    )
    single.spider_opened(_Spider())  # type: ignore[arg-type]
    assert not any(n.startswith("newswarc_queue_") for n, _ in samples(_exposition(single)))

    client = redis_db.client()
    keys = run_keys("newswarc", "site-daily")

    def queue(worker: str, lease_timeout: float) -> LeasedQueue:
        return LeasedQueue(
            server=client,
            spider=Spider("news"),
            key=keys["requests"],
            lease_timeout=lease_timeout,
            worker=worker,
        )

    other = queue("other.1", 60)
    for i in range(7):
        other.push(Request(f"https://a.example/2026/12/0{i + 1}/story.html"))
    assert other.pop() is not None and other.pop() is not None  # another worker's leases
    dead = queue("dead.2", 0.001)
    assert dead.pop() is not None  # a dead worker's, run out
    time.sleep(0.05)
    client.hset(keys["workers"], mapping={"other.1": "{}", "dead.2": "{}"})
    _exposition(ext)  # the first scrape connects and loads the script
    evalsha = _calls(client, "evalsha")
    before = int(client.info("stats")["total_commands_processed"])
    parsed = samples(_exposition(ext))
    # A scrape is one round trip: one script, five reads inside it (Redis counts each), and
    # this INFO.
    assert int(client.info("stats")["total_commands_processed"]) - before == 1 + 5 + 1
    assert _calls(client, "evalsha") == evalsha + 1
    assert value(parsed, "newswarc_redis_up") == 1
    assert value(parsed, "newswarc_queue_requests", site="a.example") == 4
    assert value(parsed, "newswarc_queue_leases") == 3
    assert value(parsed, "newswarc_queue_leases_expired") == 1
    assert value(parsed, "newswarc_queue_workers") == 2
    assert value(parsed, "newswarc_worker_leases") == 0  # this worker holds none
    assert value(parsed, "newswarc_queue_leases_requeued_total") == 0

    # Put back by a live worker: queued again, nothing run out.
    assert other.expire() == 1
    parsed = samples(_exposition(ext))
    assert value(parsed, "newswarc_queue_requests") == 5
    assert value(parsed, "newswarc_queue_leases") == 2
    assert value(parsed, "newswarc_queue_leases_expired") == 0

    # Redis gone: the scrape still answers, without the queue's figures.
    redis_db.stop()
    try:
        parsed = samples(_exposition(ext))
        assert value(parsed, "newswarc_redis_up") == 0
        assert not any(n.startswith("newswarc_queue_leases_expired") for n, _ in parsed)
        ext.write_textfile()  # the textfile too
        assert value(samples(ext.textfile_path.read_text()), "newswarc_redis_up") == 0
    finally:
        redis_db.start()
    assert value(samples(_exposition(ext)), "newswarc_redis_up") == 1


def _calls(client: Any, command: str) -> int:
    return int(client.info("commandstats").get(f"cmdstat_{command}", {}).get("calls", 0))


def test_two_workers_export_the_shared_queue_during_a_distributed_crawl(
    redis_db: Any, slow_site: Any, tmp_path: Path
) -> None:
    from scrapy import Request, Spider

    from crawler.enqueue import run_keys
    from crawler.redisqueue import LeasedQueue

    # A worker died holding a lease of the run: the first live worker puts it back.
    dead = LeasedQueue(
        server=redis_db.client(),
        spider=Spider("news"),
        key=run_keys("newswarc", "run-m")["requests"],
        lease_timeout=0.001,
        worker="dead.9",
    )
    planted = "/news/2026/11/26/city-council-approves-flood-barrier.html"
    dead.push(Request(slow_site.url(planted)))
    assert dead.pop() is not None
    requested = len(slow_site.requests)
    ports = {name: free_port() for name in ("w1", "w2")}
    procs = {}
    for name, port in ports.items():
        folder = tmp_path / name
        folder.mkdir()
        settings = {
            "NEWSWARC_ARCHIVE_URI": tmp_path / "archive",
            "NEWSWARC_SPOOL_DIR": tmp_path / f"spool-{name}",
            "NEWSWARC_REDIS_RUN": "run-m",
            "NEWSWARC_REDIS_POLL_INTERVAL": 0.1,
            "NEWSWARC_METRICS_PORT": port,
            "NEWSWARC_METRICS_TEXTFILE_DIR": tmp_path / f"prom-{name}",
            "CONCURRENT_REQUESTS": 2,
        }
        args = ["-a", f"start_urls={slow_site.base_url}/"]
        procs[name] = start_crawl(folder, args, settings, {"NEWSWARC_REDIS_URL": redis_db.url})
    scrapes: list[dict[Any, float]] = []
    try:
        while any(p.poll() is None for p in procs.values()):
            for port in ports.values():
                try:
                    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as r:
                        scrapes.append(samples(r.read().decode()))
                except OSError:
                    pass  # not listening yet, or already stopped
            time.sleep(0.2)
        for proc in procs.values():
            out, err = proc.communicate(timeout=120)
            assert proc.returncode == 0, (err + out)[-3000:]
    finally:
        for proc in procs.values():
            if proc.poll() is None:
                proc.kill()
    running = [s for s in scrapes if value(s, "newswarc_crawl_running") == 1]
    assert running and all(value(s, "newswarc_redis_up") == 1 for s in running)
    assert max(value(s, "newswarc_queue_requests") for s in running) >= 1
    assert max(value(s, "newswarc_worker_leases") for s in running) >= 1
    assert max(value(s, "newswarc_queue_workers") for s in running) == 2
    # This worker's leases are among the cluster's.
    for s in running:
        assert value(s, "newswarc_queue_leases") >= value(s, "newswarc_worker_leases"), s
    assert planted in [r["path"] for r in slow_site.requests[requested:]]
    finals = [
        samples((tmp_path / f"prom-{name}" / textfile_name("127.0.0.1")).read_text())
        for name in ports
    ]
    assert sum(value(f, "newswarc_queue_leases_requeued_total") for f in finals) == 1
    assert sum(value(f, "newswarc_queue_leases_acked_total") for f in finals) >= 1
    assert all(value(f, "newswarc_crawl_running") == 0 for f in finals)
