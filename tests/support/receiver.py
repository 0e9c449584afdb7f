"""A loopback webhook receiver: records POSTed JSON, answers with planned statuses."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest


@dataclass
class Receiver:
    """An HTTP server that records POSTed JSON and answers with planned statuses."""

    statuses: list[int] = field(default_factory=list)  # consumed per request; then 200
    delay: float = 0.0
    posts: list[tuple[str, Any]] = field(default_factory=list)
    arrived: threading.Event = field(default_factory=threading.Event)
    port: int = 0
    #: Requests are recorded, then wait for this before being answered: clear it to hold a
    #: burst of sends in flight.
    gate: threading.Event = field(default_factory=threading.Event)
    posted: threading.Condition = field(default_factory=threading.Condition)

    def url(self, path: str = "") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def wait_posts(self, count: int, timeout: float) -> None:
        """Wait until ``count`` requests have arrived (answered or not)."""
        with self.posted:
            arrived = self.posted.wait_for(lambda: len(self.posts) >= count, timeout)
        assert arrived, f"{len(self.posts)} of {count} requests arrived in {timeout} s"


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    state = Receiver()
    state.gate.set()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            with state.posted:
                state.posts.append((self.path, json.loads(body or b"null")))
                state.posted.notify_all()
            state.arrived.set()
            state.gate.wait()
            time.sleep(state.delay)
            status = state.statuses.pop(0) if state.statuses else 200
            self.send_response(status)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    state.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield state
    state.gate.set()
    server.shutdown()
    server.server_close()
