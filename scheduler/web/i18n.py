"""The web archive's languages: English, French, Haitian Creole and Spanish.

Catalogs are the .po files under ``locale/``, shared with alerts (scheduler/catalogs.py).
The language of a request is the reader's choice (a cookie set by ``/language/CODE``), else
the browser's Accept-Language, else English. ``render`` and ``translate`` read it from a
context variable that the web wrappers set per request, so every handler keeps its plain
``context.render(name, ...)``.
"""

from __future__ import annotations

from collections.abc import Mapping
from contextvars import ContextVar
from typing import Final

# The web's names for the shared catalogs (re-exported).
from haitiwatch.scheduler.catalogs import DEFAULT as DEFAULT
from haitiwatch.scheduler.catalogs import DOMAIN as DOMAIN
from haitiwatch.scheduler.catalogs import LOCALE_DIR as LOCALE_DIR
from haitiwatch.scheduler.catalogs import translations as translations

#: Each language's own name, as the switcher shows it.
LANGUAGES: Final[Mapping[str, str]] = {
    "en": "English",
    "fr": "Français",
    "ht": "Kreyòl ayisyen",
    "es": "Español",
}
LANG_COOKIE: Final = "hw_lang"

current_language: ContextVar[str] = ContextVar("haitiwatch_web_language", default=DEFAULT)


def accepted_languages(header: str) -> list[str]:
    """The supported languages an Accept-Language header names, most wanted first
    (``fr-HT;q=0.9`` counts as ``fr``; ``q=0`` means "not this one")."""
    ranked: list[tuple[float, int, str]] = []
    for position, part in enumerate(header.split(",")):
        tag, _, params = part.strip().partition(";")
        primary = tag.strip().split("-")[0].lower()
        if primary not in LANGUAGES:
            continue
        quality = 1.0
        name, _, value = params.strip().partition("=")
        if name.strip() == "q":
            try:
                quality = float(value)
            except ValueError:
                continue
        if quality > 0:
            ranked.append((-quality, position, primary))
    ranked.sort()
    return list(dict.fromkeys(code for _, _, code in ranked))


def choose_language(cookie: str | None, accept_language: str) -> str:
    """The reader's own choice first, then the browser's, then English."""
    if cookie is not None and cookie in LANGUAGES:
        return cookie
    return next(iter(accepted_languages(accept_language)), DEFAULT)


def translate(message: str) -> str:
    """``message`` in the current request's language (for text built in Python)."""
    return translations(current_language.get()).gettext(message)
