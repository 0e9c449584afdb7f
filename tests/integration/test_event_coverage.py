"""Coverage that counts events (`coverage --count events`, /coverage?count=events,
/api/coverage?count=events) through the real Store on SQLite and PostgreSQL: two outlets'
reports of one piece of news count once on their day, under each key they match."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

from openapi_schema_validator import validate as validate_schema

from haitiwatch.db.archive import Archive
from haitiwatch.db.search import NO_FILTERS, CoveragePoint
from haitiwatch.db.search.query import SearchQuery
from haitiwatch.db.store import Store
from haitiwatch.scheduler.config import load_config
from haitiwatch.scheduler.tag_coverage import coverage_by
from haitiwatch.scheduler.web import create_app
from haitiwatch.scheduler.web.openapi import SPEC
from tests.integration.test_events import NOW, event_store, report
from tests.support import run_cli, write_config
from tests.support.web import free_port, get, serve
from tests.unit.test_events import CHOLERA, VOTE_EN, VOTE_FR, VOTE_REWORDED


def _vote_three_times_and_cholera(store: Store, when: datetime = NOW) -> None:
    """The vote by two English outlets and one French, and cholera (English): one day."""
    for outlet, slug, item, language in (
        ("wire", "vote", VOTE_EN, "en"),
        ("lenouvelliste", "vote", VOTE_FR, "fr"),
        ("daily", "kenya-force", VOTE_REWORDED, "en"),
        ("health", "cholera", CHOLERA, "en"),
    ):
        record = replace(report(outlet, slug, item, language), published=when)
        store.save_article(record, when)


def counts(points: list[CoveragePoint]) -> dict[str, int]:
    """Per key, on the one day every report is from."""
    assert len({p.day for p in points}) == 1
    return {p.key: p.count for p in points}


def test_two_outlets_reports_of_one_event_count_once(db_url: str) -> None:
    store = event_store(db_url)
    _vote_three_times_and_cholera(store)
    archive = Archive(store)
    by_language = archive.coverage(None, NO_FILTERS, "language", count="events")
    assert counts(by_language) == {"en": 2, "fr": 1}  # the vote and cholera; the vote
    assert counts(archive.coverage(None, NO_FILTERS, "language")) == {"en": 3, "fr": 1}
    assert counts(archive.coverage(None, NO_FILTERS, "rule", count="events")) == {"haiti": 2}
    # A query (the search index drives on SQLite) and a tag over several sources.
    vote = SearchQuery("kenya").match
    assert counts(archive.coverage(vote, NO_FILTERS, "language", count="events")) == {
        "en": 1,
        "fr": 1,
    }
    tags = {"wire": ("intl",), "daily": ("intl",), "health": ("intl",)}
    by_tag = coverage_by(archive, None, NO_FILTERS, "tag", tags, count="events")
    assert counts(by_tag) == {"intl": 2, "untagged": 1}
    assert counts(coverage_by(archive, None, NO_FILTERS, "tag", tags)) == {
        "intl": 3,
        "untagged": 1,
    }
    store.close()


def test_coverage_command_api_and_page_count_events(tmp_path: Path) -> None:
    config = write_config(tmp_path, [])
    store = event_store(f"sqlite:///{tmp_path / 'hw.db'}")
    now = datetime.now(UTC)
    _vote_three_times_and_cholera(store, now)
    store.close()
    shown = run_cli(
        "coverage", "--by", "language", "--count", "events", "-f", "json", config=config
    )
    listed = json.loads(shown.check().stdout)
    assert listed["count"] == "events"
    assert {p["key"]: p["count"] for p in listed["points"]} == {"en": 2, "fr": 1}
    table = run_cli("coverage", "--by", "language", "--count", "events", config=config).check()
    assert "event-days" in table.stdout
    wrong = run_cli("coverage", "--count", "stories", config=config)
    assert wrong.returncode == 2 and "--count: expected one of articles, events" in wrong.stderr

    loaded = load_config(config)
    store = Store.open(loaded.database_url)
    schema = {**SPEC["components"]["schemas"]["Coverage"], "components": SPEC["components"]}
    port = free_port()
    for _ in serve(create_app(Archive(store), loaded, "127.0.0.1"), port):
        base = f"http://127.0.0.1:{port}"
        status, _, body = get(base + "/api/coverage?by=language&count=events")
        assert status == 200
        answer = json.loads(body)
        validate_schema(answer, schema)
        assert {p["key"]: p["count"] for p in answer["points"]} == {"en": 2, "fr": 1}
        assert get(base + "/api/coverage?count=stories")[0] == 400
        status, _, page = get(base + "/coverage?by=language&count=events")
        assert status == 200 and b"Events per day, by language" in page
        assert b'<option value="events" selected>' in page
        assert b"en: 2</title>" in page
        status, _, page = get(base + "/coverage?count=events", {"Accept-Language": "fr"})
        assert "Événements par jour".encode() in page
        assert get(base + "/coverage?count=stories")[0] == 400
    store.close()
