"""The shared poll queue of cluster mode: scrapy-redis's priority queue in Redis.

The scheduler pushes one feed request per due source (its URL, the source's name and the
dispatch id in ``meta``), a whole batch in one transaction; any worker pops it (a ZRANGE +
ZREMRANGEBYRANK in MULTI, so each entry goes to one worker) and polls the source with its
own crawler. The database, not Redis, decides who polls: a worker claims the dispatch id on
the source's row before fetching, so an entry that outlived its dispatch (a stale or repeated
push) is dropped. The queue holds at most one live entry per source, so its size is bounded
by the number of sources.

Entries are JSON (never pickle: whoever can write to Redis must not run code in workers).
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from scrapy.http import Request

from haitiwatch.db.errors import HaitiwatchError

try:  # cluster mode only: its packages are the `cluster` extra, not a plain install's
    from redis import Redis
    from redis.exceptions import RedisError
    from scrapy_redis.queue import PriorityQueue
except ImportError as e:
    raise HaitiwatchError(
        f"cluster mode needs the cluster extra ({e.name} is not installed): "
        "pip install 'haitiwatch[cluster]' (or '.[cluster]' in the checkout)"
    ) from e

__all__ = ["Dispatch", "PollQueue", "QueueUnavailable"]


class QueueUnavailable(Exception):
    """Redis cannot be reached; the message never contains the URL (it may hold a password)."""


class _JsonCodec:
    """scrapy-redis serializer: JSON, with bytes (headers, body) as base64."""

    @staticmethod
    def _default(value: Any) -> Any:
        if isinstance(value, bytes):
            return {"__b64__": base64.b64encode(value).decode("ascii")}
        raise TypeError(f"cannot queue a {type(value).__name__}")

    @staticmethod
    def _hook(obj: dict[str, Any]) -> Any:
        if obj.keys() == {"__b64__"}:
            return base64.b64decode(obj["__b64__"])
        return obj

    @classmethod
    def dumps(cls, obj: Any) -> str:
        return json.dumps(obj, default=cls._default, separators=(",", ":"))

    @classmethod
    def loads(cls, data: bytes | str) -> Any:
        return json.loads(data, object_hook=cls._hook)


@dataclass(frozen=True, slots=True)
class Dispatch:
    """One poll handed out: which source, under which dispatch id, and its URL then."""

    source: str
    dispatch_id: str
    url: str


class _QueueOwner:
    """What scrapy-redis needs of a spider: a name for the key; no callbacks to resolve."""

    name = "haitiwatch"


class PollQueue:
    def __init__(self, redis_url: str, key: str) -> None:
        self._redis = Redis.from_url(redis_url, socket_timeout=10, socket_connect_timeout=10)
        self._queue = PriorityQueue(self._redis, _QueueOwner(), key, serializer=_JsonCodec)

    def push(self, dispatch: Dispatch, due: datetime) -> None:
        self.push_all([(dispatch, due)])

    def push_all(self, entries: list[tuple[Dispatch, datetime]]) -> None:
        """Queue polls, all or none (one MULTI/EXEC); the longest overdue is popped first."""
        if not entries:
            return
        pipe = self._redis.pipeline(transaction=True)
        batch = PriorityQueue(pipe, _QueueOwner(), self._queue.key, serializer=_JsonCodec)
        for dispatch, due in entries:
            request = Request(
                dispatch.url,
                dont_filter=True,
                priority=-int(due.timestamp()),  # score = due time
                meta={"source": dispatch.source, "dispatch_id": dispatch.dispatch_id},
            )
            batch.push(request)  # queued in the pipeline, sent by execute
        self._call(pipe.execute)

    def pop(self) -> Dispatch | None:
        request = self._call(self._queue.pop)
        if request is None:
            return None
        meta = request.meta
        return Dispatch(str(meta["source"]), str(meta["dispatch_id"]), request.url)

    def __len__(self) -> int:
        return int(self._call(self._queue.__len__))

    def memory_bytes(self) -> int:
        """Redis's own count of the queue key's memory (for benchmarks and capacity plans)."""
        used = self._call(self._redis.memory_usage, self._queue.key)
        return int(used or 0)

    def clear(self) -> None:
        self._call(self._queue.clear)

    def ping(self) -> None:
        self._call(self._redis.ping)

    def close(self) -> None:
        self._redis.close()

    @staticmethod
    def _call(fn: Any, *args: Any) -> Any:
        try:
            return fn(*args)
        except RedisError as e:
            raise QueueUnavailable(f"the poll queue (Redis) failed: {type(e).__name__}") from e
