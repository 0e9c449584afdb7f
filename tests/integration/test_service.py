"""`haitiwatch run` as a real process against a loopback feed server that changes between polls."""

from __future__ import annotations

import itertools
import json
import signal
import socket
from collections import Counter
from pathlib import Path

import pytest

from tests.support import FeedItem, articles, rss, run_cli, words, write_config
from tests.support.receiver import Receiver
from tests.support.server import Site
from tests.support.service import ServiceProcess, free_port, http_get, wait_for

pytestmark = pytest.mark.slow

TEXT = "Kenyan officers of the security mission patrolled Port-au-Prince today. " * 4


def items(start: int, stop: int) -> list[FeedItem]:
    return [
        FeedItem(
            title=f"Story {n}",
            link=f"http://127.0.0.1/story/{n}",
            guid=f"story-{n}",
            # A lead of its own: each item is its own event, so its own alert.
            description=f"{words(f'story {n}', 80)}. {TEXT} (item {n})",
            pub_date="Sat, 28 Nov 2026 10:00:00 GMT",
        )
        for n in range(start, stop)
    ]


def service_config(tmp_path: Path, site: Site, port: int, extra_sources: int = 0) -> Path:
    sources = [
        {"name": "news", "url": site.url("/news.xml"), "interval": "2s", "fetch_articles": False},
        {"name": "broken", "url": site.url("/broken.xml"), "interval": "1s"},
    ] + [
        {
            "name": f"extra-{n}",
            "url": site.url(f"/extra-{n}.xml"),
            "interval": "2s",
            "fetch_articles": False,
        }
        for n in range(extra_sources)
    ]
    path = write_config(tmp_path, sources)
    path.write_text(
        path.read_text()
        + f"\n[service.http]\nenabled = true\nport = {port}\n\n[web]\nenabled = true\n"
    )
    return path


def test_service_polls_backs_off_answers_health_and_stops_cleanly(
    tmp_path: Path, site: Site
) -> None:
    site.feed("/news.xml", rss(items(0, 3)))
    site.status("/broken.xml", 500)
    port = free_port()
    config = service_config(tmp_path, site, port)
    service = ServiceProcess(config)
    try:
        wait_for(lambda: len(articles(config)) == 3, 30, "the first 3 items")
        site.feed("/news.xml", rss(items(0, 5)))  # the feed changes between polls
        waited = wait_for(lambda: len(articles(config)) == 5, 15, "2 new items")
        assert waited < 2 + 5  # within one interval plus slack

        status, body = http_get(f"http://127.0.0.1:{port}/healthz")
        assert status == 200 and '"ok": true' in body
        status, metrics = http_get(f"http://127.0.0.1:{port}/metrics")
        assert status == 200
        assert 'haitiwatch_articles_total{outcome="new"} 5.0' in metrics
        assert 'haitiwatch_source_consecutive_failures{source="broken"}' in metrics
        status, openapi = http_get(f"http://127.0.0.1:{port}/api/openapi.json")
        assert status == 200 and '"openapi"' in openapi  # the web archive rides along

        second = run_cli("run", config=config, timeout=60)
        assert second.returncode == 3
        assert "another `haitiwatch run`" in second.stderr

        wait_for(lambda: len(site.requests("/broken.xml")) >= 4, 40, "4 polls of the broken feed")
        times = [r.at for r in site.requests("/broken.xml")]
        gaps = [b - a for a, b in itertools.pairwise(times)]
        assert gaps[2] > gaps[0] * 1.5, f"no backoff: gaps {gaps}"
    finally:
        code, seconds = service.stop(signal.SIGTERM)
    assert code == 0, service.log()
    assert seconds < 30
    assert "stopped" in service.log()
    titles = Counter(a.title for a in articles(config))
    assert max(titles.values()) == 1


def test_restart_after_sigkill_stores_nothing_twice_and_does_not_storm(
    tmp_path: Path, site: Site
) -> None:
    site.feed("/news.xml", rss(items(0, 4)))
    site.status("/broken.xml", 404)
    for n in range(6):
        site.feed(f"/extra-{n}.xml", rss(items(100 * (n + 1), 100 * (n + 1) + 2)))
    config = service_config(tmp_path, site, free_port(), extra_sources=6)
    first = ServiceProcess(config)
    try:
        wait_for(lambda: len(articles(config)) == 16, 40, "all 16 items")
    finally:
        first.kill()  # SIGKILL: no cleanup, the lease stays behind
    site.clear_log()
    second = ServiceProcess(config)
    try:
        wait_for(lambda: len(site.requests("/news.xml")) >= 2, 30, "polls after restart")
        per_source = Counter(r.path for r in site.requests() if r.path.startswith("/extra"))
        # Interval 2 s: a source polled far more often than that would be a catch-up storm.
        assert max(per_source.values(), default=0) <= 4, per_source
    finally:
        code, _ = second.stop(signal.SIGTERM)
    assert code == 0, second.log()
    stored = articles(config)
    assert len(stored) == 16
    assert len({a.canonical_url for a in stored}) == 16


def test_sighup_adds_a_source_without_stopping(tmp_path: Path, site: Site) -> None:
    site.feed("/news.xml", rss(items(0, 2)))
    site.status("/broken.xml", 404)
    site.feed("/extra-0.xml", rss(items(50, 53)))
    config = service_config(tmp_path, site, free_port())
    service = ServiceProcess(config)
    try:
        wait_for(lambda: len(articles(config)) == 2, 30, "the first items")
        config.write_text(
            config.read_text()
            + (
                f'\n[[sources]]\nname = "extra-0"\nurl = "{site.url("/extra-0.xml")}"\n'
                'interval = "2s"\nfetch_articles = false\n'
            )
        )
        service.send(signal.SIGHUP)
        wait_for(lambda: len(articles(config)) == 5, 30, "the added source's items")
        assert "config reloaded" in service.log()
    finally:
        code, _ = service.stop(signal.SIGINT)
    assert code == 0, service.log()


def test_an_alert_reaches_the_webhook_within_the_poll_interval(
    tmp_path: Path, site: Site, receiver: Receiver
) -> None:
    site.feed("/news.xml", rss(items(0, 2)))
    site.status("/broken.xml", 404)
    config = service_config(tmp_path, site, free_port())
    config.write_text(
        config.read_text()
        + (
            '\n[[rules]]\nname = "mission"\nquery = \'"security mission" AND title:story\'\n'
            'channels = ["hook"]\nmode = "immediate"\n'
            f'\n[channels.hook]\nurl = "json://127.0.0.1:{receiver.port}/hook"\n'
        )
    )
    service = ServiceProcess(config)
    try:
        wait_for(lambda: len(receiver.posts) >= 2, 40, "alerts for the first items")
        site.feed("/news.xml", rss(items(0, 3)))
        # Interval 2 s + 5 s, with slack for a loaded CI machine; benchmarks/ has the figure.
        wait_for(lambda: len(receiver.posts) >= 3, 2 + 5 + 8, "the alert for the new item")
    finally:
        code, _ = service.stop(signal.SIGTERM)
    assert code == 0, service.log()
    titles = [json.dumps(body) for _path, body in receiver.posts]
    assert sum("Story 2" in t for t in titles) == 1  # once, never again on later polls


def test_a_stop_asked_for_while_starting_up_is_a_clean_stop(tmp_path: Path, site: Site) -> None:
    """systemd may stop a unit that has just started: the service must not die with 143
    (killed by SIGTERM) before its own handlers are in place, e.g. while migrating."""
    site.feed("/news.xml", rss(items(0, 3)))
    config = service_config(tmp_path, site, free_port())
    service = ServiceProcess(config)
    try:
        # The database file appears when start-up opens the store, before the event loop runs.
        wait_for(lambda: (tmp_path / "hw.db").exists(), 60, "the store to open", poll=0.01)
        code, _ = service.stop(signal.SIGTERM)
    finally:
        service.kill()
    assert code == 0, service.log()
    assert "received SIGTERM: stopping" in service.log()


def test_a_port_in_use_is_a_clear_error_not_a_traceback(tmp_path: Path, site: Site) -> None:
    """A second process on one host (a standby scheduler, say) with the same [service.http]
    port: a message naming the key and the address, exit 2 (a restart may find it free)."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        run = run_cli("run", config=service_config(tmp_path, site, port), timeout=60)
    assert run.returncode == 2, run.stderr
    assert f"service.http: cannot listen on 127.0.0.1:{port}" in run.stderr
    assert "Traceback" not in run.stderr
