"""Language of an article from its title and text: py3langid, weighted to our languages.

py3langid (a modernised langid.py) knows 97 languages, Haitian Creole (``ht``) among them;
langdetect has no ``ht`` profile. The four languages this monitor reads (Haitian
Creole, French, Spanish, English) get a prior bonus: short texts such as headlines lean to
them, while a long German or Swahili article still comes out as German or Swahili. The page's
or feed's declared language is a hint only (a smaller bonus): Haitian sites often declare
"fr" on Creole pages, and the text must be able to overrule that.

Accuracy and speed are measured by ``benchmarks/bench_language.py`` (docs/language.md).
"""

from __future__ import annotations

import itertools
import re
import threading
from functools import cache
from typing import Any

#: The languages that matter here, in ISO 639-1.
PREFERRED_LANGUAGES = ("ht", "fr", "es", "en")
#: Log-probability bonuses: enough to tip a headline towards the four languages, far too
#: little to overrule a full article in another one (docs/language.md has the figures).
PREFERRED_BONUS = 6.0
DECLARED_BONUS = 3.0
_MAX_BONUS = PREFERRED_BONUS + DECLARED_BONUS
#: The sample read: title and the start of the text (the cost grows with its length; longer
#: samples read no test set better: docs/language.md).
MAX_SAMPLE_CHARS = 600
#: Fewer letters than this: too little to tell, keep the declared language.
MIN_LETTERS = 12
_LETTER = re.compile(r"[^\W\d_]")
_TAG = re.compile(r"^[a-z]{2,3}$")
_NO_LANGUAGE = "zxx"
#: Values seen in lang attributes and Content-Language that are not language tags (a charset
#: put there by mistake; People's Daily: "utf-8").
NOT_LANGUAGES = frozenset({"utf", "iso", "win", "gb", "big"})
_lock = threading.Lock()


def detect_language(title: str | None, text: str | None, declared: str | None = None) -> str | None:
    """ISO 639-1 (or -3) code of the text's language; ``declared`` when there is too little."""
    hint = normalise_tag(declared)
    sample = _sample(title, text)
    if not _enough_letters(sample):
        return hint
    ranked = _rank(sample)  # every language, best raw log-probability first
    top = ranked[0][1]
    if top == ranked[-1][1]:  # every language scores the same: not one feature in the sample
        return hint
    # Only languages within the largest bonus of the top one can win once bonuses are added.
    contenders = itertools.takewhile(lambda pair: pair[1] >= top - _MAX_BONUS, ranked)
    best, _score = max(contenders, key=lambda pair: pair[1] + _bonus(pair[0], hint))
    return hint if best == _NO_LANGUAGE else best


def _bonus(code: str, hint: str | None) -> float:
    bonus = PREFERRED_BONUS if code in PREFERRED_LANGUAGES else 0.0
    return bonus + (DECLARED_BONUS if code == hint else 0.0)


def _enough_letters(sample: str) -> bool:
    head = sample[: MIN_LETTERS * 4]  # usually settles it without reading the whole sample
    return len(_LETTER.findall(head)) >= MIN_LETTERS or len(_LETTER.findall(sample)) >= MIN_LETTERS


def normalise_tag(tag: str | None) -> str | None:
    """'fr-FR' / 'FR_fr' -> 'fr'; None for 'und', empty or malformed tags."""
    if not tag:
        return None
    primary = re.split(r"[-_]", tag.strip().lower(), maxsplit=1)[0]
    if not _TAG.match(primary) or primary == "und" or primary in NOT_LANGUAGES:
        return None
    return primary


def _sample(title: str | None, text: str | None) -> str:
    parts = [p.strip() for p in (title, text) if p and p.strip()]
    return "\n".join(parts)[:MAX_SAMPLE_CHARS]


def _rank(sample: str) -> list[tuple[str, float]]:
    """py3langid's public ``rank``: raw scores (log-probabilities, the bonuses' units)."""
    rank = _ranker()
    return [(str(code), float(score)) for code, score in rank(sample)]


def _ranker() -> Any:
    with _lock:  # loaded once per process (about a second), by whichever thread comes first
        return _load()


@cache
def _load() -> Any:
    import py3langid

    py3langid.rank("")  # loads its model now, under the lock, not in two threads at once
    return py3langid.rank


def warm_up() -> None:
    """Load the model now rather than on the first article."""
    _ranker()
