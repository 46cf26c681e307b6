"""Text folding for matching: case- and (Vietnamese) diacritics-insensitive, and phone digits."""

from __future__ import annotations

import re
import unicodedata

_SPACES = re.compile(r"\s+")
_WORD = re.compile(r"\w+")
_NOT_DIGITS = re.compile(r"\D")
# Letters that are not a base letter plus a combining mark, so NFD leaves them alone.
_SPECIAL = str.maketrans({"đ": "d", "Đ": "d", "ø": "o", "Ø": "o", "ł": "l", "Ł": "l", "ß": "ss"})


def fold(text: str) -> str:
    """``"  Nguyễn  Văn A "`` → ``"nguyen van a"``: lower case, no diacritics, single spaces."""
    decomposed = unicodedata.normalize("NFD", text.translate(_SPECIAL))
    stripped = "".join(char for char in decomposed if not unicodedata.combining(char))
    return _SPACES.sub(" ", stripped).strip().casefold()


def words(text: str) -> str:
    """``"Báo giá?"`` → ``"bao gia"``: :func:`fold`, then its words only (punctuation is a space), as
    keywords are compared: "Hi!" is the keyword "hi", "xin chào, shop" contains "xin chao"."""
    return " ".join(_WORD.findall(fold(text)))


def digits(text: str) -> str:
    return _NOT_DIGITS.sub("", text)
