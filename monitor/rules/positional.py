"""Positional nodes: ``near``, ``sentence``, ``quantity`` and ``regex`` (see ``monitor.rules.expr``).

They look at *where* hits are, in the normalised field text: word distances (whitespace gaps), sentence
indexes (``monitor.text.segment``), numbers next to a hit (``monitor.text.numbers``) and regex spans
(cached per article and pattern). Hits sorted by position and grouped by sentence are cached per
article, keyed on the memoised node results they come from.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from operator import itemgetter
from time import perf_counter
from typing import Any

from monitor.rules.expr import (
    _MISSING,
    FIELD_NAMES,
    AllNode,
    AnyNode,
    Cost,
    Ctx,
    Ev,
    Node,
    NoneNode,
    TermNode,
    dedupe,
    missing,
)
from monitor.rules.terms import word_end
from monitor.text.numbers import number_after, number_before

_START = itemgetter(1)


def _all_children(node: AllNode, ctx: Ctx, fields: frozenset[int]) -> list[list[Ev]] | None:
    """Each child's evidence, or None as soon as one child does not hold (or when one cannot: a term it
    needs did not occur, see ``needed_sets``)."""
    if missing(node.needs, ctx, node.codes):
        return None
    per_item = []
    for child in node.children:
        r = child.run(ctx, fields)
        if not r:
            return None
        per_item.append(r)
    return per_item


class NearNode(AllNode):
    """Every item within ``within`` words of the others, in any order, in one field."""

    def __init__(self, children: list[Node], within: int = 10) -> None:
        AllNode.__init__(self, children)
        self.within = within

    def __repr__(self) -> str:
        return f"NearNode(children={self.children!r}, within={self.within!r})"

    def eval(self, ctx: Ctx, fields: frozenset[int]) -> list[Ev] | None:
        per_item = _all_children(self, ctx, fields)
        if per_item is None:
            return None
        if len(per_item) == 2:
            return self._pair(ctx, fields, per_item[0], per_item[1])
        out: list[Ev] = []
        k = len(per_item)
        for f in fields:
            items = sorted([(ev[1], i, ev) for i, evs in enumerate(per_item) for ev in evs if ev[0] == f])
            if len({i for _, i, _ in items}) < k:
                continue
            gaps = ctx.gaps(f)
            counts = [0] * k
            have = 0
            lo = 0
            for hi in range(len(items)):
                i = items[hi][1]
                counts[i] += 1
                have += counts[i] == 1
                while have == k:
                    if gaps[items[hi][0]] - gaps[items[lo][0]] <= self.within:
                        out.extend([ev for _, _, ev in items[lo:hi + 1]])
                    j = items[lo][1]
                    counts[j] -= 1
                    have -= counts[j] == 0
                    lo += 1
        return dedupe(out) if out else None

    def holds(self, ctx: Ctx, fields: frozenset[int]) -> bool:
        """As ``eval``, but stops at the first pair of hits near enough (inside ``none``)."""
        if missing(self.needs, ctx, self.codes):  # a needed term did not occur: before the memos
            return False
        got = ctx.results(fields).get(self, _MISSING)
        if got is not _MISSING:
            return got is not None
        # memoised with the ``holds`` answers of ``all`` (``Ctx.known``): a look-up by node, no key tuple to build
        truths = ctx.known(fields)
        known = truths.get(self)
        if known is None:
            per_item = _all_children(self, ctx, fields)
            if per_item is None:
                known = False
            elif len(per_item) == 2:
                known = self._pair(ctx, fields, per_item[0], per_item[1], True) is not None
            else:
                known = self.run(ctx, fields) is not None
            truths[self] = known
        return known  # type: ignore[no-any-return]

    def _pair(self, ctx: Ctx, fields: frozenset[int], xs: list[Ev], ys: list[Ev],
              first: bool = False) -> list[Ev] | None:
        """Two items: for each hit of the rarer one, its nearest neighbours of the other (``first``:
        stop at the first such pair)."""
        if len(xs) > len(ys):
            xs, ys = ys, xs
        by_field: dict[int, list[Ev]] = {}
        for x in xs:
            if x[0] in fields:
                by_field.setdefault(x[0], []).append(x)
        out: list[Ev] = []
        within = self.within
        for f, xs_f in by_field.items():
            ys_f, starts = _by_position(ctx, ys, f)
            if not ys_f:
                continue
            gaps = ctx.gaps(f)
            n = len(ys_f)
            for x in xs_f:
                gx = gaps[x[1]]
                i = bisect_right(starts, x[1])
                found = False
                # the nearest hit before and the nearest after; word gaps grow with the position
                if i and gx - gaps[starts[i - 1]] <= within and ys_f[i - 1] is not x:
                    out.append(ys_f[i - 1])
                    found = True
                if i < n and gaps[starts[i]] - gx <= within and ys_f[i] is not x:
                    out.append(ys_f[i])
                    found = True
                if found:
                    out.append(x)
                    if first:
                        return out
        return dedupe(out) if out else None


class SentenceNode(AllNode):
    """Every item inside one sentence; an item ``{none: X}`` rules out the sentences where X occurs (a
    sentence holding every other item and no hit of X). An X that holds without a position (``source``,
    ``language``) rules out every sentence."""

    #: the items (children other than ``none``), what the ``none`` children exclude, and the items'
    #: indexes in evaluation order (terms, set tests, before positional items); from ``children`` (``split``,
    #: again by ``compile.prepare`` once shared sub-expressions replaced them)
    def __init__(self, children: list[Node]) -> None:
        AllNode.__init__(self, children)
        self.items: list[Node] = []
        self.excluded: list[Node] = []
        self.order: tuple[int, ...] = ()
        self.split()

    def split(self) -> None:
        self.items = [c for c in self.children if type(c) is not NoneNode]
        self.excluded = [g for c in self.children if type(c) is NoneNode for g in c.children]  # type: ignore[attr-defined]
        self.order = tuple(sorted(range(len(self.items)), key=lambda i: type(self.items[i]) is not TermNode))

    def _sentences(self, ctx: Ctx, fields: frozenset[int]) -> tuple[list[dict[int, list[Ev]]], set[int]] | None:
        """Each item's hits by sentence, and the sentences holding every item and no exclusion."""
        items = self.items
        excluded = self.excluded
        if missing(self.needs, ctx, self.codes):  # an item's term did not occur: no sentence can hold them all
            return None
        keyed: list[Any] = [None] * len(items)
        common: set[int] | None = None
        for i in self.order:  # terms first; ``keyed`` (so the evidence) stays in the written order
            item = items[i]
            r = item.run(ctx, fields)
            if not r:
                return None
            by = keyed[i] = _by_sentence(ctx, r)
            # (``set.intersection`` of a dict walks all its keys: the fewer sentences left are looked up)
            common = set(by) if common is None else {k for k in common if k in by}
            if not common:  # no sentence holds the items so far: the later (costlier) ones are not run
                return keyed, common
        for child in excluded:
            if not common:
                break
            if type(child) is AnyNode:
                # its alternatives one by one, stopping when no sentence is left (not all of them
                # evaluated with their evidence first); as the whole ``any``, holding without a
                # position rules out every sentence only when no alternative has a position
                bare = False
                placed = False
                for alt in _alternatives(child):
                    if not common:
                        break
                    r = alt.run(ctx, fields)
                    if r is None:
                        continue
                    if not r:
                        bare = True
                        continue
                    placed = True
                    common.difference_update(_by_sentence(ctx, r))
                if bare and not placed and common:
                    return keyed, set()
                continue
            r = child.run(ctx, fields)
            if r is None:
                continue
            if not r:  # holds, but nowhere in particular: no sentence is free of it
                return keyed, set()
            common.difference_update(_by_sentence(ctx, r))
        return keyed, common or set()

    def eval(self, ctx: Ctx, fields: frozenset[int]) -> list[Ev] | None:
        # the boolean pass found the sentences: only the items' evidence is left (not with a quantity below,
        # whose numbers are reported even from an exclusion, so the exclusions run again)
        common = ctx.placed(fields).get(self, _MISSING) if self._has_quantity is False else _MISSING
        if common is not _MISSING:
            if common is None:
                return None
            order = ctx.sentence_keys(common)
            keyed = []
            for item in self.items:
                keyed.append(_by_sentence(ctx, item.run(ctx, fields)))  # type: ignore[arg-type]  # each item holds
            return [ev for d in keyed for key in order for ev in d[key]]
        got = self._sentences(ctx, fields)
        if got is None or not got[1]:
            return None
        keyed, common = got
        order = sorted(common)
        return [ev for d in keyed for key in order for ev in d[key]]

    def holds(self, ctx: Ctx, fields: frozenset[int]) -> bool:
        """As ``eval``, without gathering the evidence (inside ``none``, and the boolean first pass):
        ``where``, from the sentences of each item's hits."""
        if missing(self.needs, ctx, self.codes):  # an item's term did not occur: before the memos
            return False
        got = ctx.results(fields).get(self, _MISSING)
        if got is not _MISSING:
            return got is not None
        return self.where(ctx, fields) is not None

    def where(self, ctx: Ctx, fields: frozenset[int]) -> Any:
        """``_sentences``' common sentences (those its evidence lies in) as a mask, from the items' ``where``:
        the sentences of their hits, no evidence and no grouping built."""
        if missing(self.needs, ctx, self.codes):  # as in ``holds``
            return None
        places = ctx.placed(fields)
        got = places.get(self, _MISSING)
        if got is _MISSING:
            got = places[self] = self._where(ctx, fields)
        return got

    def _where(self, ctx: Ctx, fields: frozenset[int]) -> int | None:
        # the same steps as ``_sentences``, on masks of sentences in place of hits grouped by sentence (once
        # ``where`` found that ``needs`` have a hit)
        items = self.items
        common: Any = None
        for i in self.order:
            item = items[i]
            w = item.where(ctx, fields)
            if not w:
                return None
            common = w if common is None else common & w
            if not common:
                return None
        for child in self.excluded:
            if not common:
                return None
            if type(child) is AnyNode:
                bare = False
                placed = False
                for alt in _alternatives(child):
                    if not common:
                        break
                    w = alt.where(ctx, fields)
                    if w is None:
                        continue
                    if not w:
                        bare = True
                        continue
                    placed = True
                    common &= ~w
                if bare and not placed and common:
                    return None
                continue
            w = child.where(ctx, fields)
            if w is None:
                continue
            if not w:
                return None
            common &= ~w
        return common or None

    def uses_sentences(self) -> bool:
        return True


def _alternatives(node: AnyNode) -> list[Node]:
    """The alternatives of an ``any``, with those of ``any`` nodes nested in it in their place."""
    got = node._alts
    if got is None:
        got = []
        for c in node.children:
            got.extend(_alternatives(c) if type(c) is AnyNode else [c])  # type: ignore[arg-type]
        node._alts = got
    return got


class QuantityNode(Node):
    """A number right before or after a hit of ``of``; a dual suffix (صاروخين) counts 2."""

    def __init__(self, of: Node, min: float | None = None, max: float | None = None) -> None:
        self.of = of
        self.min = min
        self.max = max

    def __repr__(self) -> str:
        return f"QuantityNode(of={self.of!r}, min={self.min!r}, max={self.max!r})"

    def key(self) -> tuple[Any, ...]:
        return ("Q", self.min, self.max, self.of.key())

    def run(self, ctx: Ctx, fields: frozenset[int]) -> list[Ev] | None:
        # memoised with the numbers read, so every rule sharing this node reports them
        memo = ctx.results(fields)
        got = memo.get(self, _MISSING)
        if got is _MISSING:
            before = len(ctx.numbers)
            result = self.eval(ctx, fields)
            got = memo[self] = (result, ctx.numbers[before:])
        else:
            ctx.numbers.extend(got[1])
        return got[0]  # type: ignore[no-any-return]  # the memo holds what eval returned

    def holds(self, ctx: Ctx, fields: frozenset[int]) -> bool:
        """``run(...) is not None``; memoised, without recording the numbers again (as ``Node.holds``, which
        would read the memo's ``(result, numbers)`` pair as a result that holds)."""
        got = ctx.results(fields).get(self, _MISSING)
        if got is not _MISSING:
            return got[0] is not None  # type: ignore[no-any-return]
        return self.run(ctx, fields) is not None

    def eval(self, ctx: Ctx, fields: frozenset[int]) -> list[Ev] | None:
        evs = self.of.run(ctx, fields)
        if not evs:
            return None
        out: list[Ev] = []
        for ev in evs:
            text = ctx.texts[ev[0]]
            start = ev[1]
            while start > 0 and text[start - 1].isalnum():  # before a proclitic (وثلاثة صواريخ)
                start -= 1
            value = number_before(text, start)
            if value is None:
                value = number_after(text, word_end(text, ev[2]))
            if value is None and text[ev[2] - 2:ev[2]] in ("ان", "ين") and ev[3][-2:] not in ("ان", "ين"):
                value = 2.0
            if value is None:
                continue
            if (self.min is None or value >= self.min) and (self.max is None or value <= self.max):
                ctx.numbers.append(value)
                out.append(ev)
        return out or None

    def requires(self, cost: Cost) -> list[frozenset[int]]:
        return self.of.requires(cost)

    def term_ids(self) -> set[int]:
        return self.of.term_ids()


class RegexNode(Node):
    """A regular expression on the normalised text, bounded in time (``regex`` module timeout)."""

    def __init__(self, pattern: str, compiled: Any, timeout: float = 0.05, limit: int = 1000,
                 prefixes: tuple[str, ...] | None = None) -> None:
        self.pattern = pattern
        self.compiled = compiled
        self.timeout = timeout
        self.limit = limit
        #: literal strings of which every match starts with one (``literal_prefixes``): a field holding
        #: none of them cannot match, and is not searched
        self.prefixes = prefixes
        #: term ids (``prefix*``) of which one must occur for the regex to match (``boundary_prefixes``):
        #: lets the presearcher skip the rule when none did
        self.required: frozenset[int] | None = None
        #: term ids (``word*``, see ``regexinfo.required_words``) of which every match holds one: a field
        #: without a hit of any of them is not searched, nor a rule evaluated (presearcher) when none
        #: occurred
        self.needs: frozenset[int] | None = None
        #: the longest a match can be (None: unbounded), and whether a match never holds a line break: an
        #: attempt at a hit of ``required`` is skipped when no hit of ``needs`` starts within that reach
        self.width: int | None = None
        self.one_line = False
        #: one attempt takes a bounded number of steps (``regexinfo.max_steps``): the anchored attempts
        #: then run without a time-out each (it costs two reads of the process clock), the field's deadline
        #: is still checked between them
        self.bounded = False
        #: every match starts at the beginning of the field (``regexinfo.at_start``): one anchored match
        #: there, not a search through the field
        self.at_start = False

    def __repr__(self) -> str:
        return f"RegexNode(pattern={self.pattern!r})"

    def requires(self, cost: Cost) -> list[frozenset[int]]:
        return [s for s in (self.required, self.needs) if s]

    def key(self) -> tuple[Any, ...]:
        return ("R", self.pattern)

    def spans(self, ctx: Ctx, f: int) -> list[tuple[int, int]]:
        """Match spans in one field, computed once per article for each pattern."""
        got = ctx.regex_cache.get((self.pattern, f))
        if got is None:
            got = []
            text = ctx.texts[f]
            prefixes = self.prefixes
            try:
                if not text:
                    pass
                elif self.needs is not None and not self._needed(ctx, f):
                    pass  # no word every match holds: nothing to find
                elif self.required is not None:
                    self._at_hits(ctx, f, text, got)
                elif self.at_start:
                    m = self.compiled.match(text) if self.bounded else self.compiled.match(text, timeout=self.timeout)
                    if m is not None:
                        got.append((m.start(), m.end()))
                else:
                    # where the literal openings occur seldom, anchored attempts there (as ``_at_hits``) in place
                    # of a search through the field: a regex opening on an alternation (a \b-less Arabic branch
                    # beside the \b English ones) has no fast search of its own in the regex module
                    starts = None if prefixes is None else _occurrences(text, prefixes)
                    if starts is not None:
                        if starts:
                            self._attempts(ctx, f, text, got, starts)
                    else:
                        for m in self.compiled.finditer(text, timeout=self.timeout):
                            got.append((m.start(), m.end()))
                            if len(got) >= self.limit:
                                break
            except TimeoutError:
                ctx.regex_timeouts()
            ctx.regex_cache[(self.pattern, f)] = got
        return got

    def _at_hits(self, ctx: Ctx, f: int, text: str, got: list[tuple[int, int]]) -> None:
        """``finditer``'s matches, found by anchored matches at the hits of the ``required`` prefix
        terms only: every match starts at one of them (``boundary_prefixes``), so trying them left to
        right, skipping those inside the previous match, gives the same non-overlapping matches."""
        starts = _field_starts(ctx, self.required)[f]  # type: ignore[arg-type]  # only called when set
        if starts:
            self._attempts(ctx, f, text, got, starts)

    def _attempts(self, ctx: Ctx, f: int, text: str, got: list[tuple[int, int]], starts: list[int]) -> None:
        """``finditer``'s matches when every match starts at one of ``starts`` (ascending): an anchored match
        at each, left to right, skipping those inside the previous match (a match is never empty: it opens
        with a word or a literal)."""
        needed = self._needed(ctx, f) if self.needs is not None else None
        deadline = perf_counter() + self.timeout
        end = -1
        match = self.compiled.match
        width = self.width
        bounded = self.bounded
        n = len(text)
        for a in starts:
            if a < end:
                continue
            if needed is not None:
                # a match starting at ``a`` holds a needed word: skip the attempt when none starts
                # within its reach (the longest match, or the end of the line when it holds no break)
                i = bisect_left(needed, a)
                if i == len(needed):
                    break
                reach = n if width is None else a + width
                if self.one_line:
                    nl = text.find("\n", a, reach)
                    if nl >= 0:
                        reach = nl
                if needed[i] >= reach:
                    continue
            left = deadline - perf_counter()
            if left <= 0:
                raise TimeoutError
            m = match(text, a) if bounded else match(text, a, timeout=left)
            if m is not None:
                got.append((a, m.end()))
                end = m.end()
                if len(got) >= self.limit:
                    break

    def _needed(self, ctx: Ctx, f: int) -> list[int]:
        """Sorted starts of the hits of ``needs`` in field ``f`` (cached per article)."""
        return _field_starts(ctx, self.needs)[f]  # type: ignore[arg-type]  # only called when set

    def eval(self, ctx: Ctx, fields: frozenset[int]) -> list[Ev] | None:
        needs = self.needs
        if needs is not None and needs.isdisjoint(ctx.hit_ids) and _disjoint(needs, ctx.extra):
            return None
        out: list[Ev] | None = None
        for f in sorted(fields):
            spans = self.spans(ctx, f)
            if spans:
                if out is None:
                    out = []
                out.extend([(f, a, b, self.pattern, None, None) for a, b in spans])
        return out


def _field_starts(ctx: Ctx, ids: frozenset[int]) -> list[list[int]]:
    """For each field, the sorted starts of the hits of ``ids`` (in ``ctx.hits`` and ``ctx.extra``): one walk
    over their hits for all fields, cached per article (a regex's opening words and needed words)."""
    key = ("starts", ids)
    got = ctx.memo.get(key)
    if got is None:
        # lists, sorted and rid of repeats at the end, not sets: a few hits each (~3 per article and set on
        # the real excerpts), where three sets and their sorted copies cost more than the walk
        by: list[list[int]] = [[] for _ in range(len(FIELD_NAMES))]
        hits = ctx.hits
        for tid in ids & ctx.hit_ids:
            for hit in hits[tid]:
                by[hit[0]].append(hit[1])
        extra = ctx.extra
        if extra:
            for tid in ids:  # a few ids, many more prefilter hits: the ids are looked up
                more = extra.get(tid)
                if more is not None:
                    for hit in more:
                        by[hit[0]].append(hit[1])
        for starts in by:
            if len(starts) > 1:
                _sort_unique(starts)
        got = ctx.memo[key] = by
    return got  # type: ignore[no-any-return]


def _sort_unique(xs: list[int]) -> None:
    """Sort ``xs`` in place and drop its repeats (``sorted(set(xs))``, in place)."""
    xs.sort()
    n = len(xs)
    k = 1
    prev = xs[0]
    for i in range(1, n):
        x = xs[i]
        if x != prev:
            xs[k] = x
            k += 1
            prev = x
    if k < n:
        del xs[k:]


def _disjoint(ids: frozenset[int], extra: dict[int, Any]) -> bool:
    """``ids.isdisjoint(extra)``, looking the (few) ids up in the (larger) dict rather than walking it."""
    for tid in ids:  # noqa: SIM110  (a loop, cheaper compiled)
        if tid in extra:
            return False
    return True


#: ``RegexNode.spans`` tries a regex anchored at the occurrences of its literal openings when there are at most
#: this many in the field (each attempt is a call into the regex module), else searches the field
PREFIX_ATTEMPTS = 24


def _occurrences(text: str, prefixes: tuple[str, ...]) -> list[int] | None:
    """The positions where one of ``prefixes`` occurs in ``text``, ascending; None past ``PREFIX_ATTEMPTS``."""
    found: set[int] = set()
    for p in prefixes:
        i = text.find(p)
        while i >= 0:
            found.add(i)
            if len(found) > PREFIX_ATTEMPTS:
                return None
            i = text.find(p, i + 1)
    return sorted(found)


def _by_position(ctx: Ctx, evs: list[Ev], f: int) -> tuple[list[Ev], list[int]]:
    """The hits of ``evs`` in field ``f`` sorted by start, and their starts; cached per article
    (``evs`` is a memoised node result, alive for the whole article)."""
    key = ("pos", id(evs), f)
    got = ctx.memo.get(key)
    if got is None:
        in_f = sorted([ev for ev in evs if ev[0] == f], key=_START)
        got = ctx.memo[key] = (in_f, [ev[1] for ev in in_f])
    return got  # type: ignore[no-any-return]


def _by_sentence(ctx: Ctx, evs: list[Ev]) -> dict[int, list[Ev]]:
    """The hits of ``evs`` grouped by sentence, keyed ``field << 32 | sentence index`` (an int: cheaper to
    hash and compare than a pair, and in the same order); cached per article like ``_by_position``."""
    key = id(evs)  # an int: no other key of ``ctx.memo`` is one
    got = ctx.memo.get(key)
    if got is None:
        got = {}
        f = -1
        starts: list[int] = []
        n = 0
        # the sentence of the previous hit, ``[lo, hi)`` its span (hits come mostly in text order, so most
        # fall in it, and join its bucket without a search or a dict look-up)
        idx = lo = hi = 0
        bucket: list[Ev] = []
        for ev in evs:
            a = ev[1]
            if ev[0] != f:
                f = ev[0]
                starts = ctx.sentences(f)
                n = len(starts)
                hi = lo  # no sentence yet in this field
            elif lo <= a < hi:
                bucket.append(ev)
                continue
            idx = bisect_right(starts, a) - 1
            lo = starts[idx] if idx >= 0 else -1
            hi = starts[idx + 1] if idx + 1 < n else len(ctx.texts[f]) + 1
            k = (f << 32) + idx
            got_bucket = got.get(k)
            if got_bucket is None:
                bucket = got[k] = [ev]
            else:
                bucket = got_bucket
                bucket.append(ev)
        ctx.memo[key] = got
    return got  # type: ignore[no-any-return]


def literal_prefixes(pattern: str) -> tuple[str, ...] | None:
    """Literal strings of which every match of ``pattern`` starts with one, or None when that cannot be
    told (a class, a category or a repeat first; syntax of the ``regex`` module only; case-insensitive
    parts). ``\\b(?:base|air ?base|camp)`` gives ``("base", "air", "camp")``."""
    from re import _constants, _parser  # type: ignore[attr-defined]  # the stdlib's own parser (no stubs)

    try:
        parsed = _parser.parse(pattern)
    except Exception:  # anything it cannot parse just gets no prefilter
        return None
    if parsed.state.flags & (_constants.SRE_FLAG_IGNORECASE | _constants.SRE_FLAG_VERBOSE):
        return None
    return _prefixes(list(parsed))


def boundary_prefixes(pattern: str) -> tuple[str, ...] | None:
    """``literal_prefixes`` when every match also starts on a word boundary (the pattern opens with
    ``\\b`` or ``^`` and each prefix with a letter or digit): then each match starts where the term
    ``prefix*`` has a hit, so those terms can stand for the regex in the presearcher."""
    from re import _constants as c  # type: ignore[attr-defined]
    from re import _parser  # type: ignore[attr-defined]

    prefixes = literal_prefixes(pattern)
    if not prefixes or not all(p[:1].isalnum() for p in prefixes):
        return None
    first = next(iter(_parser.parse(pattern)))
    anchors = (c.AT_BOUNDARY, c.AT_BEGINNING, c.AT_BEGINNING_STRING)
    return prefixes if first[0] is c.AT and first[1] in anchors else None


def _prefixes(items: list[Any]) -> tuple[str, ...] | None:
    from re import _constants as c  # type: ignore[attr-defined]

    lead: list[str] = []
    for op, arg in items:
        if op is c.AT and not lead:
            continue  # anchors and boundaries take no text
        if op is c.LITERAL:
            lead.append(chr(arg))
            continue
        if lead:
            break
        if op is c.SUBPATTERN:
            _, add, _, sub = arg
            return None if add & c.SRE_FLAG_IGNORECASE else _prefixes(list(sub))
        if op is c.BRANCH:
            out: list[str] = []
            for branch in arg[1]:
                got = _prefixes(list(branch))
                if got is None:
                    return None
                out.extend(got)
            return tuple(dict.fromkeys(out)) or None
        return None
    return ("".join(lead),) if lead else None
