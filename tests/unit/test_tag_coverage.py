"""Coverage by tag: the archive's per-source counts added up under each source's tags."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from haitiwatch.db.errors import ConfigError
from haitiwatch.db.search import CoveragePoint
from haitiwatch.scheduler.config import parse_config
from haitiwatch.scheduler.tag_coverage import UNTAGGED, by_tag

DAY = date(2025, 9, 30)
SOURCE = '[[sources]]\nname = "a"\nurl = "https://a.example/feed"\n'


def test_a_source_counts_under_each_of_its_tags_and_unknown_ones_as_untagged() -> None:
    points = [
        CoveragePoint(DAY, "nation", 3),
        CoveragePoint(DAY, "star", 2),
        CoveragePoint(DAY, "gone", 1),  # archived, no longer configured
        CoveragePoint(DAY + timedelta(days=1), "star", 4),
    ]
    tags = {"nation": ("kenya", "press"), "star": ("kenya",), "gone": ()}
    assert by_tag(points, tags) == [
        CoveragePoint(DAY, "kenya", 5),
        CoveragePoint(DAY, "press", 3),
        CoveragePoint(DAY, UNTAGGED, 1),
        CoveragePoint(DAY + timedelta(days=1), "kenya", 4),
    ]


_NAMES = st.sampled_from(["a", "b", "c", "d"])
_TAGS = st.lists(st.sampled_from(["kenya", "wire", "fr", "ht"]), unique=True, max_size=3)


@given(
    st.lists(st.tuples(st.integers(0, 5), _NAMES, st.integers(1, 50)), max_size=30),
    st.dictionaries(_NAMES, _TAGS),
)
def test_each_article_counts_once_per_tag_of_its_source(
    rows: list[tuple[int, str, int]], tags: dict[str, list[str]]
) -> None:
    points = [CoveragePoint(DAY + timedelta(days=d), name, n) for d, name, n in rows]
    split = by_tag(points, tags)
    expected = sum(p.count * max(len(tags.get(p.key, [])), 1) for p in points)
    assert sum(p.count for p in split) == expected
    assert split == sorted(split, key=lambda p: (p.day, p.key))
    assert len({(p.day, p.key) for p in split}) == len(split)


def test_tags_are_read_from_the_config() -> None:
    config = parse_config(SOURCE + 'tags = ["kenya", "wire", "fr"]\n', "hw.toml")
    assert config.sources[0].tags == ["kenya", "wire", "fr"]
    assert parse_config(SOURCE, "hw.toml").sources[0].tags == []


@pytest.mark.parametrize(
    ("tags", "says"),
    [
        ('["Kenya"]', "lowercase slug"),
        ('["east africa"]', "lowercase slug"),
        ('["-x"]', "lowercase slug"),
        (f'["{"x" * 33}"]', "lowercase slug"),
        ('["fr", "fr"]', "listed twice"),
        ('"kenya"', "valid list"),
    ],
)
def test_bad_tags_are_refused_naming_the_key(tags: str, says: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config(SOURCE + f"tags = {tags}\n", "hw.toml")
    assert "hw.toml: sources[0].tags" in str(caught.value)
    assert says in str(caught.value)
