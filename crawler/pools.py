"""The crawl's executors: worker processes for CPU work and the one database thread."""

from __future__ import annotations

import asyncio
import multiprocessing
from collections.abc import Callable, Iterator
from concurrent.futures import Executor, ProcessPoolExecutor, ThreadPoolExecutor
from contextlib import contextmanager
from functools import partial
from typing import ParamSpec, TypeVar

from haitiwatch.crawler.cpu_work import start_worker_process, warm_up

P = ParamSpec("P")
T = TypeVar("T")


@contextmanager
def worker_pools(cpu_workers: int) -> Iterator[tuple[Executor, Executor]]:
    """CPU pool for parsing/extraction (processes use both cores) and ONE database thread."""
    with cpu_pool(cpu_workers) as cpu:
        db = DatabaseThread()
        try:
            yield cpu, db.executor
        finally:
            db.close()


@contextmanager
def cpu_pool(cpu_workers: int) -> Iterator[Executor]:
    """Worker processes for parsing and extraction, or one thread with ``cpu_workers=0``."""
    cpu: Executor
    if cpu_workers > 0:
        # spawn, not fork: forking a process that runs an event loop and threads is unsafe.
        # Workers start with the first feed to parse (a pass where every feed answers 304
        # needs none); they lower their priority below this process's and load the
        # language model before their first task.
        cpu = ProcessPoolExecutor(
            cpu_workers,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=start_worker_process,
        )
    else:
        # One thread: trafilatura/lxml beside numpy in two threads crashed natively (rarely).
        cpu = ThreadPoolExecutor(1, thread_name_prefix="hw-cpu", initializer=warm_up)
    try:
        yield cpu
    finally:
        cpu.shutdown(wait=True, cancel_futures=True)


class DatabaseThread:
    """The process's one database thread. The crawl's writes and the service's both go through
    it, so SQLite never sees two writers from one process (no lock fights in-process)."""

    def __init__(self) -> None:
        self.executor = ThreadPoolExecutor(1, thread_name_prefix="hw-db")

    async def run(self, fn: Callable[P, T], *args: P.args, **kw: P.kwargs) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self.executor, partial(fn, *args, **kw))

    def close(self) -> None:
        self.executor.shutdown(wait=True)
