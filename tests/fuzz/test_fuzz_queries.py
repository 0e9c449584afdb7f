"""Fuzz: the query language, as alert rules use it and as searches use it.

Documented errors:
- ``parse_query`` and ``compile_rule``: QuerySyntaxError only (it names what and where).
- A compiled ``RuleSet`` matching a title and text, and a ``Highlighter``: none.
- ``SearchQuery`` (``parse_search``, then FTS5 and tsquery): QuerySyntaxError only, and what
  it accepts runs on the database: ``Archive.search`` / ``coverage`` raise nothing else.
"""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from haitiwatch.db.archive import Archive
from haitiwatch.db.query.ast import to_query
from haitiwatch.db.query.parser import QuerySyntaxError, parse_query
from haitiwatch.db.search import SearchFilters
from haitiwatch.db.search.query import SearchQuery
from haitiwatch.scheduler.rules.compiled import compile_rule
from haitiwatch.scheduler.rules.highlight import Highlighter
from haitiwatch.scheduler.rules.matcher import RuleSet
from tests.fuzz import fuzzed

_SYNTAX = [
    '"', "(", ")", "-", "*", "NEAR/", "NEAR/0", "NEAR/3", "NEAR/1000", "NEAR/1001",
    "NEAR/99999999999999999999", "OR", "AND", "NOT", "title:", "text:", "TITLE:", "bogus:",
    ":", "kenya", "kenya*", "k*", "haïti", "HAITI", "Port-au-Prince", "m'ap", "covid-19",
    "\u201c", "\u201d", "«", "»", "_", "\n", "\t", " ", "  ", "ǅ", "ß", "İ", "ﬁ", "²", "١٢",
    "\u0301", "\u200b", "\x00", "\ufeff", "🇭🇹", "*kenya", "ke*nya",
]  # fmt: skip
QUERIES = st.one_of(
    st.lists(st.one_of(st.sampled_from(_SYNTAX), st.text(max_size=5)), max_size=14).map(" ".join),
    st.lists(st.sampled_from(_SYNTAX), max_size=14).map("".join),
    st.text(max_size=40),
)
TEXTS = st.one_of(
    st.lists(st.sampled_from(_SYNTAX[18:]), max_size=30).map(" ".join), st.text(max_size=80)
)


@fuzzed
@given(QUERIES, TEXTS, TEXTS)
def test_a_rule_parses_or_raises_a_syntax_error_and_then_matches_any_text(
    query: str, title: str, text: str
) -> None:
    try:
        rule = compile_rule("fuzz", query)
    except QuerySyntaxError as e:
        assert e.message and 0 <= e.position <= len(query)
        return
    assert parse_query(to_query(rule.node)) == rule.node  # what `rules show` prints reparses
    for found in RuleSet([rule]).match(title, text):
        for mark in found.marks:
            field = title if mark.field == "title" else text
            assert 0 <= mark.start <= mark.end <= len(field)


@fuzzed
@given(QUERIES, TEXTS, TEXTS)
def test_a_search_compiles_or_raises_a_syntax_error_and_highlights_any_text(
    query: str, title: str, text: str
) -> None:
    try:
        searched = SearchQuery(query)
    except QuerySyntaxError as e:
        assert e.message
        return
    found = Highlighter(searched.node).highlight(title, text)
    for start, end in found.title_spans:
        assert 0 <= start <= end <= len(title)


@fuzzed
@given(query=QUERIES)
def test_every_accepted_search_runs_on_the_database(filled_archive: Archive, query: str) -> None:
    try:
        match = SearchQuery(query).match
    except QuerySyntaxError:
        return
    filters = SearchFilters()
    filled_archive.search(match, filters, "relevance", 5)
    filled_archive.coverage(match, filters, "source")
