"""When the same text at another URL of the same outlet is the same article (db/aliases.py)."""

from __future__ import annotations

from dataclasses import replace

import pytest
from hypothesis import given
from hypothesis import strategies as st

from haitiwatch.db.aliases import (
    Identity,
    apart_from_false_aliases,
    article_id,
    identity,
    print_or_amp_variants,
    same_article,
    text_only_matches,
    titles_match,
)
from haitiwatch.db.records import ArticleRecord

OUTLET = "https://outlet.example"


def ident(title: str, *paths: str, long_page_text: bool = False) -> Identity:
    return Identity(title, tuple(OUTLET + p for p in paths), long_page_text)


# -- kept apart: different items that share a text -------------------------------------------


def test_two_videos_with_the_channel_description_are_two_articles() -> None:
    first = Identity("A Rock Is Trapped Light", ("https://youtube.com/watch?v=f8O3XMrC8hg",))
    second = Identity("How Vision Works", ("https://youtube.com/watch?v=dQw4w9WgXcQ",))
    assert not same_article(first, second)


def test_a_short_and_its_full_video_are_two_items_despite_one_title() -> None:
    """Different ids in the URLs outweigh equal titles."""
    short = Identity("A Rock Is Trapped Light", ("https://youtube.com/shorts/z35j2WC1uLI",))
    full = Identity("A Rock Is Trapped Light", ("https://youtube.com/watch?v=f8O3XMrC8hg",))
    assert not same_article(short, full)


def test_items_sharing_a_plea_with_other_titles_and_plain_slugs_are_kept_apart() -> None:
    stored = ident("Gangs block the road to Cap-Haitien", "/news/gangs-block-road")
    new = ident("Kenyan police reach Port-au-Prince", "/news/kenyan-police-reach")
    assert not same_article(stored, new)


def test_a_title_made_from_the_text_is_no_evidence() -> None:
    """Untitled items get their text's first line as title: equal whenever the text is."""
    text = "Thanks for watching! Support the channel on Patreon. " * 5
    first = identity(text[:120].strip(), (OUTLET + "/2015/09/3069.html",), text, "feed")
    second = identity(text[:120].strip(), (OUTLET + "/2015/09/3071.html",), text, "feed")
    assert first.title == "" and not same_article(first, second)
    titled = identity("Patreon update", (OUTLET + "/a",), text, "feed")
    assert titled.title == "Patreon update"


def test_a_short_page_text_alone_is_no_evidence() -> None:
    """A consent or paywall page is one text at every URL: not an article's own body."""
    stored = ident("Gangs block the road", "/news/gangs-block-road")
    new = ident("Police reach the capital", "/news/police-reach")
    assert not same_article(stored, new)
    feed_long = replace(new, long_page_text=False)
    assert not same_article(replace(stored, long_page_text=True), feed_long)


# -- folded: the same article -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("/world/12345-kenyan-police-land", "/world/kenyan-police-land-in-haiti-12345"),
        ("/news/kenyan-police-land-68123456", "/news/68123456/print"),
        ("/article.php?id=4812345", "/print.php?id=4812345"),
        ("/news/articles/c4ng9x2z8zvo", "/news/articles/c4ng9x2z8zvo/amp"),
    ],
)
def test_urls_with_the_same_article_id_fold_whatever_the_titles(old: str, new: str) -> None:
    assert same_article(ident("Kenyan police land", old), ident("Police reach Haiti", new))


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("/news/kenyan-police-land", "/news/kenyan-police-land/print"),
        ("/news/kenyan-police-land", "/print/news/kenyan-police-land"),
        ("/news/kenyan-police-land", "/news/kenyan-police-land?view=print"),
        ("/news/kenyan-police-land", "/news/amp/kenyan-police-land"),
    ],
)
def test_print_and_amp_variants_fold(old: str, new: str) -> None:
    assert print_or_amp_variants(OUTLET + old, OUTLET + new)
    assert same_article(ident("Kenyan police land", old), ident("Kenya's police", new))


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("Kenyan police land in Haiti", "kenyan police land in haiti"),
        ("Gangs attack Port-au-Prince", "LIVE: Gangs attack Port-au-Prince"),
        ("Haiti gangs free prisoners", "UPDATE 2-Haiti gangs free prisoners"),
        ("Haiti needs a plan", "Opinion | Haiti needs a plan"),
        ("Kenyan police land in Haiti", "Kenyan police land in Haiti (updated)"),
        ("Gang leader arrested in Haiti", "Gang leader arrested in Haiti, police say"),
        ("Haïti : la police kényane arrive", "Haiti: la police kenyane arrive"),
    ],
)
def test_retitled_updates_fold_at_a_changed_slug(old: str, new: str) -> None:
    assert titles_match(old, new)
    assert same_article(ident(old, "/news/a-slug"), ident(new, "/news/another-slug"))


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("Episode 12", "Episode 13"),
        ("Haiti news", "Haiti news: gangs attack"),  # a prefix, but too short to tell
        ("Gangs block the road", "Police reach the capital"),
        ("", ""),
    ],
)
def test_different_titles_do_not_match(old: str, new: str) -> None:
    assert not titles_match(old, new)


def test_a_long_page_body_folds_a_retitled_article_at_a_changed_slug() -> None:
    stored = ident("Gangs attack", "/news/gangs-attack", long_page_text=True)
    new = ident("Death toll rises after attack", "/news/death-toll-rises", long_page_text=True)
    assert same_article(stored, new)


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("/news/world-latin-america-68123456", "68123456"),
        ("/2024/05/12/haiti-gangs", None),  # a date is not an id
        ("/20240512/haiti-gangs", None),
        ("/news/12345/old-slug", None),  # an earlier segment's number: often a section
        ("/haiti2024-gangs", None),
        ("/h1n1outbreak-news", None),
        ("/article/haiti-3f2a1b9c8d7e6f5a4b3c2d1e0f9a8b7c", "3f2a1b9c8d7e6f5a4b3c2d1e0f9a8b7c"),
        ("/watch?v=f8O3XMrC8hg", "f8O3XMrC8hg"),
        # a UUID is one id: version 1 UUIDs of one server share their last group
        (
            "/cms/s/2/3559f46e-d9c5-11e5-98fd-06d75973fe09.html",
            "3559f46e-d9c5-11e5-98fd-06d75973fe09",
        ),
    ],
)
def test_article_ids(url: str, expected: str | None) -> None:
    assert article_id(OUTLET + url) == expected


# -- properties -----------------------------------------------------------------------------

words = st.text(alphabet="abcdefghijklmnopqrstuvwxyz", min_size=2, max_size=9)
titles = st.lists(words, min_size=1, max_size=10).map(" ".join)
slugs = st.lists(words, min_size=1, max_size=5).map("-".join)
labels = st.sampled_from(["LIVE: ", "UPDATE: ", "Opinion | ", "BREAKING - ", "[Video] "])
identities = st.builds(
    Identity,
    titles,
    st.lists(slugs.map(lambda s: f"{OUTLET}/news/{s}"), min_size=1, max_size=2).map(tuple),
    st.booleans(),
)


@given(identities, identities)
def test_the_decision_does_not_depend_on_which_was_stored_first(a: Identity, b: Identity) -> None:
    assert same_article(a, b) == same_article(b, a)


@given(titles, labels, slugs, slugs)
def test_a_label_before_a_title_never_makes_another_article(
    title: str, label: str, old: str, new: str
) -> None:
    assert same_article(ident(title, f"/{old}"), ident(label + title, f"/{new}"))


#: Numbers that cannot be read as a date (6 and 8 digits can).
ids = st.one_of(st.integers(10_000, 99_999), st.integers(10**8, 10**9 - 1))


@given(titles, titles, ids, ids, st.booleans())
def test_different_article_ids_are_different_articles(
    a: str, b: str, id_a: int, id_b: int, long_page_text: bool
) -> None:
    if id_a == id_b:
        return
    stored = ident(a, f"/news/story-{id_a}", long_page_text=long_page_text)
    new = ident(b, f"/news/story-{id_b}", long_page_text=long_page_text)
    assert not same_article(stored, new)


# -- the Store's batches ---------------------------------------------------------------------

TEXT = "Support our reporting on Patreon. " * 10


def record(title: str, path: str, **changes: object) -> ArticleRecord:
    base = ArticleRecord(
        source="outlet",
        url=OUTLET + path,
        canonical_url=OUTLET + path,
        title=title,
        text=TEXT,
        text_origin="feed",
        content_hash="f" * 32,
        outlet="outlet.example",
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def keyed(*records: ArticleRecord) -> list[tuple[ArticleRecord, list[tuple[str, str]]]]:
    return [
        (r, [("url", r.canonical_url), ("hash", f"outlet.example|{r.content_hash}")])
        for r in records
    ]


HASH = ("hash", "outlet.example|" + "f" * 32)


def test_a_batch_keeps_apart_items_whose_only_match_is_a_shared_text() -> None:
    batch = keyed(record("Gangs block the road", "/a"), record("Police reach the capital", "/b"))
    kept = apart_from_false_aliases(batch, set(), {})
    assert [keys for _, keys in kept] == [
        [("url", OUTLET + "/a"), HASH],
        [("url", OUTLET + "/b")],
    ]


def test_a_batch_keeps_the_text_key_of_a_true_alias() -> None:
    batch = keyed(record("Gangs block the road", "/a"), record("LIVE: Gangs block the road", "/b"))
    kept = apart_from_false_aliases(batch, set(), {})
    assert [keys for _, keys in kept] == [keys for _, keys in batch]


def test_a_stored_owner_decides_a_text_only_match() -> None:
    batch = keyed(record("Police reach the capital", "/b"), record("Gangs block the road", "/c"))
    stored = {HASH}
    assert text_only_matches(batch, stored) == [HASH, HASH]
    owner = ident("Gangs block the road", "/a")
    kept = apart_from_false_aliases(batch, stored, {HASH: owner})
    assert [keys for _, keys in kept] == [[("url", OUTLET + "/b")], keyed(batch[1][0])[0][1]]


def test_a_url_match_is_not_second_guessed() -> None:
    batch = keyed(record("Police reach the capital", "/a"))
    stored = {("url", OUTLET + "/a"), HASH}
    assert text_only_matches(batch, stored) == []
    assert apart_from_false_aliases(batch, stored, {}) == batch
