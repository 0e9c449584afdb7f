"""The crawl's executors: worker processes for CPU work and the one database thread."""

from __future__ import annotations

import multiprocessing
from collections.abc import Iterator
from concurrent.futures import Executor, ProcessPoolExecutor, ThreadPoolExecutor
from contextlib import contextmanager

from crawler.cpu_work import start_worker_process, warm_up


@contextmanager
def worker_pools(cpu_workers: int) -> Iterator[tuple[Executor, Executor]]:
    """CPU pool for parsing/extraction (processes use both cores) and ONE database thread."""
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
    db = ThreadPoolExecutor(1, thread_name_prefix="hw-db")
    try:
        yield cpu, db
    finally:
        db.shutdown(wait=True)
        cpu.shutdown(wait=True, cancel_futures=True)
