"""The query parser: examples of each construct, errors with positions, and properties."""

from __future__ import annotations

import contextlib
import tomllib
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from haitiwatch.db.query.ast import (
    And,
    Near,
    Node,
    Not,
    Or,
    Phrase,
    Term,
    and_,
    is_positional,
    or_,
    to_query,
)
from haitiwatch.db.query.parser import QuerySyntaxError, parse_query

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    ("query", "tree"),
    [
        ("Haïti", Term("haiti")),
        ("kenya haiti", And((Term("kenya"), Term("haiti")))),
        ("kenya AND haiti", And((Term("kenya"), Term("haiti")))),
        ('"Gang Suppression Force"', Phrase(("gang", "suppression", "force"))),
        ("Kenya-led", Phrase(("kenya", "led"))),
        ("kenya's", Phrase(("kenya", "s"))),
        ("MSS OR MMAS", Or((Term("mss"), Term("mmas")))),
        ("-kenyatta", Not(Term("kenyatta"))),
        ("NOT kenyatta", Not(Term("kenyatta"))),
        ("kenya*", Term("kenya", prefix=True)),
        ("title:haiti", Term("haiti", field="title")),
        ("ruto NEAR/20 haiti", Near(Term("ruto"), Term("haiti"), 20)),
        # lower-case or/and are words (French "or", Creole "and" is not an operator)
        ("or and", And((Term("or"), Term("and")))),
        # precedence: NEAR, then NOT, then AND, then OR
        ("a b OR c", Or((And((Term("a"), Term("b"))), Term("c")))),
        ("NOT a NEAR/2 b", Not(Near(Term("a"), Term("b"), 2))),
        (
            "title:(haiti OR ayiti) gang",
            And((Or((Term("haiti", field="title"), Term("ayiti", field="title"))), Term("gang"))),
        ),
        ("“smart quotes”", Phrase(("smart", "quotes"))),
        ("haiti & kenya", And((Term("haiti"), Term("kenya")))),  # lone punctuation is dropped
    ],
)
def test_parse_examples(query: str, tree: Node) -> None:
    assert parse_query(query) == tree


@pytest.mark.parametrize(
    ("query", "message", "line", "column"),
    [
        ("kenya OR", "ends too early", 1, 9),
        ("(kenya haiti", "missing ')'", 1, 1),
        ("kenya)", "unbalanced ')'", 1, 6),
        ('kenya "gang force', "unterminated phrase", 1, 7),
        ("kenya NEAR haiti", "NEAR needs a distance", 1, 7),
        ("a NEAR/3 (b c)", "on both sides", 1, 10),
        ("(NOT a) NEAR/3 b", "on both sides", 1, 1),
        ("body:haiti", "unknown field 'body'", 1, 1),
        ("k*", "prefix needs one word", 1, 1),
        ("ken*ya", "only allowed at the end", 1, 1),
        ("   ", "empty query", 1, 1),
        ("()", "empty parentheses", 1, 2),
        ('""', "empty phrase", 1, 1),
        ("haiti\n  OR (gang\n   AND)", "before ')'", 3, 7),
        ("OR haiti", "before 'OR'", 1, 1),
    ],
)
def test_errors_say_what_and_where(query: str, message: str, line: int, column: int) -> None:
    with pytest.raises(QuerySyntaxError) as caught:
        parse_query(query)
    assert message in str(caught.value)
    assert (caught.value.line, caught.value.column) == (line, column)
    assert f"line {line}, column {column}" in str(caught.value)


def test_default_rules_parse_and_round_trip() -> None:
    text = (REPO / "scheduler" / "default_config.toml").read_text("utf-8")
    rules = tomllib.loads(text)["rules"]
    assert {r["name"] for r in rules} >= {"mission", "haiti-security"}
    for rule in rules:
        tree = parse_query(rule["query"])
        assert parse_query(to_query(tree)) == tree


# -- properties ---------------------------------------------------------------------------

FIELD = st.sampled_from([None, None, "title", "text"])


@st.composite
def terms(draw: st.DrawFn) -> Node:
    word = draw(st.from_regex(r"[a-z0-9]{2,8}", fullmatch=True))
    prefix = draw(st.booleans()) and not word.isdigit()
    return Term(word, prefix, draw(FIELD))


@st.composite
def phrases(draw: st.DrawFn) -> Node:
    words = draw(st.lists(st.from_regex(r"[a-z0-9]{1,6}", fullmatch=True), min_size=2, max_size=4))
    return Phrase(tuple(words), draw(FIELD))


def positional(children: st.SearchStrategy[Node]) -> st.SearchStrategy[Node]:
    ors = st.lists(children, min_size=2, max_size=3).map(lambda xs: or_(*xs))
    operand = st.one_of(children, ors.filter(is_positional))
    return st.builds(Near, operand, operand, st.integers(0, 60))


LEAVES = st.one_of(terms(), phrases())
TREES: st.SearchStrategy[Node] = st.recursive(
    LEAVES,
    lambda children: st.one_of(
        positional(children).filter(lambda n: is_positional(n.left) and is_positional(n.right)),
        st.lists(children, min_size=2, max_size=4).map(lambda xs: and_(*xs)),
        st.lists(children, min_size=2, max_size=4).map(lambda xs: or_(*xs)),
        children.map(Not),
    ),
    max_leaves=12,
)


@settings(max_examples=400)
@given(TREES)
def test_to_query_round_trips(tree: Node) -> None:
    assert parse_query(to_query(tree)) == tree


@settings(max_examples=400)
@given(st.text(alphabet=st.sampled_from(list('ab "()-*:NEAR/5 ORANDNOTtitle\n')), max_size=40))
def test_any_text_parses_or_raises_a_syntax_error(query: str) -> None:
    try:
        tree = parse_query(query)
    except QuerySyntaxError as e:
        assert 0 <= e.position <= len(query)
        assert e.line >= 1 and e.column >= 1
        return
    assert parse_query(to_query(tree)) == tree


@given(st.text(min_size=1, max_size=30))
def test_arbitrary_unicode_never_crashes(query: str) -> None:
    with contextlib.suppress(QuerySyntaxError):
        parse_query(query)


@given(st.sampled_from(["Haïti", "HAITI", "haïti", "Haiti"]), st.sampled_from(["Kényan", "KENYAN"]))
def test_case_and_accents_do_not_change_the_tree(haiti: str, kenyan: str) -> None:
    assert parse_query(f"{haiti} NEAR/3 {kenyan}") == parse_query("haiti NEAR/3 kenyan")


@pytest.mark.parametrize("nested", ["(" * 200 + "kenya" + ")" * 200, "NOT " * 200 + "kenya"])
def test_a_rule_nested_absurdly_deep_is_a_syntax_error(nested: str) -> None:
    with pytest.raises(QuerySyntaxError, match="nested too deep: at most 32 levels"):
        parse_query(nested)
    parse_query("(" * 32 + "kenya" + ")" * 32)  # deep, but as deep as anyone writes
