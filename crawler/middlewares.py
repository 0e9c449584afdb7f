"""Scrapy downloader middlewares: robots.txt (fixed), private-address guard, a source's own
credentials, Retry-After."""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any, Self
from urllib.parse import urlsplit

from scrapy.crawler import Crawler
from scrapy.downloadermiddlewares.robotstxt import RobotsTxtMiddleware
from scrapy.exceptions import IgnoreRequest
from scrapy.http import Request, Response
from scrapy.http.request import NO_CALLBACK
from scrapy.robotstxt import RobotParser
from scrapy.utils.defer import maybe_deferred_to_future
from scrapy.utils.httpobj import urlparse_cached
from twisted.internet.defer import Deferred

from haitiwatch.crawler.jobs import ROBOTS_TXT_MAX_AGE_S
from haitiwatch.crawler.netguard import (
    Origin,
    host_is_literal_forbidden,
    resolve_forbidden,
    url_origin,
)
from haitiwatch.crawler.settings import ROBOTSTXT_MAX_AGE
from haitiwatch.crawler.spider import UNREACHABLE, describe_error

#: How long a host whose robots.txt could not be reached is left alone (RFC 9309 2.3.1.4).
UNREACHABLE_RETRY_S = 600.0
#: The guard's lookups are kept briefly (the system resolver cannot tell the DNS TTL); they
#: only make the error clear, the resolver enforces the rule at connect time.
VERDICT_MAX_AGE_S = 30.0
VERDICTS_KEPT = 10_000


class _RobotsFailureAtInfo(logging.Filter):
    """Scrapy logs a robots.txt it could not download at ERROR with the whole traceback (about
    70 lines for a host that is down), the only record of that logger above INFO. The source's
    own fetch then fails and is reported once; this record drops to INFO, without the
    traceback, and shows only with ``-v``."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno <= logging.INFO:
            return True
        record.levelno, record.levelname = logging.INFO, "INFO"
        record.exc_info, record.exc_text = None, None
        # The logger checked the old level; check the new one against its configuration.
        return logging.getLogger(record.name).isEnabledFor(logging.INFO)


_ROBOTS_LOG = logging.getLogger("scrapy.downloadermiddlewares.robotstxt")


class _Unreachable(RobotParser):
    """The robots.txt "parser" of a host that could not be reached: it allows nothing."""

    def __init__(self, reason: str) -> None:
        self.reason = reason

    @classmethod
    def from_crawler(cls, crawler: Crawler, robotstxt_body: bytes) -> Self:
        raise NotImplementedError("made by the middleware, never from a body")

    def allowed(self, url: str | bytes, user_agent: str | bytes) -> bool:
        return False


class ConcurrentSafeRobotsTxtMiddleware(RobotsTxtMiddleware):
    """Scrapy's RobotsTxtMiddleware with the concurrent-waiters bug fixed, an age limit, and
    RFC 9309's rule for a host that cannot be reached.

    While robots.txt for a host is downloading, Scrapy 2.19 makes every waiting request await the
    same Deferred; the first waiter's callback returns None down the chain, so all later waiters
    see "no parser" and are allowed. Each waiter gets its own Deferred here.

    Scrapy also keeps a host's robots.txt for as long as the crawler runs, and the service's
    runs for weeks: a host that later disallows us would not be heard. A copy older than
    ROBOTSTXT_MAX_AGE (crawl.robots_txt_max_age) is fetched again on the host's next request.

    When robots.txt cannot be downloaded because the host does not answer (timeout, refused
    connection, unknown name), RFC 9309 (2.3.1.4) says to assume complete disallow; Scrapy
    allows, retries robots.txt twice, then tries each request three times more. A host that
    accepts connections and never answers thus held a `crawl` pass for six timeouts (three
    minutes with the defaults). Here robots.txt is tried once, and the host's requests fail at
    once for UNREACHABLE_RETRY_S, when robots.txt is tried again. A host that answers robots.txt
    with an error status is still crawled, as by Scrapy: CDNs answer 403 or 503 to it.
    """

    def __init__(self, crawler: Crawler) -> None:
        super().__init__(crawler)
        self._max_age_s = crawler.settings.getfloat(ROBOTSTXT_MAX_AGE, ROBOTS_TXT_MAX_AGE_S)
        self._timeout_s = crawler.settings.getfloat("DOWNLOAD_TIMEOUT")
        #: When each host's robots.txt (or its failure) is to be fetched again (monotonic).
        self._expires_at: dict[str, float] = {}
        if not any(isinstance(f, _RobotsFailureAtInfo) for f in _ROBOTS_LOG.filters):
            _ROBOTS_LOG.addFilter(_RobotsFailureAtInfo())

    async def robot_parser(self, request: Request) -> Any:
        netloc = urlparse_cached(request).netloc
        pending = self._parsers.get(netloc)
        if self._expired(netloc, pending):
            del self._parsers[netloc]  # Scrapy's method below fetches it again
        if netloc not in self._parsers:
            self._expires_at[netloc] = time.monotonic() + self._max_age_s
        if isinstance(pending, Deferred):
            mine: Deferred[Any] = Deferred()

            def hand_over(parser: Any) -> Any:
                mine.callback(parser)
                return parser  # keep the parser flowing to the next waiter

            pending.addBoth(hand_over)
            return await maybe_deferred_to_future(mine)
        return await super().robot_parser(request)

    async def process_request(self, request: Request, spider: Any = None) -> None:
        if request.meta.get("dont_obey_robotstxt") and _is_robots_txt(request):
            request.meta.setdefault("dont_retry", True)  # its failure is final (above)
        await super().process_request(request)

    def process_request_2(self, rp: Any, request: Request) -> None:
        if isinstance(rp, _Unreachable):
            self._stats.inc_value("robotstxt/unreachable")
            raise IgnoreRequest(
                f"robots.txt unreachable ({rp.reason}): the host is not crawled until it"
                " answers (RFC 9309)"
            )
        super().process_request_2(rp, request)

    def _robots_error(self, exc: Exception, netloc: str) -> None:
        if not isinstance(exc, UNREACHABLE):
            super()._robots_error(exc, netloc)
            return
        self._stats.inc_value(f"robotstxt/exception_count/{type(exc)}")
        reason, _status, _retry_after = describe_error(exc, self._timeout_s)
        waiting = self._parsers[netloc]
        assert isinstance(waiting, Deferred)
        self._parsers[netloc] = unreachable = _Unreachable(reason)
        # Tried again after UNREACHABLE_RETRY_S (or the age limit, if shorter).
        retry_in = min(UNREACHABLE_RETRY_S, self._max_age_s)
        self._expires_at[netloc] = time.monotonic() + retry_in
        waiting.callback(unreachable)

    def _expired(self, netloc: str, cached: Any) -> bool:
        """A robots.txt (or its failure) held past the time to fetch it again."""
        if netloc not in self._parsers or isinstance(cached, Deferred):
            return False
        return time.monotonic() >= self._expires_at.get(netloc, 0.0)


def _is_robots_txt(request: Request) -> bool:
    return request.callback is NO_CALLBACK and urlparse_cached(request).path == "/robots.txt"


class PrivateAddressGuard:
    """Refuse requests to private, loopback and link-local addresses (redirects included).

    Links in feeds and pages are untrusted. Only the polls of a configured source that lives
    on such an address may reach it, and only its host and port (the spider's
    ``private_origins``; robots.txt of that origin too). This check gives the clear error; the
    reactor's resolver (crawler/resolver.py) enforces it on the addresses actually connected
    to, so a name that resolves differently the second time gets nowhere either.
    """

    def __init__(self, crawler: Crawler) -> None:
        self._crawler = crawler
        #: host -> (when the verdict expires, monotonic; the private address it resolved to)
        self._verdicts: dict[str, tuple[float, str | None]] = {}

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> PrivateAddressGuard:
        return cls(crawler)

    async def process_request(self, request: Request, spider: Any = None) -> None:
        origin = url_origin(request.url)
        private_origins: set[Origin] = getattr(self._crawler.spider, "private_origins", set())
        if origin is not None and origin in private_origins:
            if _is_robots_txt(request) or _own_source_poll(request, origin):
                return
            raise IgnoreRequest(
                f"refused: {origin[0]}:{origin[1]} is a private source's address, reachable"
                " only by that source's own polls"
            )
        host = urlsplit(request.url).hostname or ""
        if host_is_literal_forbidden(host):
            raise IgnoreRequest(f"refused: {host} is a private or loopback address")
        if (bad := await self._resolved_private(host)) is not None:
            raise IgnoreRequest(f"refused: {host} resolves to private address {bad}")

    async def _resolved_private(self, host: str) -> str | None:
        now = time.monotonic()
        expires, verdict = self._verdicts.get(host, (0.0, None))
        if now >= expires:
            try:
                verdict = await asyncio.to_thread(resolve_forbidden, host)
            except OSError:
                verdict = None  # let the download report the DNS error itself
            if len(self._verdicts) >= VERDICTS_KEPT:
                self._verdicts.clear()
            self._verdicts[host] = (now + VERDICT_MAX_AGE_S, verdict)
        return verdict


def _own_source_poll(request: Request, origin: Origin) -> bool:
    poll = request.meta.get("poll")
    return poll is not None and poll.job.allow_private and poll.job.origin == origin


class SourceCredentials:
    """A source configured as ``https://user:password@host/feed`` sends basic auth with its
    own polls' requests to its own host and port (feed, listing pages, article pages), and
    never elsewhere: not to links on other hosts, not after a redirect away."""

    def process_request(self, request: Request, spider: Any = None) -> None:
        poll = request.meta.get("poll")
        if poll is None or poll.job.authorization is None:
            return
        if url_origin(request.url) == poll.job.origin:
            request.headers["Authorization"] = poll.job.authorization
        else:
            request.headers.pop("Authorization", None)


class RetryAfterMiddleware:
    """A 429/503 that says Retry-After is not retried now; the source waits as it was told.

    Scrapy's RetryMiddleware ignores Retry-After (scrapy/scrapy#3849) and retries at once.
    Runs before RetryMiddleware (higher order number: process_response goes high to low).
    """

    def process_response(
        self, request: Request, response: Response, spider: Any = None
    ) -> Response:
        if response.status in (429, 503) and response.headers.get(b"Retry-After"):
            request.meta["dont_retry"] = True
        return response
