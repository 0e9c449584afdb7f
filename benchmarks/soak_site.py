"""The loopback world of the soak (benchmarks/soak.py): feeds that change over time, hostile
and failing sources mixed in, and a webhook receiver that counts the alerts it is sent.

The site runs in its own process (a ThreadingHTTPServer), so its CPU and memory never mix
with the sampler's. Feed contents are a pure function of (feed, round), where the round is
the number of ``round_seconds`` since the site started: every round, each feed gains one
item, and the feeds that carry wire copies also gain the round's wire story.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import random
import threading
import time
from collections import Counter
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import cast
from xml.sax.saxutils import escape

from workload import pseudo_pool

#: Hostile and failing behaviours; every tenth feed has one of them, in this order.
HOSTILE = (
    "status500",  # always 500 (the crawler retries, then records a failure)
    "slow_body",  # headers at once, then a trickle slower than the crawl timeout
    "no_answer",  # reads the request and says nothing until the crawl gives up
    "malformed",  # a feed cut off in the middle of an item
    "huge",  # 8 MiB without Content-Length, over the configured response cap
    "deep",  # 50,000 nested elements in one item
    "redirect_loop",  # 302 -> 302 -> ... back to the feed
    "private_links",  # a good feed whose links point at private addresses (pages on)
    "flaky_404",  # 404 for three rounds out of nine, then the feed again
    "bad_chars",  # good items beside one with &#xD800; and control characters
)
#: The word the soak's alert rule looks for; about one item in twenty carries it.
ALERT_WORD = "soakalert"
ITEMS_PER_FEED = 20
WIRE_ROUNDS = 5
_POOL = pseudo_pool()


def kind_of(index: int) -> str:
    """Feed ``index`` (1-based): "feed", "pages" (article pages fetched) or a hostile kind."""
    if index % 10 == 0:
        return HOSTILE[(index // 10 - 1) % len(HOSTILE)]
    return "pages" if index % 10 == 5 else "feed"


def carries_wire(index: int) -> bool:
    return index % 7 == 0 and kind_of(index) in ("feed", "pages")


def private_links(port: int) -> list[str]:
    """Private and loopback addresses in several spellings (none is the source's origin)."""
    return [
        "http://169.254.169.254/latest/meta-data/",
        "http://10.0.0.7/story",
        f"http://[::1]:{port}/a/private",
        "http://127.0.0.1:1/story",
        f"http://localhost:{port + 1}/story",
        "http://0x7f000001/story",
        "http://2130706433/story",
        "http://192.168.1.1/admin",
    ]


def _text(seed: int, sentences: int) -> tuple[str, str]:
    rng = random.Random(seed)
    title = rng.choice(_POOL.titles)
    body = " ".join(rng.choice(_POOL.sentences) for _ in range(sentences))
    if rng.random() < 0.05:
        body = f"{body} {ALERT_WORD} reported."
    return title, body


def _item(title: str, link: str, guid: str, body: str, published: float) -> str:
    return (
        f"<item><title>{escape(title)}</title><link>{escape(link)}</link>"
        f'<guid isPermaLink="false">{escape(guid)}</guid>'
        f"<pubDate>{formatdate(published, usegmt=True)}</pubDate>"
        f"<description>{escape(body)}</description></item>\n"
    )


def feed_xml(index: int, round_: int, base: str, started: float, round_seconds: float) -> str:
    """Feed ``index`` as it stands in round ``round_``: its newest items, wire copies first."""
    items = []
    if carries_wire(index):
        for wire in range(round_, max(-1, round_ - WIRE_ROUNDS), -1):
            title, body = _text(-1 - wire, 6)
            published = started + wire * round_seconds
            link = f"{base}/a/{index}/w{wire}"
            items.append(_item(f"Wire: {title}", link, f"w{index}-{wire}", body, published))
    links = private_links(int(base.rsplit(":", 1)[1])) if kind_of(index) == "private_links" else []
    for n in range(round_, max(-1, round_ - ITEMS_PER_FEED), -1):
        title, body = _text(index * 1_000_003 + n, 4)
        link = links[n % len(links)] + f"?feed={index}&n={n}" if links else f"{base}/a/{index}/{n}"
        if kind_of(index) == "bad_chars" and n % 4 == 0:
            title, body = f"{title} &#xD800; \x01", f"{body} \x0b&#xFFFE;"
        items.append(_item(title, link, f"i{index}-{n}", body, started + n * round_seconds))
    xml = (
        '<?xml version="1.0" encoding="UTF-8"?>\n<rss version="2.0"><channel>'
        f"<title>Soak outlet {index}</title><link>{base}/</link>"
        f"<description>Outlet {index}</description>\n{''.join(items)}</channel></rss>\n"
    )
    if kind_of(index) == "bad_chars":  # the raw references, not their escaped form
        xml = xml.replace("&amp;#xD800;", "&#xD800;").replace("&amp;#xFFFE;", "&#xFFFE;")
    return xml


def page_html(index: int, n: str) -> str:
    title, body = _text(index * 1_000_003 + int(n), 4) if n.isdigit() else ("Wire", "Wire.")
    paragraphs = "".join(f"<p>{escape(s)}.</p>" for s in body.split(". "))
    return (
        f"<!doctype html><html lang=en><head><title>{escape(title)}</title></head><body>"
        f"<nav>Home | World</nav><article><h1>{escape(title)}</h1>{paragraphs}</article>"
        "<footer>Soak outlet</footer></body></html>"
    )


def _handler(started: float, round_seconds: float) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def do_GET(self) -> None:
            # the crawler gave up on a slow or huge body: that is the point
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                self._route()

        def _send(self, status: int, body: bytes, ctype: str, headers: dict[str, str]) -> None:
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            for name, value in headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(body)

        def _route(self) -> None:
            base = f"http://127.0.0.1:{cast(tuple[str, int], self.server.server_address)[1]}"
            round_ = int((time.time() - started) // round_seconds)
            parts = self.path.split("?")[0].strip("/").split("/")
            if parts == ["robots.txt"]:
                self._send(200, b"User-agent: *\nAllow: /\n", "text/plain", {})
            elif parts[0] == "a" and len(parts) == 3:
                page = page_html(int(parts[1]), parts[2]).encode()
                self._send(200, page, "text/html; charset=utf-8", {})
            elif parts[0] == "loop":
                step = int(parts[2]) + 1
                target = f"/feeds/{parts[1]}.xml" if step > 3 else f"/loop/{parts[1]}/{step}"
                self._send(302, b"", "text/plain", {"Location": target})
            elif parts[0] == "feeds":
                index = int(parts[1].removesuffix(".xml"))
                self._feed(index, kind_of(index), round_, base)
            else:
                self._send(404, b"not here", "text/plain", {})

        def _feed(self, index: int, kind: str, round_: int, base: str) -> None:
            if kind == "status500":
                self._send(500, b"upstream broke", "text/plain", {})
            elif kind == "redirect_loop":
                self._send(302, b"", "text/plain", {"Location": f"/loop/{index}/0"})
            elif kind == "flaky_404" and (round_ // 3) % 3 == 0:
                self._send(404, b"gone for now", "text/plain", {})
            elif kind == "no_answer":
                time.sleep(45)
            elif kind in ("slow_body", "huge"):
                self._stream(slow=kind == "slow_body")
            else:
                self._good_feed(index, kind, round_, base)

        def _good_feed(self, index: int, kind: str, round_: int, base: str) -> None:
            etag = f'"{index}-{round_}"'
            if self.headers.get("If-None-Match") == etag:
                self._send(304, b"", "application/rss+xml", {"ETag": etag})
                return
            xml = feed_xml(index, round_, base, started, round_seconds)
            if kind == "malformed":
                xml = xml[: len(xml) * 2 // 3] + "<item><title>cut &"
            elif kind == "deep":
                xml = xml.replace("<channel>", "<channel><item>" + "<div>" * 50_000, 1)
            self._send(200, xml.encode("utf-8"), "application/rss+xml", {"ETag": etag})

        def _stream(self, *, slow: bool) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "application/rss+xml")
            if slow:
                self.send_header("Content-Length", "100000")
            self.end_headers()
            chunk = b"<rss><channel>" if slow else b"<!-- padding -->" * 4096
            for _ in range(60 if slow else 128):  # slow: 60 s in all; huge: 8 MiB
                self.wfile.write(chunk)
                self.wfile.flush()
                if slow:
                    time.sleep(1)

    return Handler


def _serve(started: float, round_seconds: float, ports: multiprocessing.SimpleQueue[int]) -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(started, round_seconds))
    server.daemon_threads = True
    ports.put(server.server_address[1])
    server.serve_forever()


def start_site(round_seconds: float) -> tuple[multiprocessing.process.BaseProcess, str]:
    """The feed site in its own process; returns the process and its base URL."""
    context = multiprocessing.get_context("fork")
    ports: multiprocessing.SimpleQueue[int] = context.SimpleQueue()
    process = context.Process(
        target=_serve, args=(time.time(), round_seconds, ports), daemon=True, name="soak-site"
    )
    process.start()
    return process, f"http://127.0.0.1:{ports.get()}"


class WebhookReceiver:
    """A loopback webhook endpoint (the alert channels) counting the POSTs per path."""

    def __init__(self) -> None:
        self.posts: Counter[str] = Counter()
        posts = self.posts

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length", 0)))
                posts[self.path] += 1
                self.send_response(200)
                self.end_headers()

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self._server.server_address[1]
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self._server.shutdown()


def sqlite_bytes(path: Path) -> int:
    """The database file with its WAL (what the disk actually holds)."""
    return sum(p.stat().st_size for p in (path, Path(f"{path}-wal")) if p.exists())
