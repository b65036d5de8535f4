"""Terms: compiled once into one Aho-Corasick automaton; found in normalised text with affix checks.

A term is written once, unnormalised (``"قاعدة عسكرية"``, ``"base*"``, ``"Ain al-Asad"``). ``TermTable``
normalises it (``monitor.text.fold``), dedupes it across all rules and lists (one id per distinct
normalised form and wildcard flag), and registers a few *keys* per term in the automaton:

- the term itself;
- for an Arabic term ending in ة: the stem with ت (قاعدت…) that must be followed by a suffix
  (قاعدتين، جولتها), and the sound plural stem+ات (جولات، جولاتها);
- for an Arabic term starting with ال: the term without it, valid only after a proclitic that carries
  the article (بال، وال، لل …: للجنة matches اللجنة);
- for an indefinite Arabic phrase of 2-3 words (قاعدة عسكرية): its definite form (القاعدة العسكرية),
  every later word with ال and the first after an article-carrying proclitic; and, unless a word before
  the last ends in ة, ا or ء, its accusative with the tanween alef (قصفا إسرائيليا for قصف إسرائيلي:
  the earlier words take ا in the key, the last as a suffix).

``scan(text)`` runs the automaton over a normalised field and keeps a hit only when it sits on word
boundaries, allowing inside the same token an Arabic proclitic before (``affixes.PROCLITICS``) and an
Arabic suffix after (``affixes.SUFFIXES``), or English -s/-es after; a trailing ``*`` allows any
continuation of the last word. Hits are ``term id -> [(start, end)]`` in normalised offsets, extended
over the tolerated proclitic and suffix (so evidence shows the whole word). ``scan_field`` (what the
engine runs) also finds a phrase split by quote marks (``وقف "اطلاق النار"``, ``"ceasefire" deal``): a
field holding quote marks is walked again without them (``quote_view``), and the hits whose span holds
one are added, with the field's own offsets.

Two implementations of the scan, with the same results: the compiled one (``monitor.rules._scan``, Cython:
a dense DFA over the keys' alphabet and the affix checks in C, several times faster) when the extension
is built, else the pure-Python one over a pyahocorasick automaton. ``COMPILED`` says which one
``TermTable.scan_into`` runs; ``MONITOR_PURE_PYTHON=1`` in the environment (read at import) forces the
Python one.
"""

from __future__ import annotations

import importlib
import re
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from types import ModuleType

import ahocorasick

from monitor.text.affixes import (
    ARTICLE_PROCLITICS,
    EN_SUFFIXES,
    MAX_PREFIX,
    MAX_SUFFIX,
    PROCLITICS,
    SUFFIXES,
    TEH_SUFFIXES,
    is_arabic,
)
from monitor.text.folding import PURE_PYTHON, _codes, fold, word_mask

_PRONOUNS_OR_NONE = frozenset({"", "ه", "ها", "هم", "هما", "هن", "نا", "كم", "كما", "كن", "ي"})
_LAM_PREFIXES = frozenset({"ل", "ول", "فل"})
_MARKS = re.compile(r"[\u0640\u064b-\u065f\u0670]")

# key kinds
NORMAL, TEH, PLURAL = 0, 1, 2


def _compiled_core() -> ModuleType | None:
    """``monitor.rules._scan`` when it is built (from the current source), else None."""
    try:
        core = importlib.import_module("monitor.rules._scan")
    except ImportError:  # the extension is not built (no C compiler): pure Python
        return None
    return core if hasattr(getattr(core, "Scanner", None), "scan_field") else None  # not a stale build


_scan = _compiled_core()

#: True when ``TermTable.scan_into`` runs the compiled scanner (``monitor.rules._scan``).
COMPILED: bool = _scan is not None and not PURE_PYTHON


class TermSyntaxError(ValueError):
    """A term that cannot be compiled (empty, misplaced wildcard)."""


@dataclass(frozen=True, slots=True)
class Term:
    id: int
    key: str  # normalised form, words separated by single spaces
    prefix: bool  # trailing * on the last word
    arabic: bool


@lru_cache(maxsize=65536)
def parse_term(raw: str) -> tuple[str, bool]:
    """``(normalised key, prefix wildcard)`` of a term as written."""
    words = raw.split()
    if not words:
        raise TermSyntaxError("empty term")
    for w in words[:-1]:
        if "*" in w:
            raise TermSyntaxError(f"wildcard `*` only at the end of the last word: {raw!r}")
    last = words[-1]
    prefix = last.endswith("*")
    if "*" in last.rstrip("*") or last.count("*") > 1:
        raise TermSyntaxError(f"wildcard `*` only at the end of the last word: {raw!r}")
    words[-1] = last.rstrip("*")
    key = fold(" ".join(words)).strip()
    if not key or not any(ch.isalnum() for ch in key):
        raise TermSyntaxError(f"term has no letters or digits after normalisation: {raw!r}")
    if prefix and len(key.split()[-1]) < 2:
        raise TermSyntaxError(f"wildcard needs at least 2 letters before `*`: {raw!r}")
    return key, prefix


#: endings of a folded Arabic word that take no written tanween alef: ة (folded to ه), ا, ء (ى is folded to ي,
#: which does take it: the extra key of a word written with ى never occurs, which is harmless)
_NO_TANWEEN_ALEF = ("ه", "ا", "ء")


class TermTable:
    """All terms of a rule set and their automaton keys."""

    def __init__(self) -> None:
        self.terms: list[Term] = []
        self._ids: dict[tuple[str, bool], int] = {}
        self._teh: set[int] = set()  # terms written with a final ة
        self._by_raw: dict[str, int] = {}
        self._automaton: ahocorasick.Automaton | None = None
        self._core: object | None = None  # the compiled scanner (``_scan.Scanner``) when COMPILED
        self._built = False
        self._py_built = False
        self._late: list[Callable[[], None]] = []
        #: ids of the terms added by ``defer`` hooks that no rule or list names (``build`` sets it)
        self.late: frozenset[int] = frozenset()

    def add(self, raw: str) -> int:
        """The id of a term as written (raises ``TermSyntaxError``)."""
        known = self._by_raw.get(raw)
        if known is not None:
            return known
        key, prefix = parse_term(raw)
        tid = self._ids.get((key, prefix))
        if tid is None:
            tid = len(self.terms)
            self._ids[(key, prefix)] = tid
            self.terms.append(Term(tid, key, prefix, is_arabic(key)))
        if is_arabic(key) and _MARKS.sub("", raw.rstrip("* ")).endswith("ة"):
            self._teh.add(tid)
        self._by_raw[raw] = tid
        return tid

    def defer(self, hook: Callable[[], None]) -> None:
        """Run ``hook`` (which adds terms) at ``build``, after every other ``add``: the terms it adds get
        the last ids, and those no rule or list names are ``late`` (their hits are kept apart)."""
        self._late.append(hook)

    def keys(self, term: Term) -> list[tuple[str, int, bool]]:
        """``(key, kind, needs article proclitic)`` registered for a term."""
        heads = [(term.key, False)]
        if term.arabic:
            words = term.key.split(" ")
            if words[0].startswith("ال") and len(words[0]) >= 4:
                heads.append((term.key[2:], True))
            elif 1 < len(words) <= 3 and all(is_arabic(w) and not w.startswith("ال") for w in words):
                # a noun-adjective phrase also matches its definite form: القاعدة العسكرية
                heads.append((" ".join([words[0], *("ال" + w for w in words[1:])]), True))
                # and its indefinite accusative, the tanween alef written on every word but the last
                # (which takes it as a suffix): قصفا إسرائيليا for قصف إسرائيلي
                if all(not w.endswith(_NO_TANWEEN_ALEF) for w in words[:-1]):
                    heads.append((" ".join([*(w + "ا" for w in words[:-1]), words[-1]]), False))
        out: list[tuple[str, int, bool]] = []
        for head, article in heads:
            out.append((head, NORMAL, article))
            if term.id in self._teh and not term.prefix and head.endswith("ه") and len(head) >= 3:
                out.append((head[:-1] + "ت", TEH, article))
                out.append((head[:-1] + "ات", PLURAL, article))
        return out

    def _grouped(self) -> dict[str, list[tuple[int, int, bool, tuple[int, bool, bool, bool]]]]:
        """Every automaton key and its patterns ``(key length, term id, simple, (kind, article, prefix, arabic))``."""
        grouped: dict[str, list[tuple[int, int, bool, tuple[int, bool, bool, bool]]]] = {}
        for term in self.terms:
            for key, kind, article in self.keys(term):
                simple = kind == NORMAL and not article  # whole word only, unless affixes follow
                grouped.setdefault(key, []).append(
                    (len(key), term.id, simple, (kind, article, term.prefix, term.arabic))
                )
        return grouped

    def build(self, *, compiled: bool | None = None) -> None:
        """Compile every key into one automaton (call once, after all ``add``).

        ``compiled`` (default ``COMPILED``): build the compiled scanner and make ``scan_into`` run it;
        else the pyahocorasick automaton of the Python scan (also built on first use of
        ``scan_into_python``).
        """
        if self._late:
            first = len(self.terms)
            for hook in self._late:
                hook()
            self._late.clear()
            self.late |= frozenset(range(first, len(self.terms)))
        self._built = True
        use_c = COMPILED if compiled is None else compiled
        if use_c:
            if _scan is None:
                raise RuntimeError("monitor.rules._scan is not built (install gcc, then `pip install -e .`)")
            grouped = self._grouped()
            try:
                core = _scan.Scanner(list(grouped.items()), _affix_sets(), MAX_PREFIX, MAX_SUFFIX)
            except ValueError as e:  # affixes it cannot pack, or a table too large: the Python scan
                if compiled:
                    raise
                warnings.warn(f"compiled term scan unavailable ({e}); using the Python scan", stacklevel=2)
                use_c = False
        if use_c:
            self._core = core
            self._automaton = None
            self._py_built = False
            self.scan_into = core.scan_into  # type: ignore[method-assign]  # no Python frame per call
            self.scan_quoted = core.scan_quoted  # type: ignore[method-assign]
            self.scan_field = core.scan_field  # type: ignore[method-assign]
        else:
            self._core = None
            self._build_python()
            self.__dict__.pop("scan_into", None)  # back to the class's (Python) scan_into
            self.__dict__.pop("scan_quoted", None)
            self.__dict__.pop("scan_field", None)

    def _build_python(self) -> None:
        grouped = self._grouped()
        automaton = ahocorasick.Automaton()
        for key, pats in grouped.items():
            automaton.add_word(key, tuple(pats))
        if grouped:
            automaton.make_automaton()
        self._automaton = automaton if grouped else None
        self._py_built = True

    @property
    def compiled(self) -> bool:
        """True when this table's ``scan_into`` runs the compiled scanner."""
        return self._core is not None

    def scan(self, text: str) -> dict[int, list[tuple[int, int]]]:
        """Term hits in one normalised field: ``term id -> [(start, end), ...]``."""
        hits: dict[int, list[tuple[int, int, int]]] = {}
        self.scan_field(text, normalize_mask(text), 0, hits)
        return {tid: [(a, b) for _, a, b in spans] for tid, spans in hits.items()}

    def scan_field(self, text: str, mask: bytes, f: int, hits: dict[int, list[tuple[int, int, int]]]) -> None:
        """``scan_into``, then, when the field holds quote marks, ``scan_quoted``: the phrases they split."""
        self.scan_into(text, mask, f, hits)
        if '"' in text or "'" in text:
            self.scan_quoted(text, f, hits)

    def scan_quoted_python(self, text: str, f: int, hits: dict[int, list[tuple[int, int, int]]]) -> None:
        """Add the hits that quote marks between their words hide: those of ``quote_view`` whose span holds
        a dropped or replaced quote mark, with ``text``'s offsets (the compiled scanner's ``scan_quoted``
        gives the same)."""
        if not self._built or not text:
            return
        if not self._py_built:
            self._build_python()
        view = quote_view(text)
        if self._automaton is None or view is None:
            return
        vtext, pos, mods = view
        got: dict[int, list[tuple[int, int, int]]] = {}
        _scan_python(self._automaton, vtext, normalize_mask(vtext), f, got)
        for tid, spans in got.items():
            for _, a, b in spans:
                ts, te = pos[a], pos[b - 1] + 1
                if mods[te] != mods[ts]:
                    hits.setdefault(tid, []).append((f, ts, te))

    scan_quoted = scan_quoted_python

    def scan_into_python(self, text: str, mask: bytes, f: int, hits: dict[int, list[tuple[int, int, int]]]) -> None:
        """Add the hits of field ``f`` to ``hits`` as ``term id -> [(f, start, end), ...]``.

        ``mask[i]`` is 1 when ``text[i]`` is a letter or digit (``Normalized.mask``): boundary tests on
        bytes are cheaper than on characters. This is the pure-Python scan, over the pyahocorasick
        automaton; ``scan_into`` is this method unless ``build`` put the compiled scanner's (same results)
        on the instance. Before ``build`` there are no hits.
        """
        if not self._built or not text:
            return
        if not self._py_built:
            self._build_python()  # compiled table: the Python automaton is built on demand only
        if self._automaton is None:
            return
        _scan_python(self._automaton, text, mask, f, hits)

    scan_into = scan_into_python


def _scan_python(automaton: ahocorasick.Automaton, text: str, mask: bytes, f: int,
                 hits: dict[int, list[tuple[int, int, int]]]) -> None:
    """The pure-Python scan of ``TermTable.scan_into_python`` over ``automaton``."""
    n = len(text)
    padded = b"\0" + mask + b"\0"  # padded[i + 1] == mask[i]; no bounds tests at the edges
    for last, pats in automaton.iter(text):
        end = last + 1
        right_word = padded[end + 1]
        for klen, tid, simple, spec in pats:
            start = end - klen
            left_word = padded[start]
            if simple and not left_word and not right_word:
                bucket = hits.get(tid)
                if bucket is None:
                    hits[tid] = [(f, start, end)]
                else:
                    bucket.append((f, start, end))
                continue
            kind, article, prefix, arabic = spec
            span = _check(mask, n, start, end, kind, article, prefix, arabic, left_word, right_word,
                          text)
            if span is not None:
                hits.setdefault(tid, []).append((f, *span))


def quote_view(text: str) -> tuple[str, list[int], list[int]] | None:
    """A normalised field as the term scan walks it to find phrases split by quote marks: a double quote
    (normalisation folds « » “ ” „ to ``"``), and an apostrophe unless it stands inside a word (``iran's``,
    ``qa'ida``), is dropped — or becomes a space where dropping it would join two words (``ab"cd``); a
    space right after another one (left by a dropped mark) is dropped. Returns the view, the field offset of
    each view char, and ``mods``: ``mods[i]`` is the number of dropped or replaced chars before field
    offset ``i`` (a hit holds one when ``mods`` differs at its ends). None when nothing changes."""
    n = len(text)
    out: list[str] = []
    pos: list[int] = []
    mods = [0] * (n + 1)
    changed = 0
    for i, ch in enumerate(text):
        mods[i] = changed
        if ch in "\"'":
            next_word = i < n - 1 and text[i + 1].isalnum()
            if ch == "'" and next_word and i and text[i - 1].isalnum():
                out.append(ch)
                pos.append(i)
                continue
            changed += 1
            if not (next_word and out and out[-1].isalnum()):
                continue
            ch = " "
        elif ch == " " and out and out[-1] == " ":
            changed += 1
            continue
        out.append(ch)
        pos.append(i)
    mods[n] = changed
    return ("".join(out), pos, mods) if changed else None


def _affix_sets() -> tuple[frozenset[str], ...]:
    """The affix sets of the checks, in the order of ``_scan.AFFIX_SETS``."""
    return (PROCLITICS, ARTICLE_PROCLITICS, _LAM_PREFIXES, SUFFIXES, TEH_SUFFIXES, _PRONOUNS_OR_NONE,
            EN_SUFFIXES)


def _check(
    mask: bytes, n: int, start: int, end: int, kind: int, article: bool, prefix: bool, arabic: bool,
    left_word: int | bool, right_word: int | bool, text: str,
) -> tuple[int, int] | None:
    """The span of an accepted hit (over its proclitic and suffix), or None when the affixes are not allowed."""
    word_start = start
    if left_word:
        if not arabic:
            return None
        k = start - 1
        low = max(0, start - MAX_PREFIX - 1)
        while k >= low and mask[k]:
            k -= 1
        if k >= 0 and mask[k]:
            return None
        pre = text[k + 1:start]
        # ل + ال + a word starting with ل is written with two lams: للجنة = ل + (ا)ل + لجنة
        lam = article and pre in _LAM_PREFIXES and text[start] == "ل"
        if pre not in (ARTICLE_PROCLITICS if article else PROCLITICS) and not lam:
            return None
        word_start = k + 1
    elif article:
        return None
    if not right_word:
        return None if kind == TEH else (word_start, end)
    k = end
    high = min(n, end + MAX_SUFFIX + 1)
    while k < high and mask[k]:
        k += 1
    if prefix:
        while k < n and mask[k]:
            k += 1
        return word_start, k
    if k < n and mask[k]:
        return None
    suffix = text[end:k]
    if not arabic:
        allowed = EN_SUFFIXES
    elif kind == TEH:
        allowed = TEH_SUFFIXES
    elif kind == PLURAL:
        allowed = _PRONOUNS_OR_NONE
    else:
        allowed = SUFFIXES
    return (word_start, k) if suffix in allowed else None


def word_end(text: str, pos: int) -> int:
    """End of the token that holds ``pos - 1`` (skips a suffix left after a hit)."""
    n = len(text)
    while pos < n and text[pos].isalnum():
        pos += 1
    return pos


def normalize_mask(text: str) -> bytes:
    """The letter-or-digit mask of an already normalised string."""
    return word_mask(_codes(text)) if text else b""
