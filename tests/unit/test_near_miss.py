"""Near misses: closeness, reasons, ranking, the extra scorer, and two properties (a matched
article is never a near miss; appending a rule word never lowers the score)."""

from __future__ import annotations

from dataclasses import dataclass

from hypothesis import assume, given, settings
from hypothesis import strategies as st

from haitiwatch.db.query.ast import And, Near, Node, Not, Or, Phrase, Term, leaves
from haitiwatch.scheduler.rules import RuleSet, compile_rule
from haitiwatch.scheduler.rules.near_miss import closeness, near_miss, top_near_misses

FILLER = [
    "the",
    "minister",
    "said",
    "on",
    "tuesday",
    "that",
    "a",
    "report",
    "was",
    "published",
    "in",
    "the",
    "capital",
]


def words(n: int) -> str:
    return " ".join(FILLER[i % len(FILLER)] for i in range(n))


@dataclass(frozen=True)
class Item:
    title: str
    text: str


def test_near_says_both_sides_and_how_far_apart() -> None:
    rule = compile_rule("r", "kenya NEAR/50 haiti")
    text = f"Kenya {words(73)} Haiti, said the police."
    miss = near_miss(rule, "Police news", text)
    assert miss is not None
    assert miss.reasons[0] == "kenya and haiti both in the text, but 73 words apart (limit 50)"


def test_and_says_what_was_found_and_what_is_missing() -> None:
    rule = compile_rule("r", 'kenya police "gang suppression force"')
    miss = near_miss(rule, "Kenya", "The police said so.")
    assert miss is not None
    assert miss.reasons[0] == 'AND: found kenya, police; missing "gang suppression force"'
    assert "rule words in the title: kenya" in miss.reasons
    assert "rule words in the text: police" in miss.reasons


def test_field_and_phrase_reasons() -> None:
    rule = compile_rule("r", 'title:haiti "gang suppression force"')
    miss = near_miss(rule, "News", "Haiti: the force to suppress the gang")
    assert miss is not None
    assert "title:haiti: the words are there, not in the title" in miss.reasons
    assert '"gang suppression force": some of its words occur, not as the phrase' in miss.reasons


def test_not_reason() -> None:
    miss = near_miss(compile_rule("r", "kenya haiti -kenyatta"), "Kenya", "Haiti, Kenyatta")
    assert miss is not None and "excluded by NOT kenyatta" in miss.reasons


def test_no_rule_word_is_no_near_miss_and_a_match_is_none() -> None:
    rule = compile_rule("r", "kenya NEAR/5 haiti")
    assert near_miss(rule, "Weather", "Rain in the capital.") is None
    assert near_miss(rule, "Kenya and Haiti", "") is None


def test_ranking_closer_title_more_words_more_of_a_part() -> None:
    rule = compile_rule("r", "(kenya OR kenyan) NEAR/10 haiti OR (ruto troops deploy)")
    far = Item("News", f"Kenya {words(40)} Haiti")
    closer = Item("News", f"Kenya {words(15)} Haiti")
    in_title = Item("Kenya", f"Kenya {words(40)} Haiti")
    one_side = Item("News", "Kenya only")
    two_of_three = Item("News", "Ruto and troops")
    one_of_three = Item("News", "Ruto alone")
    matched = Item("Kenya in Haiti", "")
    items = [one_of_three, far, matched, one_side, closer, two_of_three, in_title]
    ranked = [item for item, _ in top_near_misses(rule, items, 10)]
    assert matched not in ranked
    assert ranked.index(in_title) < ranked.index(far)
    assert ranked.index(closer) < ranked.index(far)
    assert ranked.index(far) < ranked.index(one_side)
    assert ranked.index(two_of_three) < ranked.index(one_of_three)
    assert [item for item, _ in top_near_misses(rule, items, 2)] == ranked[:2]


def test_group_keeps_each_groups_best_even_when_better_items_come_late() -> None:
    rule = compile_rule("r", "kenya NEAR/3 haiti")
    # 30 articles in 10 stories; later articles are closer, so each story's best comes last.
    items = [Item(f"story {i % 10}", f"Kenya {words(40 - i)} Haiti") for i in range(30)]
    ranked = top_near_misses(rule, items, 2, group=lambda item: item.title)
    assert [item for item, _ in ranked] == [items[29], items[28]]
    assert len(top_near_misses(rule, items, 30, group=lambda item: item.title)) == 10


def keyword_share(title: str, text: str) -> float | None:
    """A real (if tiny) classifier: the share of a topic vocabulary the article uses."""
    topic = {"gangs", "police", "port", "prince", "deployment", "officers"}
    found = topic.intersection(f"{title} {text}".lower().replace("-", " ").split())
    return len(found) / len(topic) if title or text else None


def test_extra_scorer_is_shown_and_ranks_and_finds_articles_without_rule_words() -> None:
    rule = compile_rule("r", "kenya NEAR/5 haiti")
    lexical_best = Item("Kenya", f"{words(8)} Haiti")
    on_topic = Item("Kenya", "Police officers and gangs in Port-au-Prince and the deployment")
    no_rule_word = Item("Deployment", "Police officers fight gangs in Port-au-Prince")
    ranked = top_near_misses(rule, [lexical_best, on_topic, no_rule_word], 5, keyword_share)
    assert [item for item, _ in ranked] == [on_topic, no_rule_word, lexical_best]
    best = ranked[0][1]
    assert best.extra == 1.0 and best.rank == 1.0 and "classifier score 1.00" in best.reasons
    without = top_near_misses(rule, [lexical_best, on_topic, no_rule_word], 5)
    assert [item for item, _ in without] == [lexical_best, on_topic]
    assert without[0][1].extra is None


# -- properties -----------------------------------------------------------------------------

POSITIVE = ["kenya", "haiti", "police", "gangs", "force", "ruto", "troops"]
NEGATIVE = ["kenyatta", "airways"]  # only under NOT: appending a rule word never touches them
VOCABULARY = POSITIVE + NEGATIVE + FILLER[:6]

fields = st.sampled_from([None, "title", "text"])
terms = st.builds(Term, st.sampled_from(POSITIVE), st.just(False), fields)
prefixes = st.builds(lambda w, f: Term(w[:3], True, f), st.sampled_from(POSITIVE), fields)
phrases = st.builds(Phrase, st.tuples(*[st.sampled_from(POSITIVE)] * 2), fields)
positional: st.SearchStrategy[Node] = st.recursive(
    st.one_of(terms, prefixes, phrases),
    lambda inner: st.one_of(
        st.builds(Near, inner, inner, st.integers(0, 6)),
        st.builds(lambda items: Or(tuple(items)), st.lists(inner, min_size=2, max_size=3)),
    ),
    max_leaves=6,
)
negations = st.builds(lambda w: Not(Term(w)), st.sampled_from(NEGATIVE))
rules: st.SearchStrategy[Node] = st.recursive(
    positional,
    lambda inner: st.one_of(
        st.builds(
            lambda items: And(tuple(items)), st.lists(inner | negations, min_size=2, max_size=3)
        ),
        st.builds(lambda items: Or(tuple(items)), st.lists(inner, min_size=2, max_size=3)),
    ),
    max_leaves=8,
)
titles = st.lists(st.sampled_from(VOCABULARY), max_size=6).map(" ".join)
texts = st.lists(st.sampled_from(VOCABULARY), max_size=40).map(" ".join)


@settings(max_examples=300, deadline=None)
@given(rules, titles, texts)
def test_a_matched_article_is_never_a_near_miss(node: Node, title: str, text: str) -> None:
    matched = bool(RuleSet([compile_rule("r", node)]).match(title, text))
    # The scorer's own evaluation agrees with the matcher: closeness 1 exactly on a match.
    assert (closeness(node, title, text) == 1.0) == matched
    if matched:
        assert near_miss(compile_rule("r", node), title, text) is None


@settings(max_examples=300, deadline=None)
@given(rules, titles, texts, st.data())
def test_appending_a_rule_word_never_lowers_the_score(
    node: Node, title: str, text: str, data: st.DataObject
) -> None:
    rule = compile_rule("r", node)
    before = near_miss(rule, title, text)
    positive = [leaf for leaf, negated in leaves(node) if not negated]
    assume(positive)
    leaf = data.draw(st.sampled_from(positive))
    added = " ".join(leaf.words) if isinstance(leaf, Phrase) else leaf.word
    field = leaf.field or data.draw(st.sampled_from(["title", "text"]))
    if field == "title":
        title = f"{title} {added}"
    else:
        text = f"{text} {added}"
    after = near_miss(rule, title, text)
    if RuleSet([rule]).match(title, text):
        assert after is None  # it now matches: no longer a miss at all
        return
    assert after is not None  # the article now has a whole rule word
    if before is not None:
        assert after.score >= before.score
