"""OPML: a real reader's export read with its folders as tags, unsafe files refused, and the
export read back as the same sources."""

from __future__ import annotations

import gzip

import pytest
from hypothesis import given
from hypothesis import strategies as st

from haitiwatch.scheduler.config import parse_config
from haitiwatch.scheduler.opml import (
    OpmlError,
    exported,
    plan_import,
    read_opml,
    unused_name,
    write_opml,
)
from haitiwatch.scheduler.source_config import SourceConfig
from tests.support import DATA

SUBS = DATA / "feeds" / "netnewswire" / "files" / "Subs.opml.gz"
BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE opml [
 <!ENTITY lol "lol">
 <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
]>
<opml version="2.0"><body><outline text="&lol3;" xmlUrl="https://a.example/feed"/></body></opml>
"""
EXTERNAL = b"""<?xml version="1.0"?>
<!DOCTYPE opml [<!ENTITY x SYSTEM "file:///etc/passwd">]>
<opml version="2.0"><body><outline text="&x;" xmlUrl="https://a.example/feed"/></body></opml>
"""


def test_a_netnewswire_export_is_read_with_its_folders_as_tags() -> None:
    feeds = read_opml(gzip.decompress(SUBS.read_bytes()))
    assert len(feeds) == 207
    first = feeds[0]
    assert (first.title, first.url, first.tags) == (
        "Daring Fireball", "http://daringfireball.net/feeds/main", ()
    )  # fmt: skip
    unit = next(f for f in feeds if f.title == "iOS Unit Testing")
    assert unit.tags == ("programming",) and unit.url == "http://iosunittesting.com/feed/"
    assert sum(f.tags == ("weblogs",) for f in feeds) == 97


@pytest.mark.parametrize("hostile", [BILLION_LAUGHS, EXTERNAL], ids=["laughs", "external"])
def test_entities_are_refused_with_a_clear_error(hostile: bytes) -> None:
    with pytest.raises(OpmlError, match="declares entities"):
        read_opml(hostile)


@pytest.mark.parametrize(
    ("data", "says"),
    [(b"<opml><body>", "not valid XML"), (b"<rss><channel/></rss>", "not an OPML file")],
)
def test_other_files_are_refused(data: bytes, says: str) -> None:
    with pytest.raises(OpmlError, match=says):
        read_opml(data)


def test_an_import_skips_known_urls_and_repeats_and_names_sources_uniquely() -> None:
    existing = [SourceConfig(name="daring-fireball", url="http://daringfireball.net/feeds/main/")]
    feeds = read_opml(gzip.decompress(SUBS.read_bytes()))
    plan = plan_import(feeds, existing)
    skipped = dict(plan.skipped)
    assert skipped["http://daringfireball.net/feeds/main"] == "already a source"
    assert len(plan.add) + len(plan.skipped) == 207
    names = [s["name"] for s in plan.add]
    assert len(set(names)) == len(names) and "daring-fireball" not in names
    # every planned source is valid config
    parse_config("".join(_toml(s) for s in plan.add), "import")


def test_names_come_from_the_title_else_the_host() -> None:
    assert unused_name("Le Nouvelliste — Haïti", "https://lenouvelliste.com/rss", set()) == (
        "le-nouvelliste-haiti"
    )
    assert unused_name("", "https://www.nation.africa/rss", set()) == "nation-africa"
    assert unused_name("Nation", "https://x.example/", {"nation", "nation-2"}) == "nation-3"


_SLUGS = st.from_regex(r"[a-z][a-z0-9]{0,8}", fullmatch=True)


@given(
    st.lists(
        st.tuples(_SLUGS, st.lists(_SLUGS, max_size=3, unique=True), st.sampled_from([None, "fr"])),
        max_size=8,
        unique_by=lambda t: t[0],
    )
)
def test_an_export_imported_into_an_empty_config_gives_the_same_sources(
    rows: list[tuple[str, list[str], str | None]],
) -> None:
    sources = [
        SourceConfig(name=name, url=f"https://{name}.example/feed?x=1&y=<2>", tags=tags,
                     language=language)
        for name, tags, language in rows
    ]  # fmt: skip
    plan = plan_import(read_opml(write_opml(exported(sources, public=False))), [])
    again = parse_config("".join(_toml(s) for s in plan.add), "import").sources
    assert again == sources


def test_the_public_export_leaves_out_urls_with_keys_and_other_kinds() -> None:
    sources = [
        SourceConfig(name="open", url="https://a.example/feed"),
        SourceConfig(name="keyed", url="https://b.example/feed?api_key=s3cret"),
        SourceConfig(name="login", url="https://user:pw@c.example/feed"),
        SourceConfig(name="map", kind="sitemap", url="https://d.example/sitemap.xml"),
    ]
    assert [s.name for s in exported(sources, public=True)] == ["open"]
    assert [s.name for s in exported(sources, public=False)] == ["open", "keyed", "login"]


def _toml(source: dict[str, object]) -> str:
    import tomlkit

    return "[[sources]]\n" + tomlkit.dumps(source) + "\n"
