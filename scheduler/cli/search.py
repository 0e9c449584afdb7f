"""`haitiwatch search QUERY`: full-text search of the archive, as a table or a streamed export."""

from __future__ import annotations

import csv
import json
import sys
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any, TextIO

import typer
from rich.markup import escape
from rich.table import Table

from haitiwatch.db.errors import HaitiwatchError
from haitiwatch.db.search import SearchFilters, SearchHit, Sort
from haitiwatch.db.search.query import SearchQuery, parse_day
from haitiwatch.scheduler.cli.common import load, open_archive
from haitiwatch.scheduler.cli.output import print_table
from haitiwatch.scheduler.cli.since import parse_since, since_help
from haitiwatch.scheduler.rules.highlight import Highlighter

FORMATS = ("table", "json", "jsonl", "csv")


class SearchFormat(StrEnum):
    """search's --format (FORMATS)."""

    table = "table"
    json = "json"
    jsonl = "jsonl"
    csv = "csv"


class SortOrder(StrEnum):
    """search's --sort (db.search.SORTS)."""

    relevance = "relevance"
    date = "date"


CSV_FIELDS = (
    "id", "date", "published", "first_seen", "source", "language", "title", "url", "story_id",
    "event_id", "score", "snippet",
)  # fmt: skip


def hit_record(hit: SearchHit, highlighter: Highlighter | None) -> dict[str, Any]:
    """A hit as plain data; the snippet is plain text with the matches in [[ ]]."""
    snippet = None
    if highlighter is not None and hit.text is not None:
        found = highlighter.highlight(hit.title, hit.text)
        snippet = found.snippet.render(lambda s: s, "[[", "]]")
    return {
        "id": hit.id,
        "date": hit.date.isoformat(),
        "published": hit.published.isoformat() if hit.published else None,
        "first_seen": hit.first_seen.isoformat(),
        "source": hit.source,
        "language": hit.language,
        "title": hit.title,
        "url": hit.url,
        "story_id": hit.story_id,
        "event_id": hit.event_id,
        "score": round(hit.score, 6) if hit.score is not None else None,
        "snippet": snippet,
    }


def write_records(records: Iterable[dict[str, Any]], format: str, stream: TextIO) -> int:
    """Write as json (one array), jsonl or csv, one record at a time; return the count."""
    n = 0
    if format == "csv":
        writer = csv.DictWriter(stream, CSV_FIELDS, extrasaction="ignore")
        writer.writeheader()
        for n, record in enumerate(records, 1):  # noqa: B007
            writer.writerow(record)
        return n
    if format == "json":
        stream.write("[")
    for n, record in enumerate(records, 1):
        if format == "json":
            stream.write("\n" if n == 1 else ",\n")
        stream.write(json.dumps(record, ensure_ascii=False))
        if format == "jsonl":
            stream.write("\n")
    if format == "json":
        stream.write("\n]\n" if n else "]\n")
    return n


def search_command(
    query: Annotated[
        str | None, typer.Argument(help='Same syntax as rules: words, "phrases", OR, NOT, NEAR/5.')
    ] = None,
    since: Annotated[str | None, typer.Option(help=since_help("Published or found since"))] = None,
    until: Annotated[str | None, typer.Option(help="Up to this day, inclusive.")] = None,
    source: Annotated[list[str] | None, typer.Option(help="Only this source (repeatable).")] = None,
    lang: Annotated[list[str] | None, typer.Option(help="Only this language (repeatable).")] = None,
    rule: Annotated[str | None, typer.Option(help="Only articles this alert rule matched.")] = None,
    story: Annotated[int | None, typer.Option(help="Only copies of this story.")] = None,
    sort: Annotated[SortOrder, typer.Option(help="date: newest first.")] = SortOrder.relevance,
    limit: Annotated[
        int | None, typer.Option(help="At most this many (default: 20 for table, all otherwise).")
    ] = None,
    format: Annotated[
        SearchFormat, typer.Option("--format", "-f", help="table: tab-separated when piped.")
    ] = SearchFormat.table,
    snippets: Annotated[
        bool, typer.Option(help="Include a snippet around the matches in exports.")
    ] = True,
) -> None:
    """Search the archive. Exports (json, jsonl, csv) stream in constant memory."""
    chosen: Sort = "date" if sort == "date" else "relevance"
    # Syntax errors before opening the database; an empty query: every article that passes.
    searched = SearchQuery(query) if query and query.strip() else None
    match = searched.match if searched is not None else None
    highlighter = Highlighter(searched.node) if searched is not None else None
    filters = SearchFilters(
        since=parse_since(since, datetime.now(UTC)) if since else None,
        until=parse_day(until, "--until", end=True),
        sources=tuple(source or ()),
        languages=tuple(lang or ()),
        rule=rule,
        story_id=story,
    )
    loaded = load()
    with open_archive(loaded) as archive:
        archived_sources, archived_rules = archive.filter_names()
        known_sources = archived_sources | {s.name for s in loaded.config.sources}
        _refuse_unknown("--source", filters.sources, known_sources)
        _refuse_unknown(
            "--rule", [rule] if rule else [], archived_rules | {r.name for r in loaded.config.rules}
        )
        if format == "table":
            hits = archive.search(match, filters, chosen, limit or 20)
            print_table(_table(hits, highlighter))
            return
        with_text = snippets and highlighter is not None
        stream = archive.iter_search(match, filters, chosen, limit, with_text)
        write_records(_records(stream, highlighter), format, sys.stdout)


def _refuse_unknown(option: str, names: Iterable[str], known: set[str]) -> None:
    """A misspelt filter would print an empty result, which reads as "nothing found"."""
    for name in names:
        if name not in known:
            listed = ", ".join(sorted(known)) or "none"
            raise HaitiwatchError(f"{option}: no {option[2:]} named {name!r} (known: {listed})")


def _records(
    hits: Iterator[SearchHit], highlighter: Highlighter | None
) -> Iterator[dict[str, Any]]:
    for hit in hits:
        yield hit_record(hit, highlighter)


def _table(hits: list[SearchHit], highlighter: Highlighter | None) -> Table:
    table = Table("id", "date", "source", "lang", "title / snippet", show_lines=True)
    for hit in hits:
        body = f"[bold]{escape(hit.title)}[/bold]\n[dim]{escape(hit.url)}[/dim]"
        if highlighter is not None and hit.text is not None:
            snippet = highlighter.highlight(hit.title, hit.text).snippet
            body += "\n" + snippet.render(escape, "[reverse]", "[/reverse]")
        table.add_row(
            str(hit.id), hit.date.date().isoformat(), escape(hit.source), hit.language or "-", body
        )
    return table
