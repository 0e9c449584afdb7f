"""Text normalisation: clean text for storage, fold it for matching, hash it for dedupe.

``fold`` is length-preserving (character i of the result comes from character i of the
input) so that keyword matches found in folded text point at the same offsets in the
original, for highlighting and snippets.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from functools import cache, lru_cache
from typing import Final

__all__ = ["clean_text", "content_hash", "fold", "normalise_for_hash", "valid_text"]

_BMP_END: Final = 0x10000
_SURROGATES: Final = range(0xD800, 0xE000)
_LINE_BREAKS: Final = "\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"
_KEPT_CONTROLS: Final = "\n\t"
# Invisible format characters that only split words (zero-width space, soft hyphen, BOM...).
_INVISIBLE: Final = "\u00ad\u180e\u200b\u2060\ufeff"
# Runs of spaces and tabs that are not already a single space (a lone space is left alone,
# which saves one substitution per word).
_SPACE_RUN_RE: Final = re.compile(r"[ \t]{2,}|\t")
_LINE_EDGE_SPACE_RE: Final = re.compile(r" ?\n ?")
_BLANK_LINES_RE: Final = re.compile(r"\n{3,}")
# Typographic variants that fold to their ASCII form, so "m’ap" matches "m'ap".
_PUNCTUATION_FOLDS: Final = {
    "\u2018": "'", "\u2019": "'", "\u201b": "'", "\u02bc": "'", "\u2032": "'", "\uff07": "'",
    "\u201c": '"', "\u201d": '"', "\u201f": '"', "\uff02": '"',
    "\u2010": "-", "\u2011": "-", "\u2012": "-", "\u2013": "-", "\u2014": "-", "\u2212": "-",
    "\ufe63": "-", "\uff0d": "-",
}  # fmt: skip


# Code points no stored text may hold. Lone surrogates have no UTF-8 form (SQLite's and
# PostgreSQL's drivers raise) and noncharacters are never text: both become U+FFFD, so that
# the loss shows. C0 controls but tab, line feed and carriage return (the ones XML allows)
# are dropped: PostgreSQL rejects NUL, and the others only garble a title.
_NONCHARACTERS: Final = "\ufdd0-\ufdef" + "".join(
    chr(plane + 0xFFFE) + chr(plane + 0xFFFF) for plane in range(0, 0x110000, 0x10000)
)
_NOT_TEXT_RE: Final = re.compile(f"[\ud800-\udfff{_NONCHARACTERS}]")
_C0_CONTROL_RE: Final = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f]")


def valid_text(text: str) -> str:
    """``text`` that encodes as UTF-8 and that SQLite and PostgreSQL store as it is: every
    piece of feed or page text passes here on input (crawler/repair.py)."""
    return _C0_CONTROL_RE.sub("", _NOT_TEXT_RE.sub("\ufffd", text))


def clean_text(text: str | None) -> str:
    """Text for storage: NFC, no control characters, plain spaces, tidy lines and paragraphs.

    Tabs count as spaces: a run of spaces and tabs becomes one space.
    """
    if not text:
        return ""
    text = text.replace("\r\n", "\n").translate(_clean_table())
    text = unicodedata.normalize("NFC", text)
    return _tidy_lines(text)


def _tidy_lines(text: str) -> str:
    """Each line with runs of spaces and tabs made one space and no space at either end; at
    most one blank line between paragraphs and none at either end.

    Works on the whole text rather than line by line (one regex call per line was most of
    clean_text's time), and only calls a regex where the text needs it.
    """
    if "\t" in text or "  " in text:
        text = _SPACE_RUN_RE.sub(" ", text)  # runs never cross a line: "\n" is not in them
    # Now at most one space at the start or end of a line.
    if " \n" in text or "\n " in text:
        text = _LINE_EDGE_SPACE_RE.sub("\n", text)
    text = text.strip(" ")  # the first line's start and the last line's end
    if "\n\n\n" in text:
        text = _BLANK_LINES_RE.sub("\n\n", text)
    return text.strip("\n")


def fold(text: str) -> str:
    """Case- and accent-folded ``text`` of the same length: fold("Haïti") == "haiti".

    A character whose fold is longer than one character ("ß" -> "ss") is only lowercased.
    Spaces become " ", typographic apostrophes "'" and dashes "-". Characters outside the
    Basic Multilingual Plane are left unchanged.
    """
    return text.translate(_fold_table())


@lru_cache(maxsize=16)  # a text is hashed and shingled right after: normalise it once
def normalise_for_hash(text: str) -> str:
    """Folded text without punctuation, symbols or invisible characters; single spaces."""
    stripped = text.translate(_fold_strip_table())
    if not stripped.isascii() and max(stripped) >= chr(_BMP_END):  # rare: emoji...
        stripped = "".join(ch for ch in stripped if not _is_stripped(ch))
    return " ".join(stripped.split())


def content_hash(text: str | None, min_chars: int = 200) -> str | None:
    """32 hex digits of sha256 over the normalised text; None when it is shorter than
    ``min_chars`` (too short to show that two pages carry the same article)."""
    if not text:
        return None
    normalised = normalise_for_hash(text)
    if len(normalised) < min_chars:
        return None
    return hashlib.sha256(normalised.encode("utf-8")).hexdigest()[:32]


# -- tables, built once on first use --------------------------------------------------------


def _bmp_chars() -> list[str]:
    return [chr(code) for code in range(_BMP_END) if code not in _SURROGATES]


@cache
def _clean_table() -> dict[int, str | None]:
    table: dict[int, str | None] = {}
    for char in _bmp_chars():
        category = unicodedata.category(char)
        if char in _LINE_BREAKS:
            table[ord(char)] = "\n"
        elif category == "Zs" and char != " ":
            table[ord(char)] = " "
        elif (category == "Cc" and char not in _KEPT_CONTROLS) or char in _INVISIBLE:
            table[ord(char)] = None
    return table


@cache
def _fold_table() -> dict[int, str]:
    table: dict[int, str] = {}
    for char in _bmp_chars():
        folded = _fold_char(char)
        if folded != char:
            table[ord(char)] = folded
    return table


def _fold_char(char: str) -> str:
    """One character's fold, iterated to a fixed point so that fold is idempotent."""
    seen = {char}
    current = _fold_once(char)
    while current not in seen:
        seen.add(current)
        current = _fold_once(current)
    return current


def _fold_once(char: str) -> str:
    if char in _PUNCTUATION_FOLDS:
        return _PUNCTUATION_FOLDS[char]
    if unicodedata.category(char) == "Zs":
        return " "
    base = "".join(c for c in unicodedata.normalize("NFD", char) if not unicodedata.combining(c))
    folded = base.casefold()
    if len(folded) == 1:
        return folded
    lowered = char.lower()
    return lowered if len(lowered) == 1 else char


def _is_stripped(char: str) -> bool:
    category = unicodedata.category(char)
    return category[0] in "PS" or category == "Cf" or (category == "Cc" and not char.isspace())


@cache
def _strip_table() -> dict[int, None]:
    return {ord(char): None for char in _bmp_chars() if _is_stripped(char)}


@cache
def _fold_strip_table() -> dict[int, str | None]:
    """``fold`` then ``_strip_table`` in one table (one pass over the text instead of two)."""
    fold_table, strip_table = _fold_table(), _strip_table()
    table: dict[int, str | None] = {}
    for char in _bmp_chars():
        folded = fold_table.get(ord(char), char)
        if ord(folded) in strip_table:
            table[ord(char)] = None
        elif folded != char:
            table[ord(char)] = folded
    return table
