"""The CLI's choice enums (shown in --help) are the lists the code below them accepts."""

from __future__ import annotations

from enum import StrEnum

import pytest

from haitiwatch.db.alerts import STATUSES
from haitiwatch.db.marks import VERDICTS
from haitiwatch.db.search import SORTS
from haitiwatch.scheduler.cli.archive import ExportFormat
from haitiwatch.scheduler.cli.marks import Verdict
from haitiwatch.scheduler.cli.rules import AlertStatus
from haitiwatch.scheduler.cli.search import FORMATS, SearchFormat, SortOrder
from haitiwatch.scheduler.export import FORMATS as EXPORT_FORMATS


@pytest.mark.parametrize(
    ("choices", "accepted"),
    [
        (ExportFormat, EXPORT_FORMATS),
        (Verdict, VERDICTS),
        (AlertStatus, STATUSES),
        (SearchFormat, FORMATS),
        (SortOrder, SORTS),
    ],
)
def test_choices_are_what_the_code_accepts(
    choices: type[StrEnum], accepted: tuple[str, ...]
) -> None:
    assert [choice.value for choice in choices] == list(accepted)
