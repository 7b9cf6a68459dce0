"""Fetch stage: feeds and article pages over HTTP, politely and defensively.

The client (``Fetcher``) is plain Python on ``requests`` + urllib3's ``Retry``; the Beam wrappers at
the bottom of the module are thin. What "politely" and "defensively" mean here:

* timeouts on connect and on the whole response; bounded retries with exponential backoff and
  jitter on 429/5xx, honouring ``Retry-After`` (a server asking for a longer pause than
  ``max_backoff`` gets it: the fetch fails now, the next poll tries again);
* redirects followed by hand, at most ``max_redirects``, each hop checked like the first one;
* gzip/deflate decoded, the decoded body capped at ``max_bytes`` while it streams in;
* a User-Agent naming the project (and a contact URL when given);
* robots.txt obeyed (RFC 9309 semantics, parsed by the stdlib's ``urllib.robotparser``), with its
  Crawl-delay, and a minimum delay between two requests to one host;
* conditional GET: ETag / Last-Modified validators go out, a 304 yields nothing;
* an SSRF guard: the address a connection actually reaches must be a public unicast address
  (checked on the connected socket, so DNS tricks and redirects cannot get around it), unless
  ``allow_private_hosts``.

Every failure is a ``FetchError`` with a reject reason; the Beam wrappers turn it into a reject row
and carry on.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import socket
import time
import urllib.robotparser
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime
from importlib import metadata
from urllib.parse import urljoin, urlsplit

import apache_beam as beam
import requests
import urllib3
from apache_beam.metrics import Metrics
from requests.adapters import HTTPAdapter
from urllib3.exceptions import (
    ConnectTimeoutError,
    MaxRetryError,
    NameResolutionError,
    NewConnectionError,
    ReadTimeoutError,
    ResponseError,
)
from urllib3.util.connection import create_connection
from urllib3.util.retry import Retry

from transforms.parsers import HtmlExtractor, InputError, parse_file
from transforms.read import FEED_URLS
from transforms.read import STAGE as READ_STAGE
from transforms.rejects import REJECTED, reject
from transforms.urls import is_http

STAGE = "fetch"
PRODUCT = "wirestream"  # the robots.txt user-agent token this crawler answers to
DEFAULT_MAX_BYTES = 10 * 1024 * 1024

_RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
_REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
# RFC 9309: crawlers must parse at least 500 KiB of robots.txt and may cache it for up to 24 hours.
_ROBOTS_MAX_BYTES = 512 * 1024
_ROBOTS_TTL_SECONDS = 24 * 3600
_CHUNK_BYTES = 64 * 1024
_ACCEPT = (
    "application/rss+xml, application/atom+xml, application/feed+json, application/xml;q=0.9, "
    "text/xml;q=0.9, application/json;q=0.8, text/html;q=0.7, */*;q=0.1"
)


class FetchError(Exception):
    """A URL that could not be fetched; ``reason`` is the reject reason."""

    def __init__(self, reason: str, detail: str | None = None) -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail


@dataclasses.dataclass(frozen=True)
class FetchPolicy:
    """How the fetcher behaves; one ``wirestream run`` option per field (``FetchOptions``, and
    ``--extract-timeout`` for the web pages it fetches)."""

    contact_url: str | None = None
    connect_timeout: float = 5.0
    read_timeout: float = 20.0
    retries: int = 3
    backoff: float = 0.5
    max_backoff: float = 60.0
    max_redirects: int = 5
    max_bytes: int = DEFAULT_MAX_BYTES
    host_delay: float = 1.0
    allow_private_hosts: bool = False
    allowed_networks: tuple[str, ...] = ()
    fetch_articles: bool = False
    extract_timeout: float = 0.0  # seconds per web page (parsers.HtmlExtractor); 0: no limit

    @property
    def user_agent(self) -> str:
        try:
            version = metadata.version("wirestream")
        except metadata.PackageNotFoundError:  # running from a checkout that is not installed
            version = "dev"
        contact = f" (+{self.contact_url})" if self.contact_url else ""
        return f"{PRODUCT}/{version}{contact}"

    @classmethod
    def from_options(cls, options) -> FetchPolicy:
        from pipeline.options import FetchOptions  # pipeline/ imports transforms/, not vice versa

        values = options.view_as(FetchOptions).get_all_options()
        names = {field.name for field in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in values.items() if k in names and v is not None})


@dataclasses.dataclass(frozen=True)
class Validators:
    """What a server said identifies the version we have (for a conditional GET)."""

    etag: str | None = None
    last_modified: str | None = None

    def headers(self) -> dict[str, str]:
        found = {"If-None-Match": self.etag, "If-Modified-Since": self.last_modified}
        return {name: value for name, value in found.items() if value}


@dataclasses.dataclass(frozen=True)
class Fetched:
    """A successful (2xx) response, body decoded and complete."""

    url: str  # as requested
    final_url: str  # after redirects
    body: bytes
    content_type: str | None
    validators: Validators


# --- the SSRF guard ------------------------------------------------------------------------------


class PrivateAddressError(ValueError):
    """A host resolved to an address the guard refuses (not an OSError: urllib3 must not retry)."""


def is_public_address(address: str) -> bool:
    """True for a globally routable unicast address; False for private, loopback, link-local,
    multicast, reserved, unspecified and shared (CGNAT) ranges, also inside IPv4-mapped IPv6."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


@dataclasses.dataclass(frozen=True)
class AddressGuard:
    """Which addresses connections may reach: public ones, plus ``networks`` (CIDR strings)."""

    networks: tuple[str, ...] = ()

    def allows(self, address: str) -> bool:
        if is_public_address(address):
            return True
        ip = ipaddress.ip_address(address.split("%", 1)[0])
        return any(ip in ipaddress.ip_network(network) for network in self.networks)


class _GuardedConnectionMixin:
    """Resolves the host itself, refuses it when any of its addresses is not allowed, and then
    connects to the vetted addresses only -- nothing is sent (not even a SYN) to a refused address,
    and a second DNS answer (rebinding) cannot differ from the vetted one. Applies to every hop,
    redirects included, because every hop opens its connection here."""

    guard: AddressGuard  # set on the per-Fetcher subclass

    def _new_conn(self) -> socket.socket:
        try:
            infos = socket.getaddrinfo(self._dns_host, self.port, type=socket.SOCK_STREAM)
        except socket.gaierror as error:
            raise NameResolutionError(self.host, self, error) from error
        addresses = list(dict.fromkeys(info[4][0] for info in infos))
        refused = [address for address in addresses if not self.guard.allows(address)]
        if refused:
            raise PrivateAddressError(f"{self.host} resolves to non-public {', '.join(refused)}")
        last_error: OSError | None = None
        for address in addresses:
            try:
                return create_connection(
                    (address, self.port),
                    self.timeout,
                    source_address=self.source_address,
                    socket_options=self.socket_options,
                )
            except TimeoutError as error:
                raise ConnectTimeoutError(self, f"connecting to {self.host} timed out") from error
            except OSError as error:
                last_error = error
        raise NewConnectionError(self, f"Failed to establish a new connection: {last_error}")


class _GuardedAdapter(HTTPAdapter):
    """requests' adapter whose connection pools open guarded connections."""

    def __init__(self, guard: AddressGuard, **kwargs) -> None:
        self._guard = guard  # before super().__init__, which builds the pool manager
        super().__init__(**kwargs)

    def init_poolmanager(self, *args, **kwargs) -> None:
        super().init_poolmanager(*args, **kwargs)
        pools = {}
        for scheme, pool in (
            ("http", urllib3.HTTPConnectionPool),
            ("https", urllib3.HTTPSConnectionPool),
        ):
            connection = type(
                f"Guarded{pool.ConnectionCls.__name__}",
                (_GuardedConnectionMixin, pool.ConnectionCls),
                {"guard": self._guard},
            )
            pools[scheme] = type(f"Guarded{pool.__name__}", (pool,), {"ConnectionCls": connection})
        self.poolmanager.pool_classes_by_scheme = pools


class _PoliteRetry(Retry):
    """urllib3's Retry, except that a Retry-After longer than ``backoff_max`` ends the retries (the
    response is returned as it is) instead of being cut short -- we never come back sooner than
    asked -- and that a host name that does not resolve is not retried.
    """

    def increment(self, method=None, url=None, response=None, error=None, _pool=None,
                  _stacktrace=None):  # fmt: skip
        if isinstance(error, NameResolutionError):  # an unknown host stays unknown: no retries
            raise MaxRetryError(_pool, url, error)
        wait = self.get_retry_after(response) if response is not None else None
        if wait is not None and wait > self.backoff_max:
            raise MaxRetryError(_pool, url, ResponseError(f"Retry-After {wait:.0f} s"))
        return super().increment(method, url, response, error, _pool, _stacktrace)


# --- the client ----------------------------------------------------------------------------------


class Fetcher:
    """A polite HTTP client for one worker (not thread-safe; build one per DoFn in ``setup``).

    ``sleep`` and ``clock`` are injectable so that pacing can be observed without real waits.
    """

    def __init__(
        self,
        policy: FetchPolicy,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.policy = policy
        self._sleep = sleep
        self._clock = clock
        self._last_request: dict[str, float] = {}
        self._robots: dict[str, tuple[float, urllib.robotparser.RobotFileParser | None]] = {}
        self._session = self._make_session()

    def _make_session(self) -> requests.Session:
        policy = self.policy
        session = requests.Session()
        # Proxies from the environment would make the guard check the proxy, not the target.
        session.trust_env = False
        session.headers.update({"User-Agent": policy.user_agent, "Accept": _ACCEPT})
        retry = _PoliteRetry(
            total=policy.retries,
            connect=policy.retries,
            read=0,  # a read timeout already cost read_timeout seconds: do not triple it
            status=policy.retries,
            redirect=False,  # redirects are followed by hand, each hop checked
            status_forcelist=_RETRY_STATUSES,
            allowed_methods=frozenset({"GET"}),
            backoff_factor=policy.backoff,
            backoff_jitter=policy.backoff,
            backoff_max=policy.max_backoff,
            respect_retry_after_header=True,
            raise_on_status=False,
        )
        adapter = (
            HTTPAdapter(max_retries=retry)
            if policy.allow_private_hosts
            else _GuardedAdapter(AddressGuard(tuple(policy.allowed_networks)), max_retries=retry)
        )
        session.mount("http://", adapter)
        session.mount("https://", adapter)
        return session

    def close(self) -> None:
        self._session.close()

    def fetch(self, url: str, validators: Validators | None = None) -> Fetched | None:
        """GET ``url``: the complete 2xx response, or None when the server answers 304.

        Raises FetchError with the reject reason on any failure.
        """
        current = url
        for _ in range(self.policy.max_redirects + 1):
            _check_url(current)
            if not self._allowed_by_robots(current):
                raise FetchError("robots_disallowed", f"robots.txt disallows {current}")
            headers = (validators or Validators()).headers()
            status, response_headers, body = self._get(current, headers, self.policy.max_bytes)
            if status in _REDIRECT_STATUSES:
                location = response_headers.get("Location")
                if not location:
                    raise FetchError("bad_response", f"HTTP {status} without a Location")
                current = urljoin(current, location)
                continue
            if status == 304:
                return None
            if not 200 <= status < 300:
                raise FetchError("http_error", _status_detail(status, response_headers))
            return Fetched(
                url=url,
                final_url=current,
                body=body,
                content_type=response_headers.get("Content-Type"),
                validators=Validators(
                    response_headers.get("ETag"), response_headers.get("Last-Modified")
                ),
            )
        raise FetchError("too_many_redirects", f"more than {self.policy.max_redirects} redirects")

    # One request, paced per host; returns (status, headers, body). Only 2xx bodies are read; past
    # max_bytes they are an error, or cut there when ``truncate`` (robots.txt).
    def _get(self, url: str, headers: dict[str, str], max_bytes: int, truncate: bool = False):
        self._pace(url)
        started = self._clock()
        try:
            with self._session.get(
                url,
                headers=headers,
                timeout=(self.policy.connect_timeout, self.policy.read_timeout),
                allow_redirects=False,
                stream=True,
            ) as response:
                body = b""
                if 200 <= response.status_code < 300:
                    body = self._read_body(response, started, max_bytes, truncate)
                return response.status_code, response.headers, body
        except FetchError:
            raise
        except Exception as error:
            raise _classify(error) from error
        finally:
            self._last_request[_host(url)] = self._clock()

    def _read_body(
        self, response: requests.Response, started: float, max_bytes: int, truncate: bool
    ) -> bytes:
        declared = response.headers.get("Content-Length", "")
        if not truncate and declared.isdigit() and int(declared) > max_bytes:
            raise FetchError("too_large", f"Content-Length {declared} > limit of {max_bytes}")
        chunks: list[bytes] = []
        size = 0
        # iter_content decodes gzip/deflate: the cap applies to the decoded bytes (zip bombs).
        for chunk in response.iter_content(_CHUNK_BYTES):
            if size + len(chunk) > max_bytes:
                if not truncate:
                    raise FetchError("too_large", f"more than {max_bytes} bytes")
                chunks.append(chunk[: max_bytes - size])
                break
            size += len(chunk)
            # The read timeout bounds each socket read; this bounds a server that drips bytes.
            if self._clock() - started > self.policy.read_timeout:
                raise FetchError("timeout", f"body not complete after {self.policy.read_timeout} s")
            chunks.append(chunk)
        return b"".join(chunks)

    def _pace(self, url: str) -> None:
        host = _host(url)
        last = self._last_request.get(host)
        if last is None:
            return
        wait = last + self._host_delay(url) - self._clock()
        if wait > 0:
            self._sleep(wait)

    def _host_delay(self, url: str) -> float:
        robots = self._robots.get(_origin(url), (0.0, None))[1]
        crawl_delay = robots.crawl_delay(PRODUCT) if robots is not None else None
        return max(self.policy.host_delay, float(crawl_delay or 0))

    def _allowed_by_robots(self, url: str) -> bool:
        origin = _origin(url)
        fetched_at, robots = self._robots.get(origin, (None, None))
        if fetched_at is None or self._clock() - fetched_at > _ROBOTS_TTL_SECONDS:
            robots = self._load_robots(origin)
            self._robots[origin] = (self._clock(), robots)
        return robots is None or robots.can_fetch(PRODUCT, url)

    def _load_robots(self, origin: str) -> urllib.robotparser.RobotFileParser | None:
        """The origin's robots.txt rules; None when there are none (RFC 9309 "unavailable").

        A server error or an unreachable robots.txt means "disallow everything" (RFC 9309 2.3.1.4).
        """
        robots_url = origin + "/robots.txt"
        status, body = 0, b""
        try:
            for _ in range(self.policy.max_redirects + 1):
                status, headers, body = self._get(robots_url, {}, _ROBOTS_MAX_BYTES, True)
                if status not in _REDIRECT_STATUSES or not headers.get("Location"):
                    break
                robots_url = urljoin(robots_url, headers["Location"])
                _check_url(robots_url)
        except FetchError as error:
            if error.reason == "private_address":
                raise
            raise FetchError("robots_unreachable", f"{origin}/robots.txt: {error}") from error
        if 400 <= status < 500:
            return None
        if not 200 <= status < 300:
            raise FetchError("robots_unreachable", f"{origin}/robots.txt answered HTTP {status}")
        parser = urllib.robotparser.RobotFileParser(robots_url)
        parser.parse(body.decode("utf-8", errors="replace").splitlines())
        return parser


def _check_url(url: str) -> None:
    parts = urlsplit(url)
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise FetchError("invalid_url", f"not an http(s) URL: {url[:200]}")


def _host(url: str) -> str:
    return urlsplit(url).netloc.lower()


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme.lower()}://{parts.netloc.lower()}"


def _status_detail(status: int, headers) -> str:
    detail = f"HTTP {status}"
    if headers.get("Retry-After"):
        detail += f" (Retry-After {headers['Retry-After']})"
    return detail


def _classify(error: Exception) -> FetchError:
    """A requests/urllib3 exception as a reject reason."""
    if isinstance(error, PrivateAddressError):
        return FetchError("private_address", str(error))
    cause = error.args[0] if error.args else None
    if isinstance(error, requests.Timeout) or isinstance(cause, ReadTimeoutError):
        return FetchError("timeout", str(error))
    if isinstance(error, requests.exceptions.SSLError):
        return FetchError("tls_error", str(error))
    if isinstance(error, requests.exceptions.ContentDecodingError):
        return FetchError("bad_response", str(error))
    if isinstance(error, requests.ConnectionError | requests.exceptions.ChunkedEncodingError):
        return FetchError("connection_failed", str(error))
    if isinstance(error, requests.RequestException | ValueError):  # malformed URL, bad header
        return FetchError("invalid_url", str(error))
    return FetchError("fetch_error", f"{type(error).__name__}: {error}")


# --- fetched bytes to parsed items ---------------------------------------------------------------


def parse_fetched(
    fetched: Fetched, extract_html: Callable[[bytes], dict]
) -> Iterator[tuple[str, dict | str]]:
    """A fetched document as ``read.parse_file`` parts: ("item", parsed item) and ("feed_ref", URL).

    The final URL stands in for the file path (its extension, if any, hints the kind; relative
    OPML entries resolve against it). ``extract_html`` parses web pages. Raises InputError when
    the document is unusable.
    """
    for kind, part in parse_file(fetched.final_url, fetched.body, extract_html):
        if kind == "feed_ref":
            yield kind, urljoin(fetched.final_url, part)
        else:
            yield kind, part


# Below this many words a feed entry is taken for a summary, worth replacing by its page's text.
# (Many feeds put the whole story in <description>, which feedparser cannot tell from a teaser.)
SUMMARY_MAX_WORDS = 150


def wants_page(item: dict) -> bool:
    """Should --fetch-articles fetch this feed entry's page?"""
    return is_http(item.get("canonical_url")) and len(item["text"].split()) < SUMMARY_MAX_WORDS


def with_page(item: dict, page: dict) -> dict:
    """A feed entry completed from its page: the page's text when longer; feed metadata first."""
    if len(page["text"].split()) <= len(item["text"].split()):
        return item
    return {
        **item,
        "text": page["text"],
        "title": item.get("title") or page.get("title"),
        "authors": item.get("authors") or page.get("authors") or [],
        "published_at": item.get("published_at") or page.get("published_at"),
        "categories": item.get("categories") or page.get("categories") or [],
    }


# --- Beam wrappers -------------------------------------------------------------------------------


def by_host(url: str) -> tuple[str, str]:
    """Key a URL by its host, so one host's requests go through one worker, one at a time."""
    return _host(url), url


class FetcherDoFn(beam.DoFn):
    """Owns one Fetcher per DoFn instance; subclasses decide what to fetch and emit."""

    def __init__(self, policy: FetchPolicy, ingested_at: datetime):
        self._policy = policy
        self._ingested_at = ingested_at
        self.fetched = Metrics.counter(STAGE, "fetched")
        self.not_modified = Metrics.counter(STAGE, "not_modified")
        self.failed = Metrics.counter(STAGE, "failed")
        # With read's, these count every item entering the run (the summary's "items read").
        self.items = Metrics.counter(STAGE, "items")
        self.rejected = Metrics.counter(STAGE, "rejected")

    def setup(self) -> None:
        self._fetcher = Fetcher(self._policy)
        self._extract_html = HtmlExtractor(self._policy.extract_timeout)

    def teardown(self) -> None:
        self._fetcher.close()
        self._extract_html.close()

    def _reject(self, input: str, item: str | None, stage: str, reason: str, detail: str | None,
                ingested_at: datetime | None = None):  # fmt: skip
        self.rejected.inc()
        return beam.pvalue.TaggedOutput(
            REJECTED,
            reject(
                input=input,
                item=item,
                stage=stage,
                reason=reason,
                detail=detail,
                ingested_at=ingested_at or self._ingested_at,
            ),
        )

    def _parsed(self, fetched: Fetched, follow_opml: bool, ingested_at: datetime | None = None):
        """Items, OPML references (tagged FEED_URLS) and rejects of one fetched document."""
        url = fetched.url
        try:
            parts = list(parse_fetched(fetched, self._extract_html))
        except InputError as error:
            yield self._reject(url, None, READ_STAGE, error.reason, error.detail, ingested_at)
            return
        except Exception as error:  # a parser bug must not sink the run: keep the evidence
            detail = f"{type(error).__name__}: {error}"
            yield self._reject(url, None, READ_STAGE, "parse_error", detail, ingested_at)
            return
        for kind, part in parts:
            if kind == "feed_ref":
                if follow_opml and is_http(part):
                    yield beam.pvalue.TaggedOutput(FEED_URLS, part)
                else:
                    reason = "nested_opml" if not follow_opml else "not_a_url"
                    yield self._reject(url, part, READ_STAGE, reason, "OPML over HTTP lists URLs",
                                       ingested_at)  # fmt: skip
            elif not part["text"].strip():
                yield self._reject(url, part["item"], READ_STAGE, "no_text",
                                   "the item carries no text", ingested_at)  # fmt: skip
            else:
                self.items.inc()
                yield {**part, "input": url}


class FetchDocumentsFn(FetcherDoFn):
    """(host, URLs) -> parsed items, OPML references (FEED_URLS) and rejects, one host at a time."""

    def __init__(self, policy: FetchPolicy, ingested_at: datetime, follow_opml: bool):
        super().__init__(policy, ingested_at)
        self._follow_opml = follow_opml

    def process(self, host_and_urls: tuple[str, Iterable[str]]) -> Iterator:
        _, urls = host_and_urls
        for url in sorted(set(urls)):
            try:
                fetched = self._fetcher.fetch(url)
            except FetchError as error:
                self.failed.inc()
                yield self._reject(url, None, STAGE, error.reason, error.detail)
                continue
            if fetched is None:  # a 304 to an unconditional GET: nothing new to read
                self.not_modified.inc()
                continue
            self.fetched.inc()
            yield from self._parsed(fetched, self._follow_opml)


class FetchPagesFn(FetcherDoFn):
    """(host, feed items) -> the items, completed from their pages where that is longer.

    A page that cannot be fetched or read leaves the item as the feed gave it, plus a reject row
    saying why.
    """

    def process(self, host_and_items: tuple[str, Iterable[dict]]) -> Iterator:
        _, items = host_and_items
        for item in sorted(items, key=lambda i: (i["canonical_url"], i["input"], i["item"] or "")):
            url = item["canonical_url"]
            ingested_at = item.get("ingested_at")
            try:
                fetched = self._fetcher.fetch(url)
                page = self._extract_html(fetched.body) if fetched is not None else None
            except (FetchError, InputError) as error:
                reason, detail = error.reason, error.detail
            except Exception as error:  # a page that breaks the extractor must not sink the run
                reason, detail = "parse_error", f"{type(error).__name__}: {error}"
            else:
                self.fetched.inc()
                yield with_page(item, page) if page is not None else item
                continue
            self.failed.inc()
            # The page is an item read that did not become an article: its reject row counts it,
            # while the entry stays an article with the feed's text.
            self.items.inc()
            yield self._reject(item["input"], url, STAGE, reason,
                               f"{detail or ''} (kept the feed's text)".strip(),
                               ingested_at)  # fmt: skip
            yield item


class FetchPages(beam.PTransform):
    """--fetch-articles: feed items that carry only a summary get their page's text.

    Returns {"items", "rejects"}. Pages are grouped by host (per window) for politeness.
    """

    def __init__(self, policy: FetchPolicy, ingested_at: datetime):
        super().__init__()
        self._policy = policy
        self._ingested_at = ingested_at

    def expand(self, items):
        split = items | "NeedsPage" >> beam.Partition(lambda item, _: int(wants_page(item)), 2)
        completed = (
            split[1]
            | "KeyPageByHost" >> beam.Map(lambda item: (_host(item["canonical_url"]), item))
            | "GroupPagesByHost" >> beam.GroupByKey()
            | "FetchPages"
            >> beam.ParDo(FetchPagesFn(self._policy, self._ingested_at)).with_outputs(
                REJECTED, main="items"
            )
        )
        merged = (split[0], completed.items) | "AllPageItems" >> beam.Flatten()
        return {"items": merged, "rejects": completed[REJECTED]}


class _FetchRound(beam.PTransform):
    def __init__(self, policy: FetchPolicy, ingested_at: datetime, follow_opml: bool):
        super().__init__()
        self._fetch = FetchDocumentsFn(policy, ingested_at, follow_opml)

    def expand(self, urls):
        return (
            urls
            | "KeyByHost" >> beam.Map(by_host)
            | "GroupByHost" >> beam.GroupByKey()
            | "Fetch" >> beam.ParDo(self._fetch).with_outputs(REJECTED, FEED_URLS, main="items")
        )


class FetchInputs(beam.PTransform):
    """Batch network input: URLs (a PCollection) fetched once each, parsed like files.

    A fetched OPML list is followed one level deep, as for files. With ``policy.fetch_articles``,
    summary-only feed entries get their page's text. Returns {"items", "rejects"}, each a tuple
    of PCollections to flatten where they join the other sources' (as ``ReadInputs``).
    """

    def __init__(self, policy: FetchPolicy, ingested_at: datetime):
        super().__init__()
        self._policy = policy
        self._ingested_at = ingested_at

    def expand(self, urls):
        first = urls | "FetchListed" >> _FetchRound(self._policy, self._ingested_at, True)
        listed = first[FEED_URLS] | "FetchOpmlFeeds" >> _FetchRound(
            self._policy, self._ingested_at, False
        )
        items = (first.items, listed.items)
        rejects = (first[REJECTED], listed[REJECTED])
        if self._policy.fetch_articles:
            pages = (
                items
                | "AllFetchedItems" >> beam.Flatten()
                | "FetchArticles" >> FetchPages(self._policy, self._ingested_at)
            )
            items, rejects = (pages["items"],), (*rejects, pages["rejects"])
        return {"items": items, "rejects": rejects}
