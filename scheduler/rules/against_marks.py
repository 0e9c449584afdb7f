"""How good a rule is, judged by the user's marks: precision and recall. Pure."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Final

#: Below this many marked articles on either side of a figure, it says little.
MIN_MARKS: Final = 10


@dataclass(frozen=True, slots=True)
class MarkFigures:
    """Counts behind precision (of the marked articles the rule matched, the share marked
    relevant) and recall (of the articles marked relevant, the share the rule matched)."""

    matched_relevant: int
    matched_marked: int
    relevant: int
    marked: int

    @property
    def precision(self) -> float | None:
        return self.matched_relevant / self.matched_marked if self.matched_marked else None

    @property
    def recall(self) -> float | None:
        return self.matched_relevant / self.relevant if self.relevant else None

    @property
    def enough(self) -> bool:
        return min(self.matched_marked, self.relevant) >= MIN_MARKS


def mark_figures(matched: Collection[int], verdicts: Mapping[int, str]) -> MarkFigures:
    """``matched``: ids of marked articles the rule matches; ``verdicts``: id -> verdict."""
    relevant = {i for i, v in verdicts.items() if v == "relevant"}
    matched_marked = {i for i in matched if i in verdicts}
    return MarkFigures(
        matched_relevant=len(matched_marked & relevant),
        matched_marked=len(matched_marked),
        relevant=len(relevant),
        marked=len(verdicts),
    )
