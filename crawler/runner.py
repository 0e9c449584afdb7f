"""Run crawls: one long-lived Scrapy crawler on the asyncio reactor, fed with source polls.

One crawler for the whole process means one downloader: per-host delay and concurrency hold
across all sources on a host, there is no start-up cost per poll, and memory stays flat. The
one-shot ``crawl`` command and the long-lived service both use ``CrawlEngine``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from concurrent.futures import Executor
from datetime import timedelta
from typing import TYPE_CHECKING, TypeVar

from haitiwatch.crawler.harvest import Harvester
from haitiwatch.crawler.jobs import CrawlSettings, SourceJob
from haitiwatch.crawler.netguard import Origin
from haitiwatch.crawler.poll import Poll
from haitiwatch.crawler.settings import ASYNCIO_REACTOR, scrapy_settings
from haitiwatch.crawler.storage import CrawlStorage
from haitiwatch.db.records import CrawlTotals

if TYPE_CHECKING:
    from scrapy.crawler import Crawler

    from haitiwatch.crawler.spider import SourceSpider

T = TypeVar("T")
log = logging.getLogger(__name__)


def install_asyncio_reactor() -> None:
    """Must run before anything imports twisted.internet.reactor (docs/pitfalls.md)."""
    from scrapy.utils.reactor import install_reactor, is_asyncio_reactor_installed

    try:
        install_reactor(ASYNCIO_REACTOR)
    except Exception:
        if not is_asyncio_reactor_installed():
            raise


def run_reactor(main: Callable[[], Awaitable[T]]) -> T:
    """Run one coroutine on the asyncio reactor and return its result."""
    install_asyncio_reactor()
    from twisted.internet import reactor

    done: list[asyncio.Future[T]] = []

    def start() -> None:
        task = asyncio.ensure_future(main())
        task.add_done_callback(lambda _t: reactor.stop())  # type: ignore[misc]
        done.append(task)

    reactor.callWhenRunning(start)
    # Signals are the caller's business (the service installs its own handlers).
    reactor.run(installSignalHandlers=False)  # type: ignore[call-arg,misc]
    return done[0].result()


class CrawlEngine:
    """A running Scrapy crawler that takes polls (one source each) and says when each is done."""

    def __init__(
        self, settings: CrawlSettings, storage: CrawlStorage, pools: tuple[Executor, Executor]
    ) -> None:
        self.settings = settings
        self.harvester = Harvester(
            storage,
            *pools,
            retry_after_cap=timedelta(seconds=settings.max_retry_after_s),
            # one task waiting beside each busy worker (the thread pool has one worker)
            cpu_slots=max(settings.cpu_workers, 1) + 1,
        )
        self._crawler: Crawler | None = None
        self._task: asyncio.Task[None] | None = None
        #: Configured sources on private addresses, added as their polls arrive (spider.py).
        self._private_origins: set[Origin] = set()

    async def start(self, jobs: Sequence[SourceJob]) -> None:
        """Open the spider. ``jobs`` give the per-source politeness overrides."""
        from scrapy.crawler import AsyncCrawlerRunner
        from twisted.internet import reactor

        from haitiwatch.crawler import resolver
        from haitiwatch.crawler.spider import SourceSpider

        resolver.install(reactor, self._private_origins)
        runner = AsyncCrawlerRunner(scrapy_settings(self.settings, list(jobs)))
        self._crawler = runner.create_crawler(SourceSpider)
        self._task = runner.crawl(
            self._crawler,
            harvester=self.harvester,
            timeout=self.settings.timeout,
            private_origins=self._private_origins,
        )
        while (
            self._crawler.spider is None
            or self._crawler.engine is None
            or self._crawler.engine.spider is None
        ):
            if self._task.done():
                self._task.result()  # raises the start-up error
                raise RuntimeError("the crawler stopped during start-up")
            await asyncio.sleep(0.01)

    @property
    def _spider(self) -> SourceSpider:
        assert self._crawler is not None and self._crawler.spider is not None, "not started"
        return self._crawler.spider  # type: ignore[return-value]

    def submit(self, job: SourceJob) -> Poll:
        """Start polling a source; await ``poll.done`` for the outcome."""
        poll = Poll(job=job, done=asyncio.get_running_loop().create_future())
        self._spider.enqueue(poll)
        return poll

    async def poll(self, job: SourceJob, deadline_s: float | None = None) -> Poll:
        poll = self.submit(job)
        return await asyncio.wait_for(asyncio.shield(poll.done), deadline_s)

    async def stop(self) -> None:
        if self._crawler is not None and self._task is not None and not self._task.done():
            await self._crawler.stop_async()
            await self._task


async def crawl(
    jobs: list[SourceJob],
    settings: CrawlSettings,
    storage: CrawlStorage,
    pools: tuple[Executor, Executor],
    on_source_done: Callable[[str], None] | None = None,
) -> CrawlTotals:
    """One pass over ``jobs``: every feed fetched once, new article pages fetched and stored."""
    totals = CrawlTotals()
    if not jobs:
        return totals
    engine = CrawlEngine(settings, storage, pools)
    await engine.start(jobs)
    try:
        polls = [engine.submit(job) for job in jobs]
        for finished in asyncio.as_completed([p.done for p in polls]):
            poll = await finished
            totals.merge(poll.totals)
            if on_source_done is not None:
                on_source_done(poll.job.name)
    finally:
        await engine.stop()
    return totals
