"""Helpers shared by the integration tests: config files, and the CLI run in a subprocess.

Each crawl runs in its own process (the Twisted reactor cannot restart in one process). The
process runs ``scheduler.entry.main`` exactly as the ``haitiwatch`` console script does, after
installing a loopback-only network guard: a connection or name lookup for anything but
127.0.0.1 / localhost is refused and written to a file, so a test can assert that the crawler
never tried to reach the internet or a private network.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import string
import subprocess
import sys
import textwrap
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from haitiwatch.db.records import SourceHealth, StoredArticle
from haitiwatch.db.schema import Article
from haitiwatch.db.store import Store

REPO = Path(__file__).resolve().parents[2]
DATA = REPO / "tests" / "data"

# Runs before anything imports socket users (Twisted binds getaddrinfo at import time).
_GUARD = r"""
import atexit, json, os, resource, socket, sys

_LOOPBACK = {"127.0.0.1", "::1", "localhost", "::ffff:127.0.0.1"}
_NET_LOG = os.environ["HW_TEST_NET_LOG"]

def _refuse(what, host):
    with open(_NET_LOG, "a", encoding="utf-8") as f:
        f.write(f"{what} {host}\n")

def _guard_addr(what, address):
    if isinstance(address, tuple) and str(address[0]) not in _LOOPBACK:
        _refuse(what, address[0])
        raise ConnectionRefusedError(f"test guard: no traffic to {address[0]}")

def _wrap_connect(original, what):
    def connect(self, address):
        _guard_addr(what, address)
        return original(self, address)
    return connect

socket.socket.connect = _wrap_connect(socket.socket.connect, "connect")
socket.socket.connect_ex = _wrap_connect(socket.socket.connect_ex, "connect")

def _wrap_lookup(original):
    def lookup(host, *args, **kwargs):
        name = host.decode() if isinstance(host, bytes) else str(host)
        if name not in _LOOPBACK:
            _refuse("lookup", name)
            raise socket.gaierror(socket.EAI_NONAME, f"test guard: no lookup of {name}")
        return original(host, *args, **kwargs)
    return lookup

for _name in ("getaddrinfo", "gethostbyname", "gethostbyname_ex"):
    setattr(socket, _name, _wrap_lookup(getattr(socket, _name)))

def _write_rusage():
    path = os.environ.get("HW_TEST_RUSAGE")
    if path:
        own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        kids = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        with open(path, "w", encoding="utf-8") as f:
            json.dump({"self_kib": own, "children_kib": kids}, f)

atexit.register(_write_rusage)
"""

_MAIN = "from haitiwatch.scheduler.entry import main\nmain()\n"


@dataclass(frozen=True, slots=True)
class Run:
    """A finished CLI run."""

    returncode: int
    stdout: str
    stderr: str
    #: Connections and lookups the guard refused (non-loopback traffic attempts).
    refused: list[str]
    #: Peak resident set size (KiB) of the process itself, and of its largest child.
    peak_rss_kib: int
    peak_child_rss_kib: int

    def check(self) -> Run:
        assert self.returncode == 0, f"exit {self.returncode}\n{self.stdout}\n{self.stderr}"
        return self


def toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    raise TypeError(f"no TOML for {value!r}")


def write_config(
    folder: Path,
    sources: Sequence[Mapping[str, Any]],
    crawl: Mapping[str, Any] | None = None,
    name: str = "haitiwatch.toml",
) -> Path:
    """A config file with a SQLite database beside it. Fast, impolite crawl defaults for tests."""
    settings = {
        "download_delay": 0,
        "timeout": 5,
        "max_response_bytes": 2_000_000,
        "retries": 0,
    } | dict(crawl or {})
    lines = ["[database]", 'url = "sqlite:///hw.db"', "", "[crawl]"]
    lines += [f"{key} = {toml_value(value)}" for key, value in settings.items()]
    for source in sources:
        lines += ["", "[[sources]]"]
        lines += [f"{key} = {toml_value(value)}" for key, value in source.items()]
    path = folder / name
    path.write_text("\n".join(lines) + "\n", "utf-8")
    return path


def haitiwatch_script() -> str:
    script = shutil.which("haitiwatch")
    assert script, "the haitiwatch console script is not on PATH (pip install -e .)"
    return script


def run_cli(
    *args: str | Path,
    config: Path | None = None,
    env: Mapping[str, str] | None = None,
    timeout: float = 120,
    prelude: str = "",
    console_script: bool = False,
    cwd: Path | None = None,
) -> Run:
    """Run ``haitiwatch [--config F] ARGS`` in a fresh process.

    By default the process runs ``scheduler.entry.main`` (the console script's entry point) behind
    the loopback-only network guard; ``prelude`` is Python run after the guard, before main.
    ``console_script=True`` runs the installed ``haitiwatch`` script itself (no guard: only
    for commands that make no network requests).
    """
    argv = [*(["--config", str(config)] if config else []), *map(str, args)]
    scratch = Path(os.environ.get("TMPDIR", "/tmp"))
    net_log = _fresh_file(scratch, "net")
    rusage = _fresh_file(scratch, "rusage")
    full_env = {
        **os.environ,
        "HW_TEST_NET_LOG": str(net_log),
        "HW_TEST_RUSAGE": str(rusage),
        "PYTHONPATH": _pythonpath(),
        **(env or {}),
    }
    full_env.pop("HAITIWATCH_DATABASE_URL", None)
    if env and "HAITIWATCH_DATABASE_URL" in env:
        full_env["HAITIWATCH_DATABASE_URL"] = env["HAITIWATCH_DATABASE_URL"]
    if console_script:
        command = [haitiwatch_script(), *argv]
    else:
        command = [sys.executable, "-c", _GUARD + prelude + "\n" + _MAIN, *argv]
    done = subprocess.run(
        command,
        capture_output=True,
        text=True,
        timeout=timeout,
        env=full_env,
        cwd=cwd or REPO,
        check=False,
    )
    usage = json.loads(rusage.read_text()) if rusage.exists() and rusage.stat().st_size else {}
    refused = net_log.read_text().splitlines() if net_log.exists() else []
    for path in (net_log, rusage):
        path.unlink(missing_ok=True)
    return Run(
        done.returncode,
        done.stdout,
        done.stderr,
        refused,
        usage.get("self_kib", 0),
        usage.get("children_kib", 0),
    )


def _fresh_file(folder: Path, kind: str) -> Path:
    import tempfile

    fd, name = tempfile.mkstemp(prefix=f"hw-{kind}-", dir=folder)
    os.close(fd)
    Path(name).unlink()
    return Path(name)


def _pythonpath() -> str:
    existing = os.environ.get("PYTHONPATH")
    return str(REPO) + (os.pathsep + existing if existing else "")


def scrapy_settings_prelude(change: str) -> str:
    """A ``prelude`` for ``run_cli``/``crawl``: the crawl's Scrapy settings dict, ``out``, goes
    through ``change`` (Python statements on ``out``) before Scrapy sees it. For the tests that
    put one of Scrapy's own components back, to show the bug ours fixes."""
    body = textwrap.indent(textwrap.dedent(change).strip(), "    ")
    return f"""
import haitiwatch.crawler.runner as _runner
import haitiwatch.crawler.settings as _settings

_fixed = _settings.scrapy_settings

def _changed(*args, **kwargs):
    out = _fixed(*args, **kwargs)
{body}
    return out

_settings.scrapy_settings = _changed
if hasattr(_runner, "scrapy_settings"):
    _runner.scrapy_settings = _changed
"""


def crawl(config: Path, *args: str, **kwargs: Any) -> Run:
    """One crawl pass; fails the test if the process crashed or touched the network."""
    run = run_cli("crawl", "--workers", "0", *args, config=config, **kwargs)
    assert not run.refused, f"the crawl tried to leave loopback: {run.refused}"
    return run


# -- reading the archive back ------------------------------------------------------------


def open_store(config: Path) -> Store:
    return Store.open(f"sqlite:///{config.parent / 'hw.db'}")


def count_articles(store: Store) -> int:
    with store.engine.connect() as connection:
        return connection.scalar(select(func.count()).select_from(Article)) or 0


def articles(config: Path) -> list[StoredArticle]:
    store = open_store(config)
    try:
        return list(store.iter_articles())
    finally:
        store.close()


def health(config: Path) -> dict[str, SourceHealth]:
    store = open_store(config)
    try:
        return {h.name: h for h in store.source_health()}
    finally:
        store.close()


def sources_json(config: Path) -> dict[str, dict[str, Any]]:
    """What `haitiwatch sources --format json` reports, by source name."""
    run = run_cli("sources", "--format", "json", config=config).check()
    return {row["name"]: row for row in json.loads(run.stdout)}


# -- fixture data: real feed items and real article pages -------------------------------

FEEDS = DATA / "feeds"
FUNDUS = DATA / "pages" / "fundus"
#: A real news feed (The Christian Science Monitor, Feb 2026; see its SOURCE.md).
NEWS_FEED = FEEDS / "fastfeedparser" / "news" / "4179e7a13df0f120.xml.gz"
#: Another real news feed (BBC News World, Feb 2026), 33 items.
WORLD_FEED = FEEDS / "fastfeedparser" / "news" / "1796df62c4a287cc.xml.gz"
BAD_INPUT = FEEDS / "feedparser-badinput"
#: fundus pages whose expected body trafilatura extracts in full (checked by hand).
FUNDUS_PAGES = (
    "us/APNews_2023_04_28",
    "es/ElPais_2024_10_15",
    "fr/LeMonde_2023_09_01",
    "de/Tagesschau_2023_04_28",
    "za/DailyMaverick_2025_05_22",
    "ru/Kommersant_2025_05_14",
    "tz/HabariLeo_2025_01_23",
    "es/ElMundo_2024_12_02",
)


@dataclass(frozen=True, slots=True)
class FeedItem:
    title: str | None
    link: str | None
    guid: str | None = None
    description: str | None = None
    pub_date: str | None = None
    updated: str | None = None  # atom:updated, RFC 3339
    creator: str | None = None


@dataclass(frozen=True, slots=True)
class Page:
    name: str
    html: bytes
    title: str
    paragraphs: tuple[str, ...]


def real_feed_items(count: int, feed: Path = NEWS_FEED) -> list[FeedItem]:
    """The first ``count`` items of a real news feed (their links still point to the outlet)."""
    import gzip
    import xml.etree.ElementTree as ET

    channel = ET.fromstring(gzip.decompress(feed.read_bytes())).find("channel")
    assert channel is not None
    dc = "{http://purl.org/dc/elements/1.1/}creator"
    items = [
        FeedItem(
            title=item.findtext("title"),
            link=item.findtext("link"),
            guid=item.findtext("guid"),
            description=item.findtext("description"),
            pub_date=item.findtext("pubDate"),
            creator=item.findtext(dc),
        )
        for item in channel.iter("item")
    ]
    assert len(items) >= count
    return items[:count]


def rss(items: Sequence[FeedItem], title: str = "Test feed") -> bytes:
    """An RSS 2.0 document (atom:updated carries an item's modification time)."""
    from xml.sax.saxutils import escape

    def element(tag: str, text: str | None, attrs: str = "") -> str:
        return f"<{tag}{attrs}>{escape(text)}</{tag}>" if text is not None else ""

    body = "".join(
        "<item>"
        + element("title", i.title)
        + element("link", i.link)
        + element("guid", i.guid, ' isPermaLink="false"')
        + element("description", i.description)
        + element("pubDate", i.pub_date)
        + element("atom:updated", i.updated)
        + element("dc:creator", i.creator)
        + "</item>"
        for i in items
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<rss version="2.0" xmlns:atom="http://www.w3.org/2005/Atom"'
        ' xmlns:dc="http://purl.org/dc/elements/1.1/"><channel>'
        f"<title>{escape(title)}</title><link>http://127.0.0.1/</link>"
        f"<description>test</description><language>en</language>{body}</channel></rss>"
    ).encode()


def fundus_pages(names: Sequence[str] = FUNDUS_PAGES) -> list[Page]:
    """Real article pages with the expected title and body paragraphs (fundus ground truth)."""
    import gzip

    manifest = {}
    for line in (FUNDUS / "manifest.jsonl").read_text("utf-8").splitlines():
        row = json.loads(line)
        manifest[row["html"].removeprefix("test_data/").removesuffix(".html.gz")] = row
    pages = []
    for name in names:
        row = manifest[name]
        expected = json.loads((FUNDUS / row["expected_json"]).read_text("utf-8"))
        body = expected[row["expected_key"]]["body"]
        paragraphs = tuple(p for s in body["sections"] for p in s["paragraphs"])
        html = gzip.decompress((FUNDUS / row["html"]).read_bytes())
        pages.append(Page(name, html, row["title"], paragraphs))
    return pages


def words(seed: str, count: int) -> str:
    """Distinct pseudo-random words, so that no two items look like copies of one story or
    reports of one event."""
    rng = random.Random(seed)
    return " ".join("".join(rng.choices(string.ascii_lowercase, k=7)) for _ in range(count))
