"""db.textnorm: storage cleaning, length-preserving folding, content hashes."""

from __future__ import annotations

import unicodedata
from collections.abc import Callable

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from haitiwatch.db import textnorm
from haitiwatch.db.textnorm import clean_text, content_hash, fold, normalise_for_hash

# A real-looking paragraph in Haitian Creole and French, long enough to be hashed.
ARTICLE = (
    "Polis Kenyan yo rive Pòtoprens jodi a. Misyon an gen pou li ede Polis Nasyonal Ayiti "
    "konbat gang yo ki kontwole plis pase 80% kapital la. « M'ap tann pou m wè », yon "
    "machann nan Port-au-Prince di. Le gouvernement a promis une élection avant la fin de "
    "l'année, mais les niños y las niñas de Cité Soleil attendent toujours la sécurité."
)


# -- clean_text --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "cleaned"),
    [
        (None, ""),
        ("", ""),
        ("  Haïti  ", "Haïti"),
        ("Port-au-Prince\u00a0\u00a0(AP)\u2009—\u202fle", "Port-au-Prince (AP) — le"),
        ("a\t\tb \t c", "a b c"),
        ("line one   \n   line two", "line one\nline two"),
        ("para one\n\n\n\n\npara two", "para one\n\npara two"),
        ("para one\n \n\t\n \npara two", "para one\n\npara two"),
        ("windows\r\nline\rold mac", "windows\nline\nold mac"),
        ("bell\x07 and nul\x00 and esc\x1b", "bell and nul and esc"),
        ("zero\u200bwidth soft\u00adhyphen \ufeffbom", "zerowidth softhyphen bom"),
        ("sep\u2028line\u2029para", "sep\nline\npara"),
        ("e\u0301lection Kenyan", "élection Kenyan"),  # NFC composes the accent
        ("\n\n  Ayiti  \n\n", "Ayiti"),
    ],
)
def test_clean_text(raw: str | None, cleaned: str) -> None:
    assert clean_text(raw) == cleaned


def test_clean_text_output_is_nfc() -> None:
    decomposed = unicodedata.normalize("NFD", "Kényan élection niños Pòtoprens")
    assert clean_text(decomposed) == "Kényan élection niños Pòtoprens"


@given(st.text())
@example("e\x00\u0301")
@example("a \u0301\n")
@example("\u2000x\u2001")
def test_clean_text_is_idempotent(text: str) -> None:
    once = clean_text(text)
    assert clean_text(once) == once


@given(st.text())
def test_clean_text_leaves_no_odd_whitespace_or_controls(text: str) -> None:
    cleaned = clean_text(text)
    assert "\n\n\n" not in cleaned
    assert "  " not in cleaned
    assert cleaned == cleaned.strip()
    for char in cleaned:
        assert char in " \n" or not char.isspace()
        assert unicodedata.category(char) != "Cc" or char == "\n"


# -- fold --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "folded"),
    [
        ("Haïti KÉNYAN", "haiti kenyan"),
        ("Ayiti", "ayiti"),
        ("Pòtoprens", "potoprens"),
        ("Port-au-Prince", "port-au-prince"),
        ("Port\u2011au\u2011Prince", "port-au-prince"),  # non-breaking hyphens
        ("m'ap", "m'ap"),
        ("M’AP", "m'ap"),  # typographic apostrophe
        ("élection", "election"),
        ("ÉLECTION", "election"),
        ("Kényan", "kenyan"),
        ("niños NIÑOS", "ninos ninos"),
        ("Çà et là", "ca et la"),
        ("Œuvre", "œuvre"),
        ("İstanbul", "istanbul"),
        ("ΣΟΦΊΑ", "σοφια"),
        ("a\u00a0b", "a b"),
        ("e\u0301", "e\u0301"),  # a lone combining mark stays: one char in, one out
    ],
)
def test_fold_examples(text: str, folded: str) -> None:
    assert fold(text) == folded


def test_fold_keeps_characters_whose_fold_is_longer() -> None:
    assert fold("Straße") == "straße"
    assert fold("ﬁn") == "ﬁn"
    assert len(fold("ẞ")) == 1


def test_fold_offsets_point_into_the_original() -> None:
    text = "Le Conseil a voté. Les policiers KÉNYANS sont arrivés à Pòtoprens."
    folded = fold(text)
    start = folded.index("kenyans")
    assert text[start : start + len("kenyans")] == "KÉNYANS"
    start = folded.index("potoprens")
    assert text[start : start + len("potoprens")] == "Pòtoprens"


def test_fold_is_idempotent_on_every_bmp_character() -> None:
    chars = "".join(chr(c) for c in range(0x10000) if not 0xD800 <= c < 0xE000)
    once = fold(chars)
    assert len(once) == len(chars)
    assert fold(once) == once


@given(st.text())
@example("ǅ Ǆ ǈ ß ẞ İ ı ς ſ K Å Ω")
def test_fold_preserves_length(text: str) -> None:
    assert len(fold(text)) == len(text)


@given(st.text())
def test_fold_is_idempotent(text: str) -> None:
    assert fold(fold(text)) == fold(text)


@given(st.text(alphabet=st.characters(codec="latin-1")))
def test_fold_is_case_insensitive_on_latin_text(text: str) -> None:
    upper = text.upper()
    if len(upper) == len(text):  # "ß".upper() is "SS"
        assert fold(upper) == fold(text)


# -- normalise_for_hash, content_hash ----------------------------------------------------------


def test_normalise_for_hash() -> None:
    assert (
        normalise_for_hash(" Haïti — M’ap   di: « Bonjou »!\n\tOK 😀 ") == "haiti map di bonjou ok"
    )
    assert normalise_for_hash("Port-au-Prince, 25/06/2024") == "portauprince 25062024"


@given(st.text())
@example("ǅ İ ß ﬁ \u00ad \u2019 Ⅻ ＡＢＣ 😀")
def test_normalise_for_hash_is_fold_then_strip(text: str) -> None:
    """The one-table pass gives exactly what folding and then stripping gave: stored content
    hashes must not change with the implementation."""
    two_pass = fold(text).translate(textnorm._strip_table())
    two_pass = "".join(ch for ch in two_pass if not textnorm._is_stripped(ch))
    assert normalise_for_hash(text) == " ".join(two_pass.split())


def test_content_hash_ignores_case_accents_whitespace_and_punctuation() -> None:
    variant = (
        ARTICLE.upper()
        .replace("é", "e")
        .replace("É", "E")
        .replace(" ", "  \n ")
        .replace("«", '"')
        .replace("»", '"')
        .replace(".", " .")
    )
    assert content_hash(ARTICLE) is not None
    assert content_hash(variant) == content_hash(ARTICLE)


def test_content_hash_shape() -> None:
    digest = content_hash(ARTICLE)
    assert digest is not None
    assert len(digest) == 32
    assert int(digest, 16) >= 0


def test_content_hash_differs_for_a_changed_word() -> None:
    assert content_hash(ARTICLE) != content_hash(ARTICLE.replace("Kenyan", "Rwandan"))


@pytest.mark.parametrize(
    "text", [None, "", "Ayiti", "Short teaser about Haiti. " * 3, "!!! ... ??? " * 50]
)
def test_content_hash_is_none_for_short_text(text: str | None) -> None:
    assert content_hash(text) is None


def test_content_hash_min_chars_counts_normalised_characters() -> None:
    text = "a" * 150 + " ,,,,,,,,,, " * 20
    assert content_hash(text) is None
    assert content_hash(text, min_chars=150) is not None


@given(st.from_regex(r"[a-z0-9]{1,12}", fullmatch=True), st.integers(min_value=0, max_value=60))
def test_different_texts_give_different_hashes(word: str, position: int) -> None:
    words = ARTICLE.split()
    words.insert(position, word)
    assert content_hash(" ".join(words)) != content_hash(ARTICLE)


_CASE_CHANGES: list[Callable[[str], str]] = [str.upper, str.lower, str.title, str.swapcase]


@given(
    st.text(alphabet=st.characters(codec="latin-1"), min_size=250), st.sampled_from(_CASE_CHANGES)
)
def test_content_hash_ignores_case(text: str, change_case: Callable[[str], str]) -> None:
    changed = change_case(text)
    if len(changed) == len(text):  # "ß".upper() is "SS"
        assert content_hash(changed) == content_hash(text)


# -- valid_text ---------------------------------------------------------------------------------

# Every code point, lone surrogates included (Hypothesis leaves them out by default).
ANY_CODE_POINT = st.characters(min_codepoint=0, max_codepoint=0x10FFFF, categories=None)


def _is_noncharacter(char: str) -> bool:
    code = ord(char)
    return 0xFDD0 <= code <= 0xFDEF or code & 0xFFFE == 0xFFFE


@given(st.text(ANY_CODE_POINT))
@example("bad \ud800 title")
@example("nul\x00 bell\x07 \ufffe \U0010ffff \udfff\ud800")
def test_valid_text_encodes_and_keeps_every_valid_character(text: str) -> None:
    import sqlite3

    repaired = textnorm.valid_text(text)
    repaired.encode("utf-8")  # no lone surrogate left
    assert "\x00" not in repaired  # PostgreSQL refuses NUL in text
    assert not any(_is_noncharacter(c) or (c < " " and c not in "\t\n\r") for c in repaired)
    kept = [c for c in text if c >= " " or c in "\t\n\r"]
    assert len(repaired) == len(kept)  # one U+FFFD per invalid code point; controls dropped
    assert all(r == c or r == "\ufffd" for r, c in zip(repaired, kept, strict=True))
    assert textnorm.valid_text(repaired) == repaired
    with sqlite3.connect(":memory:") as db:
        db.execute("CREATE TABLE t (v TEXT)")
        db.execute("INSERT INTO t VALUES (?)", (repaired,))
        assert db.execute("SELECT v FROM t").fetchone() == (repaired,)
