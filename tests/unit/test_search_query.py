"""Search query compilation: safe FTS5 and tsquery trees from the rules' syntax."""

from __future__ import annotations

import sqlite3
from datetime import UTC, date, datetime
from xml.etree import ElementTree as ET

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from markupsafe import Markup
from openapi_spec_validator import validate

from haitiwatch.db.query.parser import QuerySyntaxError
from haitiwatch.db.search import CoveragePoint, SearchError, SearchHit
from haitiwatch.db.search.query import (
    SearchQuery,
    TsBool,
    TsFollow,
    TsLeaf,
    TsNot,
    parse_day,
    to_fts5,
    to_tsquery,
)
from haitiwatch.scheduler.rules.highlight import Highlighter, Snippet
from haitiwatch.scheduler.web.atom import FeedSite, archive_feed
from haitiwatch.scheduler.web.chart import MAX_SERIES, coverage_svg, series_of
from haitiwatch.scheduler.web.openapi import SPEC
from haitiwatch.scheduler.web.pages import marked

HOSTILE = "<script>alert(1)</script><img src=x onerror=alert(2)>"


def fts(query: str) -> str:
    return SearchQuery(query).match.fts5


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("Port-au-Prince", '"port au prince"'),
        ("covid-19", '"covid 19"'),
        ("m'ap", '"m ap"'),
        ("Haïti", '"haiti"'),
        ('"gang suppression', '"gang suppression"'),  # a quote left open is closed
        ("kenya*", '"kenya"*'),
        ("title:kenya", 'title : "kenya"'),
        ("haiti -cholera", '(("haiti") NOT "cholera")'),
        ("a OR b", '("a" OR "b")'),
        ("kenya NEAR/3 haiti", 'NEAR("kenya" "haiti", 3)'),
        ("(a OR b) NEAR/2 c", '(NEAR("a" "c", 2) OR NEAR("b" "c", 2))'),
        ("text:kenya* NEAR/1 police", 'text : NEAR("kenya"* "police", 1)'),
        ("NOT NOT haiti", '"haiti"'),
    ],
)
def test_fts5_expressions(query: str, expected: str) -> None:
    assert fts(query) == expected


def test_tsquery_tree_binds_words_and_weights_fields() -> None:
    assert to_tsquery(SearchQuery("title:kenya*").node) == TsLeaf("kenya", "*A")
    assert to_tsquery(SearchQuery("haiti -text:cholera").node) == TsBool(
        "and", (TsLeaf("haiti"), TsNot(TsLeaf("cholera", "B")))
    )
    near = to_tsquery(SearchQuery("a NEAR/1 b").node)
    assert near == TsBool(
        "or",
        (
            TsFollow(TsLeaf("a"), TsLeaf("b"), 1),
            TsFollow(TsLeaf("b"), TsLeaf("a"), 1),
            TsFollow(TsLeaf("a"), TsLeaf("b"), 2),
            TsFollow(TsLeaf("b"), TsLeaf("a"), 2),
        ),
    )
    far = to_tsquery(SearchQuery("a NEAR/100 b").node)
    assert far == TsBool("and", (TsLeaf("a"), TsLeaf("b")))  # documented approximation


@pytest.mark.parametrize("query", ["-kenya", "NOT haiti", "kenya OR -haiti", "a (", "", "x" * 3000])
def test_what_cannot_be_searched_is_a_syntax_error(query: str) -> None:
    with pytest.raises(QuerySyntaxError):
        SearchQuery(query)


def test_deep_nesting_is_a_syntax_error_not_a_crash() -> None:
    with pytest.raises(QuerySyntaxError):
        SearchQuery("(" * 600 + "a" + ")" * 600)
    with pytest.raises(QuerySyntaxError):
        SearchQuery("a " + "(b OR (c " * 30 + ")" * 60)


@pytest.fixture(scope="module")
def fts_db() -> sqlite3.Connection:
    db = sqlite3.connect(":memory:")
    db.execute(
        "CREATE VIRTUAL TABLE t USING fts5(title, text, tokenize='unicode61 remove_diacritics 2')"
    )
    db.execute(
        "INSERT INTO t VALUES ('Kenya-led mission', 'Police arrive in Port-au-Prince, Haïti')"
    )
    return db


@settings(max_examples=400, deadline=None)
@given(st.text(max_size=60))
def test_any_text_compiles_to_valid_fts5_or_raises_a_syntax_error(
    fts_db: sqlite3.Connection, query: str
) -> None:
    try:
        expression = fts(query)
    except QuerySyntaxError as e:
        assert e.message  # a message for the user, never a database error
        return
    fts_db.execute("SELECT rowid FROM t WHERE t MATCH ?", (expression,)).fetchall()


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.sampled_from(['"', "(", ")", "-", "*", "NEAR/2", "OR", "NOT", "title:", "kenya",
                         "haïti", "Port-au-Prince", "m'ap", ":", "AND", "covid-19"]),
        max_size=12,
    )
)  # fmt: skip
def test_syntax_soup_compiles_or_raises_a_syntax_error(
    fts_db: sqlite3.Connection, tokens: list[str]
) -> None:
    test_any_text_compiles_to_valid_fts5_or_raises_a_syntax_error.hypothesis.inner_test(  # type: ignore[attr-defined]
        fts_db, " ".join(tokens)
    )


def test_matches_found_by_fts5_are_what_the_query_means(fts_db: sqlite3.Connection) -> None:
    def hits(query: str) -> int:
        return len(fts_db.execute("SELECT 1 FROM t WHERE t MATCH ?", (fts(query),)).fetchall())

    assert hits("port-au-prince haiti") == hits("HAITI") == hits("kenya NEAR/3 mission") == 1
    assert hits("title:haiti") == hits("kenya -police") == hits("kenya NEAR/0 police") == 0


def test_highlights_are_offsets_into_the_original_text() -> None:
    highlighter = Highlighter(SearchQuery("haiti kenya* -cholera").node)
    body = "The Kenyans reached Haïti. No cholera."
    found = highlighter.highlight("Kenyan police in Haïti", body)
    assert found.title_spans == ((0, 6), (17, 22))
    text = found.snippet.text
    assert [text[s:e] for s, e in found.snippet.spans] == ["Kenyans", "Haïti"]


def test_snippet_html_escapes_feed_text_and_marks_only_matches() -> None:
    html = marked(Snippet(HOSTILE + " haiti", ((len(HOSTILE) + 1, len(HOSTILE) + 6),)))
    assert isinstance(html, Markup)
    assert "<script>" not in html and "<img" not in html
    assert html.endswith("<mark>haiti</mark>")


def test_parse_day() -> None:
    assert parse_day("2024-05-31", "x") == datetime(2024, 5, 31, tzinfo=UTC)
    assert parse_day("2024-05-31", "x", end=True) == datetime(2024, 6, 1, tzinfo=UTC)
    assert parse_day("", "x") is None
    with pytest.raises(SearchError, match="since"):
        parse_day("yesterday", "since")


@pytest.mark.parametrize("moment", ["9999-12-31T23:59:59-01:00", "0001-01-01T00:00:00+01:00"])
def test_a_moment_outside_the_years_python_has_in_utc_is_a_search_error(moment: str) -> None:
    """Found by fuzzing the web parameters: OverflowError, a 500, before."""
    with pytest.raises(SearchError, match="until"):
        parse_day(moment, "until")


def test_chart_draws_bars_and_escapes_labels() -> None:
    points = [CoveragePoint(date(2024, 1, d), HOSTILE if d % 2 else "en", d) for d in (1, 2, 3)]
    svg = coverage_svg(points, "by source")
    root = ET.fromstring(str(svg))  # well-formed XML: labels are escaped
    bars = [e for e in root.iter() if e.get("class") == "bar"]
    assert len(bars) == 3 and all(float(b.get("height", 0)) > 0 for b in bars)
    assert "<script>" not in svg
    days, series = series_of([CoveragePoint(date(2024, 1, 1), f"s{i}", i + 1) for i in range(9)])
    assert len(days) == 1 and len(series) == MAX_SERIES + 1 and series["other"] == [1 + 2 + 3]


def test_atom_feed_parses_with_hostile_and_control_characters() -> None:
    hit = SearchHit(1, "src", HOSTILE + "\x00\x1b", "https://x.example/a?b=1&c=2", "en", None,
                    datetime(2024, 1, 1, tzinfo=UTC), None, None, "text \x0c here")  # fmt: skip
    site = FeedSite("http://127.0.0.1")
    feed_url, page_url = "http://127.0.0.1/rules/mss.atom", "http://127.0.0.1/?rule=mss"
    body = archive_feed(site, "rules/mss", "mss", feed_url, page_url, [hit])
    root = ET.fromstring(body)
    ns = {"a": "http://www.w3.org/2005/Atom"}
    assert root.find("a:entry/a:title", ns).text == HOSTILE  # type: ignore[union-attr]
    related = root.find("a:entry/a:link[@rel='related']", ns)
    assert related is not None and related.get("href") == "https://x.example/a?b=1&c=2"


def test_openapi_description_is_valid() -> None:
    validate(SPEC)  # raises on an invalid OpenAPI 3.1 document
    assert set(SPEC["paths"]) >= {"/api/search", "/api/stories/{id}", "/api/coverage"}


def test_to_fts5_quotes_every_word() -> None:
    node = SearchQuery('"a b" cd*').node
    assert to_fts5(node) == '("a b" AND "cd"*)'
