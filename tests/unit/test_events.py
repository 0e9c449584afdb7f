"""Event evidence and decisions (crawler/events.py): pure, on hand-written reports."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from haitiwatch.crawler.event_aliases import COMMON
from haitiwatch.crawler.events import (
    MAX_KEYS,
    EventParams,
    Evidence,
    concepts,
    concepts_from_text,
    concepts_to_text,
    event_keys,
    same_event_score,
)

T0 = datetime(2023, 10, 2, 18, 0, tzinfo=UTC)
PARAMS = EventParams()

VOTE_EN = (
    "UN Security Council votes 15-0 to authorise Kenya-led mission to Haiti",
    "The United Nations Security Council voted 15-0 on Monday to authorise a multinational "
    "security support mission led by Kenya to help Haiti's police fight armed gangs, a year "
    "after Prime Minister Ariel Henry asked for foreign troops.",
)
VOTE_FR = (
    "Le Conseil de sécurité de l'ONU autorise une mission multinationale en Haïti",
    "Le Conseil de sécurité des Nations unies a voté lundi par 15 voix contre zéro (15-0) une "
    "résolution autorisant le déploiement d'une mission multinationale dirigée par le Kenya "
    "pour aider la police haïtienne à combattre les gangs, un an après la demande d'Ariel Henry.",
)
VOTE_REWORDED = (
    "Kenya cleared to lead Haiti force after unanimous Security Council vote",
    "Kenya will lead a multinational force in Haiti after the Security Council approved the "
    "deployment 15-0, answering the request Ariel Henry made a year ago; Kenyan police "
    "officers could deploy within months.",
)
CHOLERA = (
    "Haiti cholera cases rise in Port-au-Prince slums",
    "Health officials in Haiti reported 300 new suspected cholera cases in Cité Soleil and "
    "other Port-au-Prince neighbourhoods, where clean water has run short.",
)
DOMINICAN = (
    "Dominican Republic closes border with Haiti over canal dispute",
    "The Dominican Republic shut its land border with Haiti on Friday, halting trade, in a "
    "dispute over a canal Haitian farmers are digging on the Massacre river.",
)


def score(a: tuple[str, str], b: tuple[str, str], apart: timedelta = timedelta(0)) -> float | None:
    return same_event_score(
        Evidence.of(concepts(*a)), T0, Evidence.of(concepts(*b)), T0 + apart, PARAMS
    )


def test_a_french_and_an_english_report_of_one_event_join() -> None:
    assert score(VOTE_EN, VOTE_FR, timedelta(hours=2)) is not None


def test_reworded_reports_of_one_event_from_different_outlets_join() -> None:
    assert score(VOTE_EN, VOTE_REWORDED, timedelta(hours=5)) is not None
    assert score(VOTE_FR, VOTE_REWORDED, timedelta(hours=5)) is not None


def test_two_events_on_one_day_about_the_same_country_stay_apart() -> None:
    assert score(VOTE_EN, CHOLERA) is None
    assert score(CHOLERA, DOMINICAN, timedelta(hours=3)) is None
    assert score(VOTE_FR, DOMINICAN, timedelta(hours=1)) is None


def test_reports_beyond_the_window_never_join() -> None:
    assert score(VOTE_EN, VOTE_EN, PARAMS.window + timedelta(minutes=1)) is None


def test_aliases_are_accent_and_language_insensitive() -> None:
    for name in ("Haïti", "Haiti", "Ayiti"):
        assert "e:haiti" in concepts(f"Nouvelles de {name}", "")
    assert "e:kenya" in concepts("La policía de Kenia", "")
    assert "e:unsc" in concepts("Konsèy Sekirite a vote", "")
    assert "e:unsc" in concepts("El Consejo de Seguridad", "")


def test_lowercase_words_are_not_acronyms() -> None:
    found = concepts("Help us now", "Il a un plan pour nous.")
    assert "e:us" not in found and "e:un" not in found
    assert "e:us" in concepts("US sends aid", "") and "e:un" in concepts("UN envoy", "")


def test_numbers_are_evidence_but_years_are_not() -> None:
    found = concepts("Vote 13-0 in 2022 sends 1,000 officers", "")
    assert {"#13-0", "#1000"} <= found
    assert not any("2022" in c for c in found)


words = st.text(alphabet="abcdefgh ÉéHK-13", max_size=60)


@given(words, words, words, words, st.integers(min_value=0, max_value=200))
def test_the_decision_is_symmetric(t1: str, x1: str, t2: str, x2: str, hours: int) -> None:
    a, b = Evidence.of(concepts(t1, x1)), Evidence.of(concepts(t2, x2))
    later = T0 + timedelta(hours=hours)
    assert same_event_score(a, T0, b, later, PARAMS) == same_event_score(b, later, a, T0, PARAMS)


@given(words, words)
def test_stored_concepts_read_back_the_same(title: str, text: str) -> None:
    found = concepts(title, text)
    assert concepts_from_text(concepts_to_text(found)) == found


concept_sets = st.frozensets(
    st.builds(lambda kind, word: f"{kind}{word}", st.sampled_from(["e:", "n:", "#", "t:", "w:"]),
              st.text(alphabet="abcdefghij", min_size=1, max_size=6)),
    max_size=80,
)  # fmt: skip


@given(concept_sets)
def test_an_article_has_at_most_max_keys_names_before_words(found: frozenset[str]) -> None:
    keys = event_keys(found)
    every = event_keys_uncapped(found)
    assert len(keys) == min(MAX_KEYS, len(every)) and set(keys) <= set(every)
    names = {c for c in found if c[0] in "en" and c not in COMMON}
    if len(names) <= MAX_KEYS:  # every name keeps its key before any word does
        assert set(event_keys_uncapped(names)) <= set(keys)


def test_two_reports_of_one_event_share_a_key_however_long_their_leads() -> None:
    lead = " ".join(f"word{chr(97 + i % 26)}{chr(97 + i // 26)}" for i in range(80))
    first = concepts(VOTE_EN[0], VOTE_EN[1] + " " + lead)
    second = concepts(VOTE_REWORDED[0], lead[::-1] + " " + VOTE_REWORDED[1])
    assert len(event_keys_uncapped(first)) > MAX_KEYS
    assert set(event_keys(first)) & set(event_keys(second))


def event_keys_uncapped(found: frozenset[str] | set[str]) -> list[int]:
    """The key of every uncommon concept, one at a time (no cap applies to one)."""
    return sorted(key for concept in found for key in event_keys([concept]))
