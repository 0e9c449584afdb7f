"""Stopping in the middle of an alert burst: every claimed alert is finished or released exactly
once. A loopback receiver holds the burst in flight (its gate), the test stops the sender, then
lets the held sends finish; a restart sends the rest. On SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import signal
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Literal

import pytest

from haitiwatch.db.alerts import PENDING, SENDING, SENT, Outbox
from haitiwatch.db.database import create_db_engine
from haitiwatch.db.records import ArticleRecord
from haitiwatch.db.store import SourceSpec, Store
from haitiwatch.scheduler.config import parse_config
from haitiwatch.scheduler.notify import Notifier, drain_outbox, rule_match_hook
from tests.support import FeedItem, rss, words, write_config
from tests.support.receiver import Receiver
from tests.support.server import Site
from tests.support.service import ServiceProcess, wait_for

NOW = datetime(2026, 11, 16, 15, 0, tzinfo=UTC)
#: More than one claim (50) of alerts; 8 are sent at a time (Apprise may hold some of those
#: in its thread pool's queue, so fewer can be seen arriving at the receiver).
ALERTS, IN_FLIGHT = 120, 8
TEXT = (
    "Hundreds of Kenyan police officers landed in Port-au-Prince on Tuesday, the first "
    "contingent of the Multinational Security Support mission, officials said. "
) * 3
CONFIG = """
[channels.desk]
url = "json://127.0.0.1:9/x"

[[rules]]
name = "mission"
query = '"multinational security support"'
channels = ["desk"]
"""


def title(n: int) -> str:
    return f"Kenyan police patrol, report {n}"


def report(n: int) -> str:
    """Report ``n``'s text: a lead of its own (so each is its own event, and its own alert),
    then the matching sentences."""
    return f"Report {n}. {words(f'report {n}', 90)}. {TEXT}"


#: The same rule, its alerts gathered into a digest; created at NOW, they are long due.
DIGEST = CONFIG + 'mode = "digest"\ndigest = "daily 00:00"\n'


def burst(db_url: str, count: int = ALERTS, rules: str = CONFIG) -> Store:
    """A store with ``count`` alerts waiting, one per story."""
    config = parse_config(rules, "test.toml")
    store = Store.open(db_url, [rule_match_hook(config)])
    store.sync_sources([SourceSpec("outlet", "feed", "https://outlet.example/f")], NOW)
    for n in range(count):
        url = f"https://outlet.example/{n}"
        record = ArticleRecord(
            source="outlet",
            url=url,
            canonical_url=url,
            title=title(n),
            text=report(n),
            text_origin="page",
            guid=str(n),
            guid_key=f"outlet|{n}",
            content_hash=f"{n:032d}",
            outlet="outlet.example",
            published=NOW - timedelta(minutes=5),
            language="en",
        )
        store.save_article(record, NOW)
    return store


def notifier(receiver: Receiver) -> Notifier:
    # rto: a request held at the receiver's gate must not end in Apprise's 4 s read timeout.
    return Notifier({"desk": f"json://127.0.0.1:{receiver.port}/hook?rto=120"})


def posts_per_alert(receiver: Receiver) -> Counter[str]:
    return Counter(body["title"].removeprefix("[mission] ") for _path, body in receiver.posts)


def by_status(outbox: Outbox) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for alert in outbox.list_alerts(limit=10 * ALERTS):
        found.setdefault(alert.status, set()).add(alert.title)
    return found


async def stop_mid_burst(
    outbox: Outbox, receiver: Receiver, how: Literal["stop", "cancel"]
) -> int | None:
    """Drain while the receiver holds every request; once the burst is in flight (the first
    request arrived: every send slot took its alert at once), stop the drain (its stop event,
    or cancelling it: the service's shutdown and Ctrl-C), check that the alerts not started
    went back to pending at once, then let the held sends finish."""
    receiver.gate.clear()
    stop = asyncio.Event()
    if how == "stop":
        drain = asyncio.ensure_future(drain_outbox(outbox, notifier(receiver), NOW, stop=stop))
    else:  # cancelling needs nothing new from drain_outbox
        drain = asyncio.ensure_future(drain_outbox(outbox, notifier(receiver), NOW))
    await asyncio.to_thread(receiver.wait_posts, 1, 60)
    if how == "stop":
        stop.set()
    else:
        drain.cancel()
    # Released while the sends in flight are still held: not when a send slot frees up.
    await asyncio.to_thread(
        wait_for, lambda: outbox.count(SENDING) == IN_FLIGHT, 30, "only sends in flight claimed"
    )
    receiver.gate.set()
    try:
        return await drain
    except asyncio.CancelledError:
        return None


@pytest.mark.parametrize("how", ["stop", "cancel"])
def test_a_stop_mid_burst_finishes_sends_in_flight_and_releases_the_rest(
    db_url: str, receiver: Receiver, how: Literal["stop", "cancel"]
) -> None:
    store = burst(db_url)
    outbox = Outbox(store.engine)
    try:
        sent = asyncio.run(stop_mid_burst(outbox, receiver, how))
        assert sent == (IN_FLIGHT if how == "stop" else None)
        statuses = by_status(outbox)
        assert SENDING not in statuses  # nothing waits for a lease to end
        assert statuses[SENT] == set(posts_per_alert(receiver))  # finished though stopped
        assert len(statuses[SENT]) == IN_FLIGHT
        assert len(statuses[PENDING]) == ALERTS - IN_FLIGHT
        released = outbox.list_alerts(PENDING, limit=10 * ALERTS)
        assert {a.attempts for a in released} == {0}  # given back untouched, not failed
        # Restarted at the same instant: no lease has ended, so only released rows can go.
        restarted = asyncio.run(drain_outbox(outbox, notifier(receiver), NOW))
        assert restarted == ALERTS - IN_FLIGHT
        assert posts_per_alert(receiver) == Counter({title(n): 1 for n in range(ALERTS)})
        assert by_status(outbox).keys() == {SENT}
    finally:
        store.close()


def test_a_send_that_outlives_the_grace_is_released_not_left_sending(
    tmp_path: Path, receiver: Receiver
) -> None:
    store = burst(f"sqlite:///{tmp_path / 'hw.db'}", count=2 * IN_FLIGHT)
    outbox = Outbox(store.engine)

    async def stop_with_no_grace() -> int:
        receiver.gate.clear()
        stop = asyncio.Event()
        drain = drain_outbox(outbox, notifier(receiver), NOW, stop=stop, grace=0)
        sending = asyncio.ensure_future(drain)
        await asyncio.to_thread(receiver.wait_posts, 1, 60)
        stop.set()
        return await sending  # returns while the receiver still holds every request

    try:
        assert asyncio.run(stop_with_no_grace()) == 0
        assert by_status(outbox).keys() == {PENDING}
        receiver.gate.set()
        # The held requests did arrive: these few are sent twice, the price of a bounded stop.
        assert asyncio.run(drain_outbox(outbox, notifier(receiver), NOW)) == 2 * IN_FLIGHT
        assert by_status(outbox).keys() == {SENT}
    finally:
        store.close()


# -- the running service ----------------------------------------------------------------------

FEED_ALERTS = 150


def service_config(
    tmp_path: Path,
    site: Site,
    receiver: Receiver,
    db_url: str,
    count: int = FEED_ALERTS,
    rules: str = CONFIG,
) -> Path:
    """One feed of ``count`` items, each its own story and its own alert."""
    site.feed(
        "/news.xml",
        rss(
            [
                FeedItem(
                    title=title(n),
                    link=f"http://127.0.0.1/report/{n}",
                    guid=f"report-{n}",
                    description=report(n),
                    pub_date="Sat, 28 Nov 2026 10:00:00 GMT",
                )
                for n in range(count)
            ]
        ),
    )
    source = {"name": "news", "url": site.url("/news.xml"), "interval": "1h"}
    path = write_config(tmp_path, [source | {"fetch_articles": False}])
    channel = f"json://127.0.0.1:{receiver.port}/hook?rto=120"
    path.write_text(
        path.read_text().replace('url = "sqlite:///hw.db"', f'url = "{db_url}"')
        + rules.replace("json://127.0.0.1:9/x", channel)
    )
    return path


@pytest.mark.slow
def test_sigterm_during_an_alert_burst_sends_each_alert_once(
    tmp_path: Path, site: Site, receiver: Receiver, db_url: str
) -> None:
    config = service_config(tmp_path, site, receiver, db_url)
    engine = create_db_engine(db_url)
    outbox = Outbox(engine)
    receiver.gate.clear()
    service = ServiceProcess(config)
    try:
        receiver.wait_posts(1, 120)  # the burst is in flight, held at the receiver
        service.send(signal.SIGTERM)
        wait_for(lambda: "received SIGTERM" in service.log(), 30, "the service to stop")
        # Released while the sends in flight are still held: not when their lease ends.
        wait_for(lambda: outbox.count(SENDING) == IN_FLIGHT, 30, "only sends in flight claimed")
        receiver.gate.set()
        code, _ = service.stop(signal.SIGTERM, timeout=60)
    finally:
        service.kill()
    assert code == 0, service.log()
    assert outbox.count(SENDING) == 0, service.log()
    assert set(posts_per_alert(receiver).values()) == {1}  # none twice
    restarted = ServiceProcess(config)
    try:
        wait_for(lambda: "haitiwatch running" in restarted.log(), 60, "the restart")
        wait_for(lambda: outbox.count(SENT) == FEED_ALERTS, 120, "the released alerts")
        code, _ = restarted.stop(signal.SIGTERM, timeout=60)
    finally:
        restarted.kill()
        engine.dispose()
    assert code == 0, restarted.log()
    assert posts_per_alert(receiver) == Counter({title(n): 1 for n in range(FEED_ALERTS)})


@pytest.mark.slow
def test_sigterm_waits_for_the_alerts_being_sent(
    tmp_path: Path, site: Site, receiver: Receiver
) -> None:
    """Every alert in flight, none waiting: the stop must still wait for their outcome."""
    db_url = f"sqlite:///{tmp_path / 'hw.db'}"
    config = service_config(tmp_path, site, receiver, db_url, count=IN_FLIGHT)
    engine = create_db_engine(db_url)
    outbox = Outbox(engine)
    receiver.gate.clear()
    service = ServiceProcess(config)
    try:
        receiver.wait_posts(1, 120)
        service.send(signal.SIGTERM)
        wait_for(
            lambda: "alerts being sent" in service.log() or service.proc.poll() is not None,
            30,
            "the service to wait for its sends, or to exit",
        )
        receiver.gate.set()
        code, _ = service.stop(signal.SIGTERM, timeout=60)
    finally:
        service.kill()
        engine.dispose()
    assert code == 0, service.log()
    assert outbox.count(SENT) == IN_FLIGHT, service.log()  # none left 'sending'
    assert posts_per_alert(receiver) == Counter({title(n): 1 for n in range(IN_FLIGHT)})


@pytest.mark.slow
def test_sigterm_while_a_digest_is_sent_sends_it_once(
    tmp_path: Path, site: Site, receiver: Receiver
) -> None:
    """APScheduler's shutdown cancels the jobs it runs: a digest cut short was released while
    its message was on its way, and sent again at the next start."""
    db_url = f"sqlite:///{tmp_path / 'hw.db'}"
    burst(db_url, count=3, rules=DIGEST).close()
    config = service_config(tmp_path, site, receiver, db_url, count=0, rules=DIGEST)
    engine = create_db_engine(db_url)
    outbox = Outbox(engine)
    receiver.gate.clear()
    service = ServiceProcess(config)
    try:
        receiver.wait_posts(1, 120)  # the digest is in flight, held at the receiver
        service.send(signal.SIGTERM)
        wait_for(
            lambda: "alerts being sent" in service.log() or outbox.count(PENDING) > 0,
            30,
            "the service to wait for the digest, or to give it back",
        )
        receiver.gate.set()
        code, _ = service.stop(signal.SIGTERM, timeout=60)
    finally:
        service.kill()
        engine.dispose()
    assert code == 0, service.log()
    assert by_status(outbox) == {SENT: {title(n) for n in range(3)}}, service.log()
    assert len(receiver.posts) == 1
