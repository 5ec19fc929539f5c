"""``newswarc add-site`` on four local site shapes: the config it writes crawls each site."""

from __future__ import annotations

import contextlib
import io
import re
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from crawler.addsite import Fetcher, FetchError, add_site, learn_patterns, registrable_domain
from crawler.netguard import AddressPolicy
from crawler.sites import load_site
from tests.crawlrun import _AUDIT, ROOT, read_jsonl_gz, start_crawl
from tests.site.shapes import SHAPES, ShapeSites

# Inside the crawl: names under .test resolve to 127.0.0.1 (and only those), as the fetcher's
# resolver below does; the audit hook logs every connection.
_TEST_DNS = """
import socket
_real = socket.getaddrinfo
def _getaddrinfo(host, *args, **kwargs):
    if isinstance(host, str) and host.endswith(".test"):
        host = "127.0.0.1"
    return _real(host, *args, **kwargs)
socket.getaddrinfo = _getaddrinfo
"""


def test_resolver(host: str, port: int) -> list[str]:
    assert host.endswith(".test"), host  # nothing else may be looked up
    return ["127.0.0.1"]


test_resolver.__test__ = False  # type: ignore[attr-defined]


def fetcher(**kwargs: Any) -> Fetcher:
    return Fetcher(
        kwargs.pop("policy", AddressPolicy(["127.0.0.1/32"])),
        user_agent="newswarc-test",
        timeout=5,
        resolver=kwargs.pop("resolver", test_resolver),
        **kwargs,
    )


@pytest.fixture(scope="module")
def shapes() -> Iterator[ShapeSites]:
    sites = ShapeSites().start()
    yield sites
    sites.stop()


@pytest.fixture(scope="module")
def written(shapes: ShapeSites, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Run add-site --check on every shape once; return configs and printed output."""
    folder = tmp_path_factory.mktemp("addsite")
    out: dict[str, Any] = {"folder": folder}
    for shape in SHAPES:
        printed = io.StringIO()
        path = folder / "sites" / f"{shape}.toml"
        code = add_site(
            shapes.home(shape),
            path,
            fetcher(),
            run_check=True,
            out=lambda line, p=printed: print(line, file=p),
        )
        out[shape] = {"code": code, "path": path, "printed": printed.getvalue()}
    return out


def config(written: dict[str, Any], shape: str) -> dict[str, Any]:
    entry = written[shape]
    assert entry["code"] == 0, entry["printed"]
    return tomllib.loads(entry["path"].read_text())


def test_feed_only_site(written: dict[str, Any], shapes: ShapeSites) -> None:
    data = config(written, "feedonly")
    text = written["feedonly"]["path"].read_text()
    origin = shapes.origin("www.feedonly.test")
    assert data["name"] == "feedonly.test" and data["allowed_domains"] == ["feedonly.test"]
    assert data["feeds"] == [f"{origin}/rss.xml"] and data["sitemaps"] == []
    assert data["start_urls"] == [f"{origin}/", f"{origin}/world/"]
    assert data["articles"]["allow"] == [r"/\d{4}/\d{1,2}/\d{1,2}/"]
    assert data["politeness"] == {"download_delay": 0.2, "concurrency": 1}
    assert '<link rel="alternate" type="application/rss+xml"> on the home page' in text
    assert "# robots.txt Crawl-delay: 0.2" in text
    # In the feed, and linked (3 on the home page, 2 on its section): 5 distinct URLs.
    assert "# date path: 5 URLs, e.g." in text
    assert "# no sitemap found" in text


def test_sitemaps_only_site(written: dict[str, Any], shapes: ShapeSites) -> None:
    data = config(written, "mapped")
    text = written["mapped"]["path"].read_text()
    index = shapes.origin("www.mapped.test") + "/sitemap_index.xml"
    assert data["feeds"] == [] and data["sitemaps"] == [index]
    assert data["allowed_domains"] == ["mapped.test"]  # elsewhere.example is not the site's
    assert data["articles"]["allow"] == [r"(?:^|[/_.=-])\d{5,}(?:$|[/_.-])"]
    assert "# numeric id: 5 URLs" in text
    assert f"# sitemap {index}: robots.txt Sitemap:" in text
    news = shapes.origin("www.mapped.test") + "/news-sitemap.xml"
    assert f"# Google News sitemap {news}: listed by a sitemap index" in text
    assert "not found: feeds: no <link rel=alternate> feed" in written["mapped"]["printed"]


def test_site_with_neither_feed_nor_sitemap(written: dict[str, Any], shapes: ShapeSites) -> None:
    data = config(written, "plain")
    text = written["plain"]["path"].read_text()
    assert data["feeds"] == [] and data["sitemaps"] == []
    (allow,) = data["articles"]["allow"]
    assert allow.startswith("/story/")
    assert all(re.search(allow, u) for u in shapes.articles("plain"))
    assert not re.search(allow, shapes.origin("www.plain.test") + "/story/short/")
    assert data["articles"]["deny"] == ["/author/", "/tag/"]
    assert data["politeness"] == {"download_delay": 1.0, "concurrency": 2}
    assert "# no robots.txt: newswarc's gentle defaults" in text
    printed = written["plain"]["printed"]
    assert "not found: robots.txt:" in printed and "HTTP 404" in printed


def test_subdomain_for_articles(written: dict[str, Any], shapes: ShapeSites) -> None:
    data = config(written, "split")
    text = written["split"]["path"].read_text()
    assert data["allowed_domains"] == ["split.test", "news.split.test"]
    assert "#   news.split.test: 8 links or entries" in text  # 4 links, 4 feed entries
    assert data["feeds"] == [shapes.origin("www.split.test") + "/feed"]
    assert "common feed path /feed (answered with a feed)" in text


def test_check_prints_what_would_be_archived(written: dict[str, Any]) -> None:
    printed = written["feedonly"]["printed"]
    assert "check: 5 of 5 candidates would be archived as articles" in printed
    block = printed.split("ARTICLE ", 1)[1].splitlines()
    assert block[1].startswith("  title:   Feedonly story 1: the harbour council votes")
    assert re.match(r"  date:    20\d\d-\d\d-\d\dT", block[2])
    assert block[3] == "  authors: Sam Rivers"
    assert 150 < int(block[4].split()[-1]) < 500
    for shape in SHAPES:
        assert "would be archived as articles" in written[shape]["printed"], shape
        assert "NOT ARCHIVED" not in written[shape]["printed"], written[shape]["printed"]


def test_written_configs_crawl_each_site(written: dict[str, Any], shapes: ShapeSites) -> None:
    folder: Path = written["folder"]
    hook = folder / "hook"
    hook.mkdir(exist_ok=True)
    (hook / "sitecustomize.py").write_text(_AUDIT + _TEST_DNS)
    procs = {}
    for shape in SHAPES:
        tmp = folder / f"crawl-{shape}"
        tmp.mkdir()
        load_site(str(written[shape]["path"]))  # passes the config checks
        procs[shape] = (
            tmp,
            start_crawl(
                tmp,
                ["-a", f"site={written[shape]['path']}"],
                {"NEWSWARC_ARCHIVE_URI": str(tmp / "archive")},
                {"PYTHONPATH": f"{hook}:{ROOT}"},
            ),
        )
    for shape, (tmp, proc) in procs.items():
        _out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err[-3000:]
        urls = sorted(
            r["url"]
            for batch in (tmp / "archive" / "articles").rglob("*.jsonl.gz")
            for r in read_jsonl_gz(batch)
        )
        assert urls == sorted(shapes.articles(shape)), (shape, err[-2000:])
        connections = (tmp / "connections.log").read_text().splitlines()
        peers = {line for line in connections if not line.startswith("('dns'")}
        assert peers and all(p.startswith("('127.0.0.1'") for p in peers), peers


def test_private_addresses_are_refused_before_connecting(tmp_path: Path) -> None:
    asked: list[str] = []

    def resolver(host: str, port: int) -> list[str]:
        asked.append(host)
        return ["127.0.0.2", "10.1.2.3"]  # neither is allowed

    client = fetcher(resolver=resolver)
    with pytest.raises(FetchError, match="every address refused"):
        client.get("http://rebound.test/")
    with pytest.raises(FetchError, match="refused"):
        client.get("http://10.0.0.1/")
    with pytest.raises(FetchError, match="refused"):
        fetcher(resolver=resolver, policy=AddressPolicy()).get("http://localhost:1/")
    assert asked == ["rebound.test"] and client.requests == 0
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        code = add_site("http://169.254.169.254/", tmp_path / "x.toml", client)
    assert code == 1 and "home page" in printed.getvalue() and not (tmp_path / "x.toml").exists()


def test_crawl_delay() -> None:
    from crawler.addsite import crawl_delay

    text = (
        "User-agent: Googlebot\nCrawl-delay: 9\n\nUser-agent: *\nDisallow: /x\nCrawl-delay: 0.5\n"
    )
    assert crawl_delay(text, "newswarc/0.1.0 (+https://x)") == 0.5
    assert crawl_delay(text + "User-agent: newswarc\nCrawl-delay: 3\n", "newswarc/0.1") == 3.0
    assert crawl_delay("User-agent: *\nDisallow: /\n", "newswarc") is None


def test_patterns_and_domains() -> None:
    urls = [f"https://a.com/news/2026/11/{d}/story-{d}.html" for d in (1, 2, 3)]
    (pattern,) = learn_patterns([*urls, "https://a.com/about/"])
    assert (pattern.kind, pattern.count) == ("date path", 3)
    assert learn_patterns(urls[:1]) == []  # one URL is no pattern
    assert registrable_domain("www.bbc.co.uk") == "bbc.co.uk"
    assert registrable_domain("news.example.com") == "example.com"
    assert registrable_domain("www.split.test") == "split.test"
    assert registrable_domain("127.0.0.1") == "127.0.0.1"


def test_command_uses_the_project_settings(shapes: ShapeSites, tmp_path: Path) -> None:
    import subprocess
    import sys

    from tests.crawlrun import crawl_env

    hook = tmp_path / "hook"
    hook.mkdir()
    (hook / "sitecustomize.py").write_text(_AUDIT + _TEST_DNS)
    env = crawl_env(tmp_path, {"PYTHONPATH": f"{hook}:{ROOT}"})
    command = [str(Path(sys.executable).parent / "newswarc"), "add-site", shapes.home("plain")]
    sites = tmp_path / "sites"

    def run(*args: str, **changes: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*command, "--sites", str(sites), *args],
            env={**env, **changes},
            cwd=tmp_path,
            capture_output=True,
            text=True,
            check=False,
            timeout=60,
        )

    # settings.test allows 127.0.0.1/32; the base settings allow no private network at all.
    refused = run(SCRAPY_SETTINGS_MODULE="settings.base")
    assert refused.returncode == 1, refused.stdout + refused.stderr
    assert "every address refused (127.0.0.1)" in refused.stdout
    done = run()
    assert done.returncode == 0, done.stdout + done.stderr
    assert load_site(str(sites / "plain.test.toml")).name == "plain.test"
    again = run()
    assert again.returncode == 2 and "exists (use --force" in again.stdout
    assert run("--force").returncode == 0


def test_redirects_are_followed_and_checked(shapes: ShapeSites) -> None:
    client = fetcher()
    page = client.get(shapes.origin("www.redirect.test") + "/home")
    assert page.url == shapes.home("plain") and b"plain news" in page.body
    before = len(shapes.requests)
    with pytest.raises(FetchError, match=r"10\.0\.0\.1: refused"):
        client.get(shapes.origin("www.redirect.test") + "/private")
    assert shapes.requests[before:] == [("www.redirect.test", "/private")]  # nothing more
