"""Full-text search on real documents, on SQLite FTS5 and PostgreSQL (db_url fixture)."""

from __future__ import annotations

import csv
import io
import json
import math
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from alembic import command
from alembic.config import Config as AlembicConfig
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, text

from haitiwatch.db.database import MIGRATIONS, migrate
from haitiwatch.db.query.parser import QuerySyntaxError
from haitiwatch.db.records import ArticleRecord
from haitiwatch.db.search import SearchError, SearchFilters, SearchHit
from haitiwatch.db.search.facets import coverage
from haitiwatch.db.search.pages import iter_search, search
from haitiwatch.db.search.query import SearchQuery
from haitiwatch.db.search.sql import SEARCH_KEY_SQL
from haitiwatch.db.store import Store
from haitiwatch.db.story_reader import list_stories, story_copies
from haitiwatch.scheduler.export import article_row
from haitiwatch.scheduler.rules import RuleSet
from tests.support import run_cli
from tests.support.archive import HOSTILE_TITLE, briefings, fill_archive


@pytest.fixture
def archive(store: Store) -> Store:
    fill_archive(store)
    return store


def titles(store: Store, query: str, **filters: object) -> list[str]:
    found = search(store.engine, SearchQuery(query).match, SearchFilters(**filters), limit=100)  # type: ignore[arg-type]
    return [hit.title for hit in found]


def test_words_phrases_and_hyphenated_words_find_the_real_documents(archive: Store) -> None:
    mss = titles(archive, '"Multinational Security Support"')
    # the three 2023 White House documents (they name the mission), and the two hostile copies
    assert len(mss) == 5 and mss.count(HOSTILE_TITLE) == 2
    assert sum("Kenya" in t or "Security Council" in t or "Abinader" in t for t in mss) == 3
    pap = titles(archive, "Port-au-Prince")
    assert HOSTILE_TITLE in pap
    assert any("Department" in t and "Nominate" in t for t in pap)
    assert titles(archive, "covid-19")  # "COVID-⁠19" with a word joiner in the briefings
    assert titles(archive, "m'ap") == [HOSTILE_TITLE, HOSTILE_TITLE]


def test_accents_and_case_do_not_matter(archive: Store) -> None:
    assert titles(archive, "HAÏTI") == titles(archive, "haiti")
    assert titles(archive, "Tagesschau") == titles(archive, "tagesschau")
    # the German page's "Rücktritte" is found without its umlaut
    assert titles(archive, "rucktritte") == titles(archive, "Rücktritte") != []


def test_search_agrees_with_the_rule_matcher(archive: Store) -> None:
    """One syntax, one meaning: the database finds what the alert-rule matcher matches."""
    queries = [
        "kenya",
        "haiti -kenya",
        "kenya* OR haitian",
        '"security council"',
        "title:kenya",
        "kenya NEAR/5 haiti",
        "(kenya OR haiti) police",
        "ruto",
    ]
    with archive.engine.connect() as conn:
        docs = conn.execute(text("SELECT id, title, text FROM articles")).all()
    for query in queries:
        rules = RuleSet.from_queries([("q", query)])
        expected = {row.id for row in docs if rules.match(row.title, row.text, highlight=False)}
        found = search(archive.engine, SearchQuery(query).match, limit=1000, with_text=False)
        assert {hit.id for hit in found} == expected, query


def test_relevance_puts_title_matches_first_and_date_sort_is_newest_first(archive: Store) -> None:
    hits = search(archive.engine, SearchQuery("kenya").match, limit=50)
    assert "Kenya" in hits[0].title or "Ruto" in hits[0].title
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
    by_date = search(archive.engine, SearchQuery("kenya").match, sort="date", limit=50)
    dates = [h.date for h in by_date]
    assert dates == sorted(dates, reverse=True)
    assert {h.id for h in by_date} == {h.id for h in hits}


def test_filters(archive: Store) -> None:
    engine, match = archive.engine, SearchQuery("haiti OR kenya OR polizei OR policía").match
    july = SearchFilters(
        since=datetime(2021, 7, 1, tzinfo=UTC), until=datetime(2021, 8, 1, tzinfo=UTC)
    )
    hits = search(engine, match, july, limit=100)
    assert hits and all(h.date.month == 7 and h.date.year == 2021 for h in hits)
    assert {h.source for h in search(engine, match, SearchFilters(sources=("fundus",)))} <= {
        "fundus"
    }
    german = search(engine, None, SearchFilters(languages=("de",)))
    assert german and {h.language for h in german} == {"de"}
    story = search(
        engine,
        None,
        SearchFilters(story_id=search(engine, SearchQuery("m'ap").match)[0].story_id),
    )
    assert len(story) == 2 and {h.source for h in story} == {"hostile", "mirror"}


def test_rule_filter_reads_rule_matches(archive: Store) -> None:
    engine = archive.engine
    some = search(engine, SearchQuery("kenya").match, limit=3)
    with engine.begin() as conn:
        for hit in some:
            conn.execute(
                text(
                    "INSERT INTO rule_matches (article_id, rule, terms, matched_at)"
                    " VALUES (:a, 'mss', '[]', :t)"
                ),
                {"a": hit.id, "t": datetime.now(UTC)},
            )
    found = search(engine, None, SearchFilters(rule="mss"), sort="date", limit=10)
    assert {h.id for h in found} == {h.id for h in some}
    points = coverage(engine, None, SearchFilters(), "rule")
    assert sum(p.count for p in points if p.key == "mss") == 3


def test_index_follows_updates_and_deletes(archive: Store) -> None:
    engine = archive.engine
    assert not titles(archive, "zanzibarquux")
    first = search(engine, SearchQuery("ruto").match)[0]
    with engine.begin() as conn:
        conn.execute(
            text("UPDATE articles SET text = text || ' zanzibarquux' WHERE id = :i"),
            {"i": first.id},
        )
    assert len(titles(archive, "zanzibarquux")) == 1
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM article_keys WHERE article_id = :i"), {"i": first.id})
        conn.execute(text("DELETE FROM articles WHERE id = :i"), {"i": first.id})
    assert not titles(archive, "zanzibarquux")


def test_articles_stored_before_the_search_key_migration_are_reindexed(store: Store) -> None:
    """Upgrading a database that already holds articles: 0007 rebuilds the SQLite index
    keyed by date, so that date ranges and date sorts find the old articles too; it can
    be undone (downgrade) and redone."""
    fill_archive(store, hostile=False)
    engine = store.engine
    config = AlembicConfig()
    config.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        command.downgrade(config, "0005_search")
    if engine.dialect.name == "sqlite":
        with engine.connect() as conn:
            indexed = set(conn.execute(text("SELECT rowid FROM articles_fts")).scalars())
            assert indexed == set(conn.execute(text("SELECT id FROM articles")).scalars())
            view = conn.execute(text("SELECT 1 FROM sqlite_master WHERE type = 'view'")).all()
            assert view == []
    migrate(engine)
    if engine.dialect.name == "sqlite":
        with engine.connect() as conn:
            view_sql = conn.execute(
                text("SELECT sql FROM sqlite_master WHERE name = 'articles_fts_content'")
            ).scalar_one()
            keys = set(conn.execute(text(f"SELECT {SEARCH_KEY_SQL} FROM articles")).scalars())
            indexed = set(conn.execute(text("SELECT rowid FROM articles_fts")).scalars())
        assert " ".join(SEARCH_KEY_SQL.split()) in " ".join(view_sql.split())
        assert indexed == keys
    match = SearchQuery("ruto").match
    every = list(iter_search(engine, match))
    assert every
    oldest = min(every, key=lambda h: h.date)
    day = SearchFilters(since=oldest.date, until=oldest.date + timedelta(days=1))
    assert oldest.id in {h.id for h in search(engine, match, day, sort="date")}


def test_syntax_errors_are_clear_and_ordinary_text_never_errors(archive: Store) -> None:
    for bad in ["a (b", "NEAR/x kenya", "foo:bar", "-kenya", "kenya OR -haiti"]:
        with pytest.raises(QuerySyntaxError):
            search(archive.engine, SearchQuery(bad).match)
    for ordinary in ['"gang suppression', "l'ONU", "AT&T", "e-mail@x.org", "3.14", "ʼn ŉ"]:
        search(archive.engine, SearchQuery(ordinary).match)
    with pytest.raises(SearchError):
        search(archive.engine, None, sort="nonsense")  # type: ignore[arg-type]


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.text(max_size=40))
def test_any_text_is_a_result_or_a_syntax_error_never_a_database_error(
    archive: Store, query: str
) -> None:
    try:
        compiled = SearchQuery(query)
    except QuerySyntaxError:
        return
    search(archive.engine, compiled.match, limit=5)
    coverage(archive.engine, compiled.match, SearchFilters(), "language")


def test_export_streams_every_format(archive: Store, db_url: str, tmp_path: Path) -> None:
    config = tmp_path / "hw.toml"
    config.write_text(f'[database]\nurl = "{db_url}"\n', "utf-8")
    jsonl = run_cli("search", "kenya", "--format", "jsonl", config=config).check()
    rows = [json.loads(line) for line in jsonl.stdout.splitlines()]
    assert len(rows) == len(search(archive.engine, SearchQuery("kenya").match, limit=1000))
    assert all("[[" in (r["snippet"] or "[[") for r in rows)
    as_json = json.loads(
        run_cli("search", "kenya", "-f", "json", "--limit", "3", config=config).check().stdout
    )
    assert [r["id"] for r in as_json] == [r["id"] for r in rows[:3]]
    as_csv = list(
        csv.DictReader(
            io.StringIO(
                run_cli("search", "kenya", "-f", "csv", "--sort", "date", config=config)
                .check()
                .stdout
            )
        )
    )
    assert {int(r["id"]) for r in as_csv} == {r["id"] for r in rows}
    table = run_cli(
        "search", '"Multinational Security Support"', "--lang", "en", config=config
    ).check()
    assert "Multinational" in table.stdout
    bad = run_cli("search", "kenya (", config=config)
    assert bad.returncode == 2 and "ends too early" in bad.stderr and "Traceback" not in bad.stderr


def test_iter_search_streams_all_articles_without_a_query(archive: Store) -> None:
    streamed = list(iter_search(archive.engine, None, batch=7))
    assert len(streamed) == len(briefings()) + 7 + 2
    assert [h.date for h in streamed] == sorted((h.date for h in streamed), reverse=True)


def test_new_articles_are_searchable_at_once(store: Store) -> None:
    fill_archive(store, hostile=False)
    record = ArticleRecord(
        source="fundus", url="https://fundus.example/new", canonical_url="https://fundus.example/new",
        title="Nouvelles de Haïti", text="La police kényane à Port-au-Prince.", text_origin="feed",
        language="fr",
    )  # fmt: skip
    store.save_article(record, datetime.now(UTC))
    assert titles(store, "kenyane") == ["Nouvelles de Haïti"]


def test_results_and_story_copies_show_the_link_not_the_key(store: Store) -> None:
    """Every reader of the archive gives the address that opens (plain http, www., the
    site's own path and query order), never the dedupe key."""
    fill_archive(store, hostile=False)
    link = "http://www.fundus.example/la/index.html?b=2&a=1"
    record = ArticleRecord(
        source="fundus", url=link, canonical_url="https://fundus.example/la?a=1&b=2",
        title="Lakou", text="Polis Kenyan yo nan Pòtoprens.", text_origin="page",
    )  # fmt: skip
    store.save_article(record, datetime.now(UTC))
    match = SearchQuery("pòtoprens").match
    [hit] = search(store.engine, match)
    [streamed] = iter_search(store.engine, match, sort="date")
    newest = search(store.engine, None, sort="date", limit=100)
    assert hit.url == streamed.url == link and link in {h.url for h in newest}
    [copy] = story_copies(store.engine, hit.story_id or 0) or []
    assert copy.url == link
    stories = list_stories(store.engine, datetime.now(UTC) - timedelta(days=1))
    assert link in {url for story in stories for url in story.urls}
    [exported] = [article_row(a) for a in store.iter_articles() if a.url == link]
    assert (exported["url"], exported["canonical_url"]) == (link, record.canonical_url)


def in_date_order(engine: Engine, hits: list[SearchHit]) -> list[SearchHit]:
    """Newest first, as each database orders dates: SQLite's search key holds whole seconds
    (ties by id), PostgreSQL compares the timestamps whole (ties by id)."""
    if engine.dialect.name == "sqlite":
        return sorted(hits, key=lambda h: (math.floor(h.date.timestamp()), h.id), reverse=True)
    return sorted(hits, key=lambda h: (h.date, h.id), reverse=True)


DATE_SORT_CASES = [
    ("haiti OR kenya", SearchFilters()),
    ("haiti OR kenya", SearchFilters(since=datetime(2021, 6, 1, tzinfo=UTC))),
    (
        "haiti OR kenya",
        SearchFilters(
            since=datetime(2021, 6, 1, 0, 0, 0, 500, tzinfo=UTC),
            until=datetime(2023, 10, 2, 12, 30, 0, 1, tzinfo=UTC),
        ),
    ),
    (
        "haiti OR kenya",
        SearchFilters(sources=("whitehouse",), until=datetime(2023, 6, 1, tzinfo=UTC)),
    ),
    ('"security council"', SearchFilters()),
]


@pytest.mark.parametrize("candidate_limit", [0, 1000], ids=["rows-checked", "among-candidates"])
def test_every_date_sort_plan_gives_the_newest_matches(
    archive: Store, monkeypatch: pytest.MonkeyPatch, candidate_limit: int
) -> None:
    """A date-sorted page is the newest matches that pass the filters, whether the filters
    are checked on each match's row or looked up among the articles passing them, and with
    date bounds that are whole seconds (a search-key range) or not (checked on the rows)."""
    monkeypatch.setattr("haitiwatch.db.search.sql.CANDIDATE_LIMIT", candidate_limit)
    engine = archive.engine
    for query, filters in DATE_SORT_CASES:
        match = SearchQuery(query).match
        everything = list(iter_search(engine, match, filters))  # every match, no window
        passing = [h for h in everything if _passes(h, filters)]
        assert len(passing) == len(everything) > 5, query
        newest = in_date_order(engine, everything)
        exported = list(iter_search(engine, match, filters, sort="date"))
        assert [h.id for h in exported] == [h.id for h in newest], query
        for offset in (0, 4):
            page = search(engine, match, filters, sort="date", limit=4, offset=offset)
            assert [h.id for h in page] == [h.id for h in newest[offset : offset + 4]], query


def _passes(hit: SearchHit, filters: SearchFilters) -> bool:
    """The filters (but rule), applied in Python: what the database must agree with."""
    since, until = filters.since, filters.until
    return (
        (since is None or since <= hit.date)
        and (until is None or hit.date < until)
        and (not filters.sources or hit.source in filters.sources)
        and (not filters.languages or hit.language in filters.languages)
        and (filters.story_id is None or hit.story_id == filters.story_id)
    )


@pytest.mark.parametrize("candidate_limit", [0, 1000], ids=["rows-checked", "among-candidates"])
def test_relevance_over_many_matches_ranks_the_newest_that_pass_the_filters(
    archive: Store, monkeypatch: pytest.MonkeyPatch, candidate_limit: int
) -> None:
    """Relevance over more than RANK_WINDOW matches ranks a window of the newest matches.
    The window must be taken among the matches that pass the filters: a date range in the
    past (or one quiet source) would otherwise find nothing, although it matches plenty."""
    monkeypatch.setattr("haitiwatch.db.search.pages.RANK_WINDOW", 3)
    monkeypatch.setattr("haitiwatch.db.search.sql.CANDIDATE_LIMIT", candidate_limit)
    engine = archive.engine
    match = SearchQuery("haiti OR kenya").match
    oldest = in_date_order(engine, list(iter_search(engine, match)))[::-1]
    assert len(oldest) > 8
    until = oldest[5].date  # only the five oldest matches are before it
    filters = SearchFilters(until=until, sources=("whitehouse", "fundus"))
    passing = [h for h in oldest if h.date < until and h.source in filters.sources]
    page = search(engine, match, filters, sort="relevance", limit=10)
    assert page, "a past date range found nothing"
    assert [h.score for h in page] == sorted((h.score for h in page), reverse=True)
    # SQLite ranks the RANK_WINDOW newest matches that pass the filters; PostgreSQL ranks
    # every match that passes them (its planner finds them; docs/search.md).
    window = 3 if engine.dialect.name == "sqlite" else len(passing)
    assert {h.id for h in page} == {h.id for h in passing[-window:]}


def test_relevance_over_many_matches_ranks_the_newest_window_on_both_databases(
    archive: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without filters the window is the RANK_WINDOW newest matches (SQLite: by date, its
    index's order; PostgreSQL: the most recently stored); fewer matches are all ranked."""
    monkeypatch.setattr("haitiwatch.db.search.pages.RANK_WINDOW", 3)
    engine = archive.engine
    match = SearchQuery("haiti OR kenya").match
    everything = list(iter_search(engine, match, sort="date"))
    if engine.dialect.name == "sqlite":
        newest = {h.id for h in in_date_order(engine, everything)[:3]}
    else:
        newest = set(sorted(h.id for h in everything)[-3:])
    page = search(engine, match, sort="relevance", limit=10)
    assert {h.id for h in page} == newest
    assert [h.score for h in page] == sorted((h.score for h in page), reverse=True)
    rare = SearchQuery('"security council"').match
    every = {h.id for h in iter_search(engine, rare)}
    monkeypatch.setattr("haitiwatch.db.search.pages.RANK_WINDOW", len(every))
    assert {h.id for h in search(engine, rare, limit=50)} == every


def test_a_changed_date_moves_the_article_in_the_index(archive: Store) -> None:
    """The search key (SQLite) follows the article's date: a revision that corrects the
    date is found in its new range, not its old one, and the index still agrees with the
    articles table row for row."""
    engine = archive.engine
    match = SearchQuery("ruto").match
    hit = search(engine, match, sort="date", limit=1)[0]
    moved = datetime(2001, 9, 9, 1, 46, 40, tzinfo=UTC)
    with engine.begin() as conn:
        conn.execute(
            text("UPDATE articles SET published_at = :d WHERE id = :i"),
            {"d": moved.replace(tzinfo=None) if engine.dialect.name == "sqlite" else moved,
             "i": hit.id},
        )  # fmt: skip
    in_2001 = SearchFilters(
        since=datetime(2001, 1, 1, tzinfo=UTC), until=datetime(2002, 1, 1, tzinfo=UTC)
    )
    assert [h.id for h in search(engine, match, in_2001)] == [hit.id]
    assert [h.date for h in search(engine, match, in_2001, sort="date")] == [moved]
    old_day = SearchFilters(
        since=hit.date - timedelta(seconds=1), until=hit.date + timedelta(seconds=1)
    )
    assert hit.id not in {h.id for h in search(engine, match, old_day)}
    if engine.dialect.name == "sqlite":
        with engine.connect() as conn:
            keys = set(conn.execute(text(f"SELECT {SEARCH_KEY_SQL} FROM articles")).scalars())
            indexed = set(conn.execute(text("SELECT rowid FROM articles_fts")).scalars())
        assert indexed == keys


def test_coverage_counts_each_match_on_its_utc_day(archive: Store) -> None:
    """Days come from the search key on SQLite (integer arithmetic), from the date's text on
    PostgreSQL: both must give each match's UTC day, also for a date the key cannot hold."""
    ancient = ArticleRecord(
        source="fundus", url="https://fundus.example/1969", canonical_url="https://fundus.example/1969",
        title="Kenya 1969", text="An archived kenya report.", text_origin="page",
        published=datetime(1969, 12, 31, 23, 30, tzinfo=UTC),
    )  # fmt: skip
    archive.save_article(ancient, datetime.now(UTC))
    engine = archive.engine
    match = SearchQuery("kenya").match
    hits = list(iter_search(engine, match))
    expected: dict[tuple[object, str], int] = {}
    for hit in hits:
        day = hit.date.astimezone(UTC).date()
        expected[(day, hit.source)] = expected.get((day, hit.source), 0) + 1
    points = coverage(engine, match, SearchFilters(), "source")
    assert {(p.day, p.key): p.count for p in points} == expected
    assert (datetime(1969, 12, 31).date(), "fundus") in expected


MOMENTS = st.sampled_from(
    [
        None,
        datetime(2021, 3, 1, tzinfo=UTC),
        datetime(2021, 9, 14, 12, 0, 0, 250_000, tzinfo=UTC),
        datetime(2022, 6, 30, 23, 59, 59, tzinfo=UTC),
        datetime(2023, 10, 1, tzinfo=UTC),
        datetime.now(UTC) - timedelta(days=3, seconds=1),
    ]
)
#: Queries that match the briefings (English) and fundus pages in several languages.
FILTER_QUERIES = [
    "haiti OR kenya OR polizei OR policía",
    "police OR polizei OR policía OR la",
    "kenya",
    '"security council"',
    "haiti -kenya",
]


@pytest.mark.parametrize("candidate_limit", [0, 1000], ids=["rows-checked", "among-candidates"])
@settings(
    max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
# One language among matches in several: always tried, as random mixes often match nothing.
@example(
    query=FILTER_QUERIES[0],
    since=None,
    until=None,
    sources=set(),
    languages={"de"},
    with_story=False,
)
@given(
    query=st.sampled_from(FILTER_QUERIES),
    since=MOMENTS,
    until=MOMENTS,
    sources=st.sets(st.sampled_from(["whitehouse", "fundus", "hostile", "mirror"]), max_size=2),
    languages=st.sets(st.sampled_from(["en", "fr", "de", "es"]), max_size=2),
    with_story=st.booleans(),
)
def test_pages_are_exactly_the_matches_that_pass_the_filters(
    archive: Store,
    monkeypatch: pytest.MonkeyPatch,
    query: str,
    since: datetime | None,
    until: datetime | None,
    sources: set[str],
    languages: set[str],
    with_story: bool,
    candidate_limit: int,
) -> None:
    """Any mix of filters, whichever way they are checked (candidates looked up, or rows
    read as the index is walked): a page holds exactly the matches that pass them, in date
    order, and relevance ranks the same set. The expectation filters every match in Python."""
    engine = archive.engine
    match = SearchQuery(query).match
    every = list(iter_search(engine, match))
    story = every[0].story_id if with_story and every else None
    filters = SearchFilters(
        since=since, until=until, sources=tuple(sorted(sources)),
        languages=tuple(sorted(languages)), story_id=story,
    )  # fmt: skip
    expected = [h for h in every if _passes(h, filters)]
    monkeypatch.setattr("haitiwatch.db.search.sql.CANDIDATE_LIMIT", candidate_limit)
    by_date = search(engine, match, filters, sort="date", limit=1000, with_text=False)
    ranked = search(engine, match, filters, limit=1000, with_text=False)
    assert [h.id for h in by_date] == [h.id for h in in_date_order(engine, expected)]
    assert {h.id for h in ranked} == {h.id for h in expected}
    assert [h.score for h in ranked] == sorted((h.score for h in ranked), reverse=True)


def test_coverage_of_the_last_days_is_the_tail_of_the_whole(archive: Store) -> None:
    """A chart draws the days up to the newest match: counting only those gives the same
    points for those days, whatever the filters."""
    engine = archive.engine
    match = SearchQuery("haiti OR kenya OR police").match
    for filters in (SearchFilters(), SearchFilters(sources=("whitehouse",))):
        whole = coverage(engine, match, filters, "source")
        newest = max(p.day for p in whole)
        for days in (1, 30, 400):
            tail = [p for p in whole if (newest - p.day).days < days]
            assert coverage(engine, match, filters, "source", last_days=days) == tail
    assert coverage(engine, SearchQuery("zzzqqq").match, SearchFilters(), last_days=5) == []


def test_an_unknown_source_or_rule_is_an_error_naming_the_known_ones(
    archive: Store, db_url: str, tmp_path: Path
) -> None:
    """A misspelt filter must not print an empty result, which reads as "nothing found"."""
    config = tmp_path / "hw.toml"
    config.write_text(
        f'[database]\nurl = "{db_url}"\n[[rules]]\nname = "mission"\nquery = "kenya"\n', "utf-8"
    )
    archived = sorted({hit.source for hit in iter_search(archive.engine, None)})
    bad = run_cli("search", "kenya", "--source", "NOSUCH", config=config)
    assert bad.returncode == 2
    assert "--source: no source named 'NOSUCH' (known: " in bad.stderr
    assert all(name in bad.stderr for name in archived)
    bad = run_cli("search", "--rule", "misson", config=config)
    assert bad.returncode == 2
    assert "--rule: no rule named 'misson' (known: mission)" in bad.stderr
    ok = run_cli("search", "kenya", "--source", "whitehouse", "-f", "jsonl", config=config)
    assert ok.check().stdout and all(
        json.loads(line)["source"] == "whitehouse" for line in ok.stdout.splitlines()
    )
    run_cli("search", "--rule", "mission", config=config).check()  # configured, no match yet
