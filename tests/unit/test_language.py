"""Language detection: the four languages that matter, Creole above all, and hints as hints."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from haitiwatch.crawler.language import detect_language, normalise_tag

SAMPLES = (
    Path(__file__).resolve().parents[2].parent
    / "shared"
    / "corpus"
    / "lang-samples"
    / "samples.jsonl"
)

# Real text: FLORES-200 (CC BY-SA 4.0) and MIT-Haiti native Creole prose, via lang-samples.
CREOLE = (
    "Anplis evenman mèkredi a, Carpanedo te patisipe nan de kous endividyèl pandan chanpyona yo."
)
CREOLE_NEWS = "Lapolis nasyonal la di gang yo atake plizyè katye nan Pòtoprens maten an."
FRENCH = "Ce qui fut l'antique cité de Smyrne est aujourd'hui un centre commercial moderne."
SPANISH = "La tensión superficial provoca que la aguja permanezca flotando sobre el agua."
ENGLISH = (
    "Hostels cater primarily to young people, but you can often find older travellers there too."
)
GERMAN = (
    "Nach Kalifat-Rufen in Hamburg wird darüber diskutiert, ob der Staat zu nachsichtig mit "
    "Islamisten umgeht. Die Innenministerin kündigte schärfere Maßnahmen an."
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (CREOLE, "ht"),
        (CREOLE_NEWS, "ht"),
        (FRENCH, "fr"),
        (SPANISH, "es"),
        (ENGLISH, "en"),
        (GERMAN, "de"),
    ],
)
def test_detects_the_language(text: str, expected: str) -> None:
    assert detect_language(None, text) == expected


def test_declared_french_does_not_override_creole_text() -> None:
    # Haitian sites often declare fr (or fr-FR) on Creole pages.
    assert detect_language("Nouvèl", CREOLE_NEWS, declared="fr-FR") == "ht"


def test_declared_language_kept_when_too_little_text() -> None:
    assert detect_language("MSS", "", declared="fr") == "fr"
    assert detect_language(None, None) is None
    assert detect_language("123 456", None, declared="und") is None


def test_title_and_text_both_count() -> None:
    assert detect_language("Kenyan police in Haiti", ENGLISH) == "en"


@pytest.mark.parametrize(
    ("tag", "expected"),
    [("fr-FR", "fr"), ("EN_us", "en"), ("und", None), ("", None), ("utf-8", None)],
)
def test_normalise_tag(tag: str, expected: str | None) -> None:
    assert normalise_tag(tag) == expected


@settings(max_examples=50, deadline=None)
@given(st.text(max_size=300), st.text(max_size=30) | st.none())
def test_never_raises_and_returns_a_short_code(text: str, declared: str | None) -> None:
    found = detect_language(None, text, declared)
    assert found is None or (2 <= len(found) <= 3 and found.isalpha())


@pytest.mark.skipif(not SAMPLES.exists(), reason="../shared/corpus is not beside this clone")
def test_at_least_95_percent_per_language_on_the_shared_samples() -> None:
    rows = [json.loads(line) for line in SAMPLES.read_text("utf-8").splitlines()]
    for lang in ("ht", "fr", "es", "en"):
        mine = [r for r in rows if r["lang"] == lang]
        right = sum(detect_language(None, r["text"]) == lang for r in mine)
        assert right / len(mine) >= 0.95, (lang, right, len(mine))
