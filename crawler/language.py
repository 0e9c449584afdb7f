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

import itertools
import re
import threading
from collections.abc import Sequence
from functools import cache
from typing import TYPE_CHECKING, Any, NamedTuple

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import NDArray

#: The languages that matter here, in ISO 639-1.
PREFERRED_LANGUAGES = ("ht", "fr", "es", "en")
#: Log-probability bonuses. With 6, headline-length text (30-80 characters) of the four
#: languages is read right 97-100% of the time, against 88-98% unweighted; a full article
#: in another language still scores tens of units ahead (measured on fundus pages).
PREFERRED_BONUS = 6.0
DECLARED_BONUS = 3.0
#: The sample read: title and the start of the text. Detection cost grows with it (a walk
#: over its bytes). 600 characters read every test set (whole segments, fundus
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
#: Samples scored together at most. The temporary rows take about 0.5 MB a sample (up to
#: 2 MB for 600 characters of a non-Latin script), and glibc keeps a freed block of that size
#: for reuse (the service's memory: 283.6 MiB with batches of 16, 280.0 with 8). Batches of 8
#: save all the per-call cost that batching can (feed_records: the same time as 16 or 256).
_BATCH = 8


def detect_language(title: str | None, text: str | None, declared: str | None = None) -> str | None:
    """ISO 639-1 (or -3) code of the text's language; ``declared`` when there is too little."""
    return detect_languages([(title, text, declared)])[0]


def detect_languages(
    articles: Sequence[tuple[str | None, str | None, str | None]],
) -> list[str | None]:
    """``detect_language`` of each (title, text, declared) at once, e.g. a feed's entries.

    The same answers as one by one: each sample is scored on its own, but the automaton walk,
    the feature counting and the row lookups run once for the whole batch, which saves their
    fixed cost per call (about a quarter of the time on feed summaries).
    """
    found: list[str | None] = []
    todo: list[tuple[int, str, str | None]] = []  # (index, sample, hint)
    for index, (title, text, declared) in enumerate(articles):
        hint = normalise_tag(declared)
        found.append(hint)
        sample = _sample(title, text)
        if _enough_letters(sample):
            todo.append((index, sample, hint))
    if not todo:
        return found
    model = _model()
    classes: list[str] = model.nb_classes
    for start in range(0, len(todo), _BATCH):
        batch = todo[start : start + _BATCH]
        for (index, _text, hint), scores in zip(
            batch, _scores_many(model, [sample for _, sample, _ in batch]), strict=True
        ):
            if scores is None:
                continue
            best = classes[int((scores + _bonuses(tuple(classes), hint)).argmax())]
            if best != _NO_LANGUAGE:
                found[index] = best
    return found


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


def _scores_many(model: Any, samples: Sequence[str]) -> list[Any]:
    """Naive-Bayes log-probabilities per class, as py3langid's raw scores, of each sample.

    Computed here with element-wise numpy instead of the library's matrix product: that one
    goes through BLAS, and BLAS calls beside lxml in other threads of the crawl's pool
    coincided with rare segfaults in a thread stress test. Element-wise numpy uses no BLAS.
    The result is bit-for-bit the one of the library's byte loop followed by an einsum over
    the float16 rows (tests/unit/test_language_fast.py compares them), at under half the cost.
    """
    import numpy as np

    tables = _tables(model)
    counted = _features(model, tables, [model._encode(sample) for sample in samples])
    present = [found for found in counted if found is not None]
    if not present:
        return [None] * len(samples)
    features = np.concatenate([ids for ids, _ in present])
    weights = np.log1p(np.concatenate([counts for _, counts in present]).astype(np.float32))
    rows = model.nb_ptc[features]
    if tables.finite_rows:
        # Widening float16 in numpy's cast costs ~2 ns a value, most of the scoring time;
        # the bit shift gives the same float32 values (and the same sums) in a fifth of it.
        rows = _widen_half(rows)
    scores: list[Any] = []
    end = 0
    for found in counted:
        if found is None:
            scores.append(None)
            continue
        start, end = end, end + len(found[0])
        # einsum sums each sample's rows in float32 (in feature order) without a temporary
        # product matrix; one call per sample keeps the order, and so the sums, of one alone.
        scores.append(
            np.einsum(
                "f,fc->c", weights[start:end], rows[start:end], dtype=np.float32, casting="unsafe"
            )
            + model.nb_pc
        )
    return scores


class _Tables(NamedTuple):
    """py3langid's byte automaton as numpy arrays, and what is known of its model."""

    nextmove: NDArray[Any]  # next state: nextmove[rowbase[state] + byte]
    rowbase: NDArray[np.intp]
    output: NDArray[np.intp]  # feature id reached in a state, -1 for none
    #: The automaton's state after a byte depends on the last ``depth`` bytes only; None
    #: when unknown for this model (then the library's byte loop runs).
    depth: int | None
    #: No inf/NaN in the model's float16 rows, so ``_widen_half`` is exact for them.
    finite_rows: bool


#: The depth of the automaton of models it was proven for, by their transition tables'
#: CRC-32: 6 for py3langid 0.4.0's model. Proof: from every state, any 6 bytes lead to the
#: state they lead to from the root (5 do not); ``test_language_fast`` re-derives it by
#: walking all state pairs. A model not listed here keeps the (slower) byte loop.
_PROVEN_DEPTHS = {(104583, 2533178919): 6}


def _features(
    model: Any, tables: _Tables, pieces: Sequence[bytes]
) -> list[tuple[NDArray[np.intp], NDArray[Any]] | None]:
    """For each piece: its feature ids in order of first occurrence, and how often each
    occurs; None for a piece without any.

    The order is Counter's, as in the library: it fixes the order of the float32 sum, and so
    keeps the scores identical.
    """
    import numpy as np

    if tables.depth is None:
        from py3langid.langid import visit_counts

        counted: list[tuple[NDArray[np.intp], NDArray[Any]] | None] = []
        for piece in pieces:
            # The library's own tables: its loop indexes lists far faster than numpy arrays.
            visits = visit_counts(model.tk_nextmove, model._rowbase, model.tk_output, piece)
            counted.append(
                (
                    np.fromiter(visits.keys(), dtype=np.intp, count=len(visits)),
                    np.fromiter(visits.values(), dtype=np.intp, count=len(visits)),
                )
                if visits
                else None
            )
        return counted
    found, starts = _walk(tables, tables.depth, pieces)  # feature id per byte, -1 for none
    (positions,) = (found >= 0).nonzero()
    if not positions.size:
        return [None] * len(pieces)
    # One sort of (piece, feature, position) keys groups each piece's hits of a feature,
    # first one first. (np.unique with indexes and counts does the same at twice the cost.)
    position_bits = len(found).bit_length()
    piece_shift = position_bits + int(found.max()).bit_length()
    piece_of = starts.searchsorted(positions, side="right") - 1
    keys = np.sort((piece_of << piece_shift) | (found[positions] << position_bits) | positions)
    groups = keys >> position_bits
    edges = np.empty(len(keys) + 1, dtype=bool)  # where a piece's feature's run starts or ends
    edges[0] = edges[-1] = True
    np.not_equal(groups[1:], groups[:-1], out=edges[1:-1])
    (bounds,) = edges.nonzero()
    # Put each run's count at its first position: reading those in text order gives each
    # piece's features in order of first occurrence, piece after piece.
    counts = np.zeros(len(found), dtype=np.intp)
    counts[keys[bounds[:-1]] & ((1 << position_bits) - 1)] = bounds[1:] - bounds[:-1]
    (firsts,) = counts.nonzero()
    cuts = [*firsts.searchsorted(starts).tolist(), len(firsts)]
    return [
        (found[firsts[a:b]], counts[firsts[a:b]]) if a < b else None
        for a, b in itertools.pairwise(cuts)
    ]


def _walk(
    tables: _Tables, depth: int, pieces: Sequence[bytes]
) -> tuple[NDArray[np.intp], NDArray[np.intp]]:
    """The feature id (or -1) of the automaton's state after each byte of the pieces put end
    to end, each piece walked from the root; and where each piece starts.

    The state after byte i is the one reached from the root by bytes i-depth+1..i (the
    automaton matches n-grams of at most ``depth`` bytes), so all positions advance together
    in ``depth`` vectorised steps instead of a Python loop over the bytes.
    """
    import numpy as np

    lengths = np.fromiter(map(len, pieces), dtype=np.intp, count=len(pieces))
    starts = np.zeros(len(pieces), dtype=np.intp)
    np.cumsum(lengths[:-1], out=starts[1:])
    data = np.frombuffer(b"".join(pieces), dtype=np.uint8).astype(np.intp)
    size = len(data)
    # how far each byte is into its piece: a step with lag `start` feeds byte i-start to
    # position i only if that byte is in the same piece; the others stay at the root
    offset = np.arange(size, dtype=np.intp) - np.repeat(starts, lengths)
    states = np.zeros(size, dtype=np.intp)
    for start in range(min(depth, size) - 1, -1, -1):
        tail = states[start:]
        moves = tables.rowbase[tail]
        moves += data[: size - start]
        if start and len(pieces) > 1:
            inside = offset[start:] >= start
            tail[inside] = tables.nextmove[moves[inside]]
        else:
            tail[:] = tables.nextmove[moves]
    return tables.output[states], starts


def _widen_half(rows: NDArray[np.float16]) -> NDArray[np.float32]:
    """float16 -> float32, exactly as ``astype`` for finite values, by moving the bits.

    Sign-extend to int32 and shift the 15 exponent and mantissa bits up by 13: that is the
    float32 with the same mantissa and an exponent 112 lower (exact, subnormals included);
    multiplying by 2**112 restores the exponent exactly. Inf and NaN would come out wrong.
    """
    import numpy as np

    bits = rows.view(np.int16).astype(np.int32)
    bits <<= 13
    bits &= np.int32(-(1 << 31) | (0x7FFF << 13))  # the sign, and the moved bits only
    widened = bits.view(np.float32)
    widened *= np.float32(2.0**112)
    return widened


@cache
def _tables(model: Any) -> _Tables:
    import zlib

    import numpy as np

    fingerprint = (len(model.tk_row), zlib.crc32(model.tk_row, zlib.crc32(model.tk_nextmove)))
    return _Tables(
        nextmove=np.asarray(model.tk_nextmove),
        rowbase=np.asarray(model._rowbase, dtype=np.intp),
        output=np.asarray(model.tk_output, dtype=np.intp),
        depth=_PROVEN_DEPTHS.get(fingerprint),
        finite_rows=bool(np.isfinite(model.nb_ptc).all()),
    )


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
    from crawler.langid_model import load_identifier

    model = load_identifier()
    _tables(model)  # built here too, under the lock, rather than by racing threads
    return model


def warm_up() -> None:
    """Load the model now rather than on the first article."""
    _model()
