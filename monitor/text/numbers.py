"""Quantities next to a term: digits or number words, Arabic and English, in normalised text.

``number_before(text, pos)`` reads the number that ends right before ``pos`` ("3 ", "three ",
"ثلاثه ", "اكثر من 150 ", "خمسه عشر ", "twenty-five "); ``number_after(text, pos)`` the one that starts
right after it ("صواريخ ثلاثه" is rare but occurs, "rockets: 3"). Both return ``None`` when there is
none. Words are in normalised form (ة → ه, alef forms → ا). Vague quantities (عده، several, dozens)
give no number: a rule asking for ``min: 3`` should not fire on them.
"""

from __future__ import annotations

import re

_EN_UNITS = {
    "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9,
    "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13, "fourteen": 14, "fifteen": 15, "sixteen": 16,
    "seventeen": 17, "eighteen": 18, "nineteen": 19, "a dozen": 12, "dozen": 12, "a pair of": 2,
    "a couple of": 2, "couple of": 2, "pair of": 2, "single": 1, "double": 2, "twin": 2,
}
_EN_TENS = {
    "twenty": 20, "thirty": 30, "forty": 40, "fifty": 50, "sixty": 60, "seventy": 70, "eighty": 80,
    "ninety": 90, "hundred": 100, "a hundred": 100, "one hundred": 100,
}
_AR_UNITS = {
    "واحد": 1, "واحده": 1, "اثنان": 2, "اثنين": 2, "اثنتان": 2, "اثنتين": 2, "ثلاث": 3, "ثلاثه": 3,
    "اربع": 4, "اربعه": 4, "خمس": 5, "خمسه": 5, "ست": 6, "سته": 6, "سبع": 7, "سبعه": 7, "ثماني": 8,
    "ثمان": 8, "ثمانيه": 8, "تسع": 9, "تسعه": 9, "عشر": 10, "عشره": 10, "احد عشر": 11, "اثنا عشر": 12,
    "اثني عشر": 12, "اثنتا عشره": 12, "اثنتي عشره": 12,
}
_AR_TENS = {
    "عشرون": 20, "عشرين": 20, "ثلاثون": 30, "ثلاثين": 30, "اربعون": 40, "اربعين": 40, "خمسون": 50,
    "خمسين": 50, "ستون": 60, "ستين": 60, "سبعون": 70, "سبعين": 70, "ثمانون": 80, "ثمانين": 80,
    "تسعون": 90, "تسعين": 90, "مءه": 100, "مايه": 100, "ماءه": 100, "مءتان": 200, "مءتين": 200,
    "الف": 1000, "الفين": 2000, "الفان": 2000,
}
WORDS: dict[str, int] = {**_EN_UNITS, **_EN_TENS, **_AR_UNITS, **_AR_TENS}

_word_alt = "|".join(re.escape(w) for w in sorted(WORDS, key=len, reverse=True))
_DIGITS = r"\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?"
_ONE = rf"(?:[وب]?(?:{_word_alt}))"
_WORDNUM = rf"{_ONE}(?:[ -](?:و|and )?{_ONE}){{0,3}}"
_NUMBER = rf"(?P<num>{_DIGITS}|{_WORDNUM})"
_BEFORE = re.compile(rf"(?:^|(?<=[^\w]))(?:{_NUMBER})[ ]?(?:-|من|of)?[ ]?$")
_AFTER = re.compile(rf"^[ ]?[:(]?[ ]?(?:{_NUMBER})(?![\w])")
WINDOW = 60


def parse(s: str) -> float | None:
    """The value of a number as matched (digits with , thousands, or number words)."""
    s = s.strip()
    if not s:
        return None
    if s[0].isdigit():
        try:
            return float(s.replace(",", ""))
        except ValueError:
            return None
    total = 0
    for part in re.split(r"[ -]+(?:و|and )?|(?<= )و", s):
        part = part.strip()
        if not part:
            continue
        if part not in WORDS and part[:1] in "وب" and part[1:] in WORDS:
            part = part[1:]
        value = WORDS.get(part)
        if value is None:
            continue
        if value in (100, 1000) and total and total < value:
            total *= value
        else:
            total += value
    return float(total) if total else None


def number_before(text: str, pos: int) -> float | None:
    """The number ending right before ``pos`` (one optional space, 'من'/'of'/'-' allowed between)."""
    m = _BEFORE.search(text[max(0, pos - WINDOW):pos])
    return parse(m.group("num")) if m else None


def number_after(text: str, pos: int) -> float | None:
    """The number starting right after ``pos``."""
    m = _AFTER.match(text[pos:pos + WINDOW])
    return parse(m.group("num")) if m else None
