"""Normalisation of Arabic, Persian and Latin news text, with offsets back to the original.

``normalize(text)`` returns a ``Normalized``: the folded string used for matching (``.text``) and a lazy
map from its positions back to the original string (``.to_original(i)`` / ``.span(start, end)``).
The same function is applied to rule terms and to article text, so they meet.

What it does (``docs/rules.md`` and ``shared/docs/arabic.md``), in two stages:

1. One ``str.translate`` pass (C speed), char by char: NFKC of the char; drop combining marks
   (harakat, tanween, shadda, sukun, dagger alef, Quranic marks, Latin accents), tatweel, zero-width
   and bidi controls; fold أ إ آ ٱ → ا, ؤ ئ → ء, ى ی ې ے → ي, ک گ → ك, ة → ه, پ چ ژ ڤ ڨ → ب ج ز ف ق;
   Arabic-Indic and Persian digits → 0-9, ٫ → ``.``, ٬ → ``,``; ، ؛ ؟ « » “ ” ’ → plain forms;
   lower case; every whitespace char → `` `` (line breaks → ``\\n``).
2. Three constant-replacement regex passes: whitespace runs with a line break → ``\\n``, other
   runs → one space, and a space between a letter and a digit (``بـ4`` → ``ب 4``).

Offsets: stage 1 changes lengths only at the (rare) chars whose image is not one char; stage 2 only at
its matches. Both are recomputed lazily, only when evidence needs original offsets, so the hot path
stays two C passes. ``normalize`` is idempotent: ``normalize(normalize(x).text).text == normalize(x).text``.

Compiled core: where the optional extension ``monitor.text._fold`` is built (Cython, ``setup.py``),
``normalize`` and ``fold`` run both stages in one C pass that also yields the offsets and the
letter-or-digit mask, over the same tables (``_luts()``, ``_table()``), with the same results (``COMPILED``
tells which runs; ``MONITOR_PURE_PYTHON=1`` in the environment at import forces the code below, which
is also the fallback where no C compiler exists).
"""

from __future__ import annotations

import importlib
import os
import re
import unicodedata
from array import array
from dataclasses import dataclass, field
from functools import lru_cache
from types import ModuleType
from typing import Any

import numpy as np

#: ``MONITOR_PURE_PYTHON`` set (to anything but ``0``) when monitor was imported: every compiled core of
#: the matcher (here, ``monitor.rules.terms``, ``monitor.rules.compiled``) runs its pure-Python twin.
PURE_PYTHON: bool = os.environ.get("MONITOR_PURE_PYTHON", "") not in ("", "0")


def _compiled_core() -> ModuleType | None:
    """The compiled core, unless it is missing, stale (no ``Folder``) or turned off."""
    if PURE_PYTHON:
        return None
    try:
        core = importlib.import_module("monitor.text._fold")
    except ImportError:
        return None
    return core if hasattr(core, "Folder") else None


_CORE = _compiled_core()
#: True when ``normalize``/``fold``/``gaps`` run the compiled core (``monitor.text._fold``).
COMPILED: bool = _CORE is not None

# Explicit folds, applied after NFKC of each char (values are final forms).
_FOLD: dict[str, str] = {
    "أ": "ا", "إ": "ا", "آ": "ا", "ٱ": "ا", "ٲ": "ا", "ٳ": "ا",
    "ؤ": "ء", "ئ": "ء", "ٶ": "ء", "ٸ": "ء",
    "ى": "ي", "ی": "ي", "ې": "ي", "ے": "ي", "ۍ": "ي", "ێ": "ي", "ۓ": "ي",
    "ک": "ك", "گ": "ك", "ڪ": "ك",
    "ة": "ه", "ۀ": "ه", "ہ": "ه", "ە": "ه", "ھ": "ه", "ۂ": "ه",
    "پ": "ب", "چ": "ج", "ژ": "ز", "ڤ": "ف", "ڨ": "ق", "ڥ": "ف", "ڧ": "ق",
    "٫": ".", "٬": ",", "،": ",", "؛": ";", "؟": "?", "٪": "%", "۔": ".",
    "«": '"', "»": '"', "“": '"', "”": '"', "„": '"', "‟": '"', "″": '"',
    "‘": "'", "’": "'", "‚": "'", "‛": "'", "′": "'", "`": "'",
    "–": "-", "—": "-", "‐": "-", "‑": "-", "‒": "-", "―": "-", "−": "-",
    "…": "...",
}
_FOLD.update({chr(0x660 + i): str(i) for i in range(10)})  # Arabic-Indic digits
_FOLD.update({chr(0x6F0 + i): str(i) for i in range(10)})  # Persian (extended) digits

#: Chars removed outright besides combining marks: tatweel, zero-width and bidi controls, BOM, soft hyphen.
_DROP = (
    "\u0640\u00ad\u200b\u200c\u200d\u200e\u200f\u202a\u202b\u202c\u202d\u202e"
    "\u2060\u2061\u2062\u2063\u2064\u2066\u2067\u2068\u2069\ufeff\u061c\u034f"
)
_LINE_BREAKS = "\n\r\x0b\x0c\x1c\x1d\x1e\x1f\x85\u2028\u2029"


def _image(c: str) -> str:
    """What one char becomes in stage 1 (before the fixpoint step)."""
    if c in _DROP:
        return ""
    if c.isspace():
        return "\n" if c in _LINE_BREAKS else " "
    if unicodedata.category(c) == "Cc":  # other control chars (NUL, ESC, …)
        return ""
    if c in _FOLD:
        return _FOLD[c]
    out = []
    for ch in unicodedata.normalize("NFKC", c):
        if ch in _FOLD:
            out.append(_FOLD[ch])
            continue
        if ch in _DROP:
            continue
        if ch.isspace():
            out.append(" ")
            continue
        dec = unicodedata.normalize("NFD", ch)
        kept = "".join(d for d in dec if unicodedata.category(d) not in ("Mn", "Me"))
        if kept != dec:
            ch = unicodedata.normalize("NFC", kept)
        out.append(ch.lower())
    s = "".join(out)
    # lower() may reintroduce a combining mark (İ → i̇): strip again
    return "".join(d for d in s if unicodedata.category(d) not in ("Mn", "Me"))


@lru_cache(maxsize=1)
def _table() -> dict[int, str]:
    """The stage-1 translation table over the BMP, closed under itself (so it is idempotent)."""
    raw: dict[str, str] = {}
    for cp in range(0x10000):
        if 0xD800 <= cp <= 0xDFFF:
            continue
        c = chr(cp)
        img = _image(c)
        if img != c:
            raw[c] = img

    def close(s: str) -> str:
        for _ in range(4):
            t = "".join(raw.get(ch, ch) for ch in s)
            if t == s:
                return t
            s = t
        return s

    return {ord(c): close(img) for c, img in raw.items()}


_BMP = 0x10000
_DROP_B, _EXPAND_B, _SP, _NL, _DIG, _LET = 1, 2, 4, 8, 16, 32


@dataclass(frozen=True)
class _Luts:
    """Per-code-point lookup arrays over the BMP for the numpy pipeline."""

    one: np.ndarray  # uint32: image code point when the image is one char, else 0
    length: np.ndarray  # uint8: length of the image (0 = dropped)
    letter: np.ndarray  # bool: a letter (``[^\\W\\d_]``)
    digit: np.ndarray  # bool: a decimal digit
    alnum: np.ndarray  # bool: letter or digit
    cls: np.ndarray  # uint8: class bits of the char's image (_DROP_B, _EXPAND_B, _SP, _NL, _DIG, _LET)


@lru_cache(maxsize=1)
def _luts() -> _Luts:
    table = _table()
    one = np.arange(_BMP, dtype=np.uint32)
    length = np.ones(_BMP, dtype=np.uint8)
    for cp, img in table.items():
        length[cp] = min(len(img), 255)
        one[cp] = ord(img) if len(img) == 1 else 0
    letter = np.zeros(_BMP, dtype=bool)
    digit = np.zeros(_BMP, dtype=bool)
    for cp in range(_BMP):
        c = chr(cp)
        if c.isdecimal():
            digit[cp] = True
        elif c.isalnum():
            letter[cp] = True
    cls = np.zeros(_BMP, dtype=np.uint8)
    cls[length == 0] |= _DROP_B
    cls[length > 1] |= _EXPAND_B
    single = length == 1
    cls[single & (one == 32)] |= _SP
    cls[single & (one == 10)] |= _NL
    img_ok = single & (one < _BMP)
    idx = np.flatnonzero(img_ok)
    cls[idx[digit[one[idx]]]] |= _DIG
    cls[idx[letter[one[idx]]]] |= _LET
    for cp in np.flatnonzero(single & (one >= _BMP)).tolist():  # CJK compatibility ideographs (U+FA6C …)
        img = chr(int(one[cp]))
        cls[cp] |= _DIG if img.isdecimal() else _LET if img.isalnum() else 0
    return _Luts(one, length, letter, digit, letter | digit, cls)


def _codes(s: str) -> np.ndarray:
    return np.frombuffer(s.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)


def _text(codes: np.ndarray) -> str:
    return codes.astype(np.uint32).tobytes().decode("utf-32-le", "surrogatepass")


def _classes(c1: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(is letter, is digit) per char, for arrays holding astral chars (rare, one by one)."""
    chars = _text(c1)
    let = np.fromiter((ch.isalnum() and not ch.isdecimal() for ch in chars), bool, len(chars))
    dig = np.fromiter((ch.isdecimal() for ch in chars), bool, len(chars))
    return let, dig


def _collapse_space(c1: np.ndarray, plan: list[tuple[str, np.ndarray]]) -> np.ndarray:
    """Stage 2a: a whitespace run becomes its first char, a line break when the run holds one."""
    wsm = (c1 == 32) | (c1 == 10)
    dup = wsm[1:] & wsm[:-1]
    if not dup.any():
        return c1
    late_nl = dup & (c1[1:] == 10)
    if late_nl.any():  # a line break inside a run moves to the run's first char
        c1 = _move_breaks(c1, wsm, dup)
    keep = np.ones(len(c1), dtype=bool)
    keep[1:] = ~dup
    plan.append(("keep", keep))
    return c1[keep]


def _split_letters_digits(c1: np.ndarray, plan: list[tuple[str, np.ndarray]]) -> np.ndarray:
    """Stage 2b: a space between a letter and a digit."""
    if len(c1) < 2:
        return c1
    if c1.max(initial=0) < _BMP:
        lut = _luts()
        dig = lut.digit.take(c1)
        if not dig.any():
            return c1
        let = lut.letter.take(c1)
    else:
        let, dig = _classes(c1)
    cut = np.flatnonzero((let[:-1] & dig[1:]) | (dig[:-1] & let[1:])) + 1
    if not len(cut):
        return c1
    plan.append(("insert", cut))
    return np.insert(c1, cut, 32)


def _positions(n: int, plan: list[tuple[str, np.ndarray]]) -> np.ndarray:
    """Replay the edits of ``_stages`` on original positions: ``pos[j]`` for each output char."""
    pos = np.arange(n, dtype=np.int64)
    for op, arg in plan:
        if op == "repeat":
            pos = np.repeat(pos, arg)
        elif op == "keep":
            pos = pos[arg]
        else:
            pos = np.insert(pos, arg, pos.take(arg))
    return pos


def _stages(text: str) -> tuple[np.ndarray, list[tuple[str, np.ndarray]]]:
    """Both stages on code points; returns the output codes and the plan of edits (for offsets).

    The common case (BMP text, no expanding char) works from one class lookup of the original codes,
    which tells which of the later steps are needed at all; anything else takes ``_stages_general``.
    """
    lut = _luts()
    codes = _codes(text)
    if not len(codes) or codes.max() >= _BMP:
        return _stages_general(text)
    cls = lut.cls.take(codes)
    feats = int(np.bitwise_or.reduce(cls))
    if feats & _EXPAND_B:
        return _stages_general(text)
    plan: list[tuple[str, np.ndarray]] = []
    if feats & _DROP_B:
        keep = (cls & _DROP_B) == 0
        plan.append(("keep", keep))
        codes = codes[keep]
        cls = cls[keep]
    c1 = lut.one.take(codes)
    if feats & (_SP | _NL) and len(c1) > 1:
        ws = (cls & (_SP | _NL)) != 0
        dup = ws[1:] & ws[:-1]
        if dup.any():
            # a run that starts with a space but holds a line break ("  \n") must become "\n"
            if feats & _NL and (((cls[:-1] & _SP) != 0) & ((cls[1:] & _NL) != 0)).any():
                c1 = _move_breaks(c1, ws, dup)
            keep2 = np.ones(len(c1), dtype=bool)
            keep2[1:] = ~dup
            plan.append(("keep", keep2))
            c1 = c1[keep2]
            cls = cls[keep2]
    if feats & _DIG and feats & _LET and len(c1) > 1:
        dig = (cls & _DIG) != 0
        let = (cls & _LET) != 0
        cut = np.flatnonzero((let[:-1] & dig[1:]) | (dig[:-1] & let[1:])) + 1
        if len(cut):
            plan.append(("insert", cut))
            c1 = np.insert(c1, cut, 32)
    return c1, plan


def _move_breaks(c1: np.ndarray, ws: np.ndarray, dup: np.ndarray) -> np.ndarray:
    """The first char of each whitespace run holding a line break becomes the line break."""
    first = ws.copy()
    first[1:] &= ~dup
    run = np.cumsum(first)
    nl_run = np.zeros(int(run[-1]) + 1, dtype=bool)
    nl_run[run[c1 == 10]] = True
    starts = np.flatnonzero(first)
    c1 = c1.copy()
    c1[starts] = np.where(nl_run.take(run.take(starts)), 10, 32)
    return c1


def _stages_general(text: str) -> tuple[np.ndarray, list[tuple[str, np.ndarray]]]:
    """``_stages`` for any text (astral or expanding chars): per-step lookups."""
    lut = _luts()
    codes = _codes(text)
    plan: list[tuple[str, np.ndarray]] = []
    if codes.max(initial=0) >= _BMP:  # astral chars: the C translate path (rare)
        lens = lut.length.take(np.minimum(codes, _BMP - 1))
        lens[codes >= _BMP] = 1
        astral = True
    else:
        lens = lut.length.take(codes)
        astral = False
    if astral or lens.max(initial=1) > 1:  # expanding chars (ligatures, ﷺ, …): the C translate path
        c1 = _codes(text.translate(_table()))
        plan.append(("repeat", lens))
    elif lens.min(initial=1) == 0:  # dropped chars (harakat, tatweel, controls)
        keep = lens.astype(bool)
        plan.append(("keep", keep))
        c1 = lut.one.take(codes[keep])
    else:
        c1 = lut.one.take(codes)
    c1 = _collapse_space(c1, plan)
    c1 = _split_letters_digits(c1, plan)
    return c1, plan


def _run(text: str) -> tuple[str, np.ndarray]:
    """Both stages; returns the text and, for each of its chars, the original position."""
    c1, plan = _stages(text)
    return _text(c1), _positions(len(text), plan)


def word_mask(codes: np.ndarray) -> bytes:
    """One byte per char: 1 for a letter or digit (``str.isalnum``), else 0."""
    if codes.max(initial=0) >= _BMP:
        let, dig = _classes(codes)
        return bytes((let | dig).astype(np.uint8).tobytes())
    lut = _luts()
    mask: bytes = lut.alnum.take(codes).view(np.uint8).tobytes()
    return mask


_LETTER_DIGIT = re.compile(r"(?<=[^\W\d_])(?=\d)|(?<=\d)(?=[^\W\d_])")
_WS_RUN = re.compile(r"[ \n]{2,}")
#: Below this length the C ``str.translate`` path is faster than numpy's fixed per-call cost.
SHORT = 1200


def _ws_run(m: re.Match[str]) -> str:
    return "\n" if "\n" in m.group() else " "


def _fold_short(text: str) -> str:
    """The same result as ``_run(text)[0]``, by ``str.translate`` and regexes (no offsets)."""
    s = text.translate(_table())
    if "  " in s or "\n" in s:
        s = _WS_RUN.sub(_ws_run, s)
    return _LETTER_DIGIT.sub(" ", s)


@dataclass(eq=False, slots=True)
class Normalized:
    """A normalised string and the way back to the original.

    ``pos[j]`` is the original position of normalised char ``j`` (an inserted space points at the
    char after it); ``mask[j]`` is 1 when char ``j`` is a letter or digit. Both are computed on first use.
    """

    original: str
    text: str
    _plan: list[tuple[str, np.ndarray]] | None = field(repr=False, default=None)
    _codes: np.ndarray | None = field(repr=False, default=None)
    _pos: np.ndarray | array[int] | None = field(repr=False, default=None)
    _mask: bytes | None = field(repr=False, default=None)

    @property
    def pos(self) -> np.ndarray | array[int]:
        if self._pos is None:
            if self._plan is None:
                self._plan = _stages(self.original)[1] if self.original else []
            self._pos = _positions(len(self.original), self._plan)
        return self._pos

    @property
    def mask(self) -> bytes:
        if self._mask is None:
            codes = self._codes if self._codes is not None else _codes(self.text)
            self._mask = word_mask(codes) if len(codes) else b""
        return self._mask

    def to_original(self, i: int, *, end: bool = False) -> int:
        """Position in ``original`` of normalised position ``i`` (``end=True`` for exclusive ends)."""
        n = len(self.text)
        if n == 0:
            return 0 if not end else len(self.original)
        i = max(0, min(i, n))
        if end:
            return int(self.pos[i - 1]) + 1 if i > 0 else 0
        return int(self.pos[i]) if i < n else len(self.original)

    def span(self, start: int, end: int) -> tuple[int, int]:
        """The original span of the normalised span ``[start, end)``."""
        a = self.to_original(start)
        b = self.to_original(end, end=True)
        return a, max(a, b)


_FOLDER: Any = None


def _make_folder(core: ModuleType) -> Any:
    """A compiled ``Folder`` over this module's tables."""
    lut = _luts()
    return core.Folder(lut.one, lut.cls, lut.letter.view(np.uint8), lut.digit.view(np.uint8), _table(),
                       (_DROP_B, _EXPAND_B, _SP, _NL, _DIG, _LET))


def _folder() -> Any:
    """The compiled core's ``Folder`` (built on first use)."""
    global _FOLDER
    if _FOLDER is None:
        assert _CORE is not None
        _FOLDER = _make_folder(_CORE)
    return _FOLDER


def normalize(text: str) -> Normalized:
    """Normalise ``text``; see the module docstring."""
    if COMPILED:
        norm, pos, mask = (_FOLDER or _folder()).run(text)
        return Normalized(text, norm, None, None, pos, mask)
    if len(text) < SHORT:
        return Normalized(original=text, text=_fold_short(text))
    c1, plan = _stages(text)
    return Normalized(original=text, text=_text(c1), _plan=plan, _codes=c1)


def fold(text: str) -> str:
    """Only the normalised string (no offset map)."""
    if COMPILED:
        return (_FOLDER or _folder()).fold(text)  # type: ignore[no-any-return]
    if len(text) < SHORT:
        return _fold_short(text)
    return _text(_stages(text)[0])


def gaps(text: str) -> array[int]:
    """``g[p]``: spaces and line breaks in ``text[:p]`` for ``p`` in ``0..len(text)`` (``array('q')``); the
    number of words between two positions of a normalised string is the difference."""
    if COMPILED:
        return _CORE.gaps(text)  # type: ignore[union-attr,no-any-return]
    return _gaps_python(text)


def _gaps_python(text: str) -> array[int]:
    codes = _codes(text)
    g = np.zeros(len(codes) + 1, dtype=np.int64)
    np.cumsum((codes == 32) | (codes == 10), out=g[1:])
    return array("q", g.tobytes())


def warm() -> None:
    """Build the tables now (about half a second) instead of on the first article."""
    _luts()
    _fold_short("warm")
    if COMPILED:
        _folder()
