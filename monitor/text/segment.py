"""Tokens and sentences of a normalised string, with offsets into it.

Both work on ``Normalized.text`` (``monitor.text.folding``); map offsets back to the original with
``Normalized.span``. A token is a run of letters or a run of digits (normalisation already split
letters from digits). A sentence ends at ``. ! ? ;`` followed by a space, or at a line break; a number
such as ``2.5``, a single letter with a period (``u.s.``, ``j. smith``) or a listed abbreviation
(``mr.``, ``gen.``, ``jan.`` …) does not end one. A stop glued to the next word (``امس.كما اعلنت``,
``in iraq.the ministry``, as pages often run sentences together) ends a sentence when it joins two words
of two letters or more (not digits; a space may stand before the stop: ``الماضيه .وسادت``), the first
not a listed abbreviation, unless it is part of a name
with dots: a chain of three or more dot-joined parts (``pic.twitter.com``, ``بي.كيه.كيه``), a web
address or e-mail (a ``/`` or ``@`` next to it), or a domain (``news.az``, ``dawn.com``, ``العربيه.نت``:
a listed top-level domain after the dot).
"""

from __future__ import annotations

import importlib
import re
from bisect import bisect_right
from collections.abc import Iterator
from dataclasses import dataclass
from types import ModuleType

TOKEN_RE = re.compile(r"[^\W_]+")
#: Lower-case (normalised) abbreviations whose period does not end a sentence.
ABBREVIATIONS = ("mr", "mrs", "ms", "dr", "prof", "gen", "lt", "col", "maj", "capt", "sgt", "adm", "cmdr",
                 "gov", "sen", "rep", "pres", "st", "vs", "etc", "inc", "ltd", "co", "corp", "jr",
                 "sr", "jan", "feb", "mar", "apr", "jun", "jul", "aug", "sep", "sept", "oct", "nov", "dec")
_ABBR = frozenset(ABBREVIATIONS)
_ABBR_MAX = max(map(len, ABBREVIATIONS))
#: Top-level domains: a word glued after a dot that is one of them makes a domain name, not a new sentence.
TOP_LEVEL_DOMAINS = ("com", "net", "org", "gov", "edu", "mil", "int", "info", "biz", "io", "co", "me", "tv",
                     "az", "uk", "ru", "ir", "iq", "sy", "ae", "sa", "tr", "news", "نت", "كوم")
_TLD = frozenset(TOP_LEVEL_DOMAINS)


def _core() -> ModuleType | None:
    from monitor.text.folding import COMPILED

    if not COMPILED:
        return None
    core = importlib.import_module("monitor.text._fold")
    return core if hasattr(core, "glued_end") else None  # a stale build: the Python path


_CORE = _core()
# opens with a character class, so the regex engine scans for candidates at C speed
# the third branch: a stop glued to a letter (``glued_end`` decides)
_END = re.compile(r"[.!?;\n](?:(?<=\n)|[.!?;\"')\]]*(?: |$)|(?=[^\W\d_]))")


@dataclass(frozen=True, slots=True)
class Span:
    start: int
    end: int
    text: str


def tokens(text: str) -> Iterator[Span]:
    """Word and number tokens of normalised text."""
    for m in TOKEN_RE.finditer(text):
        yield Span(m.start(), m.end(), m.group())


def sentence_starts(text: str) -> list[int]:
    """Start offsets of the sentences (the first is 0)."""
    if _CORE is not None:
        return _CORE.sentence_starts(text, _ABBR, _ABBR_MAX, _TLD)  # type: ignore[no-any-return]
    return _sentence_starts(text)


def _word(ch: str) -> bool:
    return ch.isalnum() or ch == "_"


def _letters(word: str) -> bool:
    return not any(ch.isdecimal() or ch == "_" for ch in word)


def glued_end(text: str, i: int) -> bool:
    """Whether the stop ``text[i]``, followed by a letter, ends a sentence (see the module's contract)."""
    n = len(text)
    e = i - 1 if i and text[i - 1] == " " else i  # a stop typed after the space: «الماضيه .وسادت»
    j = e
    while j and _word(text[j - 1]):
        j -= 1
    k = i + 1
    while k < n and _word(text[k]):
        k += 1
    left = text[j:e]
    right = text[i + 1:k]
    if len(left) < 2 or len(right) < 2 or not _letters(left) or not _letters(right):
        return False
    before = text[j - 1] if j else ""
    after = text[k] if k < n else ""
    if before in ("/", "@") or after in ("/", "@"):  # a web address or an e-mail
        return False
    if text[i] == ".":
        if left in _ABBR or right in _TLD:
            return False
        if before == "." and j >= 2 and _word(text[j - 2]):  # x.left.right: a chain of dotted parts
            return False
        if after == "." and k + 1 < n and _word(text[k + 1]):  # left.right.x
            return False
    return True


def _sentence_starts(text: str) -> list[int]:
    """``sentence_starts`` in Python (the fallback where the compiled core is not built)."""
    out = [0]
    n = len(text)
    for m in _END.finditer(text):
        i = m.start()
        if m.end() == i + 1 < n and text[i] != "\n" and text[i + 1] not in " \n":  # glued to a letter
            if glued_end(text, i):
                out.append(i + 1)
            continue
        if text[i] == "." and i:
            # a period after a single letter (u.s., j. smith) or an abbreviation does not end a sentence:
            # look back over the word before it, no further than the longest abbreviation
            j = i
            while j and i - j <= _ABBR_MAX and (text[j - 1].isalnum() or text[j - 1] == "_"):
                j -= 1
            run = i - j
            if run and run <= _ABBR_MAX:
                word = text[j:i]
                if (run == 1 and not word.isdigit()) or word in _ABBR:
                    continue
        out.append(m.end())
    return out


def sentences(text: str) -> Iterator[Span]:
    """Sentences of normalised text, stripped of surrounding spaces, empty ones skipped."""
    starts = sentence_starts(text)
    ends = [*starts[1:], len(text)]
    for a, b in zip(starts, ends, strict=True):
        chunk = text[a:b]
        stripped = chunk.strip()
        if stripped:
            lead = len(chunk) - len(chunk.lstrip())
            yield Span(a + lead, a + lead + len(stripped), stripped)


def sentence_index(starts: list[int], pos: int) -> int:
    """Index of the sentence holding ``pos``, given ``sentence_starts``."""
    return bisect_right(starts, pos) - 1


def words_between(text: str, a: int, b: int) -> int:
    """Number of word gaps between positions ``a <= b`` (0 = same or adjacent word)."""
    if b < a:
        a, b = b, a
    return text.count(" ", a, b) + text.count("\n", a, b)
