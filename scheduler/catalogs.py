"""Our own words in four languages (English, French, Haitian Creole, Spanish): one set of
catalogs for the web archive and for alerts and digests.

The catalogs are the .po files under ``web/locale/`` (shipped as package data), compiled in
memory on first use, so an installed wheel translates without a build step. One extraction
config (``web/locale/babel.cfg``) collects the messages of the web pages, the alert templates
and the Python modules that build alert text.
"""

from __future__ import annotations

import io
from functools import cache
from pathlib import Path
from typing import Final

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import NullTranslations, Translations

DEFAULT: Final = "en"
#: The languages we have catalogs for (English is the message ids themselves).
ALERT_LANGUAGES: Final = ("en", "fr", "ht", "es")
LOCALE_DIR: Final = Path(__file__).with_name("web") / "locale"
DOMAIN: Final = "messages"


@cache
def translations(language: str) -> NullTranslations:
    """``language``'s catalog, compiled from its .po file (English: the message ids)."""
    po = LOCALE_DIR / language / "LC_MESSAGES" / f"{DOMAIN}.po"
    if language == DEFAULT or not po.is_file():
        return NullTranslations()
    with po.open("rb") as f:
        catalog = read_po(f, locale=None, domain=DOMAIN)
    compiled = io.BytesIO()
    write_mo(compiled, catalog, use_fuzzy=False)
    compiled.seek(0)
    return Translations(compiled, domain=DOMAIN)
