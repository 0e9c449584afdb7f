"""Run crawls: Scrapy's AsyncCrawlerRunner on the asyncio reactor, with CPU and DB pools.

One process, one reactor: the long-lived service (issue: background service) awaits
``crawl()`` from APScheduler jobs on the same loop; the one-shot CLI uses ``run_reactor``.
"""

from __future__ import annotations

import asyncio
import multiprocessing
from collections.abc import Awaitable, Callable, Iterator
from concurrent.futures import Executor, ProcessPoolExecutor, ThreadPoolExecutor
from contextlib import contextmanager
from datetime import timedelta
from typing import TypeVar

from crawler.harvest import Harvester
from crawler.jobs import CrawlSettings, SourceJob
from crawler.settings import ASYNCIO_REACTOR, scrapy_settings
from db.records import CrawlTotals
from db.store import Store

T = TypeVar("T")


def install_asyncio_reactor() -> None:
    """Must run before anything imports twisted.internet.reactor (NOTES.md)."""
    from scrapy.utils.reactor import install_reactor, is_asyncio_reactor_installed

    try:
        install_reactor(ASYNCIO_REACTOR)
    except Exception:
        if not is_asyncio_reactor_installed():
            raise


def run_reactor(main: Callable[[], Awaitable[T]]) -> T:
    """Run one coroutine on the asyncio reactor and return its result (one-shot commands)."""
    install_asyncio_reactor()
    from twisted.internet import reactor

    done: list[asyncio.Future[T]] = []

    def start() -> None:
        task = asyncio.ensure_future(main())
        task.add_done_callback(lambda _t: reactor.stop())  # type: ignore[misc]
        done.append(task)

    reactor.callWhenRunning(start)
    reactor.run()  # type: ignore[misc]
    return done[0].result()


@contextmanager
def worker_pools(cpu_workers: int) -> Iterator[tuple[Executor, Executor]]:
    """CPU pool for parsing/extraction (processes use both cores) and ONE database thread."""
    cpu: Executor
    if cpu_workers > 0:
        # spawn, not fork: forking a process that runs an event loop and threads is unsafe.
        cpu = ProcessPoolExecutor(cpu_workers, mp_context=multiprocessing.get_context("spawn"))
    else:
        cpu = ThreadPoolExecutor(2, thread_name_prefix="hw-cpu")
    db = ThreadPoolExecutor(1, thread_name_prefix="hw-db")
    try:
        yield cpu, db
    finally:
        db.shutdown(wait=True)
        cpu.shutdown(wait=True, cancel_futures=True)


async def crawl(
    jobs: list[SourceJob],
    settings: CrawlSettings,
    store: Store,
    pools: tuple[Executor, Executor],
    on_source_done: Callable[[str], None] | None = None,
) -> CrawlTotals:
    """One pass over ``jobs``: every feed fetched once, new article pages fetched and stored."""
    from scrapy.crawler import AsyncCrawlerRunner

    from crawler.spider import SourceSpider

    harvester = Harvester(
        store,
        *pools,
        retry_after_cap=timedelta(seconds=settings.max_retry_after_s),
        on_source_done=on_source_done,
    )
    if jobs:
        runner = AsyncCrawlerRunner(scrapy_settings(settings, jobs))
        await runner.crawl(SourceSpider, jobs=jobs, harvester=harvester, timeout=settings.timeout)
    return harvester.totals
