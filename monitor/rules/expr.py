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
evaluating it. Positional nodes (near, sentence, quantity, regex) are in ``monitor.rules.positional``;
the compiler from YAML, and the sharing of equal sub-expressions, in ``monitor.rules.compile``.
"""

from __future__ import annotations

from array import array
from bisect import bisect_right
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from monitor.text.folding import gaps as word_gaps
from monitor.text.segment import sentence_starts

if TYPE_CHECKING:
    from monitor.models import Article

Ev = tuple[int, int, int, str, str | None, str | None]
Cost = Callable[[frozenset[int]], float]
FIELD_NAMES = ("title", "summary", "content")


class Ctx:
    """What nodes read while one article is evaluated (built by ``RuleSet.analyse``)."""

    def __init__(self, texts: list[str], hits: dict[int, list[tuple[int, int, int]]], article: Article,
                 lang: str, extra: dict[int, list[tuple[int, int, int]]] | None = None) -> None:
        self.texts = texts
        self.hits = hits
        self.hit_ids = frozenset(hits)
        #: ``hit_ids`` as a bit mask (``id_mask``): one integer ``&`` tells whether a term node has a hit,
        #: in place of a set test that looks up each id (most term nodes have none)
        bits = id_bits(list(hits))
        self.hit_mask = int.from_bytes(bits, "little")
        #: the same bits as bytes (``TermNode.where`` walks its ``code`` against them)
        self.hit_bits = bits
        #: hits of the terms only regex prefilters use (``TermTable.late``), kept out of ``hits``
        self.extra = extra if extra is not None else {}
        #: the ids of ``hits`` and ``extra`` as bits (bit ``i & 7`` of byte ``i >> 3``), for ``missing``
        self.flags = id_bits([*hits, *self.extra]) if self.extra else bits
        self.source = article.source
        self.tags = frozenset(t.casefold() for t in article.tags)
        self.lang = lang
        self.numbers: list[float] = []
        self._sent: dict[int, list[int]] = {}
        self._gaps: dict[int, array[int]] = {}
        #: what each node's ``run`` returned, by field scope then node (no key to build per call)
        self.runs: dict[frozenset[int], dict[Node, Any]] = {}
        #: other per-article caches (positional nodes), keyed on tuples (on ints: ``positional._by_sentence``)
        self.memo: dict[Any, Any] = {}
        self.regex_cache: dict[tuple[str, int], list[tuple[int, int]]] = {}
        self.timeouts = 0
        #: the boolean first pass (``Node.holds``, ``Node.where``): what ``holds`` answered for the nodes that
        #: memoise it, and the sentences ``where`` found, by field scope then node; each term id's sentences;
        #: the sentences of each field scope (all as bit masks, ``sentence_bit``)
        self.truths: dict[frozenset[int], dict[Node, bool]] = {}
        self.places: dict[frozenset[int], dict[Node, Any]] = {}
        self.tsents: dict[int, int] = {}
        self.scope_bits: dict[frozenset[int], int] = {}
        #: the scope last asked of ``results``, ``known`` and ``placed`` and its memo: most calls ask the scope of
        #: the call before (scopes are shared objects, ``scope_of``), found by identity without a dict look-up
        self._runs_scope: Any = None
        self._runs_last: dict[Node, Any] = {}
        self._known_scope: Any = None
        self._known_last: dict[Node, bool] = {}
        self._placed_scope: Any = None
        self._placed_last: dict[Node, Any] = {}

    def results(self, fields: frozenset[int]) -> dict[Node, Any]:
        """The memo of node results for one field scope (``Node.run``)."""
        if fields is self._runs_scope:
            return self._runs_last
        got = self.runs.get(fields)
        if got is None:
            got = self.runs[fields] = {}
        self._runs_scope = fields
        self._runs_last = got
        return got

    def known(self, fields: frozenset[int]) -> dict[Node, bool]:
        """The memo of ``holds`` answers for one field scope."""
        if fields is self._known_scope:
            return self._known_last
        got = self.truths.get(fields)
        if got is None:
            got = self.truths[fields] = {}
        self._known_scope = fields
        self._known_last = got
        return got

    def placed(self, fields: frozenset[int]) -> dict[Node, Any]:
        """The memo of ``where`` answers for one field scope."""
        if fields is self._placed_scope:
            return self._placed_last
        got = self.places.get(fields)
        if got is None:
            got = self.places[fields] = {}
        self._placed_scope = fields
        self._placed_last = got
        return got

    def sentence_base(self, f: int) -> int:
        """The bit of the first sentence of field ``f`` in a mask of sentences: the sentences of the article,
        field after field, are bits 0, 1, 2, … of one integer (in the order of ``positional._by_sentence``'s
        keys)."""
        base = 0
        for g in range(f):
            base += len(self.sentences(g))
        return base

    def fields_mask(self, fields: frozenset[int]) -> int:
        """The sentences of the fields in ``fields`` as a mask (cached per scope)."""
        got = self.scope_bits.get(fields)
        if got is None:
            got = 0
            for f in fields:
                got |= ((_ONE << len(self.sentences(f))) - 1) << self.sentence_base(f)
            self.scope_bits[fields] = got
        return got

    def term_sentences(self, tid: int) -> int:
        """The sentences holding a hit of term ``tid``, in every field, as a mask (cached per article)."""
        got = self.tsents.get(tid)
        if got is None:
            got = 0
            f = -1
            base = 0
            starts: list[int] = []
            n = lo = hi = 0
            # the sentence of the previous hit, ``[lo, hi)`` its span: hits come mostly in text order, so most
            # fall in it (as ``positional._by_sentence``)
            for hit in self.hits[tid]:
                hf = hit[0]
                a = hit[1]
                if hf != f:
                    f = hf
                    starts = self.sentences(f)
                    n = len(starts)
                    base = self.sentence_base(f)
                elif lo <= a < hi:
                    continue
                idx = _sentence_index(starts, a)
                lo = starts[idx]
                hi = starts[idx + 1] if idx + 1 < n else len(self.texts[f]) + 1
                got |= _ONE << (base + idx)
            self.tsents[tid] = got
        return got

    def sentence_keys(self, mask: int) -> list[int]:
        """The sentences of a mask as ``positional._by_sentence`` keys them (``field << 32 | index``), in
        ascending order."""
        out = []
        base = 0
        for f in range(len(FIELD_NAMES)):
            n = len(self.sentences(f))
            part = (mask >> base) & ((_ONE << n) - 1)
            while part:
                low = part & -part
                out.append((f << 32) + low.bit_length() - 1)
                part ^= low
            base += n
        return out

    def sentences(self, f: int) -> list[int]:
        s = self._sent.get(f)
        if s is None:
            s = self._sent[f] = sentence_starts(self.texts[f])
        return s

    def gaps(self, f: int) -> array[int]:
        """``gaps[p]``: word gaps (spaces, line breaks) before position ``p`` of field ``f``; the number
        of words between two positions is the difference (computed once per field, on first ``near``)."""
        g = self._gaps.get(f)
        if g is None:
            g = self._gaps[f] = word_gaps(self.texts[f])
        return g

    def regex_timeouts(self) -> None:
        self.timeouts += 1


try:
    import cython
except ImportError:  # not installed: this module runs as plain Python
    COMPILED = False
else:
    #: whether this module runs compiled (``setup.py``): a few tests then take a C-friendly form
    COMPILED = bool(cython.compiled)

_MISSING: Any = object()
#: 1 as a Python int, for the masks of sentences (``Ctx.sentence_base``): compiled, ``1 << n`` of a C integer
#: would be a shift of a C integer, which overflows past 63 sentences
_ONE: Any = 1
#: one frozenset object per field scope (``scope_of``): the memo of node results is keyed on the scope, and
#: a dict finds a key by identity before it compares two equal sets
_SCOPES: dict[frozenset[int], frozenset[int]] = {
    s: s for s in (frozenset(i for i in range(len(FIELD_NAMES)) if n >> i & 1) for n in range(1 << len(FIELD_NAMES)))
}


def scope_of(fields: Iterable[int]) -> frozenset[int]:
    """The shared frozenset of these field indexes (``_SCOPES``)."""
    s = frozenset(fields)
    return _SCOPES.get(s, s)
#: a term node with at most this many ids tests them as a set, not as a mask (``TermNode.mask``)
FEW_IDS = 8


def _sentence_index(starts: list[int], a: int) -> int:
    """``bisect_right(starts, a) - 1``: the sentence holding position ``a`` (compiled, a search in C, not a
    call of ``bisect``)."""
    if not COMPILED:
        return bisect_right(starts, a) - 1
    lo = 0
    hi = len(starts)
    while lo < hi:
        mid = (lo + hi) >> 1
        at = starts[mid]
        if a < at:
            hi = mid
        else:
            lo = mid + 1
    return lo - 1


def _bits(ctx: Ctx, evs: list[Ev]) -> int:
    """The sentences of ``evs`` as a mask (``Ctx.sentence_base``)."""
    out = 0
    f = -1
    base = 0
    starts: list[int] = []
    for ev in evs:
        if ev[0] != f:
            f = ev[0]
            starts = ctx.sentences(f)
            base = ctx.sentence_base(f)
        out |= _ONE << (base + _sentence_index(starts, ev[1]))
    return out


def id_bits(ids: list[int]) -> bytearray:
    """The term ids as bits: bit ``i & 7`` of byte ``i >> 3`` set for id ``i``."""
    if not ids:
        return bytearray()
    top = 0
    for i in ids:  # ``max``, as a loop (compiled, over C integers)
        if i > top:
            top = i
    buf = bytearray((top >> 3) + 1)
    for i in ids:
        buf[i >> 3] |= 1 << (i & 7)
    return buf


def id_mask(ids: Iterable[int]) -> int:
    """The term ids as the bits of one integer (bit ``i`` set for id ``i``)."""
    return int.from_bytes(id_bits(list(ids)), "little")


class Node:
    """Every node is evaluated at most once per article and field scope (``run``; shared sub-expressions,
    see ``compile.intern``). Memoised results also stay alive for the whole article, so caches keyed on
    their ``id`` are safe."""

    def eval(self, ctx: Ctx, fields: frozenset[int]) -> list[Ev] | None:
        raise NotImplementedError

    def run(self, ctx: Ctx, fields: frozenset[int]) -> list[Ev] | None:
        """``eval``, memoised per article. Results are never mutated."""
        memo = ctx.results(fields)
        got = memo.get(self, _MISSING)
        if got is _MISSING:
            got = memo[self] = self.eval(ctx, fields)
        return got  # type: ignore[no-any-return]  # the memo holds what eval returned

    def holds(self, ctx: Ctx, fields: frozenset[int]) -> bool:
        """Whether the node holds, when its evidence is not needed (inside ``none``, and the boolean first
        pass of a rule, ``RuleSet._evaluate``): ``run(...) is not None``, without building evidence where
        the node can tell otherwise."""
        got = ctx.results(fields).get(self, _MISSING)
        if got is not _MISSING:
            return got is not None
        return self.run(ctx, fields) is not None

    def where(self, ctx: Ctx, fields: frozenset[int]) -> Any:
        """The boolean pass inside a ``sentence``: None when the node does not hold, else the sentences its
        evidence lies in, as a bit mask (``Ctx.sentence_base``; the keys of ``positional._by_sentence`` of
        ``run``'s result; 0 when it holds without a position), from term positions where the node can."""
        r = self.run(ctx, fields)
        if r is None:
            return None
        if not r:
            return 0
        return _bits(ctx, r)

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


class TermNode(Node):
    """A term, or a named list (any of its spellings). ``info[id] = (written, list, entity)``."""

    def __init__(self, label: str, info: dict[int, tuple[str, str | None, str | None]]) -> None:
        self.label = label
        self.info = info
        self.ids = frozenset(info)
        #: ``ids`` as a bit mask when there are many of them (a set test looks up each, up to the number of
        #: hits); 0 for a few, tested as a set (cheaper than a mask as long as the term table)
        self.mask = id_mask(self.ids) if len(self.ids) > FEW_IDS else 0
        #: with ``mask``, ``ids`` as ``needs_codes`` (b"" when they do not fit): the compiled ``where`` finds the
        #: ids with a hit by walking it against ``Ctx.hit_bits``, not by intersecting two sets
        codes = needs_codes([self.ids]) if self.mask else ()
        self.code = codes[0] if codes else b""
        self._key: tuple[Any, ...] | None = None

    def __repr__(self) -> str:
        return f"TermNode(label={self.label!r}, info={self.info!r})"

    def absent(self, ctx: Ctx) -> bool:
        """No term of the node has a hit in the article."""
        mask = self.mask
        if mask:
            return not mask & ctx.hit_mask
        return self.ids.isdisjoint(ctx.hit_ids)

    def eval(self, ctx: Ctx, fields: frozenset[int]) -> list[Ev] | None:
        mask = self.mask
        hit_ids = ctx.hit_ids
        if mask:
            if not mask & ctx.hit_mask:
                return None
        elif self.ids.isdisjoint(hit_ids):
            return None
        out: list[Ev] = []
        hits = ctx.hits
        info = self.info
        every_field = len(fields) == len(FIELD_NAMES)
        for tid in self.ids & hit_ids:
            w, lst, ent = info[tid]
            if every_field:
                out += [(f, a, b, w, lst, ent) for f, a, b in hits[tid]]
            else:
                out += [(f, a, b, w, lst, ent) for f, a, b in hits[tid] if f in fields]
        return out or None

    def holds(self, ctx: Ctx, fields: frozenset[int]) -> bool:
        """``eval(...) is not None`` without building the evidence: a hit in one of ``fields``."""
        mask = self.mask
        hit_ids = ctx.hit_ids
        if mask:
            if not mask & ctx.hit_mask:
                return False
        elif self.ids.isdisjoint(hit_ids):
            return False
        if len(fields) == len(FIELD_NAMES):  # a hit in any field will do: there is one
            return True
        hits = ctx.hits
        code = self.code
        if COMPILED and code:
            # the ids with a hit from the bytes of ``code`` against the hits' (as ``where``), not a set
            # intersection: whether one has a hit in ``fields`` does not depend on the order they come in
            bits = ctx.hit_bits
            n = len(bits)
            m = len(code)
            p = 0
            while p < m:
                j = code[p] | (code[p + 1] << 8)
                if j >= n:
                    break
                both = bits[j] & code[p + 2]
                k = 0
                while both:
                    if both & 1:
                        for hit in hits[(j << 3) | k]:
                            if hit[0] in fields:
                                return True
                    both >>= 1
                    k += 1
                p += 3
            return False
        for tid in self.ids & hit_ids:
            for f, _, _ in hits[tid]:
                if f in fields:
                    return True
        return False

    def where(self, ctx: Ctx, fields: frozenset[int]) -> Any:
        mask = self.mask
        if mask:
            if not mask & ctx.hit_mask:
                return None
        elif self.ids.isdisjoint(ctx.hit_ids):
            return None
        places = ctx.placed(fields)
        got = places.get(self, _MISSING)
        if got is not _MISSING:
            return got
        out = 0
        code = self.code
        if COMPILED and code:
            # the bytes of ``code`` against those of the hits, in C (the same ids as the intersection below)
            bits = ctx.hit_bits
            n = len(bits)
            m = len(code)
            p = 0
            while p < m:
                j = code[p] | (code[p + 1] << 8)
                if j >= n:  # ascending: the later bytes are past the hits too
                    break
                both = bits[j] & code[p + 2]
                k = 0
                while both:
                    if both & 1:
                        out |= ctx.term_sentences((j << 3) | k)
                    both >>= 1
                    k += 1
                p += 3
        else:
            for tid in self.ids & ctx.hit_ids:
                out |= ctx.term_sentences(tid)
        if len(fields) != len(FIELD_NAMES):
            out &= ctx.fields_mask(fields)
        got = places[self] = out if out else None
        return got

    def requires(self, cost: Cost) -> list[frozenset[int]]:
        return [self.ids]

    def key(self) -> tuple[Any, ...]:
        k = self._key
        if k is None:
            k = self._key = ("T", frozenset(self.info.items()))
        return k

    def term_ids(self) -> set[int]:
        return set(self.info)


class AnyNode(Node):
    def __init__(self, children: list[Node]) -> None:
        self.children = children
        #: the alternatives with those of nested ``any`` nodes in their place (``positional._alternatives``)
        self._alts: list[Node] | None = None
        #: whether a quantity is evaluated somewhere under the node (``_quantities``)
        self._has_quantity: bool | None = None

    def __repr__(self) -> str:
        return f"{type(self).__name__}(children={self.children!r})"

    def eval(self, ctx: Ctx, fields: frozenset[int]) -> list[Ev] | None:
        # every alternative that holds contributes its evidence: inside `near` or `sentence`, any of
        # them may be the one next to the other items (sibling terms and lists are merged into one child)
        out: list[Ev] | None = None
        shared = True  # ``out`` is still a child's memoised result: copy before extending
        child: Node
        sub: AnyNode
        scoped: FieldNode
        for child in self.children:
            if isinstance(child, AllNode):
                # a conjunction (``all``, ``near``, ``sentence``) asked first without its evidence (the
                # boolean pass, cheaper when it fails); not with a quantity below, which records numbers
                sub = child
                if sub._has_quantity is False and not child.holds(ctx, fields):
                    continue
            elif type(child) is FieldNode:
                # the same for a conjunction under ``field`` (a headline's ``sentence``): its ``holds`` leaves
                # the sentences found for ``run`` to reuse, where ``run`` alone would group every item's hits
                scoped = child
                if scoped._has_quantity is False and not child.holds(ctx, fields):
                    continue
            r = child.run(ctx, fields)
            if r is None:
                continue
            if out is None:
                out = r
            else:
                if shared:
                    out = list(out)
                    shared = False
                out += r
        return out

    def holds(self, ctx: Ctx, fields: frozenset[int]) -> bool:
        if type(self) is not AnyNode:
            return Node.holds(self, ctx, fields)
        got = ctx.results(fields).get(self, _MISSING)
        if got is not _MISSING:
            return got is not None
        child: Node
        for child in self.children:  # noqa: SIM110  (the first that holds is enough; a loop, cheaper compiled)
            if child.holds(ctx, fields):
                return True
        return False

    def where(self, ctx: Ctx, fields: frozenset[int]) -> Any:
        if type(self) is not AnyNode:
            return Node.where(self, ctx, fields)
        places = ctx.placed(fields)
        got = places.get(self, _MISSING)
        if got is not _MISSING:
            return got
        out: Any = None
        child: Node
        for child in self.children:
            w = child.where(ctx, fields)
            if w is None:
                continue
            out = w if out is None else out | w
        places[self] = out
        return out

    def requires(self, cost: Cost) -> list[frozenset[int]]:
        acc: set[int] = set()
        for child in self.children:
            sets = child.requires(cost)
            if not sets:
                return []
            cheapest = min(sets, key=cost)
            acc |= cheapest
        return [frozenset(acc)]

    def term_ids(self) -> set[int]:
        return set().union(*(c.term_ids() for c in self.children)) if self.children else set()

    def key(self) -> tuple[Any, ...]:
        extra = getattr(self, "within", None)
        return (type(self).__name__, extra, tuple(c.key() for c in self.children))

    def uses_sentences(self) -> bool:
        return any(c.uses_sentences() for c in self.children)


class AllNode(AnyNode):
    def __init__(self, children: list[Node]) -> None:
        AnyNode.__init__(self, children)
        #: term-id sets of which each must have a hit for the children to hold (``needed_sets``), and the
        #: cheap alternatives of its costly ``none`` children (``none_guards``): filled in once the rule set
        #: is built (``compile.prepare``); empty, the node is evaluated in full, with the same result
        self.needs: tuple[frozenset[int], ...] = ()
        #: ``needs`` as ``needs_codes`` (what the compiled ``missing`` reads), set with them
        self.codes: tuple[bytes, ...] = ()
        self.guards: tuple[Node, ...] = ()

    def eval(self, ctx: Ctx, fields: frozenset[int]) -> list[Ev] | None:
        # the boolean pass found that it does not hold (not with a quantity below: the children run for the
        # numbers they record); ``_has_quantity`` is set by ``compile.prepare``
        if self._has_quantity is False and ctx.known(fields).get(self) is False:
            return None
        if missing(self.needs, ctx, self.codes):  # a later child's term cannot occur: fails before any runs
            return None
        guard: Node
        for guard in self.guards:  # a cheap alternative of a costly ``none`` holds: fails before the rest runs
            if guard.holds(ctx, fields):
                return None
        out: list[Ev] = []
        child: Node
        for child in self.children:
            r = child.run(ctx, fields)
            if r is None:
                return None
            out += r
        return out

    def holds(self, ctx: Ctx, fields: frozenset[int]) -> bool:
        """As ``eval``, stopping at the first child that does not hold, without any evidence."""
        if type(self) is not AllNode:
            return Node.holds(self, ctx, fields)
        # a needed term that did not occur answers before the memos are looked up (most alternatives of a
        # rule's ``any`` stop here; a memoised answer could only be the same)
        if missing(self.needs, ctx, self.codes):
            return False
        got = ctx.results(fields).get(self, _MISSING)
        if got is not _MISSING:
            return got is not None
        known = ctx.known(fields)
        truth = known.get(self)
        if truth is None:
            truth = known[self] = self._holds(ctx, fields)
        return truth  # type: ignore[no-any-return]

    def _holds(self, ctx: Ctx, fields: frozenset[int]) -> bool:
        """``holds`` once ``needs`` have a hit."""
        guard: Node
        for guard in self.guards:
            if guard.holds(ctx, fields):
                return False
        child: Node
        for child in self.children:  # noqa: SIM110  (a loop, not a generator: cheaper compiled)
            if not child.holds(ctx, fields):
                return False
        return True

    def where(self, ctx: Ctx, fields: frozenset[int]) -> Any:
        if type(self) is not AllNode:
            return Node.where(self, ctx, fields)
        if missing(self.needs, ctx, self.codes):  # as in ``holds``: before the memo
            return None
        places = ctx.placed(fields)
        got = places.get(self, _MISSING)
        if got is not _MISSING:
            return got
        out: Any = None
        guard: Node
        for guard in self.guards:
            if guard.holds(ctx, fields):
                break
        else:
            child: Node
            for child in self.children:
                w = child.where(ctx, fields)
                if w is None:
                    out = None
                    break
                out = w if out is None else out | w
        places[self] = out
        return out

    def requires(self, cost: Cost) -> list[frozenset[int]]:
        return [s for c in self.children for s in c.requires(cost)]


class NoneNode(AnyNode):
    def eval(self, ctx: Ctx, fields: frozenset[int]) -> list[Ev] | None:
        child: Node
        for child in self.children:
            if child.holds(ctx, fields):
                return None
        return []

    def requires(self, cost: Cost) -> list[frozenset[int]]:
        return []


class FieldNode(Node):
    def __init__(self, fields: frozenset[int], child: Node) -> None:
        self.fields = scope_of(fields)
        self.child = child
        self._has_quantity: bool | None = None

    def __repr__(self) -> str:
        return f"FieldNode(fields={self.fields!r}, child={self.child!r})"

    def key(self) -> tuple[Any, ...]:
        return ("F", tuple(sorted(self.fields)), self.child.key())

    def eval(self, ctx: Ctx, fields: frozenset[int]) -> list[Ev] | None:
        return self.child.run(ctx, self.fields)

    def holds(self, ctx: Ctx, fields: frozenset[int]) -> bool:
        got = ctx.results(fields).get(self, _MISSING)
        if got is not _MISSING:
            return got is not None
        return self.child.holds(ctx, self.fields)

    def where(self, ctx: Ctx, fields: frozenset[int]) -> Any:
        return self.child.where(ctx, self.fields)

    def requires(self, cost: Cost) -> list[frozenset[int]]:
        return self.child.requires(cost)

    def term_ids(self) -> set[int]:
        return self.child.term_ids()

    def uses_sentences(self) -> bool:
        return self.child.uses_sentences()


class SourceNode(Node):
    """The article's source (feed name) is one of ``names`` and it has one of ``tags`` (each if given)."""

    def __init__(self, names: frozenset[str] = frozenset(), tags: frozenset[str] = frozenset()) -> None:
        self.names = names
        self.tags = tags

    def __repr__(self) -> str:
        return f"SourceNode(names={self.names!r}, tags={self.tags!r})"

    def key(self) -> tuple[Any, ...]:
        return ("S", tuple(sorted(self.names)), tuple(sorted(self.tags)))

    def eval(self, ctx: Ctx, fields: frozenset[int]) -> list[Ev] | None:
        if self.names and ctx.source.casefold() not in self.names:
            return None
        if self.tags and not (self.tags & ctx.tags):
            return None
        return []


class LanguageNode(Node):
    def __init__(self, langs: frozenset[str]) -> None:
        self.langs = langs

    def __repr__(self) -> str:
        return f"LanguageNode(langs={self.langs!r})"

    def key(self) -> tuple[Any, ...]:
        return ("L", tuple(sorted(self.langs)))

    def eval(self, ctx: Ctx, fields: frozenset[int]) -> list[Ev] | None:
        return [] if ctx.lang in self.langs else None


def _cheap(node: Node, scoped: bool = True) -> bool:
    """Holds or not from set tests alone: terms, language, source, and ``any`` (with ``scoped``, also
    ``field``) of these."""
    if type(node) is AnyNode:
        return all(_cheap(c, scoped) for c in node.children)  # type: ignore[attr-defined]
    if type(node) is FieldNode:
        return scoped and _cheap(node.child)  # type: ignore[attr-defined]
    return type(node) in (TermNode, LanguageNode, SourceNode)


def _quantities(node: Node) -> bool:
    """Whether a quantity is evaluated somewhere under ``node`` (it records the numbers it reads); kept on
    the node (``_has_quantity``), as shared sub-expressions are asked again and again."""
    if type(node).__name__ == "QuantityNode":
        return True
    if not isinstance(node, (AnyNode, FieldNode)):
        return False
    got = node._has_quantity
    if got is None:
        inner = node.children if isinstance(node, AnyNode) else [node.child]
        got = node._has_quantity = any(_quantities(c) for c in inner)
    return got


def none_guards(node: AllNode) -> tuple[Node, ...]:
    """The cheap alternatives of the costly ``none`` children of an ``all``: when one holds, that ``none``
    fails, so the ``all`` does, and its costlier children need not run. A ``none`` made only of cheap
    nodes is already evaluated early (``compile.all_of``); an ``all`` holding a ``quantity`` gets no
    guard (a skipped quantity would not record the numbers it reads)."""
    if any(_quantities(c) for c in node.children):
        return ()
    out: list[Node] = []
    for child in node.children:
        if type(child) is not NoneNode or all(_cheap(c, False) for c in child.children):  # type: ignore[attr-defined]
            continue
        todo = list(child.children)  # type: ignore[attr-defined]
        while todo:
            alt = todo.pop(0)
            if type(alt) is AnyNode:
                todo[:0] = alt.children  # type: ignore[attr-defined]
            elif _cheap(alt):
                out.append(alt)
    return tuple(out)


def needed_sets(children: list[Node]) -> tuple[frozenset[int], ...]:
    """Term-id sets of which each must have a hit for all ``children`` to hold (their ``requires``): tested
    before the children run, so a conjunction whose later child cannot hold fails without running the
    earlier (costlier) ones; smallest first. None when a ``quantity`` is among them (a skipped quantity would not record
    the numbers it reads); a first child that is a term tests its own set when it runs first anyway."""
    if any(_quantities(c) for c in children):
        return ()
    sets: dict[frozenset[int], None] = {}
    for i, child in enumerate(children):
        if i == 0 and type(child) is TermNode:
            continue
        for s in child.requires(len):
            sets[s] = None
    return tuple(sorted(sets, key=len))


def needs_codes(sets: Iterable[frozenset[int]]) -> tuple[bytes, ...]:
    """Each set of term ids as the bytes the compiled ``missing`` reads: for each byte of the id bits
    (``id_bits``: bit ``i & 7`` of byte ``i >> 3``) holding one of its ids, in ascending order, the byte's
    index (two bytes, little-endian) then its bits. ``()`` when an id is too large for two bytes of index
    (``missing`` then tests the sets themselves)."""
    out = []
    for s in sets:
        by: dict[int, int] = {}
        for i in s:
            by[i >> 3] = by.get(i >> 3, 0) | 1 << (i & 7)
        if by and max(by) > 0xFFFF:
            return ()
        out.append(bytes([x for j in sorted(by) for x in (j & 0xFF, j >> 8, by[j])]))
    return tuple(out)


def missing(sets: tuple[frozenset[int], ...], ctx: Ctx, codes: tuple[bytes, ...] = ()) -> bool:
    """Whether one of ``sets`` (``needed_sets``) has no hit in the article (nor among the regex
    prefilters' own terms, ``ctx.extra``). Set tests, not masks: most sets do have a hit, and the test
    stops at the first one it finds. ``codes``: the same sets as ``needs_codes`` (compiled, a loop over
    bytes in C in place of the set's ids)."""
    if not sets:
        return False
    hit_ids = ctx.hit_ids
    extra = ctx.extra
    if COMPILED:
        # the same test in C: each id of a set against the bits of ``ctx.flags`` (the ids of ``hits`` and
        # ``extra``); with its code, each byte of the set's id bits against the byte of ``flags``
        flags = ctx.flags
        n = len(flags)
        if len(codes) == len(sets):
            for code in codes:
                m = len(code)
                p = 0
                hit = False
                while p < m:
                    j = code[p] | (code[p + 1] << 8)
                    if j >= n:  # ascending: the later bytes are past the hits too
                        break
                    if flags[j] & code[p + 2]:
                        hit = True
                        break
                    p += 3
                if not hit:
                    return True
            return False
        big = len(hit_ids) + len(extra)
        for s in sets:
            if len(s) > big:
                if s.isdisjoint(hit_ids) and (not extra or s.isdisjoint(extra)):
                    return True
                continue
            hit = False
            for i in s:
                j = i >> 3
                if j < n and (flags[j] >> (i & 7)) & 1:
                    hit = True
                    break
            if not hit:
                return True
        return False
    for s in sets:  # noqa: SIM110  (a loop, not a generator: cheaper compiled)
        if s.isdisjoint(hit_ids) and (not extra or s.isdisjoint(extra)):
            return True
    return False


def dedupe(evs: list[Ev]) -> list[Ev]:
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
    "Cost",
    "Ctx",
    "Ev",
    "FieldNode",
    "LanguageNode",
    "Node",
    "NoneNode",
    "SourceNode",
    "TermNode",
    "dedupe",
    "scope_of",
]
