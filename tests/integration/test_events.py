"""Events through the real Store on SQLite and PostgreSQL: reports of one piece of news from
different outlets and languages share an event, another event that day does not, and a rule
alerts once per event, across a restart."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from haitiwatch.crawler.event_matcher import EventMatcher
from haitiwatch.db.event_index import EventIndex
from haitiwatch.db.records import ArticleRecord, FetchOutcome, FetchResult
from haitiwatch.db.schema import AlertRow, Event
from haitiwatch.db.store import SourceSpec, Store
from haitiwatch.scheduler.config import parse_config
from haitiwatch.scheduler.export import article_row
from haitiwatch.scheduler.notify import rule_match_hook
from tests.unit.test_events import CHOLERA, VOTE_EN, VOTE_FR, VOTE_REWORDED

NOW = datetime(2023, 10, 2, 20, 0, tzinfo=UTC)
OUTLETS = ("wire", "lenouvelliste", "daily", "health")
CONFIG = parse_config(
    """
[channels.desk]
url = "json://127.0.0.1:9/unused"

[[rules]]
name = "haiti"
query = "haiti OR haïti"
channels = ["desk"]
""",
    "test.toml",
)


def event_store(db_url: str) -> Store:
    store = Store.open(db_url, [rule_match_hook(CONFIG)], events=EventIndex(EventMatcher()))
    store.sync_sources([SourceSpec(n, "feed", f"https://{n}.example/feed") for n in OUTLETS], NOW)
    return store


def report(outlet: str, slug: str, item: tuple[str, str], language: str) -> ArticleRecord:
    url = f"https://{outlet}.example/{slug}"
    return ArticleRecord(
        source=outlet,
        url=url,
        canonical_url=url,
        title=item[0],
        text=item[1],
        text_origin="feed",
        outlet=f"{outlet}.example",
        published=NOW - timedelta(hours=1),
        language=language,
    )


def events_of(store: Store) -> dict[str, int | None]:
    return {a.url.split("/")[2]: a.event for a in store.iter_articles()}


def alert_keys(store: Store) -> list[str]:
    with store._session() as session:
        return list(session.scalars(select(AlertRow.story_key).order_by(AlertRow.id)))


def test_reports_of_one_event_in_two_languages_share_it_and_another_does_not(
    db_url: str,
) -> None:
    store = event_store(db_url)
    store.save_article(report("wire", "vote", VOTE_EN, "en"), NOW)
    store.save_article(report("lenouvelliste", "vote", VOTE_FR, "fr"), NOW)
    store.save_article(report("daily", "kenya-force", VOTE_REWORDED, "en"), NOW)
    store.save_article(report("health", "cholera", CHOLERA, "en"), NOW)
    found = events_of(store)
    vote = found["wire.example"]
    assert vote is not None
    assert found["lenouvelliste.example"] == found["daily.example"] == vote
    assert found["health.example"] not in (None, vote)
    with store._session() as session:
        event = session.get_one(Event, vote)
    assert (event.article_count, event.source_count) == (3, 3)
    first = next(a for a in store.iter_articles() if a.url.startswith("https://wire."))
    assert event.first_article_id == first.id
    store.close()


def test_a_batch_of_one_feed_places_its_reports_in_events(db_url: str) -> None:
    store = event_store(db_url)
    records = [report("wire", "vote", VOTE_EN, "en"), report("wire", "fr", VOTE_FR, "fr")]
    records.append(report("wire", "cholera", CHOLERA, "en"))
    result = FetchResult("wire", "https://wire.example/feed", NOW, 5, FetchOutcome.OK, 200)
    store.save_fetch(result, records, NOW)
    found = {a.url: a.event for a in store.iter_articles()}
    assert found["https://wire.example/vote"] == found["https://wire.example/fr"]
    assert found["https://wire.example/cholera"] != found["https://wire.example/vote"]
    store.close()


def test_one_alert_per_event_across_a_restart(db_url: str) -> None:
    store = event_store(db_url)
    store.save_article(report("wire", "vote", VOTE_EN, "en"), NOW)
    store.save_article(report("lenouvelliste", "vote", VOTE_FR, "fr"), NOW)
    store.close()
    store = event_store(db_url)  # a restart: a new process, the same database
    store.save_article(report("daily", "kenya-force", VOTE_REWORDED, "en"), NOW)
    store.save_article(report("health", "cholera", CHOLERA, "en"), NOW)
    vote, cholera = events_of(store)["wire.example"], events_of(store)["health.example"]
    assert alert_keys(store) == [f"event:{vote}", f"event:{cholera}"]
    store.close()


def test_the_export_carries_each_article_s_event(db_url: str) -> None:
    store = event_store(db_url)
    store.save_article(report("wire", "vote", VOTE_EN, "en"), NOW)
    store.save_article(report("lenouvelliste", "vote", VOTE_FR, "fr"), NOW)
    rows = [article_row(a) for a in store.iter_articles()]
    assert rows[0]["event"] is not None and rows[0]["event"] == rows[1]["event"]
    store.close()
