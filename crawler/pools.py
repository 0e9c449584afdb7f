"""The crawl's executors: worker processes for CPU work and the one database thread.

Light on purpose (neither Scrapy nor SQLAlchemy): the crawl command creates the pools, and may
start the workers, before it imports the crawler, so that the workers' start-up runs on the
core that its own imports leave idle.
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Iterator
from concurrent.futures import Executor, ProcessPoolExecutor, ThreadPoolExecutor
from contextlib import contextmanager

from crawler.cpu_work import ready, start_worker_process, warm_up


@contextmanager
def worker_pools(cpu_workers: int) -> Iterator[tuple[Executor, Executor]]:
    """CPU pool for parsing/extraction (processes use both cores) and ONE database thread."""
    cpu: Executor
    if cpu_workers > 0:
        # spawn, not fork: forking a process that runs an event loop and threads is unsafe.
        # Workers start with the first feed to parse (a pass where every feed answers 304
        # needs none) or when start_workers says so; they lower their priority below this
        # process's and load the language model before their first task.
        cpu = ProcessPoolExecutor(
            cpu_workers,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=start_worker_process,
        )
    else:
        # One thread: trafilatura/lxml beside numpy in two threads crashed natively (rarely).
        cpu = ThreadPoolExecutor(1, thread_name_prefix="hw-cpu", initializer=warm_up)
    db = ThreadPoolExecutor(1, thread_name_prefix="hw-db")
    try:
        yield cpu, db
    finally:
        db.shutdown(wait=True)
        cpu.shutdown(wait=True, cancel_futures=True)


def start_workers(cpu: Executor, cpu_workers: int) -> None:
    """Start the CPU pool's workers now rather than with the first feed to parse.

    A worker takes about half a second to start (an interpreter, its imports, the language
    model). A pool starts one worker per task submitted while none is idle, so one empty
    task per worker starts them all.
    """
    for _ in range(max(cpu_workers, 1)):
        cpu.submit(ready)
