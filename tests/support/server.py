"""A threaded loopback HTTP/1.1 server whose routes a test registers and changes between crawls.

Every request is logged (method, path, headers, arrival time) so a test can assert what the
crawler fetched, when, and with which headers. Routes cover what real servers do to a crawler:
conditional GET, error statuses with Retry-After, redirects and redirect loops, slow and endless
responses, and a gzip bomb.
"""

from __future__ import annotations

import struct
import sys
import threading
import time
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from functools import cache
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

CLIENT_GONE = (BrokenPipeError, ConnectionResetError, ConnectionAbortedError, TimeoutError)
GZIP_BOMB_MIB = 1024


@dataclass(frozen=True, slots=True)
class Logged:
    """One request as the server saw it."""

    method: str
    path: str  # as sent, query included
    headers: dict[str, str]  # lower-case names
    at: float  # time.monotonic() on arrival


Handler = Callable[["_RequestHandler", "Route"], None]


@dataclass(slots=True)
class Route:
    body: bytes = b""
    status: int = 200
    content_type: str | None = "text/html; charset=utf-8"
    headers: dict[str, str] = field(default_factory=dict)
    etag: str | None = None
    last_modified: str | None = None
    delay: float = 0.0
    handler: Handler | None = None


class Site:
    """The server plus its routing table and request log. Thread-safe."""

    def __init__(self) -> None:
        self._routes: dict[str, Route] = {}
        self._log: list[Logged] = []
        self._lock = threading.Lock()
        self._in_flight = 0
        #: Most requests being answered at once, and TCP connections accepted, since start.
        self.peak_in_flight = 0
        self.connections = 0
        self.closing = threading.Event()
        self._server = _Server(("127.0.0.1", 0), _RequestHandler)
        self._server.site = self
        self.port: int = self._server.server_address[1]
        self._thread = threading.Thread(
            target=self._server.serve_forever, daemon=True, kwargs={"poll_interval": 0.05}
        )
        self._thread.start()

    # -- addresses -------------------------------------------------------------------------

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def url(self, path: str) -> str:
        return self.origin + path

    # -- routes ----------------------------------------------------------------------------

    def add(
        self,
        path: str,
        body: bytes | str = b"",
        *,
        status: int = 200,
        content_type: str | None = "text/html; charset=utf-8",
        headers: dict[str, str] | None = None,
        etag: str | None = None,
        last_modified: str | None = None,
        delay: float = 0.0,
    ) -> None:
        """Serve static bytes. With etag/last_modified, conditional GETs get 304."""
        data = body.encode("utf-8") if isinstance(body, str) else body
        self._set(
            path, Route(data, status, content_type, dict(headers or {}), etag, last_modified, delay)
        )

    def feed(
        self,
        path: str,
        body: bytes | str,
        *,
        etag: str | None = None,
        last_modified: str | None = None,
        content_type: str = "application/rss+xml; charset=utf-8",
    ) -> None:
        self.add(path, body, content_type=content_type, etag=etag, last_modified=last_modified)

    def status(self, path: str, code: int, headers: dict[str, str] | None = None) -> None:
        self.add(path, f"<html><body><h1>{code}</h1></body></html>", status=code, headers=headers)

    def redirect(self, path: str, to: str, code: int = 302) -> None:
        self.add(path, b"", status=code, content_type=None, headers={"Location": to})

    def slow(self, path: str, seconds: float, body: bytes | str = b"<rss/>") -> None:
        """Answer only after ``seconds`` (longer than the crawl timeout)."""
        self.add(path, body, delay=seconds, content_type="application/rss+xml")

    def endless(self, path: str) -> None:
        """A chunked body that never ends (until the client hangs up or the site closes)."""
        self._set(path, Route(content_type="application/rss+xml", handler=_send_endless))

    def gzip_bomb(self, path: str) -> None:
        """~1 GiB of zeros as Content-Encoding: gzip, ~1 MB on the wire."""
        self._set(
            path,
            Route(
                body=gzip_bomb_bytes(),
                content_type="application/rss+xml",
                headers={"Content-Encoding": "gzip"},
            ),
        )

    def remove(self, path: str) -> None:
        with self._lock:
            self._routes.pop(path, None)

    def _set(self, path: str, route: Route) -> None:
        with self._lock:
            self._routes[path] = route

    def route_for(self, raw_path: str) -> Route | None:
        with self._lock:
            return self._routes.get(raw_path) or self._routes.get(urlsplit(raw_path).path)

    # -- request log -----------------------------------------------------------------------

    def record(self, entry: Logged) -> None:
        with self._lock:
            self._log.append(entry)

    def started(self) -> None:
        with self._lock:
            self._in_flight += 1
            self.peak_in_flight = max(self.peak_in_flight, self._in_flight)

    def finished(self) -> None:
        with self._lock:
            self._in_flight -= 1

    def connected(self) -> None:
        with self._lock:
            self.connections += 1

    def requests(self, prefix: str = "") -> list[Logged]:
        """Logged requests whose path starts with ``prefix``, in arrival order."""
        with self._lock:
            return [e for e in self._log if e.path.startswith(prefix)]

    def paths(self, prefix: str = "") -> list[str]:
        return [e.path for e in self.requests(prefix)]

    def clear_log(self) -> None:
        with self._lock:
            self._log.clear()

    def close(self) -> None:
        self.closing.set()
        self._server.shutdown()
        self._server.server_close()


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128
    site: Site

    def handle_error(self, request: object, client_address: object) -> None:
        # A crawler that hangs up (size cap, timeout, aborted keep-alive) is expected here.
        if not isinstance(sys.exc_info()[1], CLIENT_GONE):
            super().handle_error(request, client_address)  # type: ignore[arg-type]


class _RequestHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: object) -> None:  # quiet
        pass

    def setup(self) -> None:  # one handler per TCP connection (HTTP/1.1 keep-alive)
        super().setup()
        self.server.site.connected()

    def do_HEAD(self) -> None:
        self.do_GET()

    def do_GET(self) -> None:
        site = self.server.site
        site.record(
            Logged(
                self.command,
                self.path,
                {k.lower(): v for k, v in self.headers.items()},
                time.monotonic(),
            )
        )
        route = site.route_for(self.path)
        site.started()
        try:
            if route is None:
                self._send(404, b"not found", "text/plain")
            elif route.handler is not None:
                route.handler(self, route)
            else:
                self._serve(route)
        except CLIENT_GONE:
            self.close_connection = True
        finally:
            site.finished()

    def _serve(self, route: Route) -> None:
        if route.delay and self.server.site.closing.wait(route.delay):
            return
        if self._not_modified(route):
            self._send(304, b"", None, self._validator_headers(route))
            return
        headers = route.headers | self._validator_headers(route)
        self._send(route.status, route.body, route.content_type, headers)

    def _validator_headers(self, route: Route) -> dict[str, str]:
        found = {"ETag": route.etag, "Last-Modified": route.last_modified}
        return {k: v for k, v in found.items() if v}

    def _not_modified(self, route: Route) -> bool:
        if route.status != 200:
            return False
        if (tags := self.headers.get("If-None-Match")) is not None:
            return route.etag is not None and (
                tags.strip() == "*" or route.etag in [t.strip() for t in tags.split(",")]
            )
        since = self.headers.get("If-Modified-Since")
        if since is None or route.last_modified is None:
            return False
        try:
            return parsedate_to_datetime(route.last_modified) <= parsedate_to_datetime(since)
        except (TypeError, ValueError):
            return False

    def _send(
        self,
        status: int,
        body: bytes,
        content_type: str | None,
        headers: dict[str, str] | None = None,
    ) -> None:
        self.send_response(status)
        if content_type:
            self.send_header("Content-Type", content_type)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD" and status != 304:
            self.wfile.write(body)


def _send_endless(handler: _RequestHandler, route: Route) -> None:
    handler.send_response(200)
    handler.send_header("Content-Type", route.content_type or "application/octet-stream")
    handler.send_header("Transfer-Encoding", "chunked")
    handler.end_headers()
    handler.wfile.write(b"<?xml version='1.0'?><rss version='2.0'><channel>")
    chunk = b"<item><title>more</title></item>" * 2048
    framed = f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n"
    deadline = time.monotonic() + 60  # a safety net; the client hangs up long before
    site = handler.server.site
    while not site.closing.is_set() and time.monotonic() < deadline:
        handler.wfile.write(framed)
    handler.close_connection = True


@cache
def gzip_bomb_bytes(mib: int = GZIP_BOMB_MIB) -> bytes:
    """One gzip stream of ``mib`` MiB of zeros, built without holding the zeros.

    After a full flush the deflate state restarts, so every further MiB of zeros compresses
    to the same bytes: compress one MiB twice, then repeat the second block.
    """
    zeros = bytes(1 << 20)
    deflate = zlib.compressobj(9, zlib.DEFLATED, -15)
    first = deflate.compress(zeros) + deflate.flush(zlib.Z_FULL_FLUSH)
    repeated = deflate.compress(zeros) + deflate.flush(zlib.Z_FULL_FLUSH)
    end = deflate.flush(zlib.Z_FINISH)
    crc = 0
    for _ in range(mib):
        crc = zlib.crc32(zeros, crc)
    header = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\xff"
    trailer = struct.pack("<II", crc, (mib << 20) & 0xFFFFFFFF)
    return header + first + repeated * (mib - 1) + end + trailer


@contextmanager
def running_site() -> Iterator[Site]:
    site = Site()
    try:
        yield site
    finally:
        with suppress(OSError):
            site.close()
