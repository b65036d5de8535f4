"""What a rule's regular expression needs, read from its syntax tree: required words and the longest match.

``required_words(pattern)`` returns a set of words of which *every* match of the pattern contains at
least one, each at the start of a word (right after a non-letter, non-digit character the pattern
itself spells, or after ``\\b`` or ``^``), or ``None`` when no such set can be told. The regex node
uses it as terms of the automaton (``word*``): a field without a hit of any of them cannot match, so
the regex is not run there; a rule whose regex needs them is not evaluated when none occurred (the
presearcher); and an anchored attempt at a hit of the regex's opening words is skipped when no
required word starts within ``max_width(pattern)`` characters after it (or before the line's end, when ``one_line(pattern)``).
``max_steps(pattern)`` bounds the work of one anchored attempt: when it is small the attempt needs no
time-out of its own (the regex module reads the process clock twice per call that has one).

The analysis walks the tree of the standard library's parser (``re._parser``; a pattern it cannot
parse, or with case-insensitive or verbose parts, gets ``None``): runs of literal text, small
alternations, small character sets and optional parts are expanded into the finite set of strings
they can match; a repeat that may occur zero times, a class (``\\w``, ``[^.]``), ``.`` and
lookarounds (which consume nothing) break a run. Each run gives a candidate set: of each string its
rarest word that starts after a non-word character; an alternation whose branches all give a set
gives their union. Of the candidates the one with the rarest words is chosen: common function words
(``the``, ``in``, ``في`` …) and short words count as frequent. Sound by construction: whenever the
pattern matches, the words it spells are in the text at those places; a property test checks it on
random texts.
"""

from __future__ import annotations

import functools
from typing import Any

from monitor.text import fold

CAP = 64  # most strings a run of literal text may expand to before it is cut
MIN_WORD = 2
MAX_WORDS = 24  # a larger set of required words costs more hits in the scan than it saves
MAX_OPENING = CAP  # opening words: an anchored attempt at each hit, in place of a search at every position
UNBOUNDED = 10_000  # a match width at least this is treated as unbounded
_MARK = "\x00"  # \b or ^ inside an expanded string: a word starting right after it starts a word
_ANCHOR = "\x01"  # a non-word character the pattern consumed before this run of literal text
_COMMON_WORDS = (
    "a an as at be by in is it of on or to the and for with from that which was were are has have had "
    "been not but its their his her this said after since into over than then when while who will would "
    "could should also about against between during under more most other some such only one two three "
    "في من على الى إلى عن ان أن مع التي الذي الذين بعد قبل بين كان كانت هذا هذه ذلك تلك وقد قد"
)
COMMON = frozenset(fold(w) for w in _COMMON_WORDS.split())


class _Info:
    """What one part of a pattern matches: ``exact`` every string it can match (None: too many or not
    literal); ``sets`` word sets of which each has a word in every match; ``empty`` whether it can match
    nothing; ``end_nw`` whether every non-empty match ends with a character that is not a letter or digit."""

    __slots__ = ("empty", "end_nw", "exact", "sets")

    def __init__(self, exact: set[str] | None, sets: list[frozenset[str]] | None = None, *,
                 empty: bool = False, end_nw: bool = False) -> None:
        self.exact = exact
        self.sets = sets or []
        if exact is not None:
            real = [t.replace(_MARK, "").replace(_ANCHOR, "") for t in exact]
            empty = any(not t for t in real)
            end_nw = all(not t[-1].isalnum() for t in real if t)
        self.empty = empty
        self.end_nw = end_nw


def _cost(word: str) -> float:
    """How often a word is guessed to occur: function words far more often than any other; longer words
    less often than shorter ones."""
    return 25.0 if word in COMMON else 1.0 / (len(word) ** 2)


def _set_cost(words: frozenset[str]) -> float:
    return sum(_cost(w) for w in words)


def _anchored_words(s: str) -> set[str]:
    """The words of ``s`` that start right after a non-word character of ``s`` itself."""
    out = set()
    i, n = 0, len(s)
    while i < n:
        if not s[i].isalnum():
            i += 1
            continue
        j = i
        while j < n and s[j].isalnum():
            j += 1
        w = s[i:j]
        if i > 0 and len(w) >= MIN_WORD and fold(w) == w:
            out.add(w)
        i = j
    return out


def _words(strings: set[str]) -> frozenset[str] | None:
    """Words such that each string holds one (anchored), rare ones first: a greedy cover where a word
    scores the strings it covers over its cost. None when a string has no such word."""
    cands = [_anchored_words(s) for s in strings]
    if not all(cands):
        return None
    chosen: set[str] = set()
    left = list(range(len(cands)))
    while left:
        count: dict[str, int] = {}
        for i in left:
            for w in cands[i]:
                count[w] = count.get(w, 0) + 1
        best = max(sorted(count), key=lambda w: count[w] / _cost(w))
        chosen.add(best)
        left = [i for i in left if best not in cands[i]]
    return frozenset(chosen) if len(chosen) <= MAX_WORDS else None


def _ends_nw(run: set[str]) -> bool:
    """Every string of ``run`` ends with a character that is not a letter or digit (a \\b after the last
    character says nothing about it)."""
    return all(t.rstrip(_MARK) and not t.rstrip(_MARK)[-1].isalnum() for t in run)


def _seq(items: list[Any]) -> _Info:
    from re import _constants as c  # type: ignore[attr-defined]  # the stdlib's own parser (no stubs)

    sets: list[frozenset[str]] = []
    run: set[str] = {""}
    exact = True
    empty, end_nw = True, True

    def flush() -> None:
        got = _words(run)
        if got:
            sets.append(got)

    for item in items:
        info = _node(item, c)
        sets.extend(info.sets)
        if info.empty:
            end_nw = end_nw and info.end_nw
        else:
            empty, end_nw = False, info.end_nw
        if info.exact is not None and len(run) * len(info.exact) <= CAP:
            run = {a + b for a in run for b in info.exact}
            continue
        anchored = _ends_nw(run)
        flush()
        if info.exact is not None:
            run = {(_ANCHOR if anchored else "") + b for b in info.exact}
            continue
        exact = False
        anchored = info.end_nw and (anchored or not info.empty)
        run = {_ANCHOR if anchored else ""}
    if exact:
        return _Info(run, sets)
    flush()
    return _Info(None, sets, empty=empty, end_nw=end_nw)


def _best(info: _Info) -> frozenset[str] | None:
    cands = list(info.sets)
    if info.exact is not None:
        got = _words(info.exact)
        if got:
            cands.append(got)
    return min(cands, key=_set_cost) if cands else None


def _class_nw(items: list[tuple[Any, Any]], c: Any) -> bool:
    """A character class none of whose characters is a letter or digit."""
    for op, arg in items:
        if op is c.LITERAL and not chr(arg).isalnum():
            continue
        if op is c.CATEGORY and arg in (c.CATEGORY_SPACE, c.CATEGORY_NOT_WORD):
            continue
        return False
    return True


def _node(item: tuple[Any, Any], c: Any) -> _Info:
    op, arg = item
    if op is c.LITERAL:
        return _Info({chr(arg)})
    if op is c.AT:
        return _Info({_MARK} if arg in (c.AT_BOUNDARY, c.AT_BEGINNING, c.AT_BEGINNING_STRING) else {""})
    if op in (c.ASSERT, c.ASSERT_NOT):
        return _Info({""})  # consumes nothing; what it looks at is not part of the match
    if op is c.IN:
        if len(arg) <= 8 and all(o is c.LITERAL for o, _ in arg):
            return _Info({chr(v) for _, v in arg})
        return _Info(None, end_nw=_class_nw(arg, c))
    if op is c.SUBPATTERN:
        _, add, _, sub = arg
        if add & (c.SRE_FLAG_IGNORECASE | c.SRE_FLAG_VERBOSE):
            raise ValueError("case-insensitive or verbose part")
        return _seq(list(sub))
    if op is getattr(c, "ATOMIC_GROUP", None):
        return _seq(list(arg))
    if op is c.BRANCH:
        infos = [_seq(list(b)) for b in arg[1]]
        if all(i.exact is not None for i in infos):
            union = set().union(*(i.exact for i in infos if i.exact is not None))
            if len(union) <= CAP:
                return _Info(union)
        bests = [_best(i) for i in infos]
        union_words = frozenset().union(*(b for b in bests if b is not None))
        sets = [union_words] if all(bests) and len(union_words) <= MAX_WORDS else []
        return _Info(None, sets, empty=any(i.empty for i in infos), end_nw=all(i.end_nw for i in infos))
    if op in (c.MAX_REPEAT, c.MIN_REPEAT, getattr(c, "POSSESSIVE_REPEAT", None)):
        lo, hi, sub = arg
        inner = _seq(list(sub))
        if inner.exact is not None and hi <= 1:
            return _Info(inner.exact | ({""} if lo == 0 else set()))
        empty = lo == 0 or inner.empty
        if lo == 0:
            return _Info(None, empty=True, end_nw=inner.end_nw)
        if inner.exact is not None and lo == hi and len(inner.exact) ** lo <= CAP:
            got = {""}
            for _ in range(lo):
                got = {a + b for a in got for b in inner.exact}
            return _Info(got, inner.sets)
        best = _best(inner)
        return _Info(None, [best] if best else [], empty=empty, end_nw=inner.end_nw)
    # a class (\w, \d, [^x]), ``.``, a back-reference, a conditional: anything, possibly nothing
    return _Info(None, empty=op not in (c.ANY, c.NOT_LITERAL, c.CATEGORY, c.RANGE))


def _can_newline(items: list[Any], c: Any, dotall: bool) -> bool:
    """Whether a match of these parts can hold a line break (lookarounds not counted)."""
    for op, arg in items:
        if op is c.LITERAL:
            if arg == 10:
                return True
        elif op is c.NOT_LITERAL:
            if arg != 10:
                return True
        elif op is c.ANY:
            if dotall:
                return True
        elif op is c.IN:
            negate = any(o is c.NEGATE for o, _ in arg)
            has = any((o is c.LITERAL and v == 10) or (o is c.RANGE and v[0] <= 10 <= v[1])
                      or (o is c.CATEGORY and v in (c.CATEGORY_SPACE, c.CATEGORY_NOT_WORD, c.CATEGORY_NOT_DIGIT,
                                                    c.CATEGORY_LINEBREAK))
                      for o, v in arg)
            if has != negate:
                return True
        elif op in (c.AT, c.ASSERT, c.ASSERT_NOT):
            continue
        elif op is c.SUBPATTERN:
            if _can_newline(list(arg[3]), c, dotall or bool(arg[1] & c.SRE_FLAG_DOTALL)):
                return True
        elif op is getattr(c, "ATOMIC_GROUP", None):
            if _can_newline(list(arg), c, dotall):
                return True
        elif op is c.BRANCH:
            if any(_can_newline(list(b), c, dotall) for b in arg[1]):
                return True
        elif op in (c.MAX_REPEAT, c.MIN_REPEAT, getattr(c, "POSSESSIVE_REPEAT", None)):
            if _can_newline(list(arg[2]), c, dotall):
                return True
        else:  # anything else (a back-reference, a conditional): assume it can
            return True
    return False


@functools.lru_cache(maxsize=512)
def _parsed(pattern: str) -> Any:
    """``re``'s parse tree of ``pattern``, shared by the analyses below (each used to parse it again; the
    trees are only read, and ``getwidth`` caches a width that depends on the tree alone). Raises what
    the parser raises (not cached)."""
    from re import _parser  # type: ignore[attr-defined]

    return _parser.parse(pattern)


def one_line(pattern: str) -> bool:
    """True when no match of ``pattern`` can hold a line break (``\\n``): a match then ends before the
    next one, which bounds where the words it needs can be."""
    from re import _constants as c  # type: ignore[attr-defined]

    try:
        parsed = _parsed(pattern)
    except Exception:
        return False
    return not _can_newline(list(parsed), c, bool(parsed.state.flags & c.SRE_FLAG_DOTALL))


def required_words(pattern: str) -> frozenset[str] | None:
    """Words of which every match of ``pattern`` contains one at a word start (see the module doc)."""
    from re import _constants as c  # type: ignore[attr-defined]

    try:
        parsed = _parsed(pattern)
        if parsed.state.flags & (c.SRE_FLAG_IGNORECASE | c.SRE_FLAG_VERBOSE):
            return None
        return _best(_seq(list(parsed)))
    except Exception:  # syntax of the ``regex`` module only, or a case-insensitive part: no words
        return None


def max_width(pattern: str) -> int | None:
    """The longest a match of ``pattern`` can be (lookarounds not counted), or None when unbounded or
    unknown."""

    try:
        hi = int(_parsed(pattern).getwidth()[1])
    except Exception:
        return None
    return hi if hi < UNBOUNDED else None


def _steps_seq(items: list[Any], c: Any) -> tuple[float, float]:
    steps, paths = 0.0, 1.0
    for item in items:
        s, p = _steps(item, c)
        steps, paths = steps + paths * s, paths * p
        if steps > _STEP_CAP:
            return INF, INF
    return steps, paths


def _steps(item: tuple[Any, Any], c: Any) -> tuple[float, float]:
    """(steps, ways): at most how many steps one attempt spends in this part, in how many ways it can
    match (each way is backtracked into by what follows)."""
    op, arg = item
    if op in (c.LITERAL, c.NOT_LITERAL, c.IN, c.ANY, c.CATEGORY, c.RANGE, c.AT):
        return 1.0, 1.0
    if op in (c.ASSERT, c.ASSERT_NOT):  # tried as a whole, never backtracked into
        return _steps_seq(list(arg[1]), c)[0] + 1.0, 1.0
    if op is c.SUBPATTERN:
        return _steps_seq(list(arg[3]), c)
    if op is getattr(c, "ATOMIC_GROUP", None):
        return _steps_seq(list(arg), c)[0], 1.0
    if op is c.BRANCH:
        got = [_steps_seq(list(b), c) for b in arg[1]]
        return sum(s for s, _ in got) + 1.0, sum(p for _, p in got)
    if op in (c.MAX_REPEAT, c.MIN_REPEAT, getattr(c, "POSSESSIVE_REPEAT", None)):
        lo, hi, sub = arg
        if hi > 1000:
            return INF, INF
        s, p = _steps_seq(list(sub), c)
        steps = paths = 1.0 if lo == 0 else 0.0
        ks, kp = 0.0, 1.0  # k repetitions: steps, ways
        for k in range(1, hi + 1):
            ks, kp = ks + kp * s, kp * p
            if k >= lo:
                steps, paths = steps + ks, paths + kp
            if steps > _STEP_CAP:
                return INF, INF
        return steps, paths
    return INF, INF  # a back-reference, a conditional: not bounded here


INF = float("inf")
_STEP_CAP = 1e12


def max_steps(pattern: str) -> float:
    """At most how many steps one anchored attempt of ``pattern`` takes whatever the text (a backtracking
    matcher tries each way of each part once), or infinity when a part repeats without bound. A pattern
    with a small bound cannot backtrack catastrophically, so it needs no time-out per attempt."""
    from re import _constants as c  # type: ignore[attr-defined]

    try:
        return _steps_seq(list(_parsed(pattern)), c)[0]
    except Exception:
        return INF


def opening_words(pattern: str) -> frozenset[str] | None:
    """Words of which every match of ``pattern`` starts with one, at a word start: the pattern opens with
    ``\\b`` or ``^`` and a run of literal text (and the opening run of the part after it, see ``_lead``)
    that expands to at most ``MAX_OPENING`` strings, each opening with a word of at least two letters
    (``\\bب(?:مسيره|غاره)`` gives ``بمسيره``, ``بغاره``; ``\\b(?:امريكي|اميركي)`` gives both, where the parser factors out the common ``ا``). None otherwise. The regex can then be
    tried at the hits of ``word*`` only, like ``positional.boundary_prefixes`` (which stops at the
    first alternation, so gives a single letter here)."""
    from re import _constants as c  # type: ignore[attr-defined]

    try:
        parsed = _parsed(pattern)
        if parsed.state.flags & (c.SRE_FLAG_IGNORECASE | c.SRE_FLAG_VERBOSE):
            return None
        run = _lead(list(parsed), c)
    except Exception:
        return None
    out = set()
    for s in run:
        if not s.startswith(_MARK):
            return None
        j = 1
        while j < len(s) and s[j].isalnum():
            j += 1
        w = s[1:j]
        if len(w) < MIN_WORD or fold(w) != w:
            return None
        out.add(w)
    return frozenset(out) if 0 < len(out) <= MAX_OPENING else None


def _lead(items: list[Any], c: Any) -> set[str]:
    """Strings of which every match of ``items`` starts with one: their opening run of literal text,
    expanded as in ``_seq``; past it, the opening run of a group, an alternation (each branch's own) or a
    part repeated at least once (``(?:…|مرتبط\\S*)``, ``[وبلف]?لبنان\\S*``); at most ``CAP`` strings."""
    run: set[str] = {""}
    for item in items:
        info = _node(item, c)
        if info.exact is not None:
            if len(run) * len(info.exact) > CAP:
                return run
            run = {a + b for a in run for b in info.exact}
            continue
        op, arg = item
        if op is c.SUBPATTERN:
            inner = _lead(list(arg[3]), c)  # flags already refused by ``_node``
        elif op is getattr(c, "ATOMIC_GROUP", None):
            inner = _lead(list(arg), c)
        elif op is c.BRANCH:
            inner = set().union(*(_lead(list(b), c) for b in arg[1]))
        elif op in (c.MAX_REPEAT, c.MIN_REPEAT, getattr(c, "POSSESSIVE_REPEAT", None)) and arg[0] >= 1:
            inner = _lead(list(arg[2]), c)
        else:
            return run
        if len(run) * len(inner) > CAP:
            return run
        return {a + b for a in run for b in inner}
    return run


def at_start(pattern: str) -> bool:
    """True when every match of ``pattern`` starts at the very beginning of the text (it opens with ``^``
    or ``\\A``, outside any alternation, and has no multi-line flag): one anchored match is all that
    ``finditer`` could find."""
    from re import _constants as c  # type: ignore[attr-defined]

    if "(?m" in pattern:
        return False
    try:
        parsed = _parsed(pattern)
    except Exception:
        return False
    if parsed.state.flags & c.SRE_FLAG_MULTILINE or not len(parsed):
        return False
    op, arg = parsed[0]
    return op is c.AT and arg in (c.AT_BEGINNING, c.AT_BEGINNING_STRING)
