"""The statements search is built from: the SQLite index's search keys, the filters as
conditions, the tsquery tree as SQL, and result rows as hits (``pages`` and ``facets``)."""

from __future__ import annotations

import json
import math
from collections.abc import Iterator, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any, Final

from sqlalchemy import (
    ColumnElement,
    Connection,
    Engine,
    Select,
    bindparam,
    column,
    exists,
    func,
    inspect,
    literal,
    literal_column,
    select,
    table,
    text,
)
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnClause

from haitiwatch.db.schema import Article, Source
from haitiwatch.db.search import NO_FILTERS, SORTS, SearchError, SearchFilters, SearchHit
from haitiwatch.db.search.query import MatchExpr, TsFollow, TsLeaf, TsNode, TsNot

#: bm25 column weights (title, text): a word in the title counts as much as four in the text.
_BM25: Final = "bm25(articles_fts, 4.0, 1.0)"
#: Filters (other than dates) that pass up to this many articles: those are collected
#: once and the FTS5 walk looks each match up among them (``passing``).
CANDIDATE_LIMIT: Final = 5_000
#: SQLite's FTS5 rowid is the article's search key (migration 0007_search_key): the
#: article's date in whole seconds (clamped to [0, KEY_MAX_SECONDS]) times KEY_SPAN, plus
#: its id, which is the key modulo KEY_SPAN (ids stay below 2^31 in SQLite).
KEY_SPAN: Final = 2**31
KEY_MAX_SECONDS: Final = 2**32 - 1
#: A page or a chart (SQLite) reads its connection's file through memory mapping, up to this many
#: bytes (capped by the library's build, 2 GiB in Debian's): a search touches thousands of
#: index pages, one read() each otherwise. Streaming exports do not set it: mapped pages
#: count in a process's RSS (they are the kernel's page cache, shared and reclaimable).
SEARCH_MMAP_BYTES: Final = 2**31
#: The key as SQL, as the migration's view and triggers compute it (a test compares them).
SEARCH_KEY_SQL: Final = (
    "max(0, min(coalesce(CAST(strftime('%s', substr(coalesce(articles.published_at, "
    "articles.first_seen_at), 1, 19)) AS INTEGER), 0), 4294967295)) * 2147483648 + articles.id"
)
#: Adds new articles to the SQLite index, in search-key order (migration 0008_search_insert
#: replaced the AFTER INSERT trigger by this statement: one statement a batch is cheaper).
_INDEX_NEW_SQLITE: Final = (
    f"INSERT INTO articles_fts(rowid, title, text) SELECT {SEARCH_KEY_SQL}, title, text"  # noqa: S608 (constants only)
    " FROM articles WHERE articles.id IN (SELECT value FROM json_each(?)) ORDER BY 1"
)
FTS = table("articles_fts", column("rowid"))
#: The alerts feature's table, read by name: search and stories work with or without it.
RULE_MATCHES = table("rule_matches", column("article_id"), column("rule"))
#: An article's date: when it was published, else when it was first seen (indexed).
ARTICLE_DATE: Final = func.coalesce(Article.published_at, Article.first_seen_at)


def index_new_articles(connection: Connection, article_ids: Sequence[int]) -> None:
    """Add just-inserted articles to the full-text index, in the inserting transaction (the
    Store calls this for every article it inserts; updates and deletes are triggers'). On
    PostgreSQL the index is a generated column: nothing to do."""
    if article_ids and connection.dialect.name == "sqlite":
        connection.exec_driver_sql(_INDEX_NEW_SQLITE, (json.dumps(list(article_ids)),))


def passing(engine: Engine, filters: SearchFilters) -> list[ColumnElement[bool]]:
    """Conditions on the FTS5 walk for ``filters``: a rowid range for the dates, and a check
    of the other filters. Up to CANDIDATE_LIMIT articles pass them: they are collected once
    (an index finds them) and each match is looked up among them; their dates narrow the
    rowid range further. More: each match's article row is checked, as the walk goes."""
    rowid = FTS.c.rowid
    low, high, exact = key_range(filters.since, filters.until)
    rest = replace(filters, since=None, until=None) if exact else filters
    if rest == NO_FILTERS:
        return _between(low, high)
    chosen = filtered(engine, None, filters, select(Article.id).select_from(Article))
    with engine.connect() as connection:
        bounded = chosen.limit(CANDIDATE_LIMIT + 1).subquery()
        found = int(connection.execute(select(func.count()).select_from(bounded)).scalar_one())
        if found > CANDIDATE_LIMIT:
            article = filtered(engine, None, rest, select(literal(1)).select_from(Article))
            row = article.where(Article.id == rowid % KEY_SPAN).correlate(FTS)
            return [*_between(low, high), exists(row)]
        dates = chosen.with_only_columns(func.min(ARTICLE_DATE), func.max(ARTICLE_DATE))
        first, last = connection.execute(dates).one()
    if first is None:
        return [literal(False)]
    # Their dates bound the walk: [first, last] holds every one of them.
    first_key = _key_seconds(first)[0] * KEY_SPAN
    last_key = (_key_seconds(last)[0] + 1) * KEY_SPAN - 1
    low = first_key if low is None else max(low, first_key)
    high = last_key if high is None else min(high, last_key)
    ids = chosen.cte("hw_chosen").prefix_with("MATERIALIZED")
    return [*_between(low, high), (rowid % KEY_SPAN).in_(select(ids.c.id))]


def _between(low: int | None, high: int | None) -> list[ColumnElement[bool]]:
    bounds: list[ColumnElement[bool]] = []
    if low is not None:
        bounds.append(FTS.c.rowid >= low)
    if high is not None:
        bounds.append(FTS.c.rowid <= high)
    return bounds


def key_range(
    since: datetime | None, until: datetime | None
) -> tuple[int | None, int | None, bool]:
    """The search keys of the articles dated in [since, until): (lowest, highest, exact).
    Keys have whole seconds: the range is exact when both ends are whole seconds that a key
    can hold, and otherwise a superset that the rows' dates must still be checked against."""
    low = high = None
    exact = True
    if since is not None:
        seconds, whole = _key_seconds(since)
        low, exact = seconds * KEY_SPAN, exact and whole
    if until is not None:
        seconds, whole = _key_seconds(until)
        # date < until: its floored second is at most until's (one less when whole).
        high, exact = (seconds + (0 if whole else 1)) * KEY_SPAN - 1, exact and whole
    return low, high, exact


def _key_seconds(moment: datetime) -> tuple[int, bool]:
    """``moment`` in the keys' seconds, and whether a key's date compares exactly at it."""
    utc = as_utc(moment)
    seconds = math.floor(utc.timestamp())
    clamped = min(max(seconds, 0), KEY_MAX_SECONDS)
    # A clamped key holds every date beyond its end: no exact comparison there.
    inside = 0 < seconds < KEY_MAX_SECONDS
    return clamped, inside and utc.microsecond == 0


def as_utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def columns(with_text: bool) -> list[Any]:
    cols: list[Any] = [
        Article.id,
        Source.name,
        Article.title,
        Article.url,
        Article.language,
        Article.published_at,
        Article.first_seen_at,
        Article.story_id,
        Article.event_id,
    ]
    return [*cols, Article.text] if with_text else cols


def hits_statement(
    engine: Engine,
    match: MatchExpr | None,
    filters: SearchFilters,
    sort: str,
    with_text: bool,
    many: int | None = None,
) -> Select[Any]:
    """Every match (or article) that passes ``filters``, sorted; ``many``: PostgreSQL's
    window (``_many_matches``)."""
    if sort not in SORTS:
        raise SearchError(f"sort {sort!r}: expected one of {', '.join(SORTS)}")
    score = score_column(engine) if match is not None else literal(None)
    stmt = matched(engine, match, filters, select(*columns(with_text), score.label("score")))
    stmt = stmt.join(Source, Source.id == Article.source_id)
    if many is not None:
        stmt = stmt.where(Article.id > many)
    order: list[Any] = [ARTICLE_DATE.desc(), Article.id.desc()]
    if sort == "relevance" and match is not None:
        order = [literal_column("score").desc(), Article.id.desc()]
    elif match is not None and engine.dialect.name == "sqlite":
        order = [FTS.c.rowid.desc()]  # the search key: the same order as ``search`` gives
    return stmt.order_by(*order)


def score_column(engine: Engine) -> ColumnElement[Any]:
    if engine.dialect.name == "sqlite":
        return -literal_column(_BM25)
    return func.ts_rank(search_vector(), literal_column("hw_q"))


def matched(
    engine: Engine, match: MatchExpr | None, filters: SearchFilters, stmt: Select[Any]
) -> Select[Any]:
    """``stmt`` over the articles that match and pass ``filters``. On SQLite the FTS5 index
    drives, each match joined to its article by the key's low bits and filtered as a page is
    (``passing``); otherwise the articles table, with the filters on its rows."""
    if match is not None and engine.dialect.name == "sqlite":
        rowid = FTS.c.rowid
        stmt = stmt.select_from(FTS).join(Article, Article.id == rowid % KEY_SPAN)
        return stmt.where(fts_match(match), *passing(engine, filters))
    return filtered(engine, match, filters, stmt.select_from(Article))


def filtered(
    engine: Engine, match: MatchExpr | None, filters: SearchFilters, stmt: Select[Any]
) -> Select[Any]:
    """The filters as conditions on the articles' rows; ``match`` on PostgreSQL only."""
    if match is not None:
        stmt = _with_tsquery(match, stmt)
    if filters.since is not None:
        stmt = stmt.where(filters.since <= ARTICLE_DATE)
    if filters.until is not None:
        stmt = stmt.where(filters.until > ARTICLE_DATE)
    if filters.sources:
        names = select(Source.id).where(Source.name.in_(filters.sources))
        stmt = stmt.where(Article.source_id.in_(names.scalar_subquery()))
    if filters.languages:
        stmt = stmt.where(Article.language.in_([lang.lower() for lang in filters.languages]))
    if filters.story_id is not None:
        stmt = stmt.where(Article.story_id == filters.story_id)
    if filters.rule is not None:
        need_rule_matches(engine)
        matched = select(RULE_MATCHES.c.article_id).where(RULE_MATCHES.c.rule == filters.rule)
        stmt = stmt.where(Article.id.in_(matched.scalar_subquery()))
    return stmt


def _with_tsquery(match: MatchExpr, stmt: Select[Any]) -> Select[Any]:
    query = tsquery_sql(match.tsquery, iter(range(1_000_000))).label("hw_q")
    tsq = select(query).subquery("hw_query")
    return stmt.join(tsq, literal(True)).where(search_vector().op("@@")(tsq.c.hw_q))


def fts_match(match: MatchExpr) -> ColumnElement[bool]:
    return literal_column("articles_fts").op("MATCH")(bindparam("fts", match.fts5))


def search_vector() -> ColumnClause[Any]:
    return literal_column("articles.search_vector")


def tsquery_sql(node: TsNode, names: Iterator[int]) -> ColumnElement[Any]:
    """The tsquery tree as SQL; every word is a bound parameter, never query text."""
    if isinstance(node, TsLeaf):
        words: Any = bindparam(f"w{next(names)}", node.words)
        return func.hw_tsquery_leaf(words, literal(node.suffix))
    if isinstance(node, TsNot):
        return func.tsquery_not(tsquery_sql(node.item, names))
    if isinstance(node, TsFollow):
        left, right = tsquery_sql(node.left, names), tsquery_sql(node.right, names)
        return func.tsquery_phrase(left, right, literal(node.distance))
    parts = [tsquery_sql(item, names) for item in node.items]
    combine = func.tsquery_and if node.op == "and" else func.tsquery_or
    out = parts[0]
    for part in parts[1:]:
        out = combine(out, part)
    return out


def map_file(session: Session) -> None:
    """Interactive reads (a page, a chart) map the SQLite file: see SEARCH_MMAP_BYTES."""
    if session.get_bind().dialect.name == "sqlite":
        # Read the result: the setting is applied when the statement has run to its end.
        session.execute(text(f"PRAGMA mmap_size={SEARCH_MMAP_BYTES}")).all()


def has_rule_matches(engine: Engine) -> bool:
    return inspect(engine).has_table("rule_matches")


def need_rule_matches(engine: Engine) -> None:
    if not has_rule_matches(engine):
        raise SearchError(
            "rule filter: this database has no rule matches (the alerts feature stores them)"
        )


def to_hit(row: Sequence[Any], with_text: bool) -> SearchHit:
    score = row[10 if with_text else 9]
    return SearchHit(
        id=row[0],
        source=row[1],
        title=row[2],
        url=row[3],
        language=row[4],
        published=row[5],
        first_seen=row[6],
        story_id=row[7],
        event_id=row[8],
        score=float(score) if score is not None else None,
        text=row[9] if with_text else None,
    )
