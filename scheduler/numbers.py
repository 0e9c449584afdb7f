"""Whole numbers that arrive as text from outside (query strings, forms, signed links)."""

from __future__ import annotations

from typing import Final

#: The largest id a database row can have (a signed 64-bit integer).
MAX_ID: Final = 2**63 - 1


def whole_number(text: str, low: int, high: int) -> int | None:
    """``text`` as a number from ``low`` to ``high``, or None.

    ASCII digits only: ``str.isdigit`` also accepts "²" and "①", which ``int`` refuses with
    a ValueError, and a number too long for ``int`` to read (4,300 digits) is out of range.
    """
    if not (text.isascii() and text.isdigit()):
        return None
    digits = text.lstrip("0") or "0"  # int() counts leading zeros against its limit too
    if len(digits) > len(str(high)):
        return None
    value = int(digits)
    return value if low <= value <= high else None
