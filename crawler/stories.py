"""Near-duplicate detection for stories: shingles, MinHash, LSH band keys, titles, decisions.

Pure functions (no database). An article's text becomes a set of word shingles; a MinHash
signature of that set is cut into bands, and each band hashes to one 64-bit *band key*. Two
texts with Jaccard similarity s share at least one band key with probability
1 - (1 - s**rows)**bands, so looking up an article's band keys in an index finds its copies;
every candidate is then verified on the exact shingle sets (:func:`is_copy`).

The hash scheme is our own (blake2b and fixed multipliers derived from it), not a library's:
band keys are stored in the database, and a library upgrade that changed its hashing
(datasketch 2.0 did) would silently stop old keys from matching new ones. ``SCHEME`` is mixed
into every key; bump it when anything here changes how keys are computed.
"""

from __future__ import annotations

import hashlib
import re
import threading
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from typing import Final

import numpy as np
import numpy.typing as npt

from haitiwatch.db.records import ArticleRecord
from haitiwatch.db.textnorm import normalise_for_hash


@dataclass(frozen=True, slots=True)
class StoryParams:
    """How texts are compared. The defaults come from measurements (docs/stories.md)."""

    #: Words per shingle.
    shingle_words: int = 5
    #: LSH banding: ``bands`` keys of ``rows`` MinHash values each.
    bands: int = 32
    rows: int = 2
    #: A text with fewer shingles is treated as title-only (feed summaries, paywalls).
    min_shingles: int = 25
    #: Verified copy: Jaccard of the shingle sets at least this...
    min_jaccard: float = 0.25
    #: ...or this share of the smaller text's shingles found in the other.
    min_containment: float = 0.5
    #: A normalised title needs this many words to identify a story on its own.
    min_title_words: int = 4

    @property
    def num_perm(self) -> int:
        return self.bands * self.rows


__all__ = [
    "StoryParams",
    "array_similarity",
    "article_keys",
    "band_keys",
    "compute_shingles",
    "is_copy",
    "normalise_title",
    "shingle_array",
    "shingles",
    "shipped_shingles",
    "signature",
    "similarity",
    "title_key",
]

SCHEME: Final = 1
Signature = npt.NDArray[np.uint32]

# Scripts written without spaces: each character is a token.
_CJK: Final = (
    "\u2e80-\u2fff\u3040-\u30ff\u3100-\u31ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff"
)
_TOKEN_RE: Final = re.compile(rf"[{_CJK}]|[^\s{_CJK}]+")
# Labels outlets put before a headline ("Opinion | X", "LIVE: X", "WATCH: X").
_LABELS: Final = (
    "opinion|op-ed|oped|editorial|analysis|commentary|comment|column|explainer|exclusive|"
    "live|live updates|live blog|breaking|breaking news|update|updated|watch|video|videos|"
    "photos|in pictures|pictures|podcast|listen|audio|factbox|fact check|q&a|interview|"
    "just in|developing|news"
)
_PREFIX_RE: Final = re.compile(rf"^\s*(?:{_LABELS})\s*(?:\||:|-|–|—)\s*", re.IGNORECASE)
# "X - Outlet", "X | Outlet", "X — Outlet": the last short segment after a separator.
_SUFFIX_RE: Final = re.compile(r"\s+(?:\||-|–|—|::|•)\s+([^|–—•]{1,60})$")
_SUFFIX_MAX_WORDS: Final = 5


@dataclass(frozen=True, slots=True)
class Similarity:
    jaccard: float
    containment: float
    smaller: int  # shingles in the smaller set


# -- text ------------------------------------------------------------------------------------


_CJK_RE: Final = re.compile(rf"[{_CJK}]")


def tokens(text: str) -> list[str]:
    """Folded words (each CJK character is a word), punctuation removed."""
    normalised = normalise_for_hash(text)
    if normalised.isascii() or not _CJK_RE.search(normalised):
        # normalise_for_hash leaves single spaces (its only whitespace, for str.split and for
        # the regex's \s alike) between words: splitting on them finds what _TOKEN_RE finds,
        # several times faster.
        return normalised.split(" ") if normalised else []
    return _TOKEN_RE.findall(normalised)


def shingles(text: str, words: int = 5) -> frozenset[int]:
    """32-bit hashes of every run of ``words`` consecutive tokens (one shingle for short texts)."""
    return frozenset(shingle_array(text, words).tolist())


#: A text's shingle hashes, sorted and unique: compact (4 bytes a shingle) and quick to intersect.
Shingles = npt.NDArray[np.uint32]
#: Shingle arrays kept (by text digest) for verifying new articles against stored ones whose
#: shingles were not stored (story_shingles): articles indexed before that table existed, or
#: saved without the crawl's CPU pool. Bounded by bytes, not texts: a feed summary takes about
#: 1 KB, a long page 20 KB (the service's memory budget is 300 MB).
SHINGLE_CACHE_BYTES: Final = 4 * 1024 * 1024


class _ShingleCache:
    """A thread-safe LRU of shingle arrays, bounded by their total size in bytes."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self._arrays: OrderedDict[tuple[bytes, int], Shingles] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    def get(self, key: tuple[bytes, int]) -> Shingles | None:
        with self._lock:
            found = self._arrays.get(key)
            if found is not None:
                self._arrays.move_to_end(key)
            return found

    def put(self, key: tuple[bytes, int], array: Shingles) -> None:
        with self._lock:
            previous = self._arrays.pop(key, None)
            if previous is not None:
                self._bytes -= previous.nbytes
            self._arrays[key] = array
            self._bytes += array.nbytes
            while self._bytes > self.max_bytes and len(self._arrays) > 1:
                _key, evicted = self._arrays.popitem(last=False)
                self._bytes -= evicted.nbytes


_shingle_cache = _ShingleCache(SHINGLE_CACHE_BYTES)


def _text_key(text: str, words: int) -> tuple[bytes, int]:
    digest = hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=16).digest()
    return digest, words


def shingle_array(text: str, words: int = 5) -> Shingles:
    """``shingles`` as a sorted array, cached by the text's digest."""
    key = _text_key(text, words)
    found = _shingle_cache.get(key)
    if found is not None:
        return found
    computed = compute_shingles(text, words)
    _shingle_cache.put(key, computed)
    return computed


def compute_shingles(text: str, words: int = 5) -> Shingles:
    """``shingle_array`` without the cache: for a text seen once (a new article's)."""
    toks = tokens(text)
    if not toks:
        return np.empty(0, dtype=np.uint32)
    # map() rather than a generator expression: no Python frame per token.
    ids = np.fromiter(map(_token_hashes.__getitem__, toks), dtype=np.uint64, count=len(toks))
    width = min(words, len(toks))
    count = len(toks) - width + 1
    # A polynomial hash of the window: sum of token hash times a fixed odd multiplier per
    # position (uint64 arithmetic wraps), high 32 bits kept.
    mixed = np.zeros(count, dtype=np.uint64)
    for position, multiplier in enumerate(_POSITION_MULTIPLIERS[:width]):
        mixed += ids[position : position + count] * multiplier
    return _sorted_unique((mixed >> np.uint64(32)).astype(np.uint32))


def _sorted_unique(values: Shingles) -> Shingles:
    """``np.unique(values)`` for a non-empty 1-D array, without its general-case overhead."""
    ordered = np.sort(values)
    first = np.empty(ordered.size, dtype=bool)  # first of its run of equal values
    first[0] = True
    np.not_equal(ordered[1:], ordered[:-1], out=first[1:])
    result: Shingles = ordered[first]
    return result


def _token_hash(token: str) -> int:
    digest = hashlib.blake2b(token.encode("utf-8", "surrogatepass"), digest_size=8).digest()
    return int.from_bytes(digest, "little")


#: Distinct words kept hashed; the memo is emptied when it holds this many.
TOKEN_MEMO_SIZE: Final = 50_000


class _TokenHashes(dict[str, int]):
    """Words repeat: each distinct word is hashed once. A dict rather than ``lru_cache``:
    a hit through ``map(memo.__getitem__, ...)`` is a C-level dict lookup, half the cost of
    an LRU hit (measured on 390-word texts: 18 vs 35 µs)."""

    def __missing__(self, token: str) -> int:
        if len(self) >= TOKEN_MEMO_SIZE:
            self.clear()
        value = self[token] = _token_hash(token)
        return value


_token_hashes = _TokenHashes()


_POSITION_MULTIPLIERS: Final = tuple(
    np.uint64(_token_hash(f"haitiwatch-shingle-{SCHEME}-{i}") | 1) for i in range(16)
)


@cache
def _permutations(num_perm: int) -> tuple[npt.NDArray[np.uint64], npt.NDArray[np.uint64]]:
    """Multipliers (odd) and offsets of the hash family h(x) = (a*x + b) mod 2**64 >> 32."""
    raw = [
        hashlib.blake2b(f"haitiwatch-minhash-{SCHEME}-{i}".encode(), digest_size=16).digest()
        for i in range(num_perm)
    ]
    a = np.array([int.from_bytes(r[:8], "little") | 1 for r in raw], dtype=np.uint64)
    b = np.array([int.from_bytes(r[8:], "little") for r in raw], dtype=np.uint64)
    return a, b


def signature(hashes: Iterable[int] | Shingles, num_perm: int) -> Signature:
    """MinHash signature: for each of ``num_perm`` hash functions, the minimum over the set."""
    if isinstance(hashes, np.ndarray):
        values = hashes.astype(np.uint64)
    else:
        values = np.fromiter(hashes, dtype=np.uint64)
    if values.size == 0:
        return np.full(num_perm, np.iinfo(np.uint32).max, dtype=np.uint32)
    a, b = _permutations(num_perm)
    # Multiply-add-shift (Dietzfelbinger): uint64 arithmetic wraps, the high 32 bits are kept.
    mixed = (values[:, None] * a[None, :] + b[None, :]) >> np.uint64(32)
    result: Signature = mixed.min(axis=0).astype(np.uint32)
    return result


def band_keys(sig: Signature, bands: int, rows: int) -> list[int]:
    """One signed 64-bit key per band (the band's number is part of the key)."""
    raw = sig.tobytes()
    width = rows * sig.itemsize
    return [
        _key64(_band_head(band) + raw[band * width : (band + 1) * width]) for band in range(bands)
    ]


@cache
def _band_head(band: int) -> bytes:
    return f"b{SCHEME}:{band}:".encode()


def _key64(data: bytes) -> int:
    return int.from_bytes(hashlib.blake2b(data, digest_size=8).digest(), "little", signed=True)


def estimated_jaccard(a: Signature, b: Signature) -> float:
    return float(np.count_nonzero(a == b)) / len(a)


def similarity(a: frozenset[int], b: frozenset[int]) -> Similarity:
    if not a or not b:
        return Similarity(0.0, 0.0, 0)
    return _similarity(len(a & b), len(a), len(b))


def array_similarity(a: Shingles, b: Shingles) -> Similarity:
    """``similarity`` of two ``shingle_array`` results (the same numbers)."""
    if not a.size or not b.size:
        return Similarity(0.0, 0.0, 0)
    return _similarity(len(np.intersect1d(a, b, assume_unique=True)), a.size, b.size)


def _similarity(common: int, size_a: int, size_b: int) -> Similarity:
    smaller = min(size_a, size_b)
    return Similarity(common / (size_a + size_b - common), common / smaller, smaller)


# -- titles ----------------------------------------------------------------------------------


def normalise_title(title: str) -> str:
    """The headline without labels or the outlet's name, folded: "Opinion | X - Outlet" -> "x"."""
    text = " ".join(title.split())
    for _ in range(3):  # "LIVE: WATCH: X"
        stripped = _PREFIX_RE.sub("", text, count=1)
        if stripped == text or not stripped.strip():
            break
        text = stripped
    match = _SUFFIX_RE.search(text)
    if match and len(match.group(1).split()) <= _SUFFIX_MAX_WORDS:
        head = text[: match.start()]
        if len(head.split()) >= 3:
            text = head
    return " ".join(tokens(text))


def title_key(title: str, min_words: int = 4) -> int | None:
    """The key under which items with the same normalised headline meet; None if too generic."""
    normalised = normalise_title(title)
    if len(normalised.split()) < min_words:
        return None
    return _key64(f"t{SCHEME}:{normalised}".encode())


# -- articles --------------------------------------------------------------------------------


def has_text(text_shingles: frozenset[int] | Shingles, params: StoryParams) -> bool:
    return len(text_shingles) >= params.min_shingles


def article_keys(
    title: str, text: str, params: StoryParams, text_shingles: Shingles | None = None
) -> list[int]:
    """Every index key of an article: its text's band keys (if it has text) and its title key."""
    keys: list[int] = []
    if text_shingles is None:
        text_shingles = shingle_array(text, params.shingle_words)
    if has_text(text_shingles, params):
        sig = signature(text_shingles, params.num_perm)
        keys.extend(band_keys(sig, params.bands, params.rows))
    if (key := title_key(title, params.min_title_words)) is not None:
        keys.append(key)
    return keys


def record_keys(record: ArticleRecord, params: StoryParams) -> list[int]:
    return article_keys(record.title, record.text, params)


def copy_score(
    title: str,
    text: str,
    other_title: str,
    other_text: str,
    params: StoryParams,
    mine: Shingles | None = None,
    theirs: Shingles | None = None,
) -> float | None:
    """How surely two articles are copies of one story (higher is surer); None: they are not.

    Two texts are compared on their text only (a shared headline is not enough: two outlets'
    own reports of one UN vote may carry the same one). When either has no usable text, the
    normalised headlines must be equal.
    """
    if mine is None:
        mine = shingle_array(text, params.shingle_words)
    if theirs is None:
        theirs = shingle_array(other_text, params.shingle_words)
    if has_text(mine, params) and has_text(theirs, params):
        sim = array_similarity(mine, theirs)
        return max(sim.jaccard, sim.containment) if is_copy(sim, params) else None
    key = title_key(title, params.min_title_words)
    if key is not None and key == title_key(other_title, params.min_title_words):
        return 0.5  # below any verified text match, so text evidence is preferred
    return None


def is_copy(sim: Similarity, params: StoryParams) -> bool:
    if sim.smaller < params.min_shingles:
        return False
    return sim.jaccard >= params.min_jaccard or sim.containment >= params.min_containment


def shipped_shingles(record: ArticleRecord) -> Shingles | None:
    if record.story_shingles is None:
        return None
    return shingles_from_bytes(record.story_shingles)


def shingles_to_bytes(array: Shingles) -> bytes:
    """What is shipped from the CPU pool and stored (story_shingles): little-endian uint32."""
    return array.astype("<u4").tobytes()


def shingles_from_bytes(data: bytes) -> Shingles:
    """``shingles_to_bytes`` read back: a read-only view of the bytes (no copy on
    little-endian machines)."""
    array: Shingles = np.frombuffer(data, dtype="<u4").astype(np.uint32, copy=False)
    return array
