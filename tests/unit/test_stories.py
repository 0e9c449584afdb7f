"""Near-duplicate detection (crawler/stories.py): titles, shingles, MinHash, band keys, verdicts."""

from __future__ import annotations

import json
import random
import string

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from haitiwatch.crawler.shingles import (
    array_similarity,
    band_keys,
    estimated_jaccard,
    shingle_array,
    shingles,
    signature,
    similarity,
)
from haitiwatch.crawler.stories import (
    CopyText,
    StoryParams,
    article_keys,
    copy_score,
    copy_text,
    is_copy,
    normalise_title,
    title_key,
)
from haitiwatch.crawler.story_matcher import StoryMatcher
from haitiwatch.db.records import ArticleRecord
from tests.support import DATA, fundus_pages

PARAMS = StoryParams()
WHITEHOUSE = [
    json.loads(line)
    for line in (DATA / "stories" / "whitehouse.jsonl").read_text("utf-8").splitlines()
]

words = st.text(alphabet=string.ascii_letters + "éèàïç", min_size=2, max_size=10)
headlines = st.lists(words, min_size=4, max_size=12).map(" ".join)


# -- titles ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "variant",
    [
        "Opinion | Kenyan police land in Haiti",
        "LIVE: Kenyan police land in Haiti",
        "WATCH: Kenyan police land in Haiti",
        "Kenyan police land in Haiti - BBC News",
        "Kenyan police land in Haiti | The Star",
        "BREAKING: Kenyan police land in Haiti — Al Jazeera",
        "  kenyan POLICE land in Haïti ",
    ],
)
def test_title_variants_normalise_to_the_headline(variant: str) -> None:
    assert normalise_title(variant) == "kenyan police land in haiti"
    assert title_key(variant) == title_key("Kenyan police land in Haiti")


def test_a_short_generic_title_gives_no_key() -> None:
    assert title_key("LIVE: Haiti updates") is None
    assert title_key("World news") is None


@given(headlines, st.sampled_from(["Opinion | ", "LIVE: ", "WATCH: ", "Analysis: ", ""]))
def test_prefix_never_changes_the_key(headline: str, prefix: str) -> None:
    assert title_key(prefix + headline) == title_key(headline)


@given(headlines, st.sampled_from([" - Reuters", " | Nation Africa", " — The Guardian", ""]))
def test_outlet_suffix_never_changes_the_key(headline: str, suffix: str) -> None:
    assert title_key(headline + suffix) == title_key(headline)


@given(st.text(max_size=120))
def test_normalise_title_is_idempotent(title: str) -> None:
    once = normalise_title(title)
    assert normalise_title(once) == once


# -- shingles, signatures, band keys ---------------------------------------------------------


@given(st.lists(words, min_size=1, max_size=60))
def test_shingles_ignore_case_punctuation_and_spacing(tokens: list[str]) -> None:
    plain = " ".join(tokens)
    noisy = "  ".join(t.upper() + "," for t in tokens)
    assert shingles(plain) == shingles(noisy)


@given(st.lists(words, min_size=5, max_size=200))
def test_shingle_count_is_bounded_by_word_count(tokens: list[str]) -> None:
    assert 1 <= len(shingles(" ".join(tokens))) <= len(tokens) - 4


def test_cjk_text_is_shingled_by_character() -> None:
    assert len(shingles("促进航天技术更好惠及人民")) == 12 - 4


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 2**32), st.floats(0.1, 0.9))
def test_estimated_jaccard_is_close_to_the_exact_value(seed: int, overlap: float) -> None:
    rng = random.Random(seed)
    common = {rng.getrandbits(32) for _ in range(int(600 * overlap))}
    a = frozenset(common | {rng.getrandbits(32) for _ in range(300)})
    b = frozenset(common | {rng.getrandbits(32) for _ in range(300)})
    exact = similarity(a, b).jaccard
    estimate = estimated_jaccard(signature(a, 256), signature(b, 256))
    assert abs(estimate - exact) < 0.15  # 256 permutations: sd <= 0.031, ~5 sd


@given(st.frozensets(st.integers(0, 2**32 - 1), min_size=1, max_size=300))
def test_identical_sets_share_every_band_key(hashes: frozenset[int]) -> None:
    keys = band_keys(signature(hashes, PARAMS.num_perm), PARAMS.bands, PARAMS.rows)
    again = band_keys(signature(set(hashes), PARAMS.num_perm), PARAMS.bands, PARAMS.rows)
    assert keys == again and len(set(keys)) == PARAMS.bands
    assert all(-(2**63) <= k < 2**63 for k in keys)


def test_band_keys_are_stable_across_releases() -> None:
    """Keys are stored: a change here silently breaks every index (bump SCHEME instead)."""
    keys = article_keys("Kenyan police land in Haiti", WHITEHOUSE[0]["text"], PARAMS)
    assert len(keys) == PARAMS.bands + PARAMS.short.bands + 1
    assert keys[-1] == title_key("Kenyan police land in Haiti")
    assert keys[:2] == [4795790779670432602, 4297101762428028321]
    short = keys[PARAMS.bands : PARAMS.bands + 2]  # the lead's word-set keys
    assert short == [5269357420865448187, 8071436824768710654]


@given(
    st.frozensets(st.integers(0, 99), max_size=60), st.frozensets(st.integers(0, 99), max_size=60)
)
def test_similarity_is_symmetric_and_bounded(a: frozenset[int], b: frozenset[int]) -> None:
    one, other = similarity(a, b), similarity(b, a)
    assert one == other
    assert 0 <= one.jaccard <= one.containment <= 1


@given(st.lists(words, max_size=80), st.lists(words, max_size=80))
def test_array_similarity_matches_set_similarity(one: list[str], other: list[str]) -> None:
    """Verification runs on sorted arrays; it must give exactly the set numbers."""
    a, b = " ".join(one), " ".join(other + one[: len(one) // 2])
    assert shingle_array(a).tolist() == sorted(shingles(a))
    assert array_similarity(shingle_array(a), shingle_array(b)) == similarity(
        shingles(a), shingles(b)
    )


# -- verdicts on real text -------------------------------------------------------------------


def _copy(text: str, rng: random.Random) -> str:
    """Dateline, 3% of words edited, the last quarter trimmed, a line of another site's chrome."""
    tokens = text.split(" ")
    for i in rng.sample(range(len(tokens)), k=max(1, len(tokens) * 3 // 100)):
        tokens[i] = rng.choice(["police", "gangs", "said", "mission", "Tuesday"])
    kept = " ".join(tokens)[: len(text) * 3 // 4]
    return f"Subscribe to our newsletter Privacy\nNAIROBI, Kenya (AP) — {kept}\nRead more"


@pytest.mark.parametrize("page", fundus_pages(), ids=lambda p: p.name)
def test_a_wire_copy_of_a_real_article_is_a_copy(page: object) -> None:
    text = "\n".join(page.paragraphs)  # type: ignore[attr-defined]
    copy = _copy(text, random.Random(5))
    sim = similarity(shingles(text), shingles(copy))
    assert is_copy(sim, PARAMS), sim
    lsh_a = set(band_keys(signature(shingles(text), 64), 32, 2))
    lsh_b = set(band_keys(signature(shingles(copy), 64), 32, 2))
    assert lsh_a & lsh_b  # the index finds it


def test_different_real_articles_are_not_copies() -> None:
    texts = ["\n".join(p.paragraphs) for p in fundus_pages()] + [d["text"] for d in WHITEHOUSE]
    for i, a in enumerate(texts):
        for b in texts[i + 1 :]:
            assert not is_copy(similarity(shingles(a), shingles(b)), PARAMS)


def test_two_reports_with_the_same_headline_are_judged_on_their_text() -> None:
    headline = "UN Security Council authorises Kenya-led mission to Haiti"
    sullivan, readout = WHITEHOUSE[1]["text"], WHITEHOUSE[2]["text"]
    assert copy_score(_side(headline, sullivan), _side(headline, readout), PARAMS) is None


def test_title_only_items_join_on_the_normalised_headline() -> None:
    full = WHITEHOUSE[1]
    opinion, original = _side("Opinion | " + full["title"]), _side(full["title"], full["text"])
    assert copy_score(opinion, original, PARAMS) is not None
    other = _side("Opinion | Other headline about Haiti")
    assert copy_score(other, _side(full["title"]), PARAMS) is None


def _side(title: str, text: str = "") -> CopyText:
    return copy_text(title, text, PARAMS)


def test_matcher_keys_include_the_title_for_text_and_title_only_records() -> None:
    record = ArticleRecord(
        source="s", url="u", canonical_url="u", title="LIVE: " + WHITEHOUSE[0]["title"],
        text=WHITEHOUSE[0]["text"], text_origin="page",
    )  # fmt: skip
    matcher = StoryMatcher()
    keys = matcher.keys(record)
    assert len(keys) == PARAMS.bands + PARAMS.short.bands + 1
    assert title_key(WHITEHOUSE[0]["title"]) in keys
    from dataclasses import replace

    short = matcher.keys(replace(record, text="Short summary."))
    # No text band keys: the word keys of title + summary, and the title key.
    assert short[-1] == keys[-1] and not set(short) & set(keys[: PARAMS.bands])
