"""Positional nodes: ``near``, ``sentence``, ``quantity`` and ``regex`` (see ``monitor.rules.expr``).

They look at *where* hits are, in the normalised field text: word distances (whitespace gaps), sentence
indexes (``monitor.text.segment``), numbers next to a hit (``monitor.text.numbers``) and regex spans
(cached per article and pattern). Hits sorted by position and grouped by sentence are cached per
article, keyed on the memoised node results they come from.
"""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass
from typing import Any

from monitor.rules.expr import _MISSING, AllNode, Cost, Ctx, Ev, Node, dedupe
from monitor.rules.terms import word_end
from monitor.text.numbers import number_after, number_before


def _all_children(node: AllNode, ctx: Ctx, fields: frozenset[int]) -> list[list[Ev]] | None:
    """Each child's evidence, or None as soon as one child does not hold."""
    per_item = []
    for child in node.children:
        r = child.run(ctx, fields)
        if not r:
            return None
        per_item.append(r)
    return per_item


@dataclass(eq=False)
class NearNode(AllNode):
    """Every item within ``within`` words of the others, in any order, in one field."""

    within: int = 10

    def eval(self, ctx: Ctx, fields: frozenset[int]) -> list[Ev] | None:
        per_item = _all_children(self, ctx, fields)
        if per_item is None:
            return None
        if len(per_item) == 2:
            return self._pair(ctx, fields, per_item[0], per_item[1])
        out: list[Ev] = []
        k = len(per_item)
        for f in fields:
            items = sorted((ev[1], i, ev) for i, evs in enumerate(per_item) for ev in evs if ev[0] == f)
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
                        out.extend(ev for _, _, ev in items[lo:hi + 1])
                    j = items[lo][1]
                    counts[j] -= 1
                    have -= counts[j] == 0
                    lo += 1
        return dedupe(out) if out else None

    def _pair(self, ctx: Ctx, fields: frozenset[int], xs: list[Ev], ys: list[Ev]) -> list[Ev] | None:
        """Two items: for each hit of the rarer one, its nearest neighbours of the other."""
        if len(xs) > len(ys):
            xs, ys = ys, xs
        out: list[Ev] = []
        for f in fields:
            ys_f, starts = _by_position(ctx, ys, f)
            if not ys_f:
                continue
            gaps = ctx.gaps(f)
            for x in xs:
                if x[0] != f:
                    continue
                i = bisect_right(starts, x[1])
                found = False
                for j in (i - 1, i):  # nearest before and after; positions order words
                    near = 0 <= j < len(ys_f) and abs(gaps[starts[j]] - gaps[x[1]]) <= self.within
                    if near and ys_f[j] is not x:
                        out.append(ys_f[j])
                        found = True
                if found:
                    out.append(x)
        return dedupe(out) if out else None


@dataclass(eq=False)
class SentenceNode(AllNode):
    """Every item inside one sentence."""

    def eval(self, ctx: Ctx, fields: frozenset[int]) -> list[Ev] | None:
        per_item = _all_children(self, ctx, fields)
        if per_item is None:
            return None
        keyed = [_by_sentence(ctx, evs) for evs in per_item]
        common = set(keyed[0]).intersection(*keyed[1:])
        if not common:
            return None
        return [ev for d in keyed for key in sorted(common) for ev in d[key]]

    def uses_sentences(self) -> bool:
        return True


@dataclass(eq=False)
class QuantityNode(Node):
    """A number right before or after a hit of ``of``; a dual suffix (صاروخين) counts 2."""

    of: Node
    min: float | None = None
    max: float | None = None

    def key(self) -> tuple[Any, ...]:
        return ("Q", self.min, self.max, self.of.key())

    def run(self, ctx: Ctx, fields: frozenset[int]) -> list[Ev] | None:
        # memoised with the numbers read, so every rule sharing this node reports them
        key = (id(self), fields)
        got = ctx.memo.get(key, _MISSING)
        if got is _MISSING:
            before = len(ctx.numbers)
            result = self.eval(ctx, fields)
            got = ctx.memo[key] = (result, ctx.numbers[before:])
        else:
            ctx.numbers.extend(got[1])
        return got[0]

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


@dataclass(eq=False)
class RegexNode(Node):
    """A regular expression on the normalised text, bounded in time (``regex`` module timeout)."""

    pattern: str
    compiled: Any
    timeout: float = 0.05
    limit: int = 1000

    def key(self) -> tuple[Any, ...]:
        return ("R", self.pattern)

    def spans(self, ctx: Ctx, f: int) -> list[tuple[int, int]]:
        """Match spans in one field, computed once per article for each pattern."""
        got = ctx.regex_cache.get((self.pattern, f))
        if got is None:
            got = []
            text = ctx.texts[f]
            if text:
                try:
                    for m in self.compiled.finditer(text, timeout=self.timeout):
                        got.append((m.start(), m.end()))
                        if len(got) >= self.limit:
                            break
                except TimeoutError:
                    ctx.regex_timeouts()
            ctx.regex_cache[(self.pattern, f)] = got
        return got

    def eval(self, ctx: Ctx, fields: frozenset[int]) -> list[Ev] | None:
        out: list[Ev] | None = None
        for f in sorted(fields):
            spans = self.spans(ctx, f)
            if spans:
                if out is None:
                    out = []
                out.extend((f, a, b, self.pattern, None, None) for a, b in spans)
        return out


def _by_position(ctx: Ctx, evs: list[Ev], f: int) -> tuple[list[Ev], list[int]]:
    """The hits of ``evs`` in field ``f`` sorted by start, and their starts; cached per article
    (``evs`` is a memoised node result, alive for the whole article)."""
    key = ("pos", id(evs), f)
    got = ctx.memo.get(key)
    if got is None:
        in_f = sorted((ev for ev in evs if ev[0] == f), key=lambda ev: ev[1])
        got = ctx.memo[key] = (in_f, [ev[1] for ev in in_f])
    return got  # type: ignore[no-any-return]


def _by_sentence(ctx: Ctx, evs: list[Ev]) -> dict[tuple[int, int], list[Ev]]:
    """The hits of ``evs`` grouped by (field, sentence index); cached per article like ``_by_position``."""
    key = ("sent", id(evs), 0)
    got = ctx.memo.get(key)
    if got is None:
        got = {}
        for ev in evs:
            s = bisect_right(ctx.sentences(ev[0]), ev[1]) - 1
            got.setdefault((ev[0], s), []).append(ev)
        ctx.memo[key] = got
    return got  # type: ignore[no-any-return]
