"""Events through the real Store on SQLite and PostgreSQL: reports of one piece of news from
different outlets and languages share an event, another event that day does not, and a rule
alerts once per event, across a restart."""

from __future__ import annotations

import json
import pickle
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

from openapi_schema_validator import validate as validate_schema
from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from haitiwatch.crawler.event_matcher import EventMatcher
from haitiwatch.db.alerts import Outbox
from haitiwatch.db.archive import Archive
from haitiwatch.db.event_index import MAX_CANDIDATES, EventIndex, recent_candidates
from haitiwatch.db.event_reader import list_events
from haitiwatch.db.records import ArticleRecord, FetchOutcome, FetchResult
from haitiwatch.db.schema import AlertRow, Event, EventEvidence, EventKey
from haitiwatch.db.store import SourceSpec, Store
from haitiwatch.db.story_reader import list_stories
from haitiwatch.scheduler.config import load_config, parse_config
from haitiwatch.scheduler.digest import digest_message
from haitiwatch.scheduler.export import article_row
from haitiwatch.scheduler.notify import Notifier, rule_match_hook
from haitiwatch.scheduler.web import create_app
from haitiwatch.scheduler.web.openapi import SPEC
from tests.support import run_cli, write_config
from tests.support.web import free_port, get, serve
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


def test_candidates_are_the_recent_articles_sharing_most_keys(db_url: str) -> None:
    """The ranking is SQL's (GROUP BY, ORDER BY, LIMIT): most keys shared first, then the
    lowest id; articles outside the window are not candidates however much they share."""
    store = Store.open(db_url, [])
    keys = list(range(1, 9))
    window = timedelta(hours=72)
    shared = {article: 1 + article % 7 for article in range(1, 51)}
    outside = {51: 8, 52: 8}  # share every key, but a week away
    with Session(store.engine) as session, session.begin():
        for article, count in (shared | outside).items():
            at = NOW - (timedelta(days=7) if article in outside else timedelta(hours=article))
            session.execute(
                insert(EventKey),
                [{"event_key": k, "article_id": article, "at": at} for k in keys[:count]],
            )
            session.execute(
                insert(EventEvidence),
                [{"article_id": article, "event_id": 1000 + article, "at": at, "concepts": "w:x"}],
            )
        found = recent_candidates(session, set(keys), NOW, window)
    in_window = [a for a in shared if timedelta(hours=a) <= window]
    expected = sorted(in_window, key=lambda a: (-shared[a], a))[:MAX_CANDIDATES]
    assert [event_id - 1000 for _concepts, _at, event_id in found] == expected
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


def test_evidence_read_in_the_crawl_pool_is_what_the_store_would_read(db_url: str) -> None:
    """The crawl's CPU pool prepares records (their event evidence) with a copy of the
    Store's matchers sent to worker processes; the Store then places them as its own."""
    store = event_store(db_url)
    assert store.record_preparer is not None
    in_worker = pickle.loads(pickle.dumps(store.record_preparer))
    records = [report("wire", "vote", VOTE_EN, "en"), report("lenouvelliste", "fr", VOTE_FR, "fr")]
    records.append(report("health", "cholera", CHOLERA, "en"))
    prepared = [in_worker(r) for r in records]
    assert [p.event_evidence for p in prepared] == [EventMatcher().evidence(r) for r in records]
    for record in prepared:
        store.save_article(record, NOW)
    found = events_of(store)
    assert found["wire.example"] == found["lenouvelliste.example"] != found["health.example"]
    with Session(store.engine) as session:
        stored = set(session.scalars(select(EventEvidence.concepts)))
    assert stored == {p.event_evidence for p in prepared}
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


def test_story_and_event_lists_keep_those_holding_an_article_the_rule_matched(
    db_url: str,
) -> None:
    store = event_store(db_url)
    store.save_article(report("wire", "vote", VOTE_EN, "en"), NOW)
    budget = ("Nairobi approves the police budget", "Parliament in Nairobi voted the budget.")
    store.save_article(report("daily", "budget", budget, "en"), NOW)
    [vote] = [a for a in store.iter_articles() if a.url.endswith("/vote")]
    since = NOW - timedelta(days=1)
    assert len(list_events(store.engine, since)) == len(list_stories(store.engine, since)) == 2
    assert [e.id for e in list_events(store.engine, since, "haiti")] == [vote.event]
    assert [s.id for s in list_stories(store.engine, since, "haiti")] == [vote.story]
    assert list_events(store.engine, since, "nope") == list_stories(store.engine, since, "x") == []
    store.close()


def _archive_with_one_event(folder: Path) -> Path:
    """A config and its SQLite archive: the vote reported in English and French, and cholera."""
    config = write_config(folder, [])
    store = event_store(f"sqlite:///{folder / 'hw.db'}")
    now = datetime.now(UTC)
    store.save_article(replace(report("wire", "vote", VOTE_EN, "en"), published=now), now)
    store.save_article(replace(report("lenouvelliste", "v", VOTE_FR, "fr"), published=now), now)
    store.save_article(replace(report("health", "cholera", CHOLERA, "en"), published=now), now)
    store.close()
    return config


def test_events_and_event_commands(tmp_path: Path) -> None:
    config = _archive_with_one_event(tmp_path)
    listed = json.loads(run_cli("events", "--format", "json", config=config).check().stdout)
    vote = next(e for e in listed if e["articles"] == 2)
    assert (vote["outlets"], sorted(vote["languages"])) == (2, ["en", "fr"])
    assert vote["first"]["url"] == "https://wire.example/vote"
    shown = json.loads(
        run_cli("event", str(vote["id"]), "-f", "json", config=config).check().stdout
    )
    assert [(r["first"], r["language"]) for r in shown["reports"]] == [(True, "en"), (False, "fr")]
    assert "first" in run_cli("event", str(vote["id"]), config=config).check().stdout
    missing = run_cli("event", "99999", config=config)
    assert missing.returncode == 2 and "no event with id 99999" in missing.stderr


def test_events_and_event_print_whole_rows_in_a_pipe_like_the_other_lists(tmp_path: Path) -> None:
    config = _archive_with_one_event(tmp_path)
    piped = run_cli("events", "--since", "all", config=config).check().stdout.splitlines()
    assert piped[0].split("\t") == [
        "event",
        "updated",
        "articles",
        "outlets",
        "languages",
        "first report",
    ]
    assert not any(box in "".join(piped) for box in "┃│━─")
    vote = next(row.split("\t") for row in piped[1:] if row.split("\t")[2] == "2")
    assert (vote[3], vote[5]) == ("2", VOTE_EN[0])  # the title whole, not cut at 70
    listed = json.loads(run_cli("events", "-f", "json", config=config).check().stdout)
    assert {e["id"] for e in listed} == {int(row.split("\t")[0]) for row in piped[1:]}
    shown = run_cli("event", vote[0], "--format", "csv", config=config).check().stdout
    assert shown.splitlines()[0] == ",article,first seen,source,language,title,url"
    assert "https://lenouvelliste.example/v" in shown and "┃" not in shown
    bad = run_cli("events", "--format", "yaml", config=config)
    assert bad.returncode == 2 and "yaml" in bad.stderr


def test_events_api_and_page(tmp_path: Path) -> None:
    config = _archive_with_one_event(tmp_path)
    loaded = load_config(config)
    store = Store.open(loaded.database_url)
    schemas = SPEC["components"]["schemas"]
    port = free_port()
    for _ in serve(create_app(Archive(store), loaded, "127.0.0.1"), port):
        base = f"http://127.0.0.1:{port}"
        status, _, body = get(base + "/api/events?days=1")
        listed = json.loads(body)
        assert status == 200
        validate_schema(listed, {**schemas["Events"], "components": {"schemas": schemas}})
        vote = next(e for e in listed["events"] if e["article_count"] == 2)
        status, _, body = get(base + f"/api/events/{vote['id']}")
        validate_schema(json.loads(body), {**schemas["Event"], "components": {"schemas": schemas}})
        assert [r["is_first"] for r in json.loads(body)["reports"]] == [True, False]
        status, _, body = get(base + "/api/search?q=cholera")
        [hit] = json.loads(body)["results"]
        assert hit["event_id"] is not None and hit["event_id"] != vote["id"]
        assert get(base + "/api/events/999999")[0] == 404
        status, _, page = get(base + f"/events/{vote['id']}")
        assert status == 200 and b"first report" in page and b"Conseil de s" in page
        assert get(base + "/events/999999")[0] == 404
    store.close()


def test_the_digest_counts_an_event_s_further_coverage(db_url: str) -> None:
    config = parse_config(
        """
[channels.desk]
url = "json://127.0.0.1:9/unused"

[[rules]]
name = "haiti"
query = "haiti OR haïti"
channels = ["desk"]
mode = "digest"
digest = "daily 07:00"
""",
        "test.toml",
    )
    store = Store.open(db_url, [rule_match_hook(config)], events=EventIndex(EventMatcher()))
    store.sync_sources([SourceSpec(n, "feed", f"https://{n}.example/feed") for n in OUTLETS], NOW)
    store.save_article(report("wire", "vote", VOTE_EN, "en"), NOW)
    store.save_article(report("lenouvelliste", "vote", VOTE_FR, "fr"), NOW)
    store.save_article(report("daily", "kenya-force", VOTE_REWORDED, "en"), NOW)
    [alert] = Outbox(store.engine).list_alerts()
    assert alert.url == "https://wire.example/vote" and alert.event_coverage == (3, 2)
    message = digest_message("haiti", [alert], Notifier({"desk": None}, config.rules), NOW)
    assert "2 more outlets, 2 languages" in message.text
    store.close()
