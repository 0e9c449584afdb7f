"""Stored outputs never change: content hashes and story shingles are kept in the archive, so
any change in db.textnorm or crawler.stories output would silently break deduplication.

Golden values pin textnorm; the shingles' numpy code is compared with a plain reference.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from typing import TypeVar

import numpy as np
import numpy.typing as npt
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from haitiwatch.crawler import shingles as shingling
from haitiwatch.db import textnorm

# -- references: the code before the fast paths ------------------------------------------------

_REF_TOKEN_RE = re.compile(rf"[{shingling._CJK}]|[^\s{shingling._CJK}]+")


def ref_tokens(text: str) -> list[str]:
    return _REF_TOKEN_RE.findall(textnorm.normalise_for_hash(text))


def ref_token_hash(token: str) -> int:
    digest = hashlib.blake2b(token.encode("utf-8", "surrogatepass"), digest_size=8).digest()
    return int.from_bytes(digest, "little")


_REF_MULTIPLIERS = tuple(
    np.uint64(ref_token_hash(f"haitiwatch-shingle-{shingling.SCHEME}-{i}") | 1) for i in range(16)
)


def ref_compute_shingles(text: str, words: int) -> npt.NDArray[np.uint32]:
    toks = ref_tokens(text)
    if not toks:
        return np.empty(0, dtype=np.uint32)
    ids = np.fromiter((ref_token_hash(t) for t in toks), dtype=np.uint64, count=len(toks))
    width = min(words, len(toks))
    count = len(toks) - width + 1
    mixed = np.zeros(count, dtype=np.uint64)
    for position, multiplier in enumerate(_REF_MULTIPLIERS[:width]):
        mixed += ids[position : position + count] * multiplier
    result: npt.NDArray[np.uint32] = np.unique((mixed >> np.uint64(32)).astype(np.uint32))
    return result


# -- strategies --------------------------------------------------------------------------------

# Characters the tables treat specially, and the kinds of text pages carry.
SPECIAL = (
    " \t\n\r\x0b\x0c\x1c\x1d\x1e\x1f\x85\u2028\u2029\x00\x07\x1b\x7f\x80\x9f"  # breaks, controls
    "\u00a0\u1680\u2000\u2009\u200a\u202f\u205f\u3000"  # spaces
    "\u00ad\u180e\u200b\u2060\ufeff\u200d\u200e"  # invisible, format
    "\u2018\u2019\u201b\u02bc\u2032\uff07\u201c\u201d\u201f\uff02«»‹›"  # quotes
    "\u2010\u2011\u2012\u2013\u2014\u2212\ufe63\uff0d-'\".,;:!?()/…•"  # dashes, punctuation
    "éèêëàâäïîôöùûüçÉÈÀÇÔñÑßẞİıſσςΣǅǄﬁﬀÅΩＡＢ０Ⅻ\u0301\u0308\u0327"  # Latin and folds
    "\ufa6c\ufacf\ufad7"  # fold to characters outside the BMP
    "漢字日本語中文한국어かなカナ\u4e00\u9fff\uac00\u3040\u2e80\uf900"  # CJK
    "😀👍🏽🇭🇹\U0001f600\U00010000\U0010ffff\U000e0001\U0001d400\U00020000\U0002f800"  # astral
    "\ud800\udbff\udc00\udfff\ud83d\ude00"  # lone surrogates (and a split pair)
    "\ufffd\uffff\ue000"
)  # fmt: skip

any_char = st.characters(exclude_categories=())  # every code point, surrogates included
chars = st.one_of(
    st.characters(max_codepoint=0x7F, exclude_categories=()),  # ASCII, controls included
    st.characters(min_codepoint=0x80, max_codepoint=0x24F),  # Latin-1 and Latin Extended
    st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF, exclude_categories=()),
    st.sampled_from(SPECIAL),
    any_char,
)
# Word-shaped text: words, separators and the odd special character.
prose = st.lists(
    st.one_of(
        st.text(alphabet=st.characters(categories=["L", "N"]), min_size=1, max_size=8),
        st.text(alphabet=chars, min_size=1, max_size=3),
        st.sampled_from([" ", "  ", "\n", "\n\n\n", " \t ", ", ", "\u2019", " \u2014 "]),
    ),
    max_size=120,
).map("".join)
texts = st.one_of(
    st.text(alphabet=chars),
    st.text(alphabet=any_char),
    st.text(alphabet=st.characters(max_codepoint=0x7F, exclude_categories=())),  # pure ASCII
    prose,
)

EXAMPLES = [
    "",
    " ",
    "\t",
    "\n",
    "\r\n",
    "x",
    "Haïti — M’ap   di: « Bonjou »!\n\tOK 😀 ",
    "a\u00a0\u00a0b\u2009—\u202fc",
    "para one\n \n\t\n \npara two\n\n\n\n",
    " \n x \t\n\n\n\n y \r\n\r\n z ",
    "e\u0301lection e\x00\u0301 a \u0301\n",
    "zero\u200bwidth soft\u00adhyphen \ufeffbom",
    "\ud83d\ude00 \ud800 \udfff x\udc00y",
    "\U0001f600\u2019\U0010ffff\ufa6c\ufad7 ok",
    "漢字 かな 한국어 mixed 中文text",
    "😀",
    "\u2028\u2029\x85\x1c",
    "ǅ İ ß ﬁ \u00ad \u2019 Ⅻ ＡＢＣ 😀",
]


Test = TypeVar("Test", bound=Callable[..., None])


def examples(*args: object) -> Callable[[Test], Test]:
    """@example for each text in EXAMPLES (followed by ``args``)."""

    def decorate(test: Test) -> Test:
        for text in EXAMPLES:
            test = example(text, *args)(test)
        return test

    return decorate


# -- textnorm ----------------------------------------------------------------------------------


@settings(max_examples=300)
@given(texts)
@examples()
def test_fold_keeps_length(text: str) -> None:
    assert len(textnorm.fold(text)) == len(text)


def test_content_hash_of_none_and_of_lone_surrogates() -> None:
    assert textnorm.content_hash(None) is None
    assert textnorm.clean_text(None) == ""
    # A lone surrogate that survives normalisation cannot be hashed, as before.
    with pytest.raises(UnicodeEncodeError):
        textnorm.content_hash("x\ud800" * 200)


# Every code point at once: in order, reversed, and each between two letters (so that
# whitespace handling cannot hide a wrong character).
ALL_CHARS = "".join(map(chr, range(0x110000)))


def test_regex_whitespace_is_str_whitespace() -> None:
    """``tokens`` splits normalised text on " " instead of matching ``\\s``: normalise_for_hash
    leaves no other character that either calls whitespace."""
    whitespace = [c for c in ALL_CHARS if c.isspace()]
    assert re.findall(r"\s", ALL_CHARS) == whitespace


# Outputs computed once: they must never change (stored hashes and shingles depend on them).
GOLDEN = (
    "Port-au-Prince\u00a0\u2014 Les policiers KÉNYANS sont arrivés « mardi » à l’aéroport, "
    "\u201cWe are here\u201d\u2009\u2014\u202fsaid the commander 😀 👍🏽.\r\n\r\n\r\n"
    "\tZero\u200bwidth soft\u00adhyphen, Ⅻ ＡＢＣ ǅ İ ß ﬁ 漢字かな \ufa6c ok\x07.  "
) * 3


def test_golden_outputs() -> None:
    digest = hashlib.sha256
    assert textnorm.content_hash(GOLDEN) == "ca6649dcea8e7d7c06853595119dcb84"
    assert digest(textnorm.clean_text(GOLDEN).encode()).hexdigest()[:16] == "25aee22aea822505"
    folded = textnorm.fold(GOLDEN).encode("utf-8", "surrogatepass")
    assert digest(folded).hexdigest()[:16] == "3bae31bed3b783f7"
    shingled = shingling.compute_shingles(GOLDEN, 5).tobytes()
    assert digest(shingled).hexdigest()[:16] == "0234a16a1754b6b3"


# -- stories -----------------------------------------------------------------------------------


@settings(max_examples=300)
@given(texts, st.integers(min_value=0, max_value=20))
@examples(5)
@example("one two three four five six", 5)
@example("one two three four five six", 16)
@example("one two three four five six " * 5, 20)
@example("漢字日本語中文 abc", 3)
def test_compute_shingles_is_unchanged(text: str, words: int) -> None:
    expected = ref_compute_shingles(text, words)
    got = shingling.compute_shingles(text, words)
    assert got.dtype == expected.dtype == np.uint32
    assert got.tolist() == expected.tolist()


@given(texts, st.sampled_from([1, 3, 5]))
@examples(5)
def test_shingle_array_is_unchanged(text: str, words: int) -> None:
    expected = ref_compute_shingles(text, words).tolist()
    assert shingling.shingle_array(text, words).tolist() == expected
    assert shingling.shingle_array(text, words).tolist() == expected  # from the cache
    assert shingling.shingles(text, words) == frozenset(expected)


def test_negative_shingle_width_still_fails() -> None:
    with pytest.raises(ValueError, match="broadcast"):
        ref_compute_shingles("one two three", -1)
    with pytest.raises(ValueError, match="broadcast"):
        shingling.compute_shingles("one two three", -1)
