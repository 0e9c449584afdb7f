"""Full-text search over the archive: one interface over SQLite FTS5 and PostgreSQL.

The query text is parsed and compiled above this layer (``crawler.search_query``) into a
``MatchExpr``: an FTS5 MATCH string (every word quoted) and a small tsquery tree whose leaves
are bound as parameters, so user text never becomes SQL or tsquery syntax. This module runs
it with filters, ranking (bm25 / ts_rank) and sorting; see migration 0005_search.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from typing import Any, Final, Literal, TypeAlias

from sqlalchemy import (
    ColumnElement,
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

from db.errors import HaitiwatchError
from db.schema import Article, Source

SORTS: Final = ("relevance", "date")
COVERAGE_KEYS: Final = ("source", "language", "rule")
Sort: TypeAlias = Literal["relevance", "date"]

#: bm25 column weights (title, text): a word in the title counts as much as four in the text.
_BM25: Final = "bm25(articles_fts, 4.0, 1.0)"
#: Past this many matches (SQLite), see ``_many_matches``.
RANK_WINDOW: Final = 2_000
#: A date sort over more than RANK_WINDOW matches walks the date index newest first. Above
#: this many matches they are dense enough to probe the FTS index per article walked; below
#: it their rowids are collected once and the walk checks each entry against them (probing
#: would take thousands of probes for a sparse word).
DATE_WALK_MIN_MATCHES: Final = 20_000
DateWalk: TypeAlias = Literal["probe", "set"]
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
    filtered = filters != SearchFilters()
    # PostgreSQL ranks every filtered match: its planner finds them well, while a window's
    # probe and date-sorted preselection measured slower there (docs/search.md).
    sqlite = engine.dialect.name == "sqlite"
    many = _many_matches(engine, match, sort) if sqlite or not filtered else None
    walk = _date_walk(engine, match) if many is not None and sort == "date" else None
    within = None
    if many is not None and sort == "relevance" and filtered:
        within, many = _newest_passing(engine, match, filters), None
    stmt = _select(engine, match, filters, sort, False, many, walk, within)
    stmt = stmt.limit(limit).offset(offset)
    with Session(engine) as session:
        hits = [_hit(row, False) for row in session.execute(stmt)]
        if not with_text or not hits:
            return hits
        ids = [hit.id for hit in hits]
        texts = dict(
            session.execute(select(Article.id, Article.text).where(Article.id.in_(ids))).all()
        )
    return [replace(hit, text=texts.get(hit.id, "")) for hit in hits]


def _many_matches(engine: Engine, match: MatchExpr | None, sort: str) -> int | None:
    """A query matching more than RANK_WINDOW articles: the id below which the older matches
    lie (None otherwise). Ranking every match of a very common word costs seconds (bm25 on
    SQLite, ts_rank on PostgreSQL); relevance is then ranked among the RANK_WINDOW newest
    matches, and on SQLite a date sort walks the date index instead of sorting every match
    (``_date_walk``, docs/search.md). PostgreSQL sorts by date on its own (date index or
    GIN, as its planner estimates), so a date sort there needs no window, and it windows
    only word queries (``_positional``)."""
    if engine.dialect.name != "sqlite" and (
        sort == "date" or match is None or _positional(match.tsquery)
    ):
        return None
    return _match_at(engine, match, RANK_WINDOW)


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


def _newest_passing(engine: Engine, match: MatchExpr | None, filters: SearchFilters) -> Select[Any]:
    """The ids of the RANK_WINDOW newest matches that pass ``filters``: the window that
    relevance ranks when filters are given. The window of all matches (``_many_matches``)
    would hold no article of a past date range, or of a source that rarely writes."""
    walk = _date_walk(engine, match) if engine.dialect.name == "sqlite" else None
    newest = _select(engine, match, filters, "date", False, walk=walk)
    window = newest.limit(RANK_WINDOW).subquery("hw_window")
    return select(window.c.id)


def _date_walk(engine: Engine, match: MatchExpr | None) -> DateWalk:
    """How a date sort over more than RANK_WINDOW matches finds its page, walking the date
    index newest first. Up to DATE_WALK_MIN_MATCHES matches: their rowids are collected
    once (a few ms) and each index entry is checked against that set, without reading the
    row. More: the matches are dense, and probing the FTS index for each article walked
    stops sooner than collecting hundreds of thousands of rowids."""
    return "probe" if _match_at(engine, match, DATE_WALK_MIN_MATCHES) is not None else "set"


def _match_at(engine: Engine, match: MatchExpr | None, window: int) -> int | None:
    """The id of the match ``window`` places from the newest (None: fewer matches)."""
    if match is None:
        return None
    if engine.dialect.name == "sqlite":
        probe: Any = text(
            "SELECT rowid FROM articles_fts WHERE articles_fts MATCH :q "
            "ORDER BY rowid DESC LIMIT 1 OFFSET :window"
        ).bindparams(q=match.fts5, window=window)
    else:  # PostgreSQL picks the primary key walked backwards for a common word, GIN else
        query = _tsquery(match.tsquery, iter(range(1_000_000)))
        probe = (
            select(Article.id)
            .where(_vector().op("@@")(query))
            .order_by(Article.id.desc())
            .offset(window)
            .limit(1)
        )
    with engine.connect() as connection:
        found = connection.execute(probe).scalar()
    return int(found) if found is not None else None


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
) -> list[CoveragePoint]:
    """Matching articles per day (UTC) and per source, language or rule."""
    if by not in COVERAGE_KEYS:
        raise SearchError(f"coverage by {by!r}: expected one of {', '.join(COVERAGE_KEYS)}")
    day = _day(engine)
    stmt = _filtered(engine, match, filters, select(Article.id).select_from(Article))
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
    grouped = (
        stmt.with_only_columns(day.label("day"), key.label("key"), func.count().label("n"))
        .group_by(day, key)
        .order_by(day, key)
    )
    with Session(engine) as session:
        return [
            CoveragePoint(date.fromisoformat(str(d)[:10]), str(k), int(n))
            for d, k, n in session.execute(grouped)
        ]


# -- SQL building ---------------------------------------------------------------------------


def _columns(with_text: bool) -> list[Any]:
    cols: list[Any] = [
        Article.id,
        Source.name,
        Article.title,
        Article.canonical_url,
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
    walk: DateWalk | None = None,
    within: Select[Any] | None = None,
) -> Select[Any]:
    if sort not in SORTS:
        raise SearchError(f"sort {sort!r}: expected one of {', '.join(SORTS)}")
    walk_dates = walk is not None and sort == "date"
    ranked = match is not None and not walk_dates
    score = _score(engine) if ranked else literal(None)
    stmt: Select[Any] = select(*_columns(with_text), score.label("score")).select_from(Article)
    stmt = stmt.join(Source, Source.id == Article.source_id)
    if walk_dates:
        # Walk the date index, checking each article against the matches: stops after a page.
        matched = _fts_exists(match) if walk == "probe" else _in_fts_rowids(match)
        stmt = _filtered(engine, None, filters, stmt.where(matched))
    else:
        stmt = _filtered(engine, match, filters, stmt)
        if many is not None:
            newer = _FTS.c.rowid if engine.dialect.name == "sqlite" else Article.id
            stmt = stmt.where(newer > many)
        if within is not None:
            stmt = stmt.where(Article.id.in_(within))
    order: list[Any] = [ARTICLE_DATE.desc(), Article.id.desc()]
    if sort == "relevance" and match is not None:
        order = [literal_column("score").desc(), Article.id.desc()]
    return stmt.order_by(*order)


def _score(engine: Engine) -> ColumnElement[Any]:
    if engine.dialect.name == "sqlite":
        return -literal_column(_BM25)
    return func.ts_rank(_vector(), literal_column("hw_q"))


def _filtered(
    engine: Engine, match: MatchExpr | None, filters: SearchFilters, stmt: Select[Any]
) -> Select[Any]:
    if match is not None:
        stmt = _with_match(engine, match, stmt)
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


def _with_match(engine: Engine, match: MatchExpr, stmt: Select[Any]) -> Select[Any]:
    if engine.dialect.name == "sqlite":
        fts_match = literal_column("articles_fts").op("MATCH")(bindparam("fts", match.fts5))
        return stmt.join(_FTS, _FTS.c.rowid == Article.id).where(fts_match)
    query = _tsquery(match.tsquery, iter(range(1_000_000))).label("hw_q")
    tsq = select(query).subquery("hw_query")
    return stmt.join(tsq, literal(True)).where(_vector().op("@@")(tsq.c.hw_q))


def _fts_exists(match: MatchExpr | None) -> ColumnElement[bool]:
    assert match is not None
    fts_match = literal_column("articles_fts").op("MATCH")(bindparam("fts", match.fts5))
    return exists(select(literal(1)).select_from(_FTS).where(fts_match, _FTS.c.rowid == Article.id))


def _in_fts_rowids(match: MatchExpr | None) -> ColumnElement[bool]:
    assert match is not None
    fts_match = literal_column("articles_fts").op("MATCH")(bindparam("fts", match.fts5))
    # "+articles.id": SQLite must not drive the query from the IN list (rowid lookups and a
    # sort of every match); the unary plus keeps it walking the date index in order.
    return literal_column("+articles.id").in_(select(_FTS.c.rowid).where(fts_match))


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
