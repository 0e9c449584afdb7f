"""Text shingles, MinHash signatures and LSH band keys: the hashing behind story keys.

Pure functions (no database). An article's text becomes a set of word shingles; a MinHash
signature of that set is cut into bands, and each band hashes to one 64-bit *band key*. Two
texts with Jaccard similarity s share at least one band key with probability
1 - (1 - s**rows)**bands.

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

from haitiwatch.db.textnorm import normalise_for_hash

SCHEME: Final = 1
Signature = npt.NDArray[np.uint32]

# Scripts written without spaces: each character is a token.
_CJK: Final = (
    "\u2e80-\u2fff\u3040-\u30ff\u3100-\u31ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff"
)
_TOKEN_RE: Final = re.compile(rf"[{_CJK}]|[^\s{_CJK}]+")


@dataclass(frozen=True, slots=True)
class Similarity:
    jaccard: float
    containment: float
    smaller: int  # shingles in the smaller set


# -- text ------------------------------------------------------------------------------------


def tokens(text: str) -> list[str]:
    """Folded words (each CJK character is a word), punctuation removed."""
    return _TOKEN_RE.findall(normalise_for_hash(text))


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
    an LRU hit."""

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
        key64(_band_head(band) + raw[band * width : (band + 1) * width]) for band in range(bands)
    ]


@cache
def _band_head(band: int) -> bytes:
    return f"b{SCHEME}:{band}:".encode()


def key64(data: bytes) -> int:
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


def word_hashes(words: list[str]) -> Shingles:
    """32-bit hashes of the distinct words, sorted (a word set, for short texts)."""
    if not words:
        return np.empty(0, dtype=np.uint32)
    ids = np.fromiter(map(_token_hashes.__getitem__, words), dtype=np.uint64, count=len(words))
    return _sorted_unique((ids >> np.uint64(32)).astype(np.uint32))


# What is stored per article since short texts have their own evidence: this mark, the count of
# shingles, the shingles, then the phrase set (crawler/short_copies.py). The mark's two uint32
# values are descending, which a bare shingle array (the earlier format, ascending) never is.
_PACKED_MARK: Final = b"HWstory2"


def pack(text_shingles: Shingles, phrases: Shingles) -> bytes:
    """The text's shingles and its lead's phrase set as stored (story_shingles)."""
    count = np.array([text_shingles.size], dtype="<u4").tobytes()
    return _PACKED_MARK + count + shingles_to_bytes(text_shingles) + shingles_to_bytes(phrases)


def unpack(data: bytes) -> tuple[Shingles, Shingles | None]:
    """``pack`` read back: shingles and phrase set (None: a row stored before phrase sets)."""
    if not data.startswith(_PACKED_MARK):
        return shingles_from_bytes(data), None
    head = len(_PACKED_MARK)
    count = int.from_bytes(data[head : head + 4], "little")
    middle = head + 4 + 4 * count
    return shingles_from_bytes(data[head + 4 : middle]), shingles_from_bytes(data[middle:])


def shingles_to_bytes(array: Shingles) -> bytes:
    """What is shipped from the CPU pool and stored (story_shingles): little-endian uint32."""
    return array.astype("<u4").tobytes()


def shingles_from_bytes(data: bytes) -> Shingles:
    """``shingles_to_bytes`` read back: a read-only view of the bytes (no copy on
    little-endian machines)."""
    array: Shingles = np.frombuffer(data, dtype="<u4").astype(np.uint32, copy=False)
    return array
