"""Which sources live on private addresses: each host looked up once, the hosts in parallel.

Tests never use real DNS, so the resolver is replaced by one that answers from a table.
"""

from __future__ import annotations

import threading

import pytest

from haitiwatch.scheduler import crawling

ANSWERS: dict[str, str | OSError | None] = {
    "intranet.example": "10.0.0.7",  # resolves to a private address
    "news.example": None,  # public
    "feeds.example": None,
    "gone.example": OSError("does not resolve"),
    "93.184.215.14": None,  # a public literal address (no DNS; asked all the same)
}


def test_each_host_is_resolved_once_and_all_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    asked: list[str] = []
    # Every lookup waits until all of them are running: one after another would time out.
    together: threading.Barrier | None = threading.Barrier(len(ANSWERS), timeout=10)

    def resolve(host: str) -> str | None:
        asked.append(host)
        if together is not None:
            together.wait()
        answer = ANSWERS[host]
        if isinstance(answer, OSError):
            raise answer
        return answer

    monkeypatch.setattr(crawling, "resolve_forbidden", resolve)
    urls = [
        "https://news.example/rss?q=haiti",
        "https://news.example/rss?q=kenya",  # same host: not looked up again
        "https://intranet.example/feed",
        "https://feeds.example/a.xml",
        "https://gone.example/feed",
        "http://127.0.0.1:8080/feed.xml",  # literal addresses need no lookup
        "http://localhost/feed",
        "http://93.184.215.14/feed",
    ]
    private = crawling.private_sources(urls)
    assert sorted(asked) == sorted(ANSWERS)
    assert private == {
        "https://news.example/rss?q=haiti": False,
        "https://news.example/rss?q=kenya": False,
        "https://intranet.example/feed": True,
        "https://feeds.example/a.xml": False,
        "https://gone.example/feed": False,  # unresolvable: the fetch will fail and say so
        "http://127.0.0.1:8080/feed.xml": True,
        "http://localhost/feed": True,
        "http://93.184.215.14/feed": False,
    }
    together = None  # one URL at a time now: the single-URL check agrees
    assert private == {url: crawling.lives_on_private_address(url) for url in urls}


def test_no_sources_need_no_lookups() -> None:
    assert crawling.private_sources([]) == {}
