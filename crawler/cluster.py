"""The shared poll queue of cluster mode: scrapy-redis's priority queue in Redis.

The scheduler pushes one feed request per due source (its URL, the source's name and the
dispatch id in ``meta``), a whole batch in one transaction; any worker pops it and polls the
source with its own crawler. The database, not Redis, decides who polls: a worker claims the
dispatch id on the source's row before fetching, so an entry that outlived its dispatch (a
stale or repeated push) is dropped. The queue holds at most one live entry per source, so its
size is bounded by the number of sources.

A pop moves the entry to a second sorted set, "taken", scored by Redis's clock, in one script
(so each entry goes to one worker); the worker removes it there once it has claimed the
dispatch or handed it back. An entry left in "taken" belongs to a worker killed between its
pop and its claim: the scheduler takes such entries back (``taken_before``) and frees their
dispatches, which the claim's compare-and-set makes safe even if the worker was only slow.

Entries are JSON (never pickle: whoever can write to Redis must not run code in workers).
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field
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
    #: The queue entry as Redis holds it (set on a popped dispatch: ``PollQueue.done``).
    entry: bytes = field(default=b"", repr=False, compare=False)


# KEYS: queue, taken. Moves the entry due first from the queue to taken (score: Redis's clock,
# in seconds); returns it, or nil when the queue is empty.
_POP = """
local entry = redis.call('ZRANGE', KEYS[1], 0, 0)[1]
if not entry then return nil end
redis.call('ZREM', KEYS[1], entry)
redis.call('ZADD', KEYS[2], redis.call('TIME')[1], entry)
return entry
"""

# KEYS: taken. ARGV: age in seconds, most entries. Removes and returns the entries taken longer
# ago than that.
_TAKEN_BEFORE = """
local before = tonumber(redis.call('TIME')[1]) - tonumber(ARGV[1])
local old = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', before, 'LIMIT', 0, tonumber(ARGV[2]))
if #old > 0 then redis.call('ZREM', KEYS[1], unpack(old)) end
return old
"""


class _QueueOwner:
    """What scrapy-redis needs of a spider: a name for the key; no callbacks to resolve."""

    name = "haitiwatch"


class PollQueue:
    def __init__(self, redis_url: str, key: str) -> None:
        self._redis = Redis.from_url(redis_url, socket_timeout=10, socket_connect_timeout=10)
        self._queue = PriorityQueue(self._redis, _QueueOwner(), key, serializer=_JsonCodec)
        self._taken = f"{self._queue.key}:taken"
        self._pop = self._redis.register_script(_POP)
        self._taken_before = self._redis.register_script(_TAKEN_BEFORE)

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
        """The entry due first, now in "taken" until ``done``."""
        entry = self._call(self._pop, [self._queue.key, self._taken])
        return _dispatch(entry) if entry is not None else None

    def done(self, dispatch: Dispatch) -> None:
        """The popped dispatch is claimed, or handed back: nothing to take back."""
        self._call(self._redis.zrem, self._taken, dispatch.entry)

    def taken_before(self, seconds: float, most: int) -> list[Dispatch]:
        """Remove and return the entries popped more than ``seconds`` ago and not ``done``."""
        entries = self._call(self._taken_before, [self._taken], [int(seconds), most])
        return [_dispatch(entry) for entry in entries]

    def __len__(self) -> int:
        return int(self._call(self._queue.__len__))

    def memory_bytes(self) -> int:
        """Redis's own count of the queue key's memory (for benchmarks and capacity plans)."""
        used = self._call(self._redis.memory_usage, self._queue.key)
        return int(used or 0)

    def clear(self) -> None:
        self._call(self._queue.clear)
        self._call(self._redis.delete, self._taken)

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


def _dispatch(entry: bytes) -> Dispatch:
    request = _JsonCodec.loads(entry)
    meta = request["meta"]
    return Dispatch(str(meta["source"]), str(meta["dispatch_id"]), str(request["url"]), entry)
