"""The match expression: nodes, and how each is evaluated on one article.

A node's ``eval(ctx, fields)`` returns ``None`` when it does not hold, else the evidence that makes it
hold (a possibly empty list of ``Ev`` tuples: field index, start, end in the normalised field, the
term as written, list name, entity id). ``fields`` is the set of field indexes in scope (0 title,
1 summary, 2 content). Term hits come precomputed from the automaton (``ctx.hits``); nodes only combine
them, so an article costs one scan plus the evaluation of the rules whose terms occurred.

``requires(cost)`` is the presearcher's view of a node: sets of term ids such that the node can only
hold when *every* set has a hit (a conjunction of disjunctions; ``[]`` when it can hold without any
term: ``none``, ``regex``, ``source``, ``language``). ``all`` concatenates its children's sets; ``any``
unions the cheapest set of each child. The loader indexes each rule under its cheapest set (the rarest
terms, as Luwak's presearcher does) and tests the other sets with C-speed set operations before
evaluating it. The compiler from YAML lives in ``monitor.rules.compile``.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from monitor.rules.terms import word_end
from monitor.text.numbers import number_after, number_before
from monitor.text.segment import sentence_starts, words_between

Ev = tuple[int, int, int, str, str | None, str | None]
Cost = Callable[[frozenset[int]], float]
FIELD_NAMES = ("title", "summary", "content")


class Ctx(Protocol):
    texts: Sequence[str]
    hits: dict[int, list[tuple[int, int, int]]]
    hit_ids: frozenset[int]
    source: str
    tags: frozenset[str]
    lang: str
    numbers: list[float]
    memo: dict[tuple[Any, ...], Any]
    regex_cache: dict[tuple[str, int], list[tuple[int, int]]]

    def sentences(self, f: int) -> list[int]: ...

    def regex_timeouts(self) -> None: ...


_MISSING: Any = object()


class Node:
    #: evaluated at most once per article and field scope (shared sub-expressions, see ``intern``).
    #: Memoised results also stay alive for the whole article, so caches keyed on their ``id`` are safe.
    memo = True

    def eval(self, ctx: Ctx, fields: frozenset[int]) -> list[Ev] | None:
        raise NotImplementedError

    def run(self, ctx: Ctx, fields: frozenset[int]) -> list[Ev] | None:
        """``eval``, memoised per article for the costly node kinds. Results are never mutated."""
        if not self.memo:
            return self.eval(ctx, fields)
        key = (id(self), fields)
        got = ctx.memo.get(key, _MISSING)
        if got is _MISSING:
            got = ctx.memo[key] = self.eval(ctx, fields)
        return got

    def key(self) -> tuple[Any, ...]:
        """Structural identity: equal keys evaluate identically (used to share nodes across rules)."""
        return (type(self).__name__, id(self))

    def requires(self, cost: Cost) -> list[frozenset[int]]:
        """Sets of term ids of which each must have a hit for the node to hold ([] = none needed)."""
        return []

    def term_ids(self) -> set[int]:
        return set()

    def uses_sentences(self) -> bool:
        return False


@dataclass(eq=False)
class TermNode(Node):
    """A term, or a named list (any of its spellings). ``info[id] = (written, list, entity)``."""

    label: str
    info: dict[int, tuple[str, str | None, str | None]]
    ids: frozenset[int] = field(default=frozenset(), init=False)

    def __post_init__(self) -> None:
        self.ids = frozenset(self.info)

    def eval(self, ctx: Ctx, fields: frozenset[int]) -> list[Ev] | None:
        if self.ids.isdisjoint(ctx.hit_ids):
            return None
        out: list[Ev] | None = None
        hits = ctx.hits
        info = self.info
        for tid in self.ids & ctx.hit_ids:
            written, lst, ent = info[tid]
            for f, a, b in hits[tid]:
                if f in fields:
                    if out is None:
                        out = []
                    out.append((f, a, b, written, lst, ent))
        return out

    def requires(self, cost: Cost) -> list[frozenset[int]]:
        return [self.ids]

    def key(self) -> tuple[Any, ...]:
        k = self.__dict__.get("_key")
        if k is None:
            k = self.__dict__["_key"] = ("T", frozenset(self.info.items()))
        return k  # type: ignore[no-any-return]

    def term_ids(self) -> set[int]:
        return set(self.info)


@dataclass(eq=False)
class AnyNode(Node):
    children: list[Node]

    def eval(self, ctx: Ctx, fields: frozenset[int]) -> list[Ev] | None:
        out: list[Ev] | None = None
        for child in self.children:
            r = child.run(ctx, fields)
            if r is not None:
                out = r if out is None else out + r
        return out

    def requires(self, cost: Cost) -> list[frozenset[int]]:
        acc: set[int] = set()
        for child in self.children:
            sets = child.requires(cost)
            if not sets:
                return []
            acc |= min(sets, key=cost)
        return [frozenset(acc)]

    def term_ids(self) -> set[int]:
        return set().union(*(c.term_ids() for c in self.children)) if self.children else set()

    def key(self) -> tuple[Any, ...]:
        extra = getattr(self, "within", None)
        return (type(self).__name__, extra, tuple(c.key() for c in self.children))

    def uses_sentences(self) -> bool:
        return any(c.uses_sentences() for c in self.children)


@dataclass(eq=False)
class AllNode(AnyNode):
    def eval(self, ctx: Ctx, fields: frozenset[int]) -> list[Ev] | None:
        out: list[Ev] = []
        for child in self.children:
            r = child.run(ctx, fields)
            if r is None:
                return None
            out += r
        return out

    def requires(self, cost: Cost) -> list[frozenset[int]]:
        return [s for c in self.children for s in c.requires(cost)]


@dataclass(eq=False)
class NoneNode(AnyNode):
    def eval(self, ctx: Ctx, fields: frozenset[int]) -> list[Ev] | None:
        for child in self.children:
            if child.run(ctx, fields) is not None:
                return None
        return []

    def requires(self, cost: Cost) -> list[frozenset[int]]:
        return []


@dataclass(eq=False)
class NearNode(AllNode):
    """Every item within ``within`` words of the others, in any order, in one field."""

    within: int = 10

    def eval(self, ctx: Ctx, fields: frozenset[int]) -> list[Ev] | None:
        per_item = []
        for child in self.children:
            r = child.run(ctx, fields)
            if not r:
                return None
            per_item.append(r)
        if len(per_item) == 2:
            return self._pair(ctx, fields, per_item[0], per_item[1])
        out: list[Ev] = []
        k = len(per_item)
        for f in fields:
            items = sorted((ev[1], i, ev) for i, evs in enumerate(per_item) for ev in evs if ev[0] == f)
            if len({i for _, i, _ in items}) < k:
                continue
            text = ctx.texts[f]
            counts = [0] * k
            have = 0
            lo = 0
            for hi in range(len(items)):
                i = items[hi][1]
                counts[i] += 1
                have += counts[i] == 1
                while have == k:
                    if words_between(text, items[lo][0], items[hi][0]) <= self.within:
                        out.extend(ev for _, _, ev in items[lo:hi + 1])
                    j = items[lo][1]
                    counts[j] -= 1
                    have -= counts[j] == 0
                    lo += 1
        return _dedupe(out) if out else None

    def _pair(self, ctx: Ctx, fields: frozenset[int], xs: list[Ev], ys: list[Ev]) -> list[Ev] | None:
        """Two items: for each hit of the rarer one, its nearest neighbours of the other."""
        if len(xs) > len(ys):
            xs, ys = ys, xs
        out: list[Ev] = []
        for f in fields:
            ys_f, starts = _by_position(ctx, ys, f)
            if not ys_f:
                continue
            text = ctx.texts[f]
            for x in xs:
                if x[0] != f:
                    continue
                i = bisect_right(starts, x[1])
                found = False
                for j in (i - 1, i):  # nearest before and after; positions order words
                    near = 0 <= j < len(ys_f) and words_between(text, x[1], starts[j]) <= self.within
                    if near and ys_f[j] is not x:
                        out.append(ys_f[j])
                        found = True
                if found:
                    out.append(x)
        return _dedupe(out) if out else None


@dataclass(eq=False)
class SentenceNode(AllNode):
    """Every item inside one sentence."""

    def eval(self, ctx: Ctx, fields: frozenset[int]) -> list[Ev] | None:
        per_item = []
        for child in self.children:
            r = child.run(ctx, fields)
            if not r:
                return None
            per_item.append(r)
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


@dataclass(eq=False)
class FieldNode(Node):
    fields: frozenset[int]
    child: Node

    def key(self) -> tuple[Any, ...]:
        return ("F", tuple(sorted(self.fields)), self.child.key())

    def eval(self, ctx: Ctx, fields: frozenset[int]) -> list[Ev] | None:
        return self.child.run(ctx, self.fields)

    def requires(self, cost: Cost) -> list[frozenset[int]]:
        return self.child.requires(cost)

    def term_ids(self) -> set[int]:
        return self.child.term_ids()

    def uses_sentences(self) -> bool:
        return self.child.uses_sentences()


@dataclass(eq=False)
class SourceNode(Node):
    """The article's source (feed name) is one of ``names`` and it has one of ``tags`` (each if given)."""

    names: frozenset[str] = field(default_factory=frozenset)
    tags: frozenset[str] = field(default_factory=frozenset)

    def key(self) -> tuple[Any, ...]:
        return ("S", tuple(sorted(self.names)), tuple(sorted(self.tags)))

    def eval(self, ctx: Ctx, fields: frozenset[int]) -> list[Ev] | None:
        if self.names and ctx.source.casefold() not in self.names:
            return None
        if self.tags and not (self.tags & ctx.tags):
            return None
        return []


@dataclass(eq=False)
class LanguageNode(Node):
    langs: frozenset[str]

    def key(self) -> tuple[Any, ...]:
        return ("L", tuple(sorted(self.langs)))

    def eval(self, ctx: Ctx, fields: frozenset[int]) -> list[Ev] | None:
        return [] if ctx.lang in self.langs else None


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


def intern(node: Node, seen: dict[tuple[Any, ...], Node]) -> Node:
    """The canonical instance of ``node``: structurally equal sub-expressions of all rules become one
    object, so a memoised node (near, sentence, quantity, regex) is evaluated once per article."""
    if isinstance(node, AnyNode):
        node.children = [intern(c, seen) for c in node.children]
    elif isinstance(node, QuantityNode):
        node.of = intern(node.of, seen)
    elif isinstance(node, FieldNode):
        node.child = intern(node.child, seen)
    return seen.setdefault(node.key(), node)


def _dedupe(evs: list[Ev]) -> list[Ev]:
    seen: set[tuple[int, int, int]] = set()
    out = []
    for ev in evs:
        k = (ev[0], ev[1], ev[2])
        if k not in seen:
            seen.add(k)
            out.append(ev)
    return out


__all__ = [
    "FIELD_NAMES",
    "AllNode",
    "AnyNode",
    "Ctx",
    "Ev",
    "FieldNode",
    "LanguageNode",
    "NearNode",
    "Node",
    "NoneNode",
    "QuantityNode",
    "RegexNode",
    "SentenceNode",
    "SourceNode",
    "TermNode",
    "intern",
    "sentence_starts",
]
