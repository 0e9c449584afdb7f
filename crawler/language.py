"""Language of an article from its title and text: py3langid, weighted to our languages.

py3langid (a modernised langid.py) knows 97 languages, Haitian Creole (``ht``) among them;
langdetect has no ``ht`` profile (NOTES.md). The four languages this monitor reads (Haitian
Creole, French, Spanish, English) get a prior bonus: short texts such as headlines lean to
them, while a long German or Swahili article still comes out as German or Swahili. The page's
or feed's declared language is a hint only (a smaller bonus): Haitian sites often declare
"fr" on Creole pages, and the text must be able to overrule that.

Accuracy and speed are measured by ``benchmarks/bench_language.py`` (docs/language.md).
"""

from __future__ import annotations

import re
import threading
from functools import cache
from typing import Any

#: The languages that matter here, in ISO 639-1.
PREFERRED_LANGUAGES = ("ht", "fr", "es", "en")
#: Log-probability bonuses. With 6, headline-length text (30-80 characters) of the four
#: languages is read right 97-100% of the time, against 88-98% unweighted; a full article
#: in another language still scores tens of units ahead (measured on fundus pages).
PREFERRED_BONUS = 6.0
DECLARED_BONUS = 3.0
#: The sample read: title and the start of the text. Detection cost grows with it (a pure
#: Python loop over its bytes). 600 characters read every test set (whole segments, fundus
#: articles) exactly as 2,000 did, at 40% of the cost (bench_language.py).
MAX_SAMPLE_CHARS = 600
#: Fewer letters than this: too little to tell, keep the declared language.
MIN_LETTERS = 12
_LETTER = re.compile(r"[^\W\d_]")
_TAG = re.compile(r"^[a-z]{2,3}$")
_NO_LANGUAGE = "zxx"
#: Values seen in lang attributes that are not language tags (a charset put there by mistake).
_NOT_LANGUAGES = frozenset({"utf", "iso", "win", "gb", "big"})
_lock = threading.Lock()


def detect_language(title: str | None, text: str | None, declared: str | None = None) -> str | None:
    """ISO 639-1 (or -3) code of the text's language; ``declared`` when there is too little."""
    hint = normalise_tag(declared)
    sample = _sample(title, text)
    if not _enough_letters(sample):
        return hint
    found = _best(sample, hint)
    return hint if found == _NO_LANGUAGE else found


def _enough_letters(sample: str) -> bool:
    # The head usually settles it; count the whole sample only when it does not.
    head = sample[: MIN_LETTERS * 4]
    if len(_LETTER.findall(head)) >= MIN_LETTERS:
        return True
    return len(_LETTER.findall(sample)) >= MIN_LETTERS


def normalise_tag(tag: str | None) -> str | None:
    """'fr-FR' / 'FR_fr' -> 'fr'; None for 'und', empty or malformed tags."""
    if not tag:
        return None
    primary = re.split(r"[-_]", tag.strip().lower(), maxsplit=1)[0]
    if not _TAG.match(primary) or primary == "und" or primary in _NOT_LANGUAGES:
        return None
    return primary


def _sample(title: str | None, text: str | None) -> str:
    parts = [p.strip() for p in (title, text) if p and p.strip()]
    return "\n".join(parts)[:MAX_SAMPLE_CHARS]


def _best(sample: str, hint: str | None) -> str:
    model = _model()
    classes: list[str] = model.nb_classes
    scores = _scores(model, sample)
    if scores is None:
        return _NO_LANGUAGE
    best = int((scores + _bonuses(tuple(classes), hint)).argmax())
    return classes[best]


def _scores(model: Any, sample: str) -> Any:
    """Naive-Bayes log-probabilities per class, as py3langid's raw scores.

    Computed here with element-wise numpy instead of the library's matrix product: that one
    goes through BLAS, and BLAS calls beside lxml in other threads of the crawl's pool
    coincided with rare segfaults in a thread stress test. Element-wise numpy uses no BLAS.
    """
    import numpy as np
    from py3langid.langid import visit_counts

    encoded = model._encode(sample)
    visits = visit_counts(model.tk_nextmove, model._rowbase, model.tk_output, encoded)
    if not visits:
        return None
    features = np.fromiter(visits.keys(), dtype=np.intp, count=len(visits))
    weights = np.log1p(np.fromiter(visits.values(), dtype=np.float32, count=len(visits)))
    # einsum sums the float16 model rows in float32 without a temporary product matrix.
    rows = model.nb_ptc[features]
    return np.einsum("f,fc->c", weights, rows, dtype=np.float32, casting="unsafe") + model.nb_pc


@cache
def _bonuses(classes: tuple[str, ...], hint: str | None) -> Any:
    import numpy as np

    bonus = np.zeros(len(classes), dtype=np.float32)
    for index, code in enumerate(classes):
        if code in PREFERRED_LANGUAGES:
            bonus[index] += PREFERRED_BONUS
        if hint is not None and code == hint:
            bonus[index] += DECLARED_BONUS
    return bonus


def _model() -> Any:
    with _lock:  # loaded once per process (about a second), by whichever thread comes first
        return _load()


@cache
def _load() -> Any:
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    return LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=False)


def warm_up() -> None:
    """Load the model now rather than on the first article."""
    _model()
