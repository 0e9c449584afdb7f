"""A learned second opinion for a rule: a linear model over hashed word and character n-grams.

Pure and deterministic: the same examples give the same model bytes and the same scores
(liblinear with a fixed seed, hashing instead of a fitted vocabulary, sorted JSON). Scoring
needs only numpy; scikit-learn and scipy are imported when a model is learned. A model is
stored as zlib-compressed JSON (its feature parameters, intercept and non-zero weights), never
a pickle, so loading one from the database can never run code.
"""

from __future__ import annotations

import itertools
import json
import math
import re
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cached_property, lru_cache
from typing import Any, Final

import numpy as np

from haitiwatch.db.textnorm import fold

#: Bumped when the features change: a stored model of another version must be learned again.
FEATURES_VERSION: Final = 1
#: Hashed feature space per analyzer (words, characters).
_HASH_BITS: Final = 18
#: Only the title and the start of the text are scored: the lede carries the topic, and it
#: keeps the cost of a long page the same as a short one.
_TEXT_CHARS: Final = 1200
_MASK: Final = 2**_HASH_BITS - 1
_CHAR_OFFSET: Final = 2**_HASH_BITS
_N_FEATURES: Final = 2 * 2**_HASH_BITS
_CHAR_NGRAMS: Final = (3, 4, 5)
_MIX: Final = 0x9E3779B1
_WORD_RE: Final = re.compile(r"\w\w+")
_FOLDS: Final = 5


class ModelFormatError(ValueError):
    """Stored model bytes that this version cannot read (corrupt, or other features)."""


@dataclass(frozen=True, slots=True)
class Example:
    """A labelled article: ``relevant`` is what the rule should have said."""

    title: str
    text: str
    relevant: bool


@dataclass(frozen=True, slots=True)
class Counts:
    """Outcomes of a yes/no decision against labels."""

    true_positives: int = 0
    false_positives: int = 0
    false_negatives: int = 0
    true_negatives: int = 0

    @property
    def precision(self) -> float:
        said_yes = self.true_positives + self.false_positives
        return self.true_positives / said_yes if said_yes else 1.0

    @property
    def recall(self) -> float:
        relevant = self.true_positives + self.false_negatives
        return self.true_positives / relevant if relevant else 1.0


def count(decisions: Iterable[bool], labels: Iterable[bool]) -> Counts:
    """Tally decisions against labels (pairs in order)."""
    tp = fp = fn = tn = 0
    for said, truth in zip(decisions, labels, strict=True):
        if said and truth:
            tp += 1
        elif said:
            fp += 1
        elif truth:
            fn += 1
        else:
            tn += 1
    return Counts(tp, fp, fn, tn)


def document(title: str, text: str) -> str:
    """What the model reads: folded (case, accents) title and start of the text."""
    return fold(f"{title}\n{text[:_TEXT_CHARS]}")


#: A document's features: hashed feature indices (repeats count again) and each one's value.
Features = tuple[np.ndarray[Any, np.dtype[np.int64]], np.ndarray[Any, np.dtype[np.float64]]]


def _hashed(token: str) -> int:
    # crc32, not hash(): str hashes change with every process, a stored model must not.
    return zlib.crc32(token.encode()) & _MASK


@lru_cache(maxsize=100_000)
def _word(word: str) -> tuple[int, tuple[int, ...]]:
    """A word's feature and its character 3-5-grams' (cached: words repeat across articles)."""
    padded = f" {word} "
    grams = tuple(
        _CHAR_OFFSET + _hashed(padded[i : i + n])
        for n in _CHAR_NGRAMS
        for i in range(len(padded) - n + 1)
    )
    return _hashed(word), grams


def _feature_lists(doc: str) -> tuple[list[int], list[int]]:
    """Hashed word 1-2-grams and character 3-5-grams (within words) of a folded document."""
    known = [_word(w) for w in _WORD_RE.findall(doc)]
    word_ids = [word_id for word_id, _ in known]
    # A bigram mixes its words' hashes (no string to build and hash again).
    word_ids += [((a * _MIX) ^ b) & _MASK for a, b in itertools.pairwise(word_ids)]
    return word_ids, [i for _, grams in known for i in grams]


def features(doc: str) -> Features:
    """Every feature occurrence, valued 1/sqrt(occurrences of its part) so that a long text
    weighs no more than a short one and words and characters weigh the same."""
    indices: list[int] = []
    values: list[np.ndarray[Any, np.dtype[np.float64]]] = []
    for ids in _feature_lists(doc):
        if ids:
            indices += ids
            values.append(np.full(len(ids), 1.0 / math.sqrt(len(ids))))
    if not indices:
        return np.zeros(0, dtype=np.int64), np.zeros(0)
    return np.array(indices, dtype=np.int64), np.concatenate(values)


def _matrix(docs: Sequence[str]) -> Any:
    from scipy.sparse import csr_matrix

    rows = [features(doc) for doc in docs]
    indptr = np.cumsum([0, *(len(index) for index, _ in rows)])
    index = np.concatenate([r[0] for r in rows]) if rows else np.zeros(0, dtype=np.int64)
    data = np.concatenate([r[1] for r in rows]) if rows else np.zeros(0)
    matrix = csr_matrix((data, index, indptr), shape=(len(docs), _N_FEATURES))
    matrix.sum_duplicates()  # a repeated feature is one column with the summed value
    return matrix


@dataclass(frozen=True)
class RuleModel:
    """A trained model: ``score`` gives the probability that an article is relevant."""

    intercept: float
    #: Feature index -> weight, only the non-zero ones.
    weights: dict[int, float]
    version: int = FEATURES_VERSION

    @cached_property
    def _dense(self) -> np.ndarray[Any, np.dtype[np.float64]]:
        dense = np.zeros(_N_FEATURES)
        if self.weights:
            index = np.fromiter(self.weights.keys(), dtype=np.int64, count=len(self.weights))
            dense[index] = np.fromiter(self.weights.values(), dtype=np.float64)
        return dense

    def score(self, title: str, text: str) -> float:
        return self.scores([(title, text)])[0]

    def scores(self, articles: Sequence[tuple[str, str]]) -> list[float]:
        return [_sigmoid(self._margin(document(title, text))) for title, text in articles]

    def _margin(self, doc: str) -> float:
        """The model's linear function of the document's features."""
        index, values = features(doc)
        return self.intercept + float(self._dense[index] @ values)

    def to_json(self) -> bytes:
        """The model as JSON text (what ``to_bytes`` compresses; a shipped model's file)."""
        body = {
            "version": self.version,
            "intercept": self.intercept,
            "weights": [[i, w] for i, w in sorted(self.weights.items())],
        }
        return json.dumps(body, separators=(",", ":")).encode()

    def to_bytes(self) -> bytes:
        return zlib.compress(self.to_json(), 9)

    @classmethod
    def from_bytes(cls, blob: bytes) -> RuleModel:
        try:
            text = zlib.decompress(blob)
        except zlib.error as e:
            raise ModelFormatError(f"not a stored rule model: {e}") from None
        return cls.from_json(text)

    @classmethod
    def from_json(cls, text: bytes) -> RuleModel:
        try:
            body = json.loads(text)
            version, intercept = int(body["version"]), float(body["intercept"])
            weights = {int(i): float(w) for i, w in body["weights"]}
            if not all(0 <= i < _N_FEATURES for i in weights):
                raise ValueError("a weight outside the feature space")
        except (ValueError, KeyError, TypeError) as e:
            raise ModelFormatError(f"not a stored rule model: {e}") from None
        if version != FEATURES_VERSION:
            raise ModelFormatError(
                f"model features version {version}, this version reads {FEATURES_VERSION}: "
                "learn the rule again"
            )
        return cls(intercept, weights, version)


def _sigmoid(margin: float) -> float:
    return 1.0 / (1.0 + math.exp(-margin)) if margin > -700 else 0.0


def learn(examples: Iterable[Example], extra: Iterable[Example] = ()) -> RuleModel:
    """Train on ``examples`` and ``extra`` (e.g. the user's marks); both labels must occur."""
    data = [*examples, *extra]
    labels = [e.relevant for e in data]
    if all(labels) or not any(labels):
        raise ValueError("learning needs relevant and not relevant examples")
    return _fit([document(e.title, e.text) for e in data], labels)


def _fit(docs: Sequence[str], labels: Sequence[bool]) -> RuleModel:
    from sklearn.linear_model import LogisticRegression

    # The dual problem: far fewer examples than features (and the seed fixes its order).
    classifier = LogisticRegression(
        C=4.0,
        class_weight="balanced",
        solver="liblinear",
        dual=True,
        random_state=0,
        max_iter=1000,
    )
    classifier.fit(_matrix(docs), np.array(labels, dtype=bool))
    coef = classifier.coef_[0]
    nonzero = np.flatnonzero(coef)
    return RuleModel(
        float(classifier.intercept_[0]),
        {int(i): float(coef[i]) for i in nonzero},
    )


def cross_validated(
    examples: Sequence[Example], threshold: float, folds: int = _FOLDS
) -> Counts | None:
    """Precision and recall of models trained on the other folds (None: too few examples)."""
    scores = cross_validated_scores(examples, folds)
    if scores is None:
        return None
    return count([s >= threshold for s in scores], [e.relevant for e in examples])


def cross_validated_scores(examples: Sequence[Example], folds: int = _FOLDS) -> list[float] | None:
    """Each example's score by a model learned on the other folds (None: too few examples)."""
    from sklearn.model_selection import StratifiedKFold

    labels = np.array([e.relevant for e in examples], dtype=bool)
    positives = int(labels.sum())
    folds = min(folds, positives, len(labels) - positives)
    if folds < 2:
        return None
    docs = [document(e.title, e.text) for e in examples]
    scores = [0.0] * len(examples)
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=0)
    for train, test in splitter.split(docs, labels):
        model = _fit([docs[i] for i in train], labels[train].tolist())
        for i, score in zip(
            test, model.scores([(examples[i].title, examples[i].text) for i in test]), strict=True
        ):
            scores[i] = score
    return scores
