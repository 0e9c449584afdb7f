"""Pages of hits: one page (ranked or newest first) or every hit streamed, and the count."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from typing import Any, Final

from sqlalchemy import Engine, Select, literal, select
from sqlalchemy.orm import Session

from haitiwatch.db.schema import Article, Source
from haitiwatch.db.search import NO_FILTERS, SearchFilters, SearchHit, Sort
from haitiwatch.db.search.query import MatchExpr, TsFollow, TsLeaf, TsNode, TsNot
from haitiwatch.db.search.sql import (
    FTS,
    KEY_SPAN,
    columns,
    fts_match,
    hits_statement,
    map_file,
    passing,
    score_column,
    search_vector,
    to_hit,
    tsquery_sql,
)

#: Relevance over more matches than this ranks the newest this many (see ``_fts5_page``
#: for SQLite, ``_many_matches`` for PostgreSQL).
RANK_WINDOW: Final = 2_000


def search(
    engine: Engine,
    match: MatchExpr | None,
    filters: SearchFilters = NO_FILTERS,
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
        map_file(session)
        hits = [to_hit(row, False) for row in session.execute(stmt)]
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
    filtered = filters != NO_FILTERS
    many = _many_matches(engine, match, sort) if not filtered else None
    return hits_statement(engine, match, filters, sort, False, many).limit(limit).offset(offset)


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
    rowid = FTS.c.rowid
    walk = select(rowid.label("key")).where(fts_match(match), *passing(engine, filters))
    walk = walk.order_by(rowid.desc())
    if sort == "relevance":
        window = walk.add_columns(score_column(engine).label("score")).limit(RANK_WINDOW).subquery()
        order: list[Any] = [window.c.score.desc(), window.c.key.desc()]
        page = select(window).order_by(*order).limit(limit).offset(offset).subquery("hw_page")
        score: Any = page.c.score
    else:
        page = walk.limit(limit).offset(offset).subquery("hw_page")
        score = literal(None)
    stmt = select(*columns(False), score.label("score")).select_from(page)
    stmt = stmt.join(Article, Article.id == page.c.key % KEY_SPAN)
    stmt = stmt.join(Source, Source.id == Article.source_id)
    order = [score.desc(), page.c.key.desc()] if sort == "relevance" else [page.c.key.desc()]
    return stmt.order_by(*order)


def _many_matches(engine: Engine, match: MatchExpr | None, sort: str) -> int | None:
    """PostgreSQL, relevance of a word query (no phrase, no NEAR) matching more than
    RANK_WINDOW articles: the id below which the older matches lie (None otherwise).
    ts_rank over every match of a very common word costs over half a second at 1M
    articles; it is then ranked among the RANK_WINDOW newest matches. A date sort needs no
    window (the planner picks the date index or GIN as it estimates)."""
    if sort == "date" or match is None or _positional(match.tsquery):
        return None
    query = tsquery_sql(match.tsquery, iter(range(1_000_000)))
    # The primary key walked backwards for a common word, GIN else.
    probe = (
        select(Article.id)
        .where(search_vector().op("@@")(query))
        .order_by(Article.id.desc())
        .offset(RANK_WINDOW)
        .limit(1)
    )
    with engine.connect() as connection:
        found = connection.execute(probe).scalar()
    return int(found) if found is not None else None


def _positional(node: TsNode) -> bool:
    """Phrases and NEAR: PostgreSQL cannot estimate how many rows they match, and a probe
    that walks the primary key for a rare phrase reads most of the table."""
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
    filters: SearchFilters = NO_FILTERS,
    sort: Sort = "relevance",
    limit: int | None = None,
    with_text: bool = False,
    batch: int = 1000,
) -> Iterator[SearchHit]:
    """Every hit, streamed from a server-side cursor in batches (constant memory)."""
    stmt = hits_statement(engine, match, filters, sort, with_text)
    if limit is not None:
        stmt = stmt.limit(limit)
    with engine.connect() as connection:
        result = connection.execution_options(stream_results=True, yield_per=batch).execute(stmt)
        for row in result:
            yield to_hit(row, with_text)
