"""The Scrapy spider: requests feeds and article pages, hands every response to the Harvester.

It only translates between Scrapy and plain records; what to do with a response is decided in
crawler.harvest and crawler.assemble.
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator
from typing import Any

import scrapy
from scrapy import signals
from scrapy.crawler import Crawler
from scrapy.exceptions import (
    CannotResolveHostError,
    DontCloseSpider,
    DownloadCancelledError,
    DownloadConnectionRefusedError,
    DownloadTimeoutError,
    IgnoreRequest,
    ResponseDataLossError,
)
from scrapy.http import Request, Response, TextResponse
from scrapy.spidermiddlewares.httperror import HttpError
from twisted.internet.defer import CancelledError
from twisted.internet.error import (
    ConnectionRefusedError,
    DNSLookupError,
    TCPTimedOutError,
    TimeoutError,
)
from twisted.python.failure import Failure
from w3lib.encoding import http_content_type_encoding

from haitiwatch.crawler.harvest import Harvester
from haitiwatch.crawler.jobs import FetchedBody
from haitiwatch.crawler.netguard import Origin
from haitiwatch.crawler.poll import NextSteps, Poll
from haitiwatch.crawler.urls import UnusableURL, fetch_url
from haitiwatch.db.records import OwedPage

log = logging.getLogger(__name__)

FEED_ACCEPT = (
    "application/rss+xml, application/atom+xml, application/feed+json, "
    "application/xml;q=0.9, text/xml;q=0.9, */*;q=0.5"
)
#: What each source kind asks for (feeds and Google News: FEED_ACCEPT).
KIND_ACCEPT = {
    "sitemap": "application/xml, text/xml;q=0.9, application/x-gzip;q=0.8, */*;q=0.5",
    "html": "text/html, application/xhtml+xml;q=0.9, */*;q=0.5",
    "gdelt": "application/json, */*;q=0.5",
}


# Scrapy 2.19 raises its own download errors where older versions raised Twisted's.
_TIMEOUTS: tuple[type[Exception], ...] = (TimeoutError, TCPTimedOutError, DownloadTimeoutError)
_DNS: tuple[type[Exception], ...] = (DNSLookupError, CannotResolveHostError)
_REFUSED: tuple[type[Exception], ...] = (ConnectionRefusedError, DownloadConnectionRefusedError)
_CANCELLED: tuple[type[Exception], ...] = (CancelledError, DownloadCancelledError)
# Also what a body without Content-Length that outgrows DOWNLOAD_MAXSIZE ends as (Scrapy aborts
# the connection, and the abort is reported before the cancellation).
_DATA_LOSS = (ResponseDataLossError,)
#: What Scrapy's RedirectMiddleware says of a loop or an overlong chain.
_SCRAPY_TOO_MANY_REDIRECTS = "max redirections reached"
#: The host could not be reached at all (as opposed to answering badly).
UNREACHABLE: tuple[type[Exception], ...] = (*_TIMEOUTS, *_DNS, *_REFUSED)


def _header(response: Response, name: str) -> str | None:
    value = response.headers.get(name)
    return value.decode("latin-1") if value else None


def to_fetched(response: Response) -> FetchedBody:
    content_type = _header(response, "Content-Type")
    return FetchedBody(
        url=response.url,
        status=response.status,
        body=response.body,
        content_type=content_type,
        # The header's charset only. ``response.encoding`` would also sniff the body, and
        # without a declaration it decodes the whole body to guess, on the reactor thread;
        # the CPU workers decode it again anyway (extract.decode_html, feedparser).
        encoding=http_content_type_encoding(content_type) if content_type else None,
        etag=_header(response, "ETag"),
        last_modified=_header(response, "Last-Modified"),
        retry_after=_header(response, "Retry-After"),
    )


def describe_failure(failure: Failure, timeout: float) -> tuple[str, int | None, str | None]:
    """A message a person understands, the HTTP status if any, and Retry-After if any."""
    exc = failure.value
    assert exc is not None  # a Failure always carries its exception
    return describe_error(exc, timeout)


def describe_error(exc: BaseException, timeout: float) -> tuple[str, int | None, str | None]:
    """``describe_failure`` of the exception itself."""
    if isinstance(exc, HttpError):
        response = exc.response
        return (
            f"HTTP {response.status} from {response.url}",
            response.status,
            _header(response, "Retry-After"),
        )
    if isinstance(exc, _DNS):
        detail = str(exc).removeprefix("DNS lookup failed: ")
        return f"DNS lookup failed: {detail}", None, None
    if isinstance(exc, _TIMEOUTS):
        return f"timed out (no complete response within {timeout:g} s)", None, None
    if isinstance(exc, _REFUSED):
        return "connection refused", None, None
    if isinstance(exc, _CANCELLED):
        return "download cancelled: response larger than the size cap", None, None
    if isinstance(exc, _DATA_LOSS):
        message = "response cut off: connection closed early, or body larger than the size cap"
        return message, None, None
    if isinstance(exc, IgnoreRequest) and str(exc) == _SCRAPY_TOO_MANY_REDIRECTS:
        return "too many redirects: a redirect loop, or a longer chain than allowed", None, None
    if isinstance(exc, IgnoreRequest) and (said := str(exc)):  # ours and Scrapy's say what
        return said, None, None
    text = str(exc) or type(exc).__name__
    return f"{type(exc).__name__}: {text}" if type(exc).__name__ not in text else text, None, None


def is_transient(exc: BaseException) -> bool:
    """Might the same request succeed later? Server errors, timeouts and lost connections
    may pass; a client error (404, 410), a refusal (robots.txt, the address guard) or an
    oversized response will not."""
    if isinstance(exc, HttpError):
        status = exc.response.status
        return status >= 500 or status in (408, 429)
    return not isinstance(exc, (IgnoreRequest, *_CANCELLED))


class SourceSpider(scrapy.Spider):
    """Stays open until told to close; polls are fed in with ``enqueue``."""

    name = "haitiwatch"

    def __init__(
        self, harvester: Harvester, timeout: float, private_origins: set[Origin], **kwargs: Any
    ) -> None:
        super().__init__(**kwargs)
        self.harvester = harvester
        self.timeout = timeout
        #: Host and port of each configured source on a private address (crawler/middlewares.py
        #: lets only that source's polls reach it; crawler/resolver.py lets it resolve there).
        self.private_origins = private_origins

    @classmethod
    def from_crawler(cls, crawler: Crawler, *args: Any, **kwargs: Any) -> SourceSpider:
        spider = super().from_crawler(crawler, *args, **kwargs)
        crawler.signals.connect(spider.keep_open, signal=signals.spider_idle)
        crawler.signals.connect(spider.log_error, signal=signals.spider_error)
        return spider

    def keep_open(self) -> None:
        raise DontCloseSpider

    def log_error(self, failure: Failure, response: Response, spider: Any) -> None:
        log.error("error handling %s: %s", response.url, failure.getTraceback())

    async def start(self) -> AsyncIterator[Any]:
        return
        yield  # an async generator that yields nothing: polls arrive through enqueue()

    def enqueue(self, poll: Poll) -> None:
        if poll.job.allow_private and poll.job.origin is not None:
            self.private_origins.add(poll.job.origin)
        self.crawler.engine.crawl(self.feed_request(poll))

    def feed_request(self, poll: Poll) -> Request:
        job = poll.job
        headers = {"Accept": KIND_ACCEPT.get(job.kind, FEED_ACCEPT)}
        if job.validators.etag:
            headers["If-None-Match"] = job.validators.etag
        if job.validators.last_modified:
            headers["If-Modified-Since"] = job.validators.last_modified
        return Request(
            job.url,
            headers=headers,
            callback=self.parse_feed,
            errback=self.feed_failed,
            dont_filter=True,
            priority=10,
            meta={"poll": poll, "t0": time.monotonic(), "handle_httpstatus_list": [304]},
        )

    @staticmethod
    def _elapsed_ms(meta: dict[str, Any]) -> int:
        return int((time.monotonic() - meta["t0"]) * 1000)

    async def parse_feed(self, response: Response) -> AsyncIterator[Request]:
        poll: Poll = response.meta["poll"]
        try:
            elapsed = self._elapsed_ms(response.meta)
            try:
                steps = await self.harvester.feed_fetched(poll, to_fetched(response), elapsed)
            except Exception as error:  # nothing may end a poll unrecorded
                steps = await self.harvester.poll_broke(poll, error)
            for request in await self._next_requests(poll, steps):
                yield request
        finally:
            poll.finish_step()

    async def _next_requests(self, poll: Poll, steps: NextSteps) -> list[Request]:
        """Requests for the next steps, each counted on the poll before it is handed out."""
        requests = [self.listing_request(poll, url, level) for url, level in steps.listings]
        for page in steps.pages:
            request = self.page_request(poll, page)
            if request is None:
                await self.harvester.page_failed(poll, page, "unusable URL", transient=False)
                continue
            requests.append(request)
        for _request in requests:
            poll.add_step()
        return requests

    def listing_request(self, poll: Poll, url: str, level: int) -> Request:
        """A further document of a listing: a child sitemap, the next section page."""
        return Request(
            url,
            headers={"Accept": KIND_ACCEPT.get(poll.job.kind, FEED_ACCEPT)},
            callback=self.parse_listing,
            errback=self.listing_failed,
            dont_filter=True,
            priority=5,
            meta={"poll": poll, "level": level},
        )

    async def parse_listing(self, response: Response) -> AsyncIterator[Request]:
        poll: Poll = response.meta["poll"]
        try:
            try:
                steps = await self.harvester.listing_fetched(
                    poll, to_fetched(response), response.meta["level"]
                )
            except Exception as error:  # nothing may end a poll unrecorded
                steps = await self.harvester.poll_broke(poll, error)
            for request in await self._next_requests(poll, steps):
                yield request
        finally:
            poll.finish_step()

    async def listing_failed(self, failure: Failure) -> None:
        request = failure.request  # type: ignore[attr-defined]
        poll: Poll = request.meta["poll"]
        message, _status, _retry_after = describe_failure(failure, self.timeout)
        try:
            steps = await self.harvester.listing_failed(poll, request.url, message)
            # An errback's output is not crawled like a callback's: hand requests to the engine.
            for follow in await self._next_requests(poll, steps):
                self.crawler.engine.crawl(follow)
        finally:
            poll.finish_step()

    async def feed_failed(self, failure: Failure) -> None:
        meta = failure.request.meta  # type: ignore[attr-defined]
        message, status, retry_after = describe_failure(failure, self.timeout)
        try:
            await self.harvester.feed_failed(
                meta["poll"], self._elapsed_ms(meta), message, status, retry_after=retry_after
            )
        finally:
            meta["poll"].finish_step()

    def page_request(self, poll: Poll, page: OwedPage) -> Request | None:
        try:
            url = fetch_url(page.entry.url)
        except UnusableURL:
            return None
        return Request(
            url,
            callback=self.parse_page,
            errback=self.page_failed,
            dont_filter=True,
            meta={"poll": poll, "page": page},
        )

    async def parse_page(self, response: Response) -> None:
        poll: Poll = response.meta["poll"]
        try:
            page: OwedPage = response.meta["page"]
            if isinstance(response, TextResponse):
                await self.harvester.page_fetched(poll, page, to_fetched(response))
            else:
                await self.harvester.page_failed(poll, page, "not an HTML page", transient=False)
        finally:
            poll.finish_step()

    async def page_failed(self, failure: Failure) -> None:
        meta = failure.request.meta  # type: ignore[attr-defined]
        message, _status, _retry_after = describe_failure(failure, self.timeout)
        transient = failure.value is not None and is_transient(failure.value)
        try:
            await self.harvester.page_failed(meta["poll"], meta["page"], message, transient)
        finally:
            meta["poll"].finish_step()
