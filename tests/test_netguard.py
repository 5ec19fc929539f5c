"""No requests to private networks: address spellings, the resolver, the middlewares, a crawl."""

from __future__ import annotations

import ipaddress
import json
import os
import re
import socket
from pathlib import Path
from typing import Any

import pytest
from scrapy.exceptions import CannotResolveHostError
from scrapy.http import HtmlResponse, Request
from scrapy.utils.test import get_crawler
from twisted.internet.address import IPv4Address, IPv6Address
from twisted.internet.interfaces import IHostnameResolver
from twisted.internet.task import Clock
from zope.interface import implementer

from crawler.netguard import (
    STATS_KEY,
    AddressPolicy,
    ConnectedAddressMiddleware,
    GuardedResolver,
    InvalidHost,
    PrivateAddressMiddleware,
    PrivateAddressRefused,
    host_address,
    parse_ipv4,
)
from tests.archivecheck import responses
from tests.crawlrun import ROOT, read_jsonl_gz, run_crawl
from tests.site.netguard import NetguardSite, article_html, listing_html

DEFAULT = AddressPolicy()

# --- Spellings ---------------------------------------------------------------------------------

# Every spelling a URL host can carry, and the address a browser or the resolver makes of it.
SPELLINGS = {
    "127.0.0.1": "127.0.0.1",
    "2130706433": "127.0.0.1",  # one decimal number
    "0177.0.0.1": "127.0.0.1",  # octal parts
    "0x7f.0.0.1": "127.0.0.1",  # hex parts
    "0X7F.1": "127.0.0.1",
    "0x7f000001": "127.0.0.1",
    "017700000001": "127.0.0.1",
    "127.1": "127.0.0.1",  # short forms: the last part fills the remaining bytes
    "127.0.1": "127.0.0.1",
    "127.0.0.1.": "127.0.0.1",  # trailing dot
    "0251.0376.0251.0376": "169.254.169.254",
    "2852039166": "169.254.169.254",
    "0xa9fea9fe": "169.254.169.254",
    "169.16689662": "169.254.169.254",
    "10.1": "10.0.0.1",
    "0": "0.0.0.0",
    "0x": "0.0.0.0",
    "%31%32%37.0.0.1": "127.0.0.1",  # percent-encoded
    "\uff11\uff12\uff17\uff0e\uff10\uff0e\uff10\uff0e\uff11": "127.0.0.1",  # fullwidth
    "127\u30020\u30020\u30021": "127.0.0.1",  # ideographic full stops
    "[::1]": "::1",
    "::1": "::1",
    "[0:0:0:0:0:0:0:1]": "::1",
    "[::ffff:127.0.0.1]": "::ffff:7f00:1",
    "[::ffff:7f00:1]": "::ffff:7f00:1",
    "[fe80::1%25eth0]": "fe80::1",  # zone id, percent-encoded as in a URL
    "fe80::1%eth0": "fe80::1",
    "[FD00:EC2::254]": "fd00:ec2::254",
}


@pytest.mark.parametrize(("host", "address"), SPELLINGS.items())
def test_every_spelling_is_read_as_its_address(host: str, address: str) -> None:
    assert host_address(host) == ipaddress.ip_address(address)


@pytest.mark.parametrize(
    "host",
    [h for h, a in SPELLINGS.items() if "." in a and "%" not in h and h.isascii() and h != "0x"],
)
def test_ipv4_spellings_agree_with_inet_aton(host: str) -> None:
    # inet_aton is what getaddrinfo applies to a numeric host: what would really be connected.
    plain = host.rstrip(".")
    assert ipaddress.IPv4Address(socket.inet_aton(plain)) == parse_ipv4(host)


@pytest.mark.parametrize(
    "host",
    ["1.2.3.4.5", "256.1.1.1", "1.2.3.256", "0x100.1", "4294967296", "09.1", "1.2.3.08", "1..2"],
)
def test_hosts_that_end_in_a_number_but_are_no_address_are_invalid(host: str) -> None:
    with pytest.raises(InvalidHost):
        host_address(host)
    refusal = DEFAULT.check_host(host)
    assert refusal is not None and refusal.kind == "invalid"


@pytest.mark.parametrize(
    "host", ["example.com", "news.example.co.uk", "127.0.0.1.nip.io", "0x7f.example", "a1b2"]
)
def test_names_are_left_to_the_resolver(host: str) -> None:
    assert host_address(host) is None
    assert DEFAULT.check_host(host) is None


# --- Classification ----------------------------------------------------------------------------

REFUSED = {
    "0.0.0.0": "unspecified",
    "0.1.2.3": "unspecified",
    "10.0.0.1": "private",
    "100.64.0.1": "shared",
    "100.127.255.254": "shared",
    "127.0.0.1": "loopback",
    "127.255.255.254": "loopback",
    "169.254.169.254": "link-local",
    "172.16.0.1": "private",
    "172.31.255.255": "private",
    "192.0.0.9": "reserved",
    "192.0.2.1": "documentation",
    "192.88.99.1": "reserved",
    "192.168.1.1": "private",
    "198.18.0.1": "benchmarking",
    "198.19.255.255": "benchmarking",
    "198.51.100.7": "documentation",
    "203.0.113.9": "documentation",
    "224.0.0.1": "multicast",
    "239.255.255.250": "multicast",
    "240.0.0.1": "reserved",
    "255.255.255.255": "reserved",
    "::": "unspecified",
    "::1": "loopback",
    "::127.0.0.1": "reserved",  # IPv4-compatible, deprecated
    "::ffff:127.0.0.1": "loopback",
    "::ffff:169.254.169.254": "link-local",
    "::ffff:10.1.2.3": "private",
    "64:ff9b::10.0.0.1": "private",  # NAT64 of a private address
    "64:ff9b::127.0.0.1": "loopback",
    "64:ff9b:1::1": "private",  # local-use NAT64
    "100::1": "reserved",
    "2001::1": "reserved",  # Teredo
    "2001:0:4136:e378:8000:63bf:3fff:fdd2": "documentation",  # Teredo of 192.0.2.45
    "2001:2::1": "benchmarking",
    "2001:db8::1": "documentation",
    "2001:10::1": "reserved",
    "2002:7f00:1::": "loopback",  # 6to4 of 127.0.0.1
    "2002:a9fe:a9fe::1": "link-local",  # 6to4 of 169.254.169.254
    "2002:c0a8:101::1": "private",
    "3fff::1": "documentation",
    "5f00::1": "reserved",
    "fc00::1": "private",
    "fd00:ec2::254": "private",  # the AWS metadata service over IPv6
    "fe80::1": "link-local",
    "febf::1": "link-local",
    "fec0::1": "site-local",
    "ff02::1": "multicast",
    "ff0e::1": "multicast",
    "4000::1": "reserved",  # outside global unicast
    "::2": "reserved",
}
PUBLIC = [
    "1.1.1.1",
    "8.8.8.8",
    "93.184.215.14",
    "100.63.255.255",  # just below the shared range
    "100.128.0.0",  # just above it
    "172.15.255.255",
    "172.32.0.0",
    "192.31.196.1",  # AS112: globally reachable
    "198.17.255.255",
    "223.255.255.255",
    "2606:4700:4700::1111",
    "2a00:1450:4001:80b::200e",
    "::ffff:8.8.8.8",  # IPv4-mapped public: connects to 8.8.8.8
    "64:ff9b::8.8.8.8",  # NAT64 of a public address, for IPv6-only networks
    "2002:808:808::1",  # 6to4 of 8.8.8.8
]


@pytest.mark.parametrize(("address", "kind"), REFUSED.items())
def test_special_purpose_addresses_are_refused_by_kind(address: str, kind: str) -> None:
    refusal = DEFAULT.check(address)
    assert refusal is not None
    assert refusal.kind == kind, refusal


@pytest.mark.parametrize("address", PUBLIC)
def test_public_addresses_are_allowed(address: str) -> None:
    assert DEFAULT.check(address) is None


def test_a_refusal_says_what_the_address_is_and_where_it_belongs() -> None:
    assert str(DEFAULT.check("169.254.169.254")) == "169.254.169.254 is link-local (169.254.0.0/16)"
    mapped = str(DEFAULT.check_host("[::ffff:127.0.0.2]"))
    assert "loopback" in mapped and "IPv4-mapped 127.0.0.2" in mapped and "127.0.0.0/8" in mapped
    assert "6to4 of 10.0.0.1" in str(DEFAULT.check("2002:a00:1::"))


def test_allowed_networks_let_their_addresses_through_in_every_spelling() -> None:
    policy = AddressPolicy(["127.0.0.1/32", "10.0.0.0/8"])
    for host in ("127.0.0.1", "2130706433", "0177.0.0.1", "127.1", "[::ffff:127.0.0.1]"):
        assert policy.check_host(host) is None, host
    assert policy.check("10.200.1.1") is None
    refusal = policy.check_host("127.0.0.2")
    assert refusal is not None and refusal.kind == "loopback"
    assert policy.check("::1") is not None  # only what is listed: 127.0.0.1, not IPv6 loopback
    assert policy.check("192.168.0.1") is not None
    # An allowed address inside a 6to4 or NAT64 prefix is reached through a gateway: not allowed.
    assert policy.check("2002:a00:1::") is not None


def test_everything_can_be_allowed_and_ipv6_networks_too() -> None:
    policy = AddressPolicy(["0.0.0.0/0", "::/0"])
    for address in REFUSED:
        assert policy.check(address) is None, address
    assert AddressPolicy(["fd00::/8"]).check("fd00:ec2::254") is None


def test_allowed_networks_come_from_a_list_or_a_comma_separated_setting() -> None:
    crawler = get_crawler(settings_dict={"NEWSWARC_ALLOWED_NETWORKS": "127.0.0.1/32, ::1"})
    policy = AddressPolicy.from_settings(crawler.settings)
    assert policy.allowed == (
        ipaddress.ip_network("127.0.0.1/32"),
        ipaddress.ip_network("::1/128"),
    )
    assert AddressPolicy.from_settings(get_crawler().settings).allowed == ()


@pytest.mark.parametrize("bad", ["10.0.0.1/8", "300.0.0.0/8", "localhost", "10.0.0.0/33"])
def test_a_bad_allowed_network_is_a_clear_error(bad: str) -> None:
    with pytest.raises(ValueError, match="NEWSWARC_ALLOWED_NETWORKS"):
        AddressPolicy([bad])


def test_localhost_names_are_refused_before_any_lookup() -> None:
    for host in ("localhost", "LOCALHOST.", "api.localhost", "x.y.localhost"):
        refusal = DEFAULT.check_host(host)
        assert refusal is not None and refusal.kind == "loopback", host
    # With a loopback address allowed, the name resolves and its addresses are checked.
    assert AddressPolicy(["127.0.0.1/32"]).check_host("localhost") is None
    assert DEFAULT.check_host("localhost.example.com") is None


@pytest.mark.parametrize(
    ("url", "refused"),
    [
        ("http://169.254.169.254/latest/meta-data/", True),
        ("https://[::1]:8443/", True),
        ("http://user:pw@10.0.0.1:8080/x", True),  # userinfo is not the host
        ("http://10.0.0.1@example.com/", False),  # ...and here the host is a name
        ("http://[fe80::1%25eth0]/", True),
        ("http://[::1/", True),  # unbalanced bracket: invalid
        ("ftp://192.168.0.1/file", True),  # any scheme with a host
        ("https://example.com/news", False),
        ("data:text/plain,hello", False),
    ],
)
def test_urls_are_checked_by_their_host(url: str, refused: bool) -> None:
    assert (DEFAULT.check_url(url) is not None) is refused


# --- Resolver ----------------------------------------------------------------------------------


@implementer(IHostnameResolver)
class FixedAnswers:
    """A name resolver that answers from a dict, synchronously, or never (``hang``)."""

    def __init__(self, answers: dict[str, list[str]], hang: tuple[str, ...] = ()) -> None:
        self.answers = answers
        self.hang = hang
        self.asked: list[str] = []
        self.pending: list[Any] = []

    def resolveHostName(
        self,
        receiver: Any,
        hostName: str,
        portNumber: int = 0,
        addressTypes: Any = None,
        transportSemantics: str = "TCP",
    ) -> Any:
        self.asked.append(hostName)
        receiver.resolutionBegan(None)
        if hostName in self.hang:
            self.pending.append((receiver, portNumber))
            return None
        for address in self.answers.get(hostName, []):
            kind = IPv6Address if ":" in address else IPv4Address
            receiver.addressResolved(kind("TCP", address, portNumber))
        receiver.resolutionComplete()
        return None


class Collect:
    """What a resolver handed over: the receiver of HostnameEndpoint, as a list."""

    def __init__(self) -> None:
        self.addresses: list[tuple[str, int]] = []
        self.complete = 0

    def resolutionBegan(self, resolution: Any) -> None:
        pass

    def addressResolved(self, address: Any) -> None:
        self.addresses.append((address.host, address.port))

    def resolutionComplete(self) -> None:
        self.complete += 1


def resolver(
    answers: dict[str, list[str]],
    allowed: list[str] | None = None,
    cache: int = 100,
    timeout: float = 5.0,
    hang: tuple[str, ...] = (),
) -> tuple[GuardedResolver, FixedAnswers, Clock]:
    clock = Clock()
    original = FixedAnswers(answers, hang)
    clock.nameResolver = original  # type: ignore[attr-defined]
    return GuardedResolver(clock, AddressPolicy(allowed or []), cache, timeout), original, clock


def resolve(guarded: GuardedResolver, name: str, port: int = 80) -> Collect:
    got = Collect()
    guarded.resolveHostName(got, name, port)
    return got


def test_the_resolver_hands_over_only_allowed_addresses() -> None:
    answers = {"mixed.test": ["10.0.0.5", "93.184.215.14", "fd00::1", "2606:4700::1111"]}
    guarded, _, _ = resolver(answers)
    got = resolve(guarded, "mixed.test", 443)
    assert got.addresses == [("93.184.215.14", 443), ("2606:4700::1111", 443)]
    assert got.complete == 1
    assert guarded.refusal_of("mixed.test") == ()  # the name still resolves: not refused


def test_a_name_with_only_refused_addresses_resolves_to_nothing_and_says_why() -> None:
    guarded, _, _ = resolver({"metadata.test": ["169.254.169.254", "fe80::a9fe:a9fe"]})
    got = resolve(guarded, "metadata.test")
    assert got.addresses == [] and got.complete == 1
    kinds = [r.kind for r in guarded.refusal_of("METADATA.test.")]
    assert kinds == ["link-local", "link-local"]


def test_ip_literals_pass_through_the_resolver_too() -> None:
    # HostnameEndpoint resolves IP literals as well: the resolver sees every connection.
    guarded, _, _ = resolver({"127.0.0.2": ["127.0.0.2"], "127.0.0.1": ["127.0.0.1"]})
    assert resolve(guarded, "127.0.0.2").addresses == []
    assert resolve(guarded, "127.0.0.1").addresses == []
    guarded, _, _ = resolver({"127.0.0.1": ["127.0.0.1"]}, ["127.0.0.1/32"])
    assert resolve(guarded, "127.0.0.1", 8080).addresses == [("127.0.0.1", 8080)]


def test_rebinding_each_lookup_is_checked_and_only_allowed_answers_are_cached() -> None:
    answers = {"rebind.test": ["127.0.0.1"]}
    guarded, original, _ = resolver(answers, ["127.0.0.1/32"], cache=0)
    assert resolve(guarded, "rebind.test").addresses == [("127.0.0.1", 80)]
    answers["rebind.test"] = ["127.0.0.2"]  # the name now points elsewhere
    assert resolve(guarded, "rebind.test").addresses == []
    assert guarded.refusal_of("rebind.test")[0].address == "127.0.0.2"
    assert original.asked == ["rebind.test", "rebind.test"]

    answers["rebind.test"] = ["127.0.0.1"]
    cached, original, _ = resolver(answers, ["127.0.0.1/32"], cache=100)
    assert resolve(cached, "rebind.test", 81).addresses == [("127.0.0.1", 81)]
    answers["rebind.test"] = ["127.0.0.2"]
    # The cached answer is the checked one, with the port of each request.
    assert resolve(cached, "rebind.test", 82).addresses == [("127.0.0.1", 82)]
    assert original.asked == ["rebind.test"]
    # A refused answer is never cached: the next lookup asks again.
    assert resolve(cached, "other.test").addresses == []
    resolve(cached, "other.test")
    assert original.asked == ["rebind.test", "other.test", "other.test"]


def test_a_lookup_that_hangs_ends_after_dns_timeout_and_late_answers_are_ignored() -> None:
    guarded, original, clock = resolver({}, timeout=15.0, hang=("slow.test",))
    got = resolve(guarded, "slow.test")
    clock.advance(14.9)
    assert got.complete == 0
    clock.advance(0.2)
    assert got.complete == 1 and got.addresses == []
    receiver, port = original.pending[0]
    receiver.addressResolved(IPv4Address("TCP", "93.184.215.14", port))
    receiver.resolutionComplete()
    assert got.complete == 1 and got.addresses == []


def test_the_resolver_reads_its_settings() -> None:
    settings = {
        "NEWSWARC_ALLOWED_NETWORKS": ["10.0.0.0/8"],
        "DNSCACHE_ENABLED": False,
        "DNS_TIMEOUT": 7,
    }
    clock = Clock()
    clock.nameResolver = FixedAnswers({})  # type: ignore[attr-defined]
    built = GuardedResolver.from_crawler(get_crawler(settings_dict=settings), clock)
    assert built.policy.allowed == (ipaddress.ip_network("10.0.0.0/8"),)
    assert built.cache_enabled is False and built.timeout == 7.0


# --- Middlewares -------------------------------------------------------------------------------


def test_the_url_middleware_refuses_logs_and_counts(caplog: pytest.LogCaptureFixture) -> None:
    crawler = get_crawler(settings_dict={"NEWSWARC_ALLOWED_NETWORKS": ["127.0.0.1/32"]})
    mw = PrivateAddressMiddleware.from_crawler(crawler)
    assert mw.process_request(Request("http://127.0.0.1:8000/ok")) is None
    assert mw.process_request(Request("https://example.com/")) is None
    with pytest.raises(PrivateAddressRefused) as refused:
        mw.process_request(Request("http://0251.0376.0251.0376/latest/meta-data/"))
    assert refused.value.stage == "url" and refused.value.kind == "link-local"
    with pytest.raises(PrivateAddressRefused):
        mw.process_request(Request("http://[::1]:8000/"))
    with pytest.raises(PrivateAddressRefused):
        mw.process_request(Request("http://1.2.3.4.5/"))
    stats = crawler.stats.get_stats()  # type: ignore[union-attr]
    assert stats[STATS_KEY] == 2
    assert stats[f"{STATS_KEY}/link-local"] == 1 and stats[f"{STATS_KEY}/loopback"] == 1
    assert stats["newswarc/refused/invalid_host"] == 1
    lines = [r.getMessage() for r in caplog.records if r.name == "crawler.netguard"]
    assert lines[0] == (
        "Refused http://0251.0376.0251.0376/latest/meta-data/ (url): "
        "169.254.169.254 is link-local (169.254.0.0/16)"
    )
    assert len(lines) == 3


def test_the_connection_middleware_reports_refused_lookups_and_addresses() -> None:
    crawler = get_crawler(settings_dict={"NEWSWARC_ALLOWED_NETWORKS": ["127.0.0.1/32"]})
    guarded, _, _ = resolver({"private.test": ["127.0.0.2"], "proxy.test": ["10.0.0.9"]})
    policy = AddressPolicy(["127.0.0.1/32"])
    assert crawler.stats is not None
    mw = ConnectedAddressMiddleware(policy, crawler.stats, guarded)
    resolve(guarded, "private.test")
    resolve(guarded, "proxy.test")

    request = Request("http://private.test:8000/news.html")
    with pytest.raises(PrivateAddressRefused) as refused:
        mw.process_exception(request, CannotResolveHostError("no results"))
    assert refused.value.stage == "dns" and "127.0.0.2 is loopback" in str(refused.value)
    # An ordinary failed lookup is left to the retry middleware.
    assert mw.process_exception(Request("http://nx.test/"), CannotResolveHostError("x")) is None
    # Through a proxy, the proxy's address is the one connected to.
    proxied = Request("http://example.com/", meta={"proxy": "http://proxy.test:3128"})
    with pytest.raises(PrivateAddressRefused) as refused:
        mw.process_exception(proxied, CannotResolveHostError("no results"))
    assert refused.value.stage == "dns of proxy proxy.test" and refused.value.kind == "private"

    ok = HtmlResponse(
        "http://a.test/", body=b"<p>x</p>", ip_address=ipaddress.ip_address("127.0.0.1")
    )
    assert mw.process_response(Request("http://a.test/"), ok) is ok
    bad = HtmlResponse("http://a.test/", body=b"<p>x</p>", ip_address=ipaddress.ip_address("::1"))
    with pytest.raises(PrivateAddressRefused) as refused:
        mw.process_response(Request("http://a.test/"), bad)
    assert refused.value.stage == "connected"
    assert crawler.stats.get_value(STATS_KEY) == 3


# --- A crawl -----------------------------------------------------------------------------------

# Runs inside the crawl: every connection to anything but 127.0.0.1 (or a Unix socket) and
# every name lookup is stopped before it happens, and written down. A bug in the guard must
# fail this test, never send traffic anywhere.
_TRIPWIRE = """
import os, sys, ipaddress
exec(open(os.environ["NEWSWARC_TEST_AUDIT_HOOK"]).read())
_blocked = os.environ["NEWSWARC_TEST_BLOCKED_LOG"]
def _tripwire(event, args):
    if event == "socket.connect":
        addr = args[1]
        if isinstance(addr, tuple) and addr[0] != "127.0.0.1":
            with open(_blocked, "a") as fh:
                fh.write(repr(addr) + "\\n")
            raise ConnectionRefusedError("test tripwire: connect to %r blocked" % (addr,))
    elif event == "socket.getaddrinfo":
        host = args[0]
        host = host.decode() if isinstance(host, bytes) else host
        try:
            ipaddress.ip_address((host or "").partition("%")[0])
        except ValueError:
            with open(_blocked, "a") as fh:
                fh.write(repr(("dns", host)) + "\\n")
            raise OSError("test tripwire: lookup of %r blocked" % (host,))
sys.addaudithook(_tripwire)
"""

ARTICLE = "/news/2026/12/01/harbour-reopens-after-repairs.html"


def _crawl(tmp: Path, args: list[str], settings: dict[str, Any]) -> Any:
    tripwire = tmp / "tripwire"
    tripwire.mkdir(exist_ok=True)
    (tripwire / "sitecustomize.py").write_text(_TRIPWIRE)
    env = {
        "PYTHONPATH": os.pathsep.join([str(tripwire), str(tmp / "audit-hook"), str(ROOT)]),
        "NEWSWARC_TEST_AUDIT_HOOK": str(tmp / "audit-hook" / "sitecustomize.py"),
        "NEWSWARC_TEST_BLOCKED_LOG": str(tmp / "blocked.log"),
    }
    return run_crawl(tmp, args, settings, env)


def _stat(log: str, key: str) -> int:
    match = re.search(rf"'{re.escape(key)}': (\d+)", log)
    return int(match.group(1)) if match else 0


def _refused_lines(log: str) -> list[str]:
    return [ln for ln in log.splitlines() if "[crawler.netguard] WARNING: Refused " in ln]


@pytest.fixture
def netguard_site() -> Any:
    with NetguardSite() as site:
        yield site


@pytest.mark.e2e
def test_crawl_refuses_private_addresses_in_urls_links_redirects_and_dns(
    netguard_site: NetguardSite, tmp_path: Path
) -> None:
    site = netguard_site
    port = site.port
    local = f"http://127.0.0.1:{port}"
    for path in (ARTICLE, "/news/2026/12/01/mixed-answer-story.html"):
        site.html(path, article_html("Harbour reopens after repairs"))
    rebound = [f"http://rebind.test:{port}/news/2026/12/01/rebound-{n}-story.html" for n in (1, 2)]
    www = f"http://www.rebind.test:{port}/news/2026/12/01/www-story.html"
    site.html("/", listing_html([*rebound, www]))
    for url in rebound:
        site.html(url.split(str(port), 1)[1], article_html("Rebound"))
    redirects = {
        "/go/metadata": "http://169.254.169.254/latest/meta-data/iam/security-credentials/",
        "/go/decimal": f"http://2130706434:{port}/news/2026/12/01/decimal.html",
        "/go/private-name": f"http://private.test:{port}/news/2026/12/01/redirected.html",
    }
    for path, target in redirects.items():
        site.redirect(path, target)
    url_stage = [
        "http://169.254.169.254/latest/meta-data/",
        f"http://[::1]:{port}{ARTICLE}",
        f"http://2130706434:{port}{ARTICLE}",  # 127.0.0.2, as are the next four
        f"http://0177.0.0.2:{port}{ARTICLE}",
        f"http://0x7f.0.0.2:{port}{ARTICLE}",
        f"http://127.2:{port}{ARTICLE}",
        f"http://[::ffff:127.0.0.2]:{port}{ARTICLE}",
        f"http://[fe80::1%25eth0]:{port}{ARTICLE}",
        "http://[fd00:ec2::254]/latest/meta-data/",
    ]
    dns_stage = [f"http://private.test:{port}/news/2026/12/01/private.html"]
    allowed = [
        f"{local}{ARTICLE}",
        f"http://mixed.test:{port}/news/2026/12/01/mixed-answer-story.html",
    ]
    urls = tmp_path / "urls.txt"
    urls.write_text("\n".join([*url_stage, *dns_stage, *allowed, *(local + p for p in redirects)]))
    hosts = {
        # robots.txt and the listing from 127.0.0.1, then the name points to 127.0.0.2.
        "rebind.test": ["127.0.0.1", "127.0.0.1", "127.0.0.2"],
        "www.rebind.test": ["::1"],
        "private.test": ["127.0.0.2"],
        "mixed.test": [["127.0.0.2", "127.0.0.1"]],
    }
    archive = tmp_path / "archive"
    result = _crawl(
        tmp_path,
        ["-a", f"urls={urls}", "-a", f"start_urls=http://rebind.test:{port}/"],
        {
            "NEWSWARC_ARCHIVE_URI": str(archive),
            "TWISTED_DNS_RESOLVER": "tests.site.netguard.MadeUpNamesResolver",
            "NEWSWARC_TEST_HOSTS": json.dumps(hosts),
            "DNSCACHE_ENABLED": "False",
        },
    )
    log = result.log
    assert result.returncode == 0, log[-3000:]

    # Nothing connected anywhere but 127.0.0.1, nothing was even attempted.
    blocked = tmp_path / "blocked.log"
    assert not blocked.exists(), blocked.read_text()
    assert result.connections
    for conn in result.connections:
        assert conn.startswith(("('127.0.0.1'", "('dns', '127.0.0.1'", "'/")), conn

    # Each refused request: one line with its URL, the stage and the reason.
    lines = _refused_lines(log)
    by_url: dict[str, list[str]] = {}
    for line in lines:
        url = line.split("Refused ", 1)[1].split(" (", 1)[0]
        by_url.setdefault(url, []).append(line)
    expected_url = [*url_stage, *(t for p, t in redirects.items() if p != "/go/private-name")]
    for url in expected_url:
        assert any("(url):" in ln for ln in by_url.get(url, [])), (url, lines)
    assert "169.254.169.254 is link-local" in by_url[url_stage[0]][0]
    assert "127.0.0.2 is loopback" in by_url[url_stage[3]][0]
    assert "fd00:ec2::254 is private" in by_url[url_stage[-1]][0]
    expected_dns = [*dns_stage, redirects["/go/private-name"], *rebound, www]
    for url in expected_dns:
        assert any("(dns):" in ln for ln in by_url.get(url, [])), (url, lines)
    assert "::1 is loopback" in by_url[www][0]
    # A name resolving to refused addresses only gets its robots.txt refused too, once.
    assert f"http://private.test:{port}/robots.txt" in by_url
    # The rebinding happened: the third lookup answered 127.0.0.2, and it was refused.
    assert "Test resolver: lookup 3 of rebind.test: 127.0.0.2" in log
    assert "127.0.0.2 is loopback" in by_url[rebound[0]][0]

    # Counted: one per line, by kind too; not retried (one attempt each).
    assert _stat(log, STATS_KEY) == len(lines)
    assert _stat(log, f"{STATS_KEY}/link-local") == 3  # two metadata URLs, one redirect
    assert _stat(log, f"{STATS_KEY}/private") == 1
    # Every refusal shows the same way in Scrapy's error counts (and so in the manifest).
    errors = "downloader/exception_type_count/crawler.netguard.PrivateAddressRefused"
    assert _stat(log, errors) == len(lines)
    assert sum(len(v) for v in by_url.values()) == len(lines)
    assert all(len(v) == 1 for v in by_url.values()), by_url

    # The server saw only the allowed requests: no refused page reached it.
    paths = {(h.split(":")[0], p) for h, p in site.requests}
    assert ("127.0.0.1", ARTICLE) in paths and (
        "mixed.test",
        allowed[1].split(str(port))[1],
    ) in paths
    assert ("rebind.test", "/") in paths
    assert not any(h in ("private.test", "www.rebind.test") for h, _ in paths), paths
    assert not any("rebound" in p for _, p in paths), paths

    # The allowed pages were archived: WARC captures and article records.
    captured = {r["url"] for w in archive.glob("warc/*/*/*/*.warc.gz") for r in responses(w)}
    assert {allowed[0], allowed[1], f"http://rebind.test:{port}/"} <= captured
    assert not any("127.0.0.2" in u or "private.test" in u or "rebound" in u for u in captured)
    records = [r for f in archive.glob("articles/*/*/*/*.jsonl.gz") for r in read_jsonl_gz(f)]
    assert sorted(r["url"] for r in records) == sorted(allowed)


@pytest.mark.e2e
def test_crawl_refuses_a_response_from_a_refused_address_around_the_resolver(
    netguard_site: NetguardSite, tmp_path: Path
) -> None:
    # A resolver that lets every address through (as Scrapy's own would): the address that
    # answered is still checked, and its response is neither archived nor parsed.
    site = netguard_site
    site.html(ARTICLE, article_html("Harbour reopens after repairs"))
    archive = tmp_path / "archive"
    url = f"http://sneaky.test:{site.port}{ARTICLE}"
    result = _crawl(
        tmp_path,
        ["-a", f"url={url}"],
        {
            "NEWSWARC_ARCHIVE_URI": str(archive),
            "NEWSWARC_ALLOWED_NETWORKS": "127.0.0.3/32",
            "TWISTED_DNS_RESOLVER": "tests.site.netguard.PermissiveNamesResolver",
            "NEWSWARC_TEST_HOSTS": json.dumps({"sneaky.test": ["127.0.0.1"]}),
            "ROBOTSTXT_OBEY": "False",
        },
    )
    assert result.returncode == 0, result.log[-3000:]
    assert not (tmp_path / "blocked.log").exists()
    lines = _refused_lines(result.log)
    assert len(lines) == 1 and f"Refused {url} (connected): 127.0.0.1 is loopback" in lines[0]
    assert _stat(result.log, STATS_KEY) == 1
    assert (f"sneaky.test:{site.port}", ARTICLE) in site.requests  # it did connect (loopback)
    captured = [r for w in archive.glob("warc/*/*/*/*.warc.gz") for r in responses(w)]
    assert captured == []
    assert list(archive.glob("articles/*/*/*/*.jsonl.gz")) == []


@pytest.mark.e2e
def test_a_bad_allowed_network_stops_the_crawl_with_one_line(tmp_path: Path) -> None:
    result = _crawl(
        tmp_path,
        ["-a", "url=http://127.0.0.1:9/news/2026/12/01/never-fetched.html"],
        {"NEWSWARC_ARCHIVE_URI": str(tmp_path / "a"), "NEWSWARC_ALLOWED_NETWORKS": "10.0.0.1/8"},
    )
    assert result.returncode == 1
    critical = [ln for ln in result.log.splitlines() if "CRITICAL" in ln]
    assert len(critical) == 1, result.log[-2000:]
    assert "NEWSWARC_ALLOWED_NETWORKS: 10.0.0.1/8 has host bits set" in critical[0]
    assert "Traceback" not in result.log
    assert result.connections == []
