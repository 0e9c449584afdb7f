"""The Scrapy spider: requests feeds and article pages, hands every response to the Harvester.

It only translates between Scrapy and plain records; what to do with a response is decided in
crawler.harvest and crawler.assemble.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import scrapy
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

from crawler.harvest import Harvester
from crawler.jobs import FetchedBody, SourceJob
from crawler.urls import UnusableURL, fetch_url
from db.records import FeedEntry

FEED_ACCEPT = (
    "application/rss+xml, application/atom+xml, application/feed+json, "
    "application/xml;q=0.9, text/xml;q=0.9, */*;q=0.5"
)


def _header(response: Response, name: str) -> str | None:
    value = response.headers.get(name)
    return value.decode("latin-1") if value else None


def to_fetched(response: Response) -> FetchedBody:
    encoding = response.encoding if isinstance(response, TextResponse) else None
    return FetchedBody(
        url=response.url,
        status=response.status,
        body=response.body,
        content_type=_header(response, "Content-Type"),
        encoding=encoding,
        etag=_header(response, "ETag"),
        last_modified=_header(response, "Last-Modified"),
        retry_after=_header(response, "Retry-After"),
    )


def describe_failure(failure: Failure, timeout: float) -> tuple[str, int | None, str | None]:
    """A message a person understands, the HTTP status if any, and Retry-After if any."""
    exc = failure.value
    if isinstance(exc, HttpError):
        response = exc.response
        return (
            f"HTTP {response.status} from {response.url}",
            response.status,
            _header(response, "Retry-After"),
        )
    if isinstance(exc, DNSLookupError):
        return f"DNS lookup failed: {exc}", None, None
    if isinstance(exc, TimeoutError | TCPTimedOutError):
        return f"timed out (no complete response within {timeout:g} s)", None, None
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused", None, None
    if isinstance(exc, CancelledError):
        return "download cancelled: response larger than the size cap", None, None
    text = str(exc) or type(exc).__name__
    return f"{type(exc).__name__}: {text}" if type(exc).__name__ not in text else text, None, None


class SourceSpider(scrapy.Spider):
    name = "haitiwatch"

    def __init__(
        self, jobs: list[SourceJob], harvester: Harvester, timeout: float, **kwargs: Any
    ) -> None:
        super().__init__(**kwargs)
        self.jobs = jobs
        self.harvester = harvester
        self.timeout = timeout
        #: Hosts of configured sources that live on private addresses: allowed for them only.
        self.private_hosts = frozenset(j.url_host for j in jobs if j.allow_private)

    async def start(self) -> AsyncIterator[Any]:
        for job in self.jobs:
            yield self.feed_request(job)

    def feed_request(self, job: SourceJob) -> Request:
        headers = {"Accept": FEED_ACCEPT}
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
            meta={
                "job": job,
                "started": datetime.now(UTC),
                "t0": time.monotonic(),
                "handle_httpstatus_list": [304],
            },
        )

    @staticmethod
    def _elapsed_ms(meta: dict[str, Any]) -> int:
        return int((time.monotonic() - meta["t0"]) * 1000)

    async def parse_feed(self, response: Response) -> AsyncIterator[Request]:
        job: SourceJob = response.meta["job"]
        plan = await self.harvester.feed_fetched(
            job, to_fetched(response), response.meta["started"], self._elapsed_ms(response.meta)
        )
        for entry in plan.entries:
            request = self.page_request(job, entry, plan.fetch_id)
            if request is not None:
                yield request
            else:
                await self.harvester.page_failed(job, entry, plan.fetch_id, "unusable URL")

    async def feed_failed(self, failure: Failure) -> None:
        request = failure.request  # type: ignore[attr-defined]
        message, status, retry_after = describe_failure(failure, self.timeout)
        await self.harvester.feed_failed(
            request.meta["job"],
            request.meta["started"],
            self._elapsed_ms(request.meta),
            message,
            status,
            retry_after=retry_after,
        )

    def page_request(
        self, job: SourceJob, entry: FeedEntry, fetch_id: int | None
    ) -> Request | None:
        try:
            url = fetch_url(entry.url)
        except UnusableURL:
            return None
        return Request(
            url,
            callback=self.parse_page,
            errback=self.page_failed,
            dont_filter=True,
            meta={"job": job, "entry": entry, "fetch_id": fetch_id},
        )

    async def parse_page(self, response: Response) -> None:
        meta = response.meta
        if not isinstance(response, TextResponse):
            await self.harvester.page_failed(
                meta["job"], meta["entry"], meta["fetch_id"], "not an HTML page"
            )
            return
        await self.harvester.page_fetched(
            meta["job"], meta["entry"], meta["fetch_id"], to_fetched(response)
        )

    async def page_failed(self, failure: Failure) -> None:
        meta = failure.request.meta  # type: ignore[attr-defined]
        message, _status, _retry_after = describe_failure(failure, self.timeout)
        await self.harvester.page_failed(meta["job"], meta["entry"], meta["fetch_id"], message)
