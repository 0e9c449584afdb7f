"""Per-host politeness shared by the workers of a cluster (docs/service.md, "Cluster mode").

Scrapy keeps each host's concurrency and download delay per process: N workers would hit one
host N times as hard as configured. In cluster mode this downloader middleware takes a slot
from a per-host budget in Redis before each request and gives it back with the response, so
``concurrent_requests_per_domain`` and ``download_delay`` hold for the whole cluster.

One Lua script decides atomically, on Redis's own clock (workers' clocks may differ): a
sorted set of the host's holders (score = when the hold lapses, so a killed worker's slots
come back after the download timeout) and the earliest time the next request may start.
"""

from __future__ import annotations

import asyncio
import uuid
from typing import Any, Self
from urllib.parse import urlsplit

from redis import Redis
from scrapy.crawler import Crawler
from scrapy.exceptions import NotConfigured
from scrapy.http import Request, Response

from haitiwatch.crawler.settings import SHARED_HOSTS_DELAYS, SHARED_HOSTS_KEY, SHARED_HOSTS_URL

#: A request waiting for a full host looks again this often (ms); slots free at no known time.
RETRY_MS = 100
#: Where a request keeps the (host key, token) of the slot it holds.
HELD = "haitiwatch_host_slot"

# KEYS: holders (sorted set), next start (string).
# ARGV: token, limit, delay ms, hold ms, retry ms.
# Returns 0 when the slot is taken, else the milliseconds to wait before asking again.
_TAKE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
local wait = 0
local next_start = tonumber(redis.call('GET', KEYS[2]) or '0')
if next_start > now then wait = next_start - now end
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[2]) then
  wait = math.max(wait, tonumber(ARGV[5]))
end
if wait > 0 then return wait end
local hold, delay = tonumber(ARGV[4]), tonumber(ARGV[3])
redis.call('ZADD', KEYS[1], now + hold, ARGV[1])
redis.call('PEXPIRE', KEYS[1], hold)
if delay > 0 then redis.call('SET', KEYS[2], now + delay, 'PX', delay) end
return 0
"""


class SharedHostBudget:
    def __init__(self, crawler: Crawler) -> None:
        settings = crawler.settings
        url = settings.get(SHARED_HOSTS_URL)
        if not url:
            raise NotConfigured("not a cluster worker")
        self._redis = Redis.from_url(url, socket_timeout=10, socket_connect_timeout=10)
        self._take = self._redis.register_script(_TAKE)
        self._prefix = settings.get(SHARED_HOSTS_KEY)
        self._limit = settings.getint("CONCURRENT_REQUESTS_PER_DOMAIN")
        self._delays: dict[str, float] = settings.getdict(SHARED_HOSTS_DELAYS)
        # A hold outlives any download (timeout and retries are separate requests).
        self._hold_ms = int((settings.getfloat("DOWNLOAD_TIMEOUT") + 30) * 1000)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        return cls(crawler)

    async def process_request(self, request: Request, spider: Any = None) -> None:
        host = urlsplit(request.url).hostname or ""
        delay_s = float(self._delays.get(host, self._delays[""]))
        key, token = f"{self._prefix}:{host}", uuid.uuid4().hex
        args: list[str | int] = [token, self._limit, int(delay_s * 1000), self._hold_ms, RETRY_MS]
        while wait_ms := int(await asyncio.to_thread(self._take, [key, key + ":next"], args)):
            await asyncio.sleep(wait_ms / 1000)
        request.meta[HELD] = (key, token)

    async def process_response(
        self, request: Request, response: Response, spider: Any = None
    ) -> Response:
        await self._give_back(request)
        return response

    async def process_exception(
        self, request: Request, exception: Exception, spider: Any = None
    ) -> None:
        await self._give_back(request)

    async def _give_back(self, request: Request) -> None:
        """Off the reactor thread, as the take is: a Redis round trip there would hold up
        every other download of the worker."""
        held = request.meta.pop(HELD, None)
        if held is not None:
            await asyncio.to_thread(self._redis.zrem, held[0], held[1])
