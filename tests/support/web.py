"""Serving the web archive for a test, and plain HTTP GETs against it (or any loopback URL)."""

from __future__ import annotations

import asyncio
import socket
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

from aiohttp import web

from haitiwatch.db.store import Store
from haitiwatch.scheduler.config import LoadedConfig


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def serve(app: web.Application, port: int) -> Iterator[None]:
    """Run ``app`` on its own event loop in a thread, like the service does."""
    loop = asyncio.new_event_loop()
    runner = web.AppRunner(app, access_log=None)
    loop.run_until_complete(runner.setup())
    loop.run_until_complete(web.TCPSite(runner, "127.0.0.1", port).start())
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    try:
        yield
    finally:
        asyncio.run_coroutine_threadsafe(runner.cleanup(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()


def get(url: str, headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
    """Status, headers and body of a GET (redirects followed; error statuses returned)."""
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read()


RULES_CONFIG = (
    '[[sources]]\nname = "whitehouse"\nurl = "https://whitehouse.example/feed"\n\n'
    '[[sources]]\nname = "fundus"\nurl = "https://fundus.example/feed"\n\n'
    '[[rules]]\nname = "mss"\nquery = \'"multinational security support" OR kenya*\'\n'
    '[[rules]]\nname = "force"\nquery = "kenya* NEAR/3 haiti"\n'
)


def filled_archive(tmp: Path, extra: str = "") -> tuple[LoadedConfig, Store, dict[str, int]]:
    """A config (two sources, rules mss and force; ``extra`` appended), its SQLite archive
    filled by tests.support.archive, rule mss matched on every text naming Kenya."""
    from sqlalchemy import text

    from haitiwatch.scheduler.config import load_config
    from tests.support.archive import fill_archive

    path = tmp / "hw.toml"
    path.write_text(f'[database]\nurl = "sqlite:///{tmp / "hw.db"}"\n\n{RULES_CONFIG}{extra}')
    loaded = load_config(path)
    store = Store.open(loaded.database_url)
    ids = fill_archive(store)
    with store.engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO rule_matches (article_id, rule, terms, matched_at) "
                "SELECT id, 'mss', '[]', first_seen_at FROM articles WHERE text LIKE '%Kenya%'"
            )
        )
    return loaded, store, ids
