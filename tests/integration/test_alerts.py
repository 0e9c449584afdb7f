"""Rule matches and the alert outbox on real SQLite and PostgreSQL: written with the article,
once per (rule, story, channel), claimed by one sender only, listed, exported."""

from __future__ import annotations

import threading
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select

from haitiwatch.db.alerts import FAILED, PENDING, SENDING, SENT, Outbox, new_worker_id
from haitiwatch.db.records import ArticleOutcome, ArticleRecord
from haitiwatch.db.schema import AlertRow, RuleMatchRow
from haitiwatch.db.store import SourceSpec, Store
from haitiwatch.scheduler.config import parse_config
from haitiwatch.scheduler.notify import rule_match_hook

NOW = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
LEASE = timedelta(minutes=2)
TEXT = (
    "Kenyan police officers arrived in Port-au-Prince on Tuesday as the first contingent of "
    "the Multinational Security Support mission, officials said. " * 4
)
CONFIG = parse_config(
    """
[channels.desk]
url = "json://127.0.0.1:9/unused"
[channels.mail]
url = "json://127.0.0.1:9/unused2"

[[rules]]
name = "mission"
query = '"multinational security support" OR (kenyan* NEAR/10 "port-au-prince")'
channels = ["desk", "mail"]

[[rules]]
name = "gangs"
query = "gangs haiti"
channels = ["desk"]
mode = "digest"
digest = "daily 07:00"

[[rules]]
name = "quiet"
query = "kenyan"
""",
    "test.toml",
)


def record(**changes: object) -> ArticleRecord:
    base = ArticleRecord(
        source="outlet",
        url="https://outlet.example/news/kenya-haiti",
        canonical_url="https://outlet.example/news/kenya-haiti",
        title="Kenyan police land in Haiti",
        text=TEXT,
        text_origin="page",
        guid="42",
        guid_key="outlet.example|42",
        content_hash="a" * 32,
        outlet="outlet.example",
        published=NOW - timedelta(hours=1),
        language="en",
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def alert_store(db_url: str) -> Store:
    store = Store.open(db_url, [rule_match_hook(CONFIG)])
    specs = [SourceSpec(n, "feed", f"https://{n}.example/feed") for n in ("outlet", "other")]
    store.sync_sources(specs, NOW)
    return store


def rows(store: Store) -> list[AlertRow]:
    with store._session() as session:
        return list(session.scalars(select(AlertRow).order_by(AlertRow.id)))


def test_matches_and_alerts_are_written_with_the_article(db_url: str) -> None:
    store = alert_store(db_url)
    try:
        assert store.save_article(record(), NOW) is ArticleOutcome.NEW
        alerts = rows(store)
        assert sorted((a.rule, a.channel, a.mode, a.status) for a in alerts) == [
            ("mission", "desk", "immediate", PENDING),
            ("mission", "mail", "immediate", PENDING),
        ]
        [article] = list(store.iter_articles())
        assert article.rules == ("mission", "quiet")  # the export shows every matched rule
        with store._session() as session:
            terms = session.scalar(select(RuleMatchRow.terms).where(RuleMatchRow.rule == "mission"))
        assert terms is not None and "Multinational Security Support" in terms
    finally:
        store.close()


def test_one_alert_per_rule_story_and_channel(db_url: str) -> None:
    store = alert_store(db_url)
    try:
        store.save_article(record(), NOW)
        # a re-crawl, then an update of the same article
        assert store.save_article(record(), NOW) is ArticleOutcome.DUPLICATE
        updated = record(text=TEXT + " More later.", content_hash="b" * 32)
        assert store.save_article(updated, NOW + timedelta(minutes=5)) is ArticleOutcome.UPDATED
        # another outlet's copy of the same story
        copy = record(source="other", url="https://other.example/k", canonical_url="https://other.example/k",
                      guid="7", guid_key="other.example|7", outlet="other.example",
                      text=updated.text, content_hash=updated.content_hash)  # fmt: skip
        assert store.save_article(copy, NOW + timedelta(minutes=6)) is ArticleOutcome.NEW
        articles = list(store.iter_articles())
        assert len({a.story for a in articles}) == 1, "the copy joins the story"
        assert len(rows(store)) == 2  # still one per channel
    finally:
        store.close()


def test_an_update_that_no_longer_matches_drops_the_match_but_keeps_the_alert(db_url: str) -> None:
    store = alert_store(db_url)
    try:
        store.save_article(record(), NOW)
        changed = record(
            title="Weather", text="Sunny all week in Nairobi. " * 20, content_hash="c" * 32
        )
        assert store.save_article(changed, NOW + timedelta(hours=1)) is ArticleOutcome.UPDATED
        assert next(iter(store.iter_articles())).rules == ()
        assert len(rows(store)) == 2  # an alert already queued is not withdrawn
    finally:
        store.close()


def test_digest_rules_queue_digest_rows(db_url: str) -> None:
    store = alert_store(db_url)
    try:
        store.save_article(record(title="Gangs attack Haiti suburb", text="Gangs attacked. " * 30,
                                  content_hash="d" * 32), NOW)  # fmt: skip
        assert [(a.rule, a.mode) for a in rows(store)] == [("gangs", "digest")]
        outbox = Outbox(store.engine)
        assert outbox.claim_immediate(new_worker_id(), NOW, LEASE) == []
    finally:
        store.close()


def test_a_claim_is_exclusive_and_expires(db_url: str) -> None:
    store = alert_store(db_url)
    try:
        store.save_article(record(), NOW)
        outbox = Outbox(store.engine)
        first, second = new_worker_id(), new_worker_id()
        claimed = outbox.claim_immediate(first, NOW, LEASE)
        assert len(claimed) == 2 and all(a.status == SENDING for a in claimed)
        assert claimed[0].title == "Kenyan police land in Haiti" and claimed[0].outlet == "outlet"
        assert outbox.claim_immediate(second, NOW + timedelta(seconds=30), LEASE) == []
        # the first sender died: after its lease, another sender takes the rows over
        again = outbox.claim_immediate(second, NOW + LEASE + timedelta(seconds=1), LEASE)
        assert {a.id for a in again} == {a.id for a in claimed}
        assert all(a.attempts == 2 for a in again)
        # the dead sender's late outcome is ignored; the holder's is recorded
        assert outbox.finish([a.id for a in claimed], first, SENT, NOW, {"0": SENT}) == 0
        assert outbox.finish([again[0].id], second, SENT, NOW, {"0": SENT}) == 1
        assert (
            outbox.finish([again[1].id], second, FAILED, NOW, {}, "Slack: failure (HTTP 404)") == 1
        )
        assert [a.status for a in outbox.list_alerts()] == [FAILED, SENT]
        assert [a.status for a in outbox.list_alerts(SENT)] == [SENT]
    finally:
        store.close()


def test_concurrent_claims_never_share_a_row(db_url: str) -> None:
    store = alert_store(db_url)
    try:
        for i in range(40):
            store.save_article(
                record(url=f"https://outlet.example/{i}", canonical_url=f"https://outlet.example/{i}",
                       guid=str(i), guid_key=f"outlet.example|{i}", content_hash=f"{i:032d}"),
                NOW,
            )  # fmt: skip
        outbox = Outbox(store.engine)
        got: list[list[int]] = []
        lock = threading.Lock()

        def sender() -> None:
            mine: list[int] = []
            while batch := outbox.claim_immediate(new_worker_id(), NOW, LEASE, limit=3):
                mine += [a.id for a in batch]
            with lock:
                got.append(mine)

        threads = [threading.Thread(target=sender) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        claimed = [i for ids in got for i in ids]
        assert len(claimed) == len(set(claimed))
        with store._session() as session:
            assert len(claimed) == session.scalar(select(func.count()).select_from(AlertRow))
    finally:
        store.close()
