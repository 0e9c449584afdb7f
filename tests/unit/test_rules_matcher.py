"""The matcher: folding, word boundaries, phrases, NEAR, fields, prefixes, highlights.

Documents are real sentences in the four languages of the default rules (English, French,
Spanish, Haitian Creole); properties check the matcher against boolean algebra.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from haitiwatch.db.textnorm import fold
from haitiwatch.scheduler.rules import RuleSet, make_snippet
from haitiwatch.scheduler.rules.matcher import split_fold

TITLE = "Kenya-led force lands in Port-au-Prince"
TEXT = (
    "Des policiers kényans sont arrivés en Haïti mardi. La Mission multinationale d'appui "
    "à la sécurité (MMAS) doit aider la Police nationale d'Haïti contre les gangs. "
    "Lapolis kenyan yo rive Ayiti. La Fuerza de Supresión de Pandillas llegará después."
)


def matches(query: str, title: str = TITLE, text: str = TEXT) -> bool:
    return bool(RuleSet.from_queries([("r", query)]).match(title, text))


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("haiti", True),  # Haïti, folded
        ("HAÏTI", True),
        ("kényans", True),
        ("kenyans", True),
        ("kenya", True),  # title: Kenya-led
        ("kenyatta", False),
        ("gang", False),  # only "gangs": word boundaries
        ("gangs", True),
        ("mmas", True),
        ("mas", False),  # inside MMAS
        ("kenya*", True),
        ("kenyat*", False),
        ('"mission multinationale d\'appui à la sécurité"', True),
        ('"fuerza de supresion de pandillas"', True),
        ('"lapolis kenyan"', True),
        ('"port au prince"', True),
        ("Port-au-Prince", True),
        ('"prince au port"', False),
        ("title:haiti", False),
        ("title:kenya", True),
        ("text:kenya", False),  # the text has kényans, not kenya
        ("text:kenya*", True),
        ("kenyans NEAR/3 haiti", True),  # 3 words between: sont arrivés en
        ("kenyans NEAR/2 haiti", False),
        ("haiti NEAR/3 kenyans", True),  # either order
        ("force NEAR/10 gangs", False),  # NEAR does not span title and text
        ("title:force gangs", True),
        ("haiti -kenyatta", True),
        ("haiti -gangs", False),
        ("NOT nothinghere", True),
        ("(mss OR mmas) NEAR/15 (haiti OR ayiti)", True),
        ("a NEAR/1 b", False),
        ("or", False),  # a word: no French "or" in the text
    ],
)
def test_semantics(query: str, expected: bool) -> None:
    assert matches(query) is expected


def test_marks_point_at_the_original_text() -> None:
    [found] = RuleSet.from_queries([("m", "(kenyan* NEAR/3 haiti) OR title:port*")]).match(
        TITLE, TEXT
    )
    texts = {
        (m.field, (TITLE if m.field == "title" else TEXT)[m.start : m.end]) for m in found.marks
    }
    assert texts == {("text", "kényans"), ("text", "Haïti"), ("title", "Port")}
    assert found.terms == ("Port", "kényans", "Haïti")


def test_highlights_leave_out_negated_and_unmatched_parts() -> None:
    [found] = RuleSet.from_queries([("m", "(gangs OR nothing) -kenyatta NOT police")]).match(
        "", "gangs and more gangs"
    )
    assert [(m.start, m.end) for m in found.marks] == [(0, 5), (15, 20)]


def test_only_matching_rules_are_returned_in_rule_order() -> None:
    rules = RuleSet.from_queries(
        [("b", "haiti"), ("a", "kenyatta"), ("c", "gangs"), ("d", "-haiti")]
    )
    assert rules.names(TITLE, TEXT) == ["b", "c"]


def test_snippet_marks_terms_and_escapes_per_format() -> None:
    text = "x " * 200 + "<b>Kenyan</b> police & Haiti" + " y" * 200
    [found] = RuleSet.from_queries([("m", "kenyan NEAR/3 haiti")]).match("", text)
    snippet = make_snippet(text, found.marks, width=120)
    assert snippet.cut_before and snippet.cut_after
    rendered = snippet.render(lambda s: s.replace("<", "&lt;"), "[", "]")
    assert "&lt;b>[Kenyan]&lt;/b> police & [Haiti]" in rendered
    assert len(snippet.text) <= 120


# -- properties -----------------------------------------------------------------------------

VOCAB = ["haiti", "kenya", "gangs", "police", "mission", "ayiti", "fòs", "misión", "or"]
docs = st.lists(
    st.sampled_from([*VOCAB, "Haïti", "KENYA", "the", "de", "-", ",", "l'"]), max_size=30
)
words = st.sampled_from(VOCAB)


@settings(max_examples=300)
@given(docs, words, words)
def test_boolean_algebra(tokens: list[str], a: str, b: str) -> None:
    text = " ".join(tokens)
    m = lambda q: matches(q, "", text)  # noqa: E731
    assert m(f"{a} OR {b}") == (m(a) or m(b))
    assert m(f"{a} {b}") == (m(a) and m(b))
    assert m(f"NOT {a}") == (not m(a))
    assert m(f"{a} NEAR/3 {b}") == m(f"{b} NEAR/3 {a}")
    assert m(f"{a} NEAR/1000 {b}") == (m(a) and m(b))
    if m(f"{a} NEAR/2 {b}"):
        assert m(f"{a} NEAR/5 {b}")


@settings(max_examples=200)
@given(docs, words)
def test_a_word_matches_exactly_when_it_is_a_folded_token(tokens: list[str], word: str) -> None:
    from haitiwatch.db.query.parser import words_of

    text = " ".join(tokens)
    assert matches(word, "", text) == (words_of(word)[0] in words_of(text))
    if word != "or":  # upper-case OR is the operator
        assert matches(word, "", text) == matches(word.upper(), "", text.upper())


@given(st.text() | st.text(st.sampled_from("aÉß_İ-'’ \n\t😀𝐀\ud800٣")))
def test_split_fold_folds_and_blanks_each_character_in_place(text: str) -> None:
    """Highlights rely on it: character i of the result comes from character i of the text."""
    folded = [fold(char) for char in text]
    assert len(split_fold(text)) == len(text)
    assert split_fold(text) == "".join(c if c.isalnum() else " " for c in folded)
