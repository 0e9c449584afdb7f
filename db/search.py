"""Full-text search over the archive: one interface over SQLite FTS5 and PostgreSQL.

The query text is parsed and compiled above this layer (``crawler.search_query``) into a
``MatchExpr``: an FTS5 MATCH string (every word quoted) and a small tsquery tree whose leaves
are bound as parameters, so user text never becomes SQL or tsquery syntax. This module runs
it with filters, ranking (bm25 / ts_rank) and sorting; see migrations 0005_search and
0007_search_key (SQLite's index numbered by date), and docs/search.md.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Final, Literal, TypeAlias

from sqlalchemy import (
    ColumnElement,
    Connection,
    Engine,
    Integer,
    Select,
    bindparam,
    case,
    cast,
    column,
    exists,
    func,
    inspect,
    literal,
    literal_column,
    select,
    table,
    text,
    type_coerce,
)
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnClause

from db.errors import HaitiwatchError
from db.schema import Article, RuleMatchRow, Source

SORTS: Final = ("relevance", "date")
COVERAGE_KEYS: Final = ("source", "language", "rule")
Sort: TypeAlias = Literal["relevance", "date"]

#: bm25 column weights (title, text): a word in the title counts as much as four in the text.
_BM25: Final = "bm25(articles_fts, 4.0, 1.0)"
#: Relevance over more matches than this ranks the newest this many (see ``_fts5_page``
#: for SQLite, ``_many_matches`` for PostgreSQL).
RANK_WINDOW: Final = 2_000
#: Filters (other than dates) that pass up to this many articles: those are collected
#: once and the FTS5 walk looks each match up among them (``_passing``).
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
#: Day 0 of the keys' day numbers (``_key_day``).
EPOCH_DAY: Final = date(1970, 1, 1)
#: The key as SQL, as the migration's view and triggers compute it (a test compares them).
SEARCH_KEY_SQL: Final = (
    "max(0, min(coalesce(CAST(strftime('%s', substr(coalesce(articles.published_at, "
    "articles.first_seen_at), 1, 19)) AS INTEGER), 0), 4294967295)) * 2147483648 + articles.id"
)
#: Adds new articles to the SQLite index, in search-key order (migration 0008_search_insert
#: replaced the AFTER INSERT trigger by this statement: a feed's batch through the trigger cost
#: 0.26 ms an article, this 0.11 ms; in reverse key order, as feeds list, 0.17 ms).
_INDEX_NEW_SQLITE: Final = (
    f"INSERT INTO articles_fts(rowid, title, text) SELECT {SEARCH_KEY_SQL}, title, text"  # noqa: S608 (constants only)
    " FROM articles WHERE articles.id IN (SELECT value FROM json_each(?)) ORDER BY 1"
)
_FTS = table("articles_fts", column("rowid"))
_RULE_MATCHES = table("rule_matches", column("article_id"), column("rule"))
#: An article's date: when it was published, else when it was first seen (indexed).
ARTICLE_DATE: Final = func.coalesce(Article.published_at, Article.first_seen_at)


class SearchError(HaitiwatchError, ValueError):
    """A search that cannot run as asked (not a syntax error: those are QuerySyntaxError)."""


# -- the compiled query (built by crawler.search_query) -------------------------------------


@dataclass(frozen=True, slots=True)
class TsLeaf:
    """Words searched as a phrase; ``suffix`` is added to each lexeme ('*', 'A', '*B', '')."""

    words: str
    suffix: str = ""


@dataclass(frozen=True, slots=True)
class TsBool:
    op: Literal["and", "or"]
    items: tuple[TsNode, ...]


@dataclass(frozen=True, slots=True)
class TsNot:
    item: TsNode


@dataclass(frozen=True, slots=True)
class TsFollow:
    """``right`` exactly ``distance`` positions after ``left`` (tsquery's <N>)."""

    left: TsNode
    right: TsNode
    distance: int


TsNode: TypeAlias = TsLeaf | TsBool | TsNot | TsFollow


@dataclass(frozen=True, slots=True)
class MatchExpr:
    fts5: str
    tsquery: TsNode


# -- filters and results --------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SearchFilters:
    since: datetime | None = None
    until: datetime | None = None
    sources: tuple[str, ...] = ()
    languages: tuple[str, ...] = ()
    rule: str | None = None
    story_id: int | None = None


@dataclass(frozen=True, slots=True)
class SearchHit:
    id: int
    source: str
    title: str
    url: str
    language: str | None
    published: datetime | None
    first_seen: datetime
    story_id: int | None
    #: Higher is better (negated bm25 on SQLite, ts_rank on PostgreSQL); None: no query.
    score: float | None
    text: str | None = field(default=None, repr=False)

    @property
    def date(self) -> datetime:
        return self.published or self.first_seen


@dataclass(frozen=True, slots=True)
class CoveragePoint:
    day: date
    key: str
    count: int


def index_new_articles(connection: Connection, article_ids: Sequence[int]) -> None:
    """Add just-inserted articles to the full-text index, in the inserting transaction (the
    Store calls this for every article it inserts; updates and deletes are triggers'). On
    PostgreSQL the index is a generated column: nothing to do."""
    if article_ids and connection.dialect.name == "sqlite":
        connection.exec_driver_sql(_INDEX_NEW_SQLITE, (json.dumps(list(article_ids)),))


def has_rule_matches(engine: Engine) -> bool:
    return inspect(engine).has_table("rule_matches")


def search(
    engine: Engine,
    match: MatchExpr | None,
    filters: SearchFilters = SearchFilters(),
    sort: Sort = "relevance",
    limit: int = 20,
    offset: int = 0,
    with_text: bool = True,
) -> list[SearchHit]:
    """One page of hits; without ``match``, every article that passes the filters.

    The page is chosen on narrow rows (ids, scores, dates), then the texts of those hits
    only are read: sorting wide rows is what makes a large archive slow.
    """
    stmt = _page(engine, match, filters, sort, limit, offset)
    with Session(engine) as session:
        _map_file(session)
        hits = [_hit(row, False) for row in session.execute(stmt)]
        if not with_text or not hits:
            return hits
        ids = [hit.id for hit in hits]
        texts = dict(
            session.execute(select(Article.id, Article.text).where(Article.id.in_(ids))).all()
        )
    return [replace(hit, text=texts.get(hit.id, "")) for hit in hits]


def _page(
    engine: Engine,
    match: MatchExpr | None,
    filters: SearchFilters,
    sort: Sort,
    limit: int,
    offset: int,
) -> Select[Any]:
    """The statement for one page of ``search``, by the cheapest plan that gives it."""
    if match is not None and engine.dialect.name == "sqlite":
        return _fts5_page(engine, match, filters, sort, limit, offset)
    # PostgreSQL ranks every filtered match: its planner finds them well, while a window's
    # probe and date-sorted preselection measured slower there (docs/search.md).
    filtered = filters != SearchFilters()
    many = _many_matches(engine, match, sort) if not filtered else None
    return _select(engine, match, filters, sort, False, many).limit(limit).offset(offset)


# -- SQLite: pages walked in search-key order -------------------------------------------------
#
# The FTS5 rowid is the article's search key (migration 0007): its date in whole seconds
# times KEY_SPAN, plus its id. FTS5 walks matches newest first on its own, and a date range
# is a rowid range it seeks. A page therefore never sorts every match: a date sort stops
# after one page, and relevance ranks the RANK_WINDOW newest matches that pass the filters
# (every one, when fewer match), computing bm25 for those rows only.


def _fts5_page(
    engine: Engine,
    match: MatchExpr,
    filters: SearchFilters,
    sort: Sort,
    limit: int,
    offset: int,
) -> Select[Any]:
    rowid = _FTS.c.rowid
    walk = select(rowid.label("key")).where(_fts_match(match), *_passing(engine, filters))
    walk = walk.order_by(rowid.desc())
    if sort == "relevance":
        window = walk.add_columns(_score(engine).label("score")).limit(RANK_WINDOW).subquery()
        order: list[Any] = [window.c.score.desc(), window.c.key.desc()]
        page = select(window).order_by(*order).limit(limit).offset(offset).subquery("hw_page")
        score: Any = page.c.score
    else:
        page = walk.limit(limit).offset(offset).subquery("hw_page")
        score = literal(None)
    stmt = select(*_columns(False), score.label("score")).select_from(page)
    stmt = stmt.join(Article, Article.id == page.c.key % KEY_SPAN)
    stmt = stmt.join(Source, Source.id == Article.source_id)
    order = [score.desc(), page.c.key.desc()] if sort == "relevance" else [page.c.key.desc()]
    return stmt.order_by(*order)


def _passing(engine: Engine, filters: SearchFilters) -> list[ColumnElement[bool]]:
    """Conditions on the FTS5 walk for ``filters``: a rowid range for the dates, and a check
    of the other filters. Up to CANDIDATE_LIMIT articles pass them: they are collected once
    (an index finds them) and each match is looked up among them; their dates narrow the
    rowid range further. More: each match's article row is checked, as the walk goes."""
    rowid = _FTS.c.rowid
    low, high, exact = _key_range(filters.since, filters.until)
    rest = replace(filters, since=None, until=None) if exact else filters
    if rest == SearchFilters():
        return _between(low, high)
    chosen = _filtered(engine, None, filters, select(Article.id).select_from(Article))
    with engine.connect() as connection:
        bounded = chosen.limit(CANDIDATE_LIMIT + 1).subquery()
        found = int(connection.execute(select(func.count()).select_from(bounded)).scalar_one())
        if found > CANDIDATE_LIMIT:
            article = _filtered(engine, None, rest, select(literal(1)).select_from(Article))
            row = article.where(Article.id == rowid % KEY_SPAN).correlate(_FTS)
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
        bounds.append(_FTS.c.rowid >= low)
    if high is not None:
        bounds.append(_FTS.c.rowid <= high)
    return bounds


def _key_range(
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
    utc = _as_utc(moment)
    seconds = math.floor(utc.timestamp())
    clamped = min(max(seconds, 0), KEY_MAX_SECONDS)
    # A clamped key holds every date beyond its end: no exact comparison there.
    inside = 0 < seconds < KEY_MAX_SECONDS
    return clamped, inside and utc.microsecond == 0


def _as_utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _many_matches(engine: Engine, match: MatchExpr | None, sort: str) -> int | None:
    """PostgreSQL, relevance of a word query (no phrase, no NEAR) matching more than
    RANK_WINDOW articles: the id below which the older matches lie (None otherwise).
    ts_rank over every match of a very common word costs over half a second at 1M
    articles; it is then ranked among the RANK_WINDOW newest matches. A date sort needs no
    window (the planner picks the date index or GIN as it estimates)."""
    if sort == "date" or match is None or _positional(match.tsquery):
        return None
    query = _tsquery(match.tsquery, iter(range(1_000_000)))
    # The primary key walked backwards for a common word, GIN else.
    probe = (
        select(Article.id)
        .where(_vector().op("@@")(query))
        .order_by(Article.id.desc())
        .offset(RANK_WINDOW)
        .limit(1)
    )
    with engine.connect() as connection:
        found = connection.execute(probe).scalar()
    return int(found) if found is not None else None


def _positional(node: TsNode) -> bool:
    """Phrases and NEAR: PostgreSQL cannot estimate how many rows they match, and a probe
    that walks the primary key for a rare phrase reads most of the table (130 ms at 1M)."""
    if isinstance(node, TsLeaf):
        return len(node.words.split()) > 1
    if isinstance(node, TsFollow):
        return True
    if isinstance(node, TsNot):
        return _positional(node.item)
    return any(_positional(item) for item in node.items)


def iter_search(
    engine: Engine,
    match: MatchExpr | None,
    filters: SearchFilters = SearchFilters(),
    sort: Sort = "relevance",
    limit: int | None = None,
    with_text: bool = False,
    batch: int = 1000,
) -> Iterator[SearchHit]:
    """Every hit, streamed from a server-side cursor in batches (constant memory)."""
    stmt = _select(engine, match, filters, sort, with_text)
    if limit is not None:
        stmt = stmt.limit(limit)
    with engine.connect() as connection:
        result = connection.execution_options(stream_results=True, yield_per=batch).execute(stmt)
        for row in result:
            yield _hit(row, with_text)


def count(engine: Engine, match: MatchExpr | None, filters: SearchFilters = SearchFilters()) -> int:
    stmt = _select(engine, match, filters, "date", False).order_by(None)
    with Session(engine) as session:
        return int(session.scalar(select(func.count()).select_from(stmt.subquery())) or 0)


def coverage(
    engine: Engine,
    match: MatchExpr | None,
    filters: SearchFilters,
    by: str = "source",
    last_days: int | None = None,
) -> list[CoveragePoint]:
    """Matching articles per day (UTC) and per source, language or rule; with ``last_days``,
    only the days up to that many back from the newest match (what a chart draws: finding
    the newest match is one cheap query, counting reads every match)."""
    if by not in COVERAGE_KEYS:
        raise SearchError(f"coverage by {by!r}: expected one of {', '.join(COVERAGE_KEYS)}")
    if last_days is not None:
        newest = search(engine, match, filters, "date", 1, with_text=False)
        if not newest:
            return []
        last = _as_utc(newest[0].date).date()
        first = datetime.combine(last - timedelta(days=last_days - 1), time(), UTC)
        if filters.since is None or _as_utc(filters.since) < first:
            filters = replace(filters, since=first)
    stmt = _matched(engine, match, filters, select(Article.id))
    walked = match is not None and engine.dialect.name == "sqlite"
    day = _key_day(_FTS.c.rowid) if walked else _day(engine)
    key: Any
    if by == "source":
        key = Source.name
        stmt = stmt.join(Source, Source.id == Article.source_id)
    elif by == "language":
        key = func.coalesce(Article.language, "unknown")
    else:
        _need_rule_matches(engine)
        key = _RULE_MATCHES.c.rule
        stmt = stmt.join(_RULE_MATCHES, _RULE_MATCHES.c.article_id == Article.id)
    day_label, key_label = day.label("day"), key.label("key")
    # Grouped and sorted by the labels: each row's day is computed once.
    grouped = (
        stmt.with_only_columns(day_label, key_label, func.count().label("n"))
        .group_by(day_label, key_label)
        .order_by(day_label, key_label)
    )
    with Session(engine) as session:
        _map_file(session)
        return [CoveragePoint(_as_day(d), str(k), int(n)) for d, k, n in session.execute(grouped)]


# -- SQL building ---------------------------------------------------------------------------


def _columns(with_text: bool) -> list[Any]:
    cols: list[Any] = [
        Article.id,
        Source.name,
        Article.title,
        Article.url,
        Article.language,
        Article.published_at,
        Article.first_seen_at,
        Article.story_id,
    ]
    return [*cols, Article.text] if with_text else cols


def _select(
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
    score = _score(engine) if match is not None else literal(None)
    stmt = _matched(engine, match, filters, select(*_columns(with_text), score.label("score")))
    stmt = stmt.join(Source, Source.id == Article.source_id)
    if many is not None:
        stmt = stmt.where(Article.id > many)
    order: list[Any] = [ARTICLE_DATE.desc(), Article.id.desc()]
    if sort == "relevance" and match is not None:
        order = [literal_column("score").desc(), Article.id.desc()]
    elif match is not None and engine.dialect.name == "sqlite":
        order = [_FTS.c.rowid.desc()]  # the search key: the same order as ``search`` gives
    return stmt.order_by(*order)


def _score(engine: Engine) -> ColumnElement[Any]:
    if engine.dialect.name == "sqlite":
        return -literal_column(_BM25)
    return func.ts_rank(_vector(), literal_column("hw_q"))


def _matched(
    engine: Engine, match: MatchExpr | None, filters: SearchFilters, stmt: Select[Any]
) -> Select[Any]:
    """``stmt`` over the articles that match and pass ``filters``. On SQLite the FTS5 index
    drives, each match joined to its article by the key's low bits and filtered as a page is
    (``_passing``); otherwise the articles table, with the filters on its rows."""
    if match is not None and engine.dialect.name == "sqlite":
        rowid = _FTS.c.rowid
        stmt = stmt.select_from(_FTS).join(Article, Article.id == rowid % KEY_SPAN)
        return stmt.where(_fts_match(match), *_passing(engine, filters))
    return _filtered(engine, match, filters, stmt.select_from(Article))


def _filtered(
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
        _need_rule_matches(engine)
        matched = select(_RULE_MATCHES.c.article_id).where(_RULE_MATCHES.c.rule == filters.rule)
        stmt = stmt.where(Article.id.in_(matched.scalar_subquery()))
    return stmt


def _with_tsquery(match: MatchExpr, stmt: Select[Any]) -> Select[Any]:
    query = _tsquery(match.tsquery, iter(range(1_000_000))).label("hw_q")
    tsq = select(query).subquery("hw_query")
    return stmt.join(tsq, literal(True)).where(_vector().op("@@")(tsq.c.hw_q))


def _fts_match(match: MatchExpr) -> ColumnElement[bool]:
    return literal_column("articles_fts").op("MATCH")(bindparam("fts", match.fts5))


def _vector() -> ColumnClause[Any]:
    return literal_column("articles.search_vector")


def _tsquery(node: TsNode, names: Iterator[int]) -> ColumnElement[Any]:
    """The tsquery tree as SQL; every word is a bound parameter, never query text."""
    if isinstance(node, TsLeaf):
        words: Any = bindparam(f"w{next(names)}", node.words)
        return func.hw_tsquery_leaf(words, literal(node.suffix))
    if isinstance(node, TsNot):
        return func.tsquery_not(_tsquery(node.item, names))
    if isinstance(node, TsFollow):
        left, right = _tsquery(node.left, names), _tsquery(node.right, names)
        return func.tsquery_phrase(left, right, literal(node.distance))
    parts = [_tsquery(item, names) for item in node.items]
    combine = func.tsquery_and if node.op == "and" else func.tsquery_or
    out = parts[0]
    for part in parts[1:]:
        out = combine(out, part)
    return out


def _day(engine: Engine) -> ColumnElement[Any]:
    if engine.dialect.name == "sqlite":
        return func.substr(ARTICLE_DATE, 1, 10)
    return func.to_char(func.timezone("UTC", ARTICLE_DATE), "YYYY-MM-DD")


def _map_file(session: Session) -> None:
    """Interactive reads (a page, a chart) map the SQLite file: see SEARCH_MMAP_BYTES."""
    if session.get_bind().dialect.name == "sqlite":
        # Read the result: the setting is applied when the statement has run to its end.
        session.execute(text(f"PRAGMA mmap_size={SEARCH_MMAP_BYTES}")).all()


def _key_day(rowid: ColumnElement[int]) -> ColumnElement[Any]:
    """The UTC day of a search key, as days since 1970-01-01: integer arithmetic on the key
    (grouping 400,000 matches by it takes a third less time than by the date's text), or
    the row's date for a key clamped at either end."""
    seconds = type_coerce(rowid, Integer) // KEY_SPAN  # integers: SQLite's "/" truncates
    from_row = cast(func.julianday(func.substr(ARTICLE_DATE, 1, 10)) - 2440587.5, Integer)
    return case((seconds.between(1, KEY_MAX_SECONDS - 1), seconds // 86400), else_=from_row)


def _as_day(value: object) -> date:
    if isinstance(value, int):
        return EPOCH_DAY + timedelta(days=value)
    return date.fromisoformat(str(value)[:10])


def _need_rule_matches(engine: Engine) -> None:
    if not has_rule_matches(engine):
        raise SearchError(
            "rule filter: this database has no rule matches (the alerts feature stores them)"
        )


def _hit(row: Sequence[Any], with_text: bool) -> SearchHit:
    score = row[9 if with_text else 8]
    return SearchHit(
        id=row[0],
        source=row[1],
        title=row[2],
        url=row[3],
        language=row[4],
        published=row[5],
        first_seen=row[6],
        story_id=row[7],
        score=float(score) if score is not None else None,
        text=row[8] if with_text else None,
    )


def languages(engine: Engine) -> list[str]:
    """The languages the archive holds (for the search form)."""
    stmt = select(Article.language).where(Article.language.is_not(None)).distinct()
    with Session(engine) as session:
        return sorted(str(lang) for lang in session.scalars(stmt))


def filter_names(engine: Engine) -> tuple[set[str], set[str]]:
    """The source names and the rule names the archive holds (to refuse an unknown filter)."""
    with Session(engine) as session:
        sources = set(session.scalars(select(Source.name)))
        rules = set(session.scalars(select(RuleMatchRow.rule).distinct()))
    return sources, rules
