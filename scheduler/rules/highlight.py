"""Short excerpts around matched terms, for alert messages, search hits and backtests.

A snippet keeps the highlight spans separate from the text, so each output format
(plain text, HTML, Slack mrkdwn, a terminal) escapes the text its own way and then marks
the spans: feed-supplied text never becomes markup.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from haitiwatch.db.query.ast import Node, leaves, or_
from haitiwatch.scheduler.rules.compiled import compile_rule
from haitiwatch.scheduler.rules.matcher import Mark, RuleSet

_LEAD = 60  # characters of context before the first highlighted term


@dataclass(frozen=True, slots=True)
class Snippet:
    text: str
    #: [start, end) offsets into ``text`` to highlight, sorted, not overlapping.
    spans: tuple[tuple[int, int], ...]
    cut_before: bool = False
    cut_after: bool = False

    def render(
        self, escape: Callable[[str], str], open_mark: str, close_mark: str, ellipsis: str = "…"
    ) -> str:
        """The snippet with every piece escaped and highlights wrapped in the marks given."""
        out = [ellipsis] if self.cut_before else []
        at = 0
        for start, end in self.spans:
            out += [
                escape(self.text[at:start]),
                open_mark,
                escape(self.text[start:end]),
                close_mark,
            ]
            at = end
        out.append(escape(self.text[at:]))
        if self.cut_after:
            out.append(ellipsis)
        return "".join(out)


@dataclass(frozen=True, slots=True)
class Highlight:
    #: [start, end) offsets of matched words in the title.
    title_spans: tuple[tuple[int, int], ...]
    snippet: Snippet


class Highlighter:
    """Where a search's words are in its hits: the words it wants (not those it negates),
    matched as one rule, compiled once for every hit."""

    def __init__(self, node: Node) -> None:
        wanted = [leaf for leaf, negated in leaves(node) if not negated]
        self._marker = RuleSet([compile_rule("search", or_(*wanted))])

    def highlight(self, title: str, text: str, width: int = 240) -> Highlight:
        """Where the query's words are in ``title`` and a snippet of ``text`` around them."""
        found = self._marker.match(title, text)
        marks = found[0].marks if found else ()
        title_spans = tuple(sorted({(m.start, m.end) for m in marks if m.field == "title"}))
        return Highlight(title_spans, make_snippet(text, marks, "text", width))


def make_snippet(
    text: str, marks: Sequence[Mark], field: str = "text", width: int = 240
) -> Snippet:
    """About ``width`` characters of ``text`` around the densest group of ``marks`` in
    ``field`` (the start of the text when none is there), cut at spaces."""
    spans = sorted({(m.start, m.end) for m in marks if m.field == field and m.end <= len(text)})
    flat = " ".join(text.split("\n")) if "\n" in text else text  # same length
    if len(flat) <= width:
        return Snippet(flat, tuple(_disjoint(spans)))
    start = _best_start(spans, width)
    end = min(len(flat), start + width)
    start, end = _snap(flat, start, end)
    inside = [
        (max(s, start) - start, min(e, end) - start) for s, e in spans if s < end and e > start
    ]
    piece = flat[start:end]
    stripped = len(piece) - len(piece.lstrip())
    inside = [(max(0, s - stripped), e - stripped) for s, e in inside if e > stripped]
    return Snippet(piece.strip(), tuple(_disjoint(inside)), start > 0, end < len(flat))


def _best_start(spans: list[tuple[int, int]], width: int) -> int:
    if not spans:
        return 0
    best, best_count = spans[0][0], 0
    for first, _ in spans:
        count = sum(1 for s, e in spans if s >= first and e <= first + width - _LEAD)
        if count > best_count:
            best, best_count = first, count
    return max(0, best - _LEAD)


def _snap(text: str, start: int, end: int) -> tuple[int, int]:
    """Move the cut points to spaces so no word is cut in half."""
    if start > 0:
        space = text.find(" ", start, start + 30)
        start = space + 1 if space >= 0 else start
    if end < len(text):
        space = text.rfind(" ", max(start, end - 30), end)
        end = space if space > start else end
    return start, end


def _disjoint(spans: Sequence[tuple[int, int]]) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    for start, end in sorted(spans):
        if out and start <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], end))
        else:
            out.append((start, end))
    return out
