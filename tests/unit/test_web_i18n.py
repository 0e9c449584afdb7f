"""The web archive's languages: choosing one from the browser or the reader's cookie, and
catalogs that translate every message the web pages, alert templates and alert-building
modules use (found with the project's one extraction config, web/locale/babel.cfg)."""

from __future__ import annotations

from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po
from hypothesis import given
from hypothesis import strategies as st

from haitiwatch.scheduler.web.i18n import (
    LANGUAGES,
    LOCALE_DIR,
    accepted_languages,
    choose_language,
    translations,
)

REPO = Path(__file__).resolve().parents[2]
SCHEDULER = REPO / "scheduler"  # the checkout (a strict editable install links files)
WEB = SCHEDULER / "web"
KEYWORDS = {"_": None, "gettext": None, "ngettext": (1, 2), "translate": None}


def used_messages() -> set[str | tuple[str, ...]]:
    with (WEB / "locale" / "babel.cfg").open() as f:
        methods, options = parse_mapping_cfg(f)
    found = extract_from_dir(SCHEDULER, methods, options, KEYWORDS)
    return {message for _, _, message, _, _ in found}


def test_alert_texts_are_extracted_with_the_web_pages() -> None:
    used = used_messages()
    assert {"In the archive", "Mark for rule %(rule)s:", "Rule %(rule)s matched: %(terms)s"} <= used
    assert ("[%(rule)s] digest %(when)s: %(count)s story",
            "[%(rule)s] digest %(when)s: %(count)s stories") in used  # fmt: skip
    assert "Search" in used  # the web pages' own


@pytest.mark.parametrize(
    ("header", "cookie", "chosen"),
    [
        ("fr-HT,fr;q=0.9,en;q=0.8", None, "fr"),
        ("ht;q=0.5, es", None, "es"),
        ("de-DE,de;q=0.9", None, "en"),
        ("en;q=0, ht-HT;q=0.2", None, "ht"),
        ("", None, "en"),
        ("es", "ht", "ht"),  # the reader's own choice beats the browser's
        ("es", "xx", "es"),
        ("fr;q=abc, es;q=0.1", None, "es"),
    ],
)
def test_language_from_the_cookie_then_the_browser(
    header: str, cookie: str | None, chosen: str
) -> None:
    assert choose_language(cookie, header) == chosen


@given(st.text(), st.one_of(st.none(), st.text(max_size=4)))
def test_any_header_gets_a_supported_language(header: str, cookie: str | None) -> None:
    assert set(accepted_languages(header)) <= set(LANGUAGES)
    assert choose_language(cookie, header) in LANGUAGES


@pytest.mark.parametrize("language", [code for code in LANGUAGES if code != "en"])
def test_every_message_is_translated(language: str) -> None:
    po = WEB / "locale" / language / "LC_MESSAGES" / "messages.po"
    with po.open("rb") as f:
        catalog = read_po(f)
    used = used_messages()
    assert used, "no messages found: is the extraction looking in the right place?"
    missing, empty, fuzzy = [], [], []
    for message in used:
        key = message[0] if isinstance(message, tuple) else message
        entry = catalog.get(key)
        if entry is None:
            missing.append(key)
        elif not all(entry.string if isinstance(entry.string, tuple) else [entry.string]):
            empty.append(key)
        elif entry.fuzzy:
            fuzzy.append(key)
    assert (missing, empty, fuzzy) == ([], [], [])
    unused = {m.id if isinstance(m.id, str) else m.id[0] for m in catalog if m.id} - {
        m[0] if isinstance(m, tuple) else m for m in used
    }
    assert unused == set()
    assert catalog.check() is not None and not [e for _, e in catalog.check() if e]


@pytest.mark.parametrize("language", [code for code in LANGUAGES if code != "en"])
def test_placeholders_survive_translation(language: str) -> None:
    gettext = translations(language).gettext
    for message in used_messages():
        if isinstance(message, str) and "%(" in message:
            assert sorted(_names(gettext(message))) == sorted(_names(message)), message
            assert gettext(message) != message


def _names(text: str) -> list[str]:
    import re

    return re.findall(r"%\((\w+)\)s", text)


def test_catalogs_ship_in_the_package() -> None:
    """pyproject's package data takes every catalog (an installed wheel translates)."""
    import tomllib

    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text())
    patterns = pyproject["tool"]["setuptools"]["package-data"]["haitiwatch.scheduler"]
    scheduler = WEB.parent
    shipped = {p for pattern in patterns for p in scheduler.glob(pattern)}
    catalogs = set((WEB / "locale").glob("*/LC_MESSAGES/*.po"))
    assert LOCALE_DIR.name == "locale" and (LOCALE_DIR / "fr" / "LC_MESSAGES").is_dir()
    assert {path.parent.parent.name for path in catalogs} == set(LANGUAGES) - {"en"}
    assert catalogs <= shipped
