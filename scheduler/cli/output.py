"""How list commands print: a table on a terminal, whole cells for pipes, the choices in --help.

A rich table fits itself to the terminal by cutting and wrapping cells, which loses names and
URLs in a pipe or a file; there, the same rows go out tab-separated, nothing cut.
"""

from __future__ import annotations

import csv
import sys
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from enum import StrEnum
from typing import Annotated, TypeVar

import typer
from rich.console import RenderableType
from rich.errors import MarkupError
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Column, Table
from rich.text import Text

from haitiwatch.scheduler.cli.common import err, out

T = TypeVar("T")


class ListFormat(StrEnum):
    """--format of the list commands."""

    table = "table"
    json = "json"
    csv = "csv"
    tsv = "tsv"


FORMAT_HELP = "table (tab-separated when piped), json, csv or tsv."
#: The list commands' ``--format``, one definition for all of them.
FormatOption = Annotated[ListFormat, typer.Option("--format", "-f", help=FORMAT_HELP)]


def clipped(header: str, width: int) -> Column:
    """A column cut to ``width`` on a terminal (with an ellipsis); pipes still get it whole."""
    return Column(header, max_width=width, no_wrap=True, overflow="ellipsis")


def print_table(table: Table, format: ListFormat = ListFormat.table) -> None:
    """``table`` as asked: drawn on a terminal, else (and for tsv/csv) its rows, cells whole.
    JSON is each command's own records, printed before it builds a table."""
    if format == ListFormat.table and out.is_terminal:
        out.print(table)
        return
    rows = [[_plain(c.header) for c in table.columns], *_rows(table)]
    if format == ListFormat.csv:
        csv.writer(sys.stdout, lineterminator="\n").writerows(rows)
        return
    for row in rows:  # a tab or line break inside a cell would split the row
        sys.stdout.write("\t".join(" ".join(cell.split()) for cell in row) + "\n")


def _rows(table: Table) -> Iterator[list[str]]:
    columns = [[_plain(cell) for cell in column.cells] for column in table.columns]
    yield from (list(row) for row in zip(*columns, strict=True))


def _plain(cell: RenderableType) -> str:
    if isinstance(cell, Text):
        return cell.plain
    if isinstance(cell, str):
        try:
            return Text.from_markup(cell).plain
        except MarkupError:  # a cell that was never markup (an unescaped title)
            return cell
    return str(cell)


@contextmanager
def progress(label: str, total: int | None = None) -> Iterator[Callable[[int], None]]:
    """A progress bar on stderr while a long command works, only on a terminal: never in a
    pipe or a log. Yields ``advance(steps)``; ``total`` None: a spinner and a count."""
    if not err.is_terminal:
        yield lambda steps: None
        return
    columns: list[ProgressColumn | str] = [TextColumn(label)]
    if total is None:
        columns += [SpinnerColumn(), TextColumn("{task.completed}"), TimeElapsedColumn()]
    else:
        columns += [BarColumn(), MofNCompleteColumn(), TimeElapsedColumn()]
    with Progress(*columns, console=err, transient=True) as bar:
        task = bar.add_task(label, total=total)
        yield lambda steps: bar.advance(task, steps)


def counted(items: Iterable[T], advance: Callable[[int], None]) -> Iterator[T]:
    """``items``, advancing the progress bar by one for each."""
    for item in items:
        yield item
        advance(1)
