"""No requests to private networks: an address policy, a guarded resolver and two middlewares."""

from __future__ import annotations

import ipaddress
import logging
import sys
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlsplit

from scrapy.exceptions import CannotResolveHostError, IgnoreRequest
from scrapy.utils.datatypes import LocalCache
from twisted.internet.address import IPv4Address as TxIPv4Address
from twisted.internet.address import IPv6Address as TxIPv6Address
from twisted.internet.error import DNSLookupError
from twisted.internet.interfaces import (
    IHostnameResolver,
    IHostResolution,
    IResolutionReceiver,
)
from zope.interface import implementer

if TYPE_CHECKING:
    from typing import Self

    from scrapy.crawler import Crawler
    from scrapy.http import Request, Response
    from scrapy.settings import BaseSettings
    from scrapy.statscollectors import StatsCollector

logger = logging.getLogger(__name__)

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

#: Stats key counting every refused request; ``/<kind>`` keys count them by kind.
STATS_KEY = "newswarc/refused/private_address"

# IANA's special-purpose registries (RFC 6890 and later), most specific first. The ranges
# IANA marks globally reachable (AS112, AMT, 192.0.0.9/32 and 192.0.0.10/32 anycast) are
# news-free and stay refused inside their blocks only where a block below says so.
_V4_SPECIAL: tuple[tuple[str, str], ...] = (
    ("0.0.0.0/8", "unspecified"),  # "this network": 0.0.0.0 reaches the local host on Linux
    ("10.0.0.0/8", "private"),
    ("100.64.0.0/10", "shared"),  # carrier-grade NAT (RFC 6598)
    ("127.0.0.0/8", "loopback"),
    ("169.254.0.0/16", "link-local"),  # cloud metadata at 169.254.169.254
    ("172.16.0.0/12", "private"),
    ("192.0.0.0/24", "reserved"),  # IETF protocol assignments
    ("192.0.2.0/24", "documentation"),
    ("192.88.99.0/24", "reserved"),  # 6to4 relay anycast, deprecated
    ("192.168.0.0/16", "private"),
    ("198.18.0.0/15", "benchmarking"),
    ("198.51.100.0/24", "documentation"),
    ("203.0.113.0/24", "documentation"),
    ("224.0.0.0/4", "multicast"),
    ("240.0.0.0/4", "reserved"),  # and the broadcast address 255.255.255.255
)
_V6_SPECIAL: tuple[tuple[str, str], ...] = (
    ("::/128", "unspecified"),
    ("::1/128", "loopback"),
    ("::/96", "reserved"),  # IPv4-compatible addresses, deprecated (RFC 4291)
    ("64:ff9b:1::/48", "private"),  # local-use NAT64 (RFC 8215)
    ("100::/64", "reserved"),  # discard-only
    ("2001::/32", "reserved"),  # Teredo: reached through relays, never a news site
    ("2001:2::/48", "benchmarking"),
    ("2001:db8::/32", "documentation"),
    ("2001::/23", "reserved"),  # IETF protocol assignments
    ("3fff::/20", "documentation"),  # RFC 9637
    ("5f00::/16", "reserved"),  # SRv6 SIDs
    ("fc00::/7", "private"),  # unique local addresses
    ("fe80::/10", "link-local"),
    ("fec0::/10", "site-local"),  # deprecated, still routed inside some networks
    ("ff00::/8", "multicast"),
)
_GLOBAL_UNICAST_V6 = ipaddress.IPv6Network("2000::/3")
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
_SIXTOFOUR = ipaddress.IPv6Network("2002::/16")
_TEREDO = ipaddress.IPv6Network("2001::/32")


def _table(rows: Iterable[tuple[str, str]]) -> list[tuple[int, int, str, str]]:
    # (first, last, kind, network) as integers: ``in`` on ipaddress objects is ten times slower.
    nets = sorted(
        ((ipaddress.ip_network(net), kind) for net, kind in rows), key=lambda r: -r[0].prefixlen
    )  # most specific first
    return [(int(n[0]), int(n[-1]), kind, str(n)) for n, kind in nets]


_V4_TABLE = _table(_V4_SPECIAL)
_V6_TABLE = _table(_V6_SPECIAL)

# Names every resolver must answer with loopback addresses (RFC 6761 section 6.3).
_LOOPBACK_NAMES = (ipaddress.IPv4Address("127.0.0.1"), ipaddress.IPv6Address("::1"))
# Label separators IDNA maps to "." (ideographic and fullwidth full stops).
_DOTS = str.maketrans({"\u3002": ".", "\uff0e": ".", "\uff61": "."})


class InvalidHost(ValueError):
    """A URL host that is neither a valid IP address nor a name."""


@dataclass(frozen=True)
class Refusal:
    """Why an address, or a URL's host, may not be connected to.

    Attributes:
        kind: loopback, private, shared, link-local, site-local, multicast, unspecified,
            reserved, documentation, benchmarking, or invalid (a host no parser agrees on).
        address: the address (or host) refused, normalised.
        detail: the special-purpose range it belongs to, and how it was embedded.

    """

    kind: str
    address: str
    detail: str

    def __str__(self) -> str:
        return f"{self.address} is {self.kind} ({self.detail})"


def _ipv4_number(part: str) -> int | None:
    """Parse one part of an IPv4 host as the WHATWG URL standard does: 0x hex, 0 octal."""
    radix = 10
    if part[:2] in ("0x", "0X"):
        part, radix = part[2:], 16
        if not part:
            return 0
    elif len(part) > 1 and part[0] == "0":
        part, radix = part[1:], 8
    if not part:
        return None
    digits = "0123456789abcdef"[:radix]
    if any(c not in digits for c in part.lower()):
        return None
    return int(part, radix)


def _ends_in_number(host: str) -> bool:
    parts = host.split(".")
    if parts[-1] == "":
        if len(parts) == 1:
            return False
        parts.pop()
    last = parts[-1]
    return bool(last) and ((last.isascii() and last.isdigit()) or _ipv4_number(last) is not None)


def parse_ipv4(host: str) -> ipaddress.IPv4Address:
    """Parse an IPv4 host in any spelling a URL parser or ``inet_aton`` accepts.

    Decimal (``2130706433``), octal (``0177.0.0.1``), hex (``0x7f.1``), short forms
    (``127.1``) and a trailing dot, as in the WHATWG URL standard.

    Raises:
        InvalidHost: the host ends in a number but is no IPv4 address.

    """
    parts = host.split(".")
    if parts[-1] == "" and len(parts) > 1:
        parts.pop()
    numbers = [_ipv4_number(p) for p in parts] if len(parts) <= 4 else [None]
    if any(n is None for n in numbers):
        raise InvalidHost(f"not an IPv4 address: {host!r}")
    values = [n for n in numbers if n is not None]
    if any(n > 255 for n in values[:-1]) or values[-1] >= 256 ** (5 - len(values)):
        raise InvalidHost(f"IPv4 address out of range: {host!r}")
    value = values[-1]
    for i, n in enumerate(values[:-1]):
        value += n * 256 ** (3 - i)
    return ipaddress.IPv4Address(value)


def normalize_host(host: str) -> str:
    """Return a URL host as a resolver sees it: percent-decoded, NFKC, lower case, no zone."""
    host = unquote(host).strip()
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    return unicodedata.normalize("NFKC", host).translate(_DOTS).lower()


def host_address(host: str) -> IPAddress | None:
    """Return the IP address a URL host spells, or None when the host is a name.

    Raises:
        InvalidHost: the host looks like an address (a colon, or a number at the end) but
            is none.

    """
    host = normalize_host(host)
    if ":" in host:
        try:
            return ipaddress.IPv6Address(host.partition("%")[0])  # the zone id picks a link
        except ValueError:
            raise InvalidHost(f"not an IPv6 address: {host!r}") from None
    if _ends_in_number(host):
        return parse_ipv4(host)
    return None


class AddressPolicy:
    """Which addresses may be connected to: every public one, plus the allowed networks.

    Args:
        allowed: networks (CIDR strings or addresses) allowed despite being special-purpose,
            e.g. ``["127.0.0.1/32"]`` for a local test site, ``["10.0.0.0/8"]`` for an intranet.

    Raises:
        ValueError: an allowed network is no valid CIDR (host bits set count as a mistake).

    """

    def __init__(self, allowed: Iterable[str | IPNetwork] = ()) -> None:
        networks: list[IPNetwork] = []
        for net in allowed:
            try:
                networks.append(ipaddress.ip_network(net.strip() if isinstance(net, str) else net))
            except ValueError as exc:
                raise ValueError(f"NEWSWARC_ALLOWED_NETWORKS: {exc}") from None
        self.allowed: tuple[IPNetwork, ...] = tuple(networks)

    @classmethod
    def from_settings(cls, settings: BaseSettings) -> AddressPolicy:
        """Build the policy of ``NEWSWARC_ALLOWED_NETWORKS`` (a list, or comma-separated)."""
        return cls(n for n in settings.getlist("NEWSWARC_ALLOWED_NETWORKS") if n.strip())

    def is_allowed(self, address: IPAddress) -> bool:
        """Return whether an address is in one of the allowed networks."""
        return any(address.version == n.version and address in n for n in self.allowed)

    def check(self, address: str | IPAddress) -> Refusal | None:
        """Return why an address may not be connected to, or None when it may.

        Raises:
            ValueError: not an IP address.

        """
        if isinstance(address, str):
            address = ipaddress.ip_address(address.partition("%")[0])
        if self.is_allowed(address):
            return None
        if isinstance(address, ipaddress.IPv4Address):
            return _classify_v4(address, str(address), "")
        mapped = address.ipv4_mapped
        if mapped is not None:
            # A dual-stack socket connects to the embedded address itself.
            if self.is_allowed(mapped):
                return None
            return _classify_v4(mapped, str(address), f"IPv4-mapped {mapped}, ")
        for prefix, how in ((_NAT64, "NAT64"), (_SIXTOFOUR, "6to4")):
            if address in prefix:
                embedded = (
                    address.sixtofour
                    if how == "6to4"
                    else ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
                )
                assert embedded is not None
                return _classify_v4(embedded, str(address), f"{how} of {embedded}, ")
        if address in _TEREDO and address.teredo is not None:
            server, client = address.teredo
            for embedded in (client, server):
                inner = _classify_v4(embedded, str(address), f"Teredo of {embedded}, ")
                if inner is not None:
                    return inner
        value = int(address)
        for first, last, kind, net in _V6_TABLE:
            if first <= value <= last:
                return Refusal(kind, str(address), net)
        if address not in _GLOBAL_UNICAST_V6:
            return Refusal("reserved", str(address), f"outside {_GLOBAL_UNICAST_V6}")
        return None

    def check_host(self, host: str) -> Refusal | None:
        """Return why a URL host is refused before any lookup, or None to let it resolve.

        IP literals in any spelling are checked as addresses; ``localhost`` and
        ``*.localhost`` as the loopback addresses they must resolve to. Other names are
        judged by the addresses they resolve to (see :class:`GuardedResolver`).
        """
        try:
            address = host_address(host)
        except InvalidHost as exc:
            return Refusal("invalid", normalize_host(host), str(exc))
        if address is not None:
            return self.check(address)
        name = normalize_host(host).rstrip(".")
        if name == "localhost" or name.endswith(".localhost"):
            refusals = [self.check(a) for a in _LOOPBACK_NAMES]
            if all(refusals):
                return Refusal("loopback", name, "a name that always resolves to loopback")
        return None

    def check_url(self, url: str) -> Refusal | None:
        """Return why a URL's host is refused before any lookup, or None."""
        try:
            host = urlsplit(url).hostname
        except ValueError as exc:  # an unbalanced "[" in the host
            return Refusal("invalid", url, str(exc))
        return self.check_host(host) if host else None


def _classify_v4(address: ipaddress.IPv4Address, shown: str, how: str) -> Refusal | None:
    value = int(address)
    for first, last, kind, net in _V4_TABLE:
        if first <= value <= last:
            return Refusal(kind, shown, f"{how}{net}")
    return None


def host_key(host: str) -> str:
    """Return the key under which refusals of a host are kept: as in URLs, minus brackets."""
    return normalize_host(host).rstrip(".")


# --- Resolver ---------------------------------------------------------------------------------
# Twisted's zope interfaces are annotated Any: mypy cannot check them without a plugin.


@implementer(IHostResolution)
class _Resolution:
    def __init__(self, name: str) -> None:
        self.name = name

    def cancel(self) -> None:  # pragma: no cover  # Twisted never cancels name resolutions
        raise NotImplementedError


@implementer(IResolutionReceiver)
class _GuardedReceiver:
    """Pass on the allowed addresses of one lookup; note the refused ones; end on timeout."""

    def __init__(self, resolver: GuardedResolver, receiver: Any, name: str, port: int) -> None:
        self.resolver = resolver
        self.receiver = receiver
        self.name = name
        self.port = port
        self.allowed: list[Any] = []
        self.refused: list[Refusal] = []
        self.began = False
        self.done = False
        self.timer: Any = None

    def resolutionBegan(self, resolution: Any) -> None:
        if not self.began:
            self.began = True
            self.receiver.resolutionBegan(resolution)

    def addressResolved(self, address: Any) -> None:
        if self.done:
            return
        host = getattr(address, "host", None)
        try:
            refusal = self.resolver.policy.check(host) if isinstance(host, str) else None
        except ValueError:
            refusal = Refusal("invalid", str(host), "not an IP address")
        if refusal is not None:
            self.refused.append(refusal)
            return
        self.allowed.append(address)
        self.receiver.addressResolved(address)

    def resolutionComplete(self) -> None:
        if self.done:
            return
        self.done = True
        if self.timer is not None and self.timer.active():
            self.timer.cancel()
        self.resolver.completed(self.name, self.allowed, self.refused)
        self.receiver.resolutionComplete()

    def timed_out(self) -> None:
        if not self.done:
            self.resolutionBegan(_Resolution(self.name))
            logger.debug("DNS lookup of %s timed out", self.name)
            self.resolutionComplete()


@implementer(IHostnameResolver)
class GuardedResolver:
    """A caching resolver (IPv4 and IPv6) that hands Twisted only addresses the policy allows.

    Every connection of Scrapy's HTTP/1.1 handler (and of its proxy tunnels) resolves its host
    here, IP literals included, so what is connected to is what was checked: a name that
    resolves to a public address once and to a private one later (DNS rebinding) is checked
    at each lookup. Refused addresses are dropped; when none is left the download fails with
    ``CannotResolveHostError`` and :class:`ConnectedAddressMiddleware` reports the refusal.
    Set it as ``TWISTED_DNS_RESOLVER``. Honours ``DNSCACHE_ENABLED``, ``DNSCACHE_SIZE`` and
    ``DNS_TIMEOUT``.
    """

    def __init__(
        self, reactor: Any, policy: AddressPolicy, cache_size: int, timeout: float
    ) -> None:
        self.reactor = reactor
        self.original_resolver: Any = reactor.nameResolver
        self.policy = policy
        self.timeout = timeout
        self.cache: LocalCache[str, list[Any]] = LocalCache(cache_size)
        self.cache_enabled = cache_size > 0
        #: The latest refusal of each host (key: :func:`host_key`), for the middleware's report.
        self.refusals: LocalCache[str, tuple[Refusal, ...]] = LocalCache(10_000)

    @classmethod
    def from_crawler(cls, crawler: Crawler, reactor: Any) -> Self:
        settings = crawler.settings
        size = settings.getint("DNSCACHE_SIZE") if settings.getbool("DNSCACHE_ENABLED") else 0
        try:
            policy = AddressPolicy.from_settings(settings)
        except ValueError as exc:
            # Built with the reactor, before any crawl: one line, not Scrapy's traceback.
            logger.critical("newswarc: bad setting, crawl not started: %s", exc)
            raise SystemExit(1) from None
        return cls(reactor, policy, size, settings.getfloat("DNS_TIMEOUT"))

    def install_on_reactor(self) -> None:
        """Install as the reactor's name resolver (and, through it, its simple resolver)."""
        self.reactor.installNameResolver(self)

    def resolveHostName(
        self,
        resolutionReceiver: Any,
        hostName: str,
        portNumber: int = 0,
        addressTypes: Sequence[type[Any]] | None = None,
        transportSemantics: str = "TCP",
    ) -> Any:
        """Resolve a name, passing on only allowed addresses (see ``IHostnameResolver``)."""
        cached = self.cache.get(hostName) if self.cache_enabled else None
        if cached is not None:
            resolution = _Resolution(hostName)
            resolutionReceiver.resolutionBegan(resolution)
            for address in cached:
                resolutionReceiver.addressResolved(_with_port(address, portNumber))
            resolutionReceiver.resolutionComplete()
            return resolution
        receiver = _GuardedReceiver(self, resolutionReceiver, hostName, portNumber)
        if self.timeout > 0:
            receiver.timer = self.reactor.callLater(self.timeout, receiver.timed_out)
        self.lookup(receiver, hostName, portNumber, addressTypes, transportSemantics)
        return _Resolution(hostName)

    def lookup(
        self,
        receiver: Any,
        name: str,
        port: int,
        address_types: Sequence[type[Any]] | None,
        semantics: str,
    ) -> None:
        """Look a name up (the system's ``getaddrinfo`` in a thread); tests override this."""
        self.original_resolver.resolveHostName(
            receiver,
            name,
            portNumber=port,
            addressTypes=address_types,
            transportSemantics=semantics,
        )

    def completed(self, name: str, allowed: list[Any], refused: list[Refusal]) -> None:
        """Record a finished lookup: cache what is allowed, keep refusals for the report."""
        key = host_key(name)
        if allowed:
            if self.cache_enabled:
                self.cache[name] = [_with_port(a, 0) for a in allowed]
            self.refusals.pop(key, None)
        elif refused:
            self.refusals[key] = tuple(refused)
        if allowed and refused:
            logger.debug(
                "DNS: %s: dropped %s, kept %d address(es)",
                name,
                ", ".join(str(r) for r in refused),
                len(allowed),
            )

    def refusal_of(self, host: str) -> tuple[Refusal, ...]:
        """Return the refusals of a host's latest lookup that left no address."""
        return self.refusals.get(host_key(host), ())


def _with_port(address: Any, port: int) -> Any:
    # Cache entries are port-agnostic, as in Scrapy's resolver.
    if isinstance(address, TxIPv4Address):
        return TxIPv4Address(address.type, address.host, port)
    if isinstance(address, TxIPv6Address):
        return TxIPv6Address(address.type, address.host, port, address.flowInfo, address.scopeID)
    return address


# --- Downloader middlewares -------------------------------------------------------------------


def installed_resolver() -> GuardedResolver | None:
    """Return the reactor's name resolver if it is a :class:`GuardedResolver`."""
    if "twisted.internet.reactor" not in sys.modules:  # importing it would install one
        return None
    from twisted.internet import reactor

    resolver = getattr(reactor, "nameResolver", None)
    return resolver if isinstance(resolver, GuardedResolver) else None


class PrivateAddressRefused(IgnoreRequest):
    """A request refused because its host is, or resolves to, a non-public address."""

    def __init__(self, url: str, stage: str, refusals: Sequence[Refusal]) -> None:
        self.url = url
        self.stage = stage
        self.refusals = tuple(refusals)
        super().__init__(f"{url}: {stage}: " + "; ".join(str(r) for r in self.refusals))

    @property
    def kind(self) -> str:
        """The kind of the first refused address."""
        return self.refusals[0].kind if self.refusals else "invalid"


class _Guard:
    def __init__(self, policy: AddressPolicy, stats: StatsCollector) -> None:
        self.policy = policy
        self.stats = stats

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        assert crawler.stats is not None
        return cls(AddressPolicy.from_settings(crawler.settings), crawler.stats)

    def refuse(self, request: Request, stage: str, refusals: Sequence[Refusal]) -> None:
        """Log and count a refusal, and raise it so the request is dropped, never retried.

        Raises:
            PrivateAddressRefused: always.

        """
        error = PrivateAddressRefused(request.url, stage, refusals)
        kind = error.kind
        if kind == "invalid":
            self.stats.inc_value("newswarc/refused/invalid_host")
        else:
            self.stats.inc_value(STATS_KEY)
            self.stats.inc_value(f"{STATS_KEY}/{kind}")
        if stage != "url":
            # Raised next to the downloader, where DownloaderStats (850) never sees it: counted
            # as it counts the refusals raised on the way in, so the manifest shows them all.
            self.stats.inc_value("downloader/exception_count")
            self.stats.inc_value(
                "downloader/exception_type_count/crawler.netguard.PrivateAddressRefused"
            )
        reason = "; ".join(str(r) for r in error.refusals)
        logger.warning("Refused %s (%s): %s", request.url, stage, reason)
        raise error


class PrivateAddressMiddleware(_Guard):
    """Refuse requests whose URL host is a non-public IP address (any spelling) or localhost.

    It runs on every request, redirects and robots.txt included, before anything else of the
    crawl touches it: names are judged when they resolve (:class:`GuardedResolver`).
    """

    def process_request(self, request: Request) -> None:
        """Refuse the request if its host is refused.

        Raises:
            PrivateAddressRefused: the host is refused.

        """
        refusal = self.policy.check_url(request.url)
        if refusal is not None:
            self.refuse(request, "url", [refusal])


class ConnectedAddressMiddleware(_Guard):
    """Report lookups the resolver refused, and refuse responses from a non-public address.

    Closest to the downloader: a refusal is not retried, and a response from a refused
    address (reached around the resolver) is dropped before it is archived.
    """

    def __init__(
        self,
        policy: AddressPolicy,
        stats: StatsCollector,
        resolver: GuardedResolver | None = None,
    ) -> None:
        super().__init__(policy, stats)
        self.resolver = resolver if resolver is not None else installed_resolver()
        if self.resolver is None:
            logger.warning(
                "TWISTED_DNS_RESOLVER is not crawler.netguard.GuardedResolver: names are "
                "not checked when they resolve, only URLs and the addresses that answer"
            )

    def process_exception(self, request: Request, exception: Exception) -> None:
        """Turn a lookup the resolver refused into a reported refusal.

        Raises:
            PrivateAddressRefused: the host (or the proxy) resolved to refused addresses only.

        """
        if self.resolver is None or not isinstance(
            exception, (CannotResolveHostError, DNSLookupError)
        ):
            return
        hosts = [urlsplit(request.url).hostname or ""]
        proxy = request.meta.get("proxy")
        if proxy:
            hosts.append(urlsplit(proxy if "://" in proxy else f"//{proxy}").hostname or "")
        for host in hosts:
            refusals = self.resolver.refusal_of(host) if host else ()
            if refusals:
                stage = "dns" if host == hosts[0] else f"dns of proxy {host}"
                self.refuse(request, stage, refusals)

    def process_response(self, request: Request, response: Response) -> Response:
        """Pass the response on unless it came from a refused address.

        Raises:
            PrivateAddressRefused: the connected address is refused.

        """
        address = response.ip_address
        if address is not None:
            refusal = self.policy.check(address)
            if refusal is not None:
                self.refuse(request, "connected", [refusal])
        return response
