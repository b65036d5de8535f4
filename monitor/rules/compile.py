"""Compile the YAML of a ``match`` expression, ``score`` terms and lists into nodes.

Input is what ``monitor.rules.yamlload`` produced (mappings and sequences that know their lines);
output is a tree of ``monitor.rules.expr`` nodes whose terms are registered in the shared
``TermTable``. Every problem is appended to ``errors`` with the file and line; compilation goes on
after an error so one run reports them all.

Expression grammar (see ``docs/rules.md``): a string is a term (``"@name"`` a named list); a sequence
means ``any``; a mapping combines any of ``any``, ``all``, ``none``, ``near`` (+ ``within``),
``sentence``, ``quantity``, ``regex``, ``source``, ``language`` (all must hold), optionally scoped
by ``field``.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

import regex

from monitor.rules import expr
from monitor.rules.errors import RuleError
from monitor.rules.expr import (
    FIELD_NAMES,
    AllNode,
    AnyNode,
    FieldNode,
    LanguageNode,
    Node,
    NoneNode,
    SourceNode,
    TermNode,
)
from monitor.rules.positional import (
    NearNode,
    QuantityNode,
    RegexNode,
    SentenceNode,
    boundary_prefixes,
    literal_prefixes,
)
from monitor.rules.regexinfo import at_start, max_steps, max_width, one_line, opening_words, required_words
from monitor.rules.schema import ListBody
from monitor.rules.terms import TermSyntaxError, TermTable
from monitor.rules.yamlload import LDict, LList

EXPR_KEYS = ("any", "all", "none", "near", "within", "sentence", "quantity", "regex", "field", "source",
             "language")
DEFAULT_WITHIN = 10
_ESCAPES = regex.compile(r"\\(?:[pPN]\{[^}]*\}|.)")
#: an escaped backslash before a letter (``\\b``, ``\\w``): a literal backslash that news text never holds,
#: written by mistake for ``\b`` in single-quoted YAML (an escaped backslash after another is left alone)
_DOUBLED_ESCAPE = regex.compile(r"(?<!\\)(?:\\\\)+[A-Za-z]")
REGEX_TIMEOUT = 0.05
#: a regex whose anchored attempt takes at most this many steps runs its attempts without a time-out each
MAX_STEPS = 200_000


@dataclass(frozen=True)
class RegexFacts:
    """What the compiler reads off one ``regex`` pattern (the compiled pattern and the analyses of
    ``regexinfo`` and ``positional``): a function of the pattern string alone."""

    compiled: Any
    #: the pattern spells upper-case letters outside escapes: matched case-insensitively, no prefilters
    upper: bool
    prefixes: tuple[str, ...] | None
    starts: tuple[str, ...] | None
    opening: frozenset[str] | None
    at_start: bool
    bounded: bool
    words: frozenset[str] | None
    width: int | None
    one_line: bool


@functools.lru_cache(maxsize=4096)
def regex_facts(pattern: str) -> RegexFacts:
    """The facts of ``pattern``, computed once per pattern: a rule set repeats its patterns through YAML
    anchors and shared idioms (the shipped rules: 2,304 regex nodes, 245 distinct patterns), and each
    analysis parses the pattern again. Raises what ``regex.compile`` raises for a bad pattern."""
    # the text is already lower case: case-insensitive matching (about 2x slower) is only
    # needed when the pattern itself spells upper-case letters outside escapes (\\W, \\S …)
    upper = any(ch.isupper() for ch in _ESCAPES.sub("", pattern))
    flags = regex.UNICODE | regex.V0 | (regex.IGNORECASE if upper else 0)
    compiled = regex.compile(pattern, flags)
    words = None if upper else required_words(pattern)
    return RegexFacts(
        compiled=compiled, upper=upper,
        prefixes=None if upper else literal_prefixes(pattern),
        starts=None if upper else boundary_prefixes(pattern),
        opening=None if upper else opening_words(pattern),
        at_start=False if upper else at_start(pattern),
        bounded=max_steps(pattern) <= MAX_STEPS,
        words=words,
        width=max_width(pattern) if words else None,
        one_line=one_line(pattern) if words else False,
    )


@dataclass
class CompiledList:
    name: str
    description: str
    #: entity id -> (display name, terms as written)
    entities: dict[str, tuple[str, tuple[str, ...]]]
    info: dict[int, tuple[str, str | None, str | None]]

    def node(self) -> TermNode:
        """The list as a term node; one shared instance for every reference."""
        cached = self.__dict__.get("_node")
        if cached is None:
            cached = self.__dict__["_node"] = TermNode(label=f"@{self.name}", info=self.info)
        return cached  # type: ignore[no-any-return]


def compile_list(name: str, body: ListBody, table: TermTable, err: Any) -> CompiledList:
    """Register a list's terms; ``err(message, path)`` reports a bad term."""
    entities: dict[str, tuple[str, tuple[str, ...]]] = {}
    if body.entities is not None:
        for eid, ent in body.entities.items():
            entities[eid] = (ent.name or eid, tuple(ent.terms))
    else:
        for t in body.terms or ():
            entities[t] = (t, (t,))
    info: dict[int, tuple[str, str | None, str | None]] = {}
    for eid, (_, terms) in entities.items():
        for i, raw in enumerate(terms):
            try:
                tid = table.add(raw)
            except TermSyntaxError as exc:
                path = ("entities", eid, "terms", i) if body.entities is not None else ("terms", i)
                err(str(exc), path)
                continue
            info.setdefault(tid, (raw, name, eid))
    return CompiledList(name, body.description, entities, info)


def _count(items: Any) -> int:
    return len(items) if isinstance(items, list) else 1


def any_of(children: list[Node]) -> Node:
    """``any`` of the children, with sibling terms merged into one node (one set test, not many)."""
    terms = [c for c in children if type(c) is TermNode]
    others = [c for c in children if type(c) is not TermNode]
    if len(terms) > 1:
        info: dict[int, tuple[str, str | None, str | None]] = {}
        for t in terms:
            for tid, v in t.info.items():
                info.setdefault(tid, v)
        terms = [TermNode(label=" | ".join(t.label for t in terms), info=info)]
    merged = terms + others
    return merged[0] if len(merged) == 1 else AnyNode(merged)


_COST_ORDER = {TermNode: 0, AnyNode: 1, FieldNode: 2, AllNode: 2, SourceNode: 0, LanguageNode: 0,
               QuantityNode: 3, SentenceNode: 4, NearNode: 4, RegexNode: 5, NoneNode: 6}


def all_of(children: list[Node]) -> Node:
    """``all`` of the children, cheapest first (a conjunction fails fast on a missing term)."""
    flat: list[Node] = []
    for c in children:
        flat.extend(c.children if type(c) is AllNode else [c])  # type: ignore[attr-defined]
    flat.sort(key=_cost)
    return flat[0] if len(flat) == 1 else AllNode(flat)


def per_sentence(node: Node) -> Node:
    """An item of a ``sentence`` (or what its ``{none: [...]}`` excludes) as read inside one sentence: a
    mapping or ``all`` that holds a ``none`` (``{any: [A], none: [B]}``) becomes a nested sentence, so that
    B is ruled out in the sentence where A is, not in the whole article; the same inside ``any``
    alternatives, ``field`` and the exclusions themselves. Other nodes are returned as they are."""
    kind = type(node)
    if kind is AllNode:
        children: list[Node] = node.children  # type: ignore[attr-defined]
        if any(type(c) is NoneNode for c in children) and any(type(c) is not NoneNode for c in children):
            return SentenceNode([per_sentence(c) for c in children])
        return node
    if kind is NoneNode or kind is AnyNode:
        alts: list[Node] = node.children  # type: ignore[attr-defined]
        read = [per_sentence(c) for c in alts]
        if all(a is b for a, b in zip(read, alts, strict=True)):
            return node
        return kind(read)  # type: ignore[no-any-return]
    if kind is FieldNode:
        inner = per_sentence(node.child)  # type: ignore[attr-defined]
        return node if inner is node.child else FieldNode(node.fields, inner)  # type: ignore[attr-defined]
    return node


def _cheap(node: Node) -> bool:
    """A node evaluated without positions: terms (a set test), language, source, or ``any`` of these."""
    if type(node) is AnyNode:
        return all(_cheap(c) for c in node.children)  # type: ignore[attr-defined]
    return type(node) in (TermNode, LanguageNode, SourceNode)


def _cost(node: Node) -> int:
    """Evaluation order in ``all``. A ``none`` of cheap nodes (``none: [{language: [ar]}]``) goes before
    the positional parts, not last: it gives no evidence, so only the work skipped changes."""
    if type(node) is NoneNode and all(_cheap(c) for c in node.children):  # type: ignore[attr-defined]
        return 1
    return _COST_ORDER.get(type(node), 3)


class Compiler:
    """Compiles one rule's expressions; lists are looked up in ``local`` then ``shared``."""

    def __init__(
        self, table: TermTable, shared: dict[str, CompiledList], local: dict[str, CompiledList],
        file: str, errors: list[RuleError],
    ) -> None:
        self.table = table
        self.shared = shared
        self.local = local
        self.file = file
        self.errors = errors
        self.lists_used: set[str] = set()

    def error(self, line: int | None, message: str) -> None:
        err = RuleError(self.file, line, message)
        if err not in self.errors:  # a YAML alias repeats its node: one report per place is enough
            self.errors.append(err)

    # --- terms ---------------------------------------------------------------------------------
    def term(self, raw: Any, line: int | None) -> Node | None:
        if isinstance(raw, bool) or not isinstance(raw, str | int | float):
            self.error(line, f"a term must be a string, not {type(raw).__name__}: {raw!r}")
            return None
        raw = str(raw)
        if raw.startswith("@"):
            name = raw[1:].strip()
            lst = self.local.get(name) or self.shared.get(name)
            if lst is None:
                known = ", ".join(sorted({*self.local, *self.shared})) or "none defined"
                self.error(line, f"unknown list `@{name}` (known lists: {known})")
                return None
            self.lists_used.add(name)
            return lst.node()
        try:
            tid = self.table.add(raw)
        except TermSyntaxError as exc:
            self.error(line, str(exc))
            return None
        return TermNode(label=raw, info={tid: (raw, None, None)})

    def items(self, data: Any, line: int | None, key: str) -> list[Node]:
        if not isinstance(data, list):
            data = LList([data])
        if not data:
            self.error(line, f"`{key}` needs at least one item")
        lines = getattr(data, "item_lines", None) or [line] * len(data)
        out: list[Node] = []
        plain: dict[int, tuple[str, str | None, str | None]] = {}  # plain terms, gathered in one node
        for item, ln in zip(data, lines, strict=False):
            if type(item) is str and not item.startswith("@"):
                try:
                    plain.setdefault(self.table.add(item), (item, None, None))
                except TermSyntaxError as exc:
                    self.error(ln, str(exc))
                continue
            node = self.expr(item, ln)
            if node is not None:
                out.append(node)
        if plain:
            if key in ("any", "none"):
                out.insert(0, TermNode(label=" | ".join(v[0] for v in plain.values()), info=plain))
            else:
                out[:0] = [TermNode(label=v[0], info={tid: v}) for tid, v in plain.items()]
        return out

    # --- expressions ---------------------------------------------------------------------------
    def expr(self, data: Any, line: int | None) -> Node | None:
        if isinstance(data, LDict | dict):
            return self.mapping(data, getattr(data, "line", None) or line)
        if isinstance(data, list):
            children = self.items(data, getattr(data, "line", None) or line, "any")
            return any_of(children) if children else None
        if data is None:
            self.error(line, "empty expression")
            return None
        return self.term(data, line)

    def mapping(self, data: dict[Any, Any], line: int | None) -> Node | None:
        kl = getattr(data, "key_lines", {})
        unknown = [key for key in data if key not in EXPR_KEYS]
        for key in unknown:
            self.error(kl.get(key, line), f"unknown key `{key}` in match expression "
                       f"(allowed: {', '.join(EXPR_KEYS)})")
        if not any(k in data for k in EXPR_KEYS if k not in ("field", "within")):
            if not unknown:
                self.error(line, "a match mapping needs one of any, all, none, near, sentence, quantity, "
                           "regex, source, language")
            return None
        parts: list[Node] = []
        if "any" in data:
            parts.append(any_of(self.items(data["any"], kl.get("any", line), "any")))
        if "all" in data:
            parts.append(all_of(self.items(data["all"], kl.get("all", line), "all")))
        if "none" in data:
            parts.append(NoneNode([any_of(self.items(data["none"], kl.get("none", line), "none"))]))
        if "near" in data:
            parts.append(self.near(data, kl, line))
        elif "within" in data:
            self.error(kl.get("within", line), "`within` only goes with `near`")
        if "sentence" in data:
            items = self.items(data["sentence"], kl.get("sentence", line), "sentence")
            if _count(data["sentence"]) < 2:
                self.error(kl.get("sentence", line), "`sentence` needs at least two items")
            elif items and all(type(i) is NoneNode for i in items):
                self.error(kl.get("sentence", line), "`sentence` needs an item besides `{none: ...}`")
            parts.append(SentenceNode([per_sentence(i) for i in items]))
        if "quantity" in data:
            q = self.quantity(data["quantity"], kl.get("quantity", line))
            if q is not None:
                parts.append(q)
        if "regex" in data:
            r = self.regex(data["regex"], kl.get("regex", line))
            if r is not None:
                parts.append(r)
        if "source" in data:
            s = self.source(data["source"], kl.get("source", line))
            if s is not None:
                parts.append(s)
        if "language" in data:
            langs = data["language"]
            langs = [langs] if isinstance(langs, str) else langs
            if not isinstance(langs, list) or not all(isinstance(x, str) for x in langs) or not langs:
                self.error(kl.get("language", line), "`language` takes a language code or a list of them")
            else:
                parts.append(LanguageNode(frozenset(x.strip().lower() for x in langs)))
        node: Node = parts[0] if len(parts) == 1 else all_of(parts)
        if "field" in data:
            fields = self.fields(data["field"], kl.get("field", line))
            if fields is not None:
                node = FieldNode(fields, node)
        return node

    def near(self, data: dict[Any, Any], kl: dict[Any, int], line: int | None) -> Node:
        items = self.items(data["near"], kl.get("near", line), "near")
        if _count(data["near"]) < 2:
            self.error(kl.get("near", line), "`near` needs at least two items")
        if any(type(i) is NoneNode for i in items):
            self.error(kl.get("near", line), "`none` cannot be an item of `near` (it has no position); "
                       "exclude per sentence (`sentence: [..., {none: [...]}]`) or for the article "
                       "(`none:` beside the `near`)")
        within = data.get("within", DEFAULT_WITHIN)
        if isinstance(within, bool) or not isinstance(within, int) or within < 0:
            self.error(kl.get("within", line), f"`within` must be a whole number of words >= 0, not {within!r}")
            within = DEFAULT_WITHIN
        return NearNode(items, within=within)

    def quantity(self, data: Any, line: int | None) -> Node | None:
        if not isinstance(data, dict):
            self.error(line, "`quantity` takes a mapping: {of: TERM or [TERMS], min: N, max: N}")
            return None
        kl = getattr(data, "key_lines", {})
        for key in data:
            if key not in ("of", "min", "max"):
                self.error(kl.get(key, line), f"unknown key `{key}` in quantity (allowed: of, min, max)")
        if "of" not in data:
            self.error(line, "`quantity` needs `of`")
            return None
        bounds = {}
        for key in ("min", "max"):
            v = data.get(key)
            if v is not None and (isinstance(v, bool) or not isinstance(v, int | float) or v != v
                                  or v in (float("inf"), float("-inf"))):
                self.error(kl.get(key, line), f"quantity `{key}` must be a number, not {v!r}")
                v = None
            bounds[key] = v
        of = self.expr(data["of"], kl.get("of", line))
        if of is None:
            return None
        return QuantityNode(of, min=bounds["min"], max=bounds["max"])

    def regex(self, data: Any, line: int | None) -> Node | None:
        if not isinstance(data, str) or not data:
            self.error(line, "`regex` takes a non-empty string")
            return None
        doubled = _DOUBLED_ESCAPE.search(data)
        if doubled:
            # ``'\\b'`` in single-quoted YAML is a backslash and a ``b`` to the regex: it never matches
            # news text, so the branch would silently never fire
            got = doubled.group()
            self.error(line, f"regex `{data}` has a doubled backslash (`{got}` is a literal backslash, then "
                       f"`{got[-1]}`): in single-quoted YAML write one backslash (`\\{got[-1]}`), in double quotes two")
            return None
        try:
            facts = regex_facts(data)
        except (regex.error, ValueError, OverflowError, RecursionError) as exc:
            self.error(line, f"bad regular expression {data!r}: {exc}")
            return None
        node = RegexNode(data, facts.compiled, timeout=REGEX_TIMEOUT, prefixes=facts.prefixes)
        if facts.starts:
            try:  # the presearcher's stand-in: each match starts where one of these terms has a hit
                node.required = frozenset(self.table.add(p + "*") for p in facts.starts)
            except TermSyntaxError:  # a one-letter prefix: no stand-in, the regex runs on every article
                node.required = None
        if node.required is None and not facts.upper:
            opening = facts.opening  # past a one-letter prefix: \bب(?:غاره|…), \b(?:امريكي|اميركي)
            if opening:
                self.table.defer(lambda: _add_opening(node, opening, self.table))
            node.at_start = facts.at_start
        node.bounded = facts.bounded
        words = facts.words
        if words:
            node.width, node.one_line = facts.width, facts.one_line
            self.table.defer(lambda: _add_needs(node, words, self.table))
        return node

    def source(self, data: Any, line: int | None) -> Node | None:
        if not isinstance(data, dict):
            self.error(line, "`source` takes a mapping: {names: [...], tags: [...]}")
            return None
        kl = getattr(data, "key_lines", {})
        got: dict[str, frozenset[str]] = {}
        for key, value in data.items():
            if key not in ("names", "tags"):
                self.error(kl.get(key, line), f"unknown key `{key}` in source (allowed: names, tags)")
                continue
            values = [value] if isinstance(value, str) else value
            if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
                self.error(kl.get(key, line), f"source `{key}` takes a string or a list of strings")
                continue
            got[key] = frozenset(v.casefold() for v in values)
        if not got:
            if not data:
                self.error(line, "`source` needs `names` or `tags`")
            return None
        return SourceNode(names=got.get("names", frozenset()), tags=got.get("tags", frozenset()))

    def fields(self, data: Any, line: int | None) -> frozenset[int] | None:
        values = [data] if isinstance(data, str) else data
        if not isinstance(values, list) or not values:
            self.error(line, "`field` takes title, summary, content or a list of them")
            return None
        out = set()
        for v in values:
            if v not in FIELD_NAMES:
                self.error(line, f"unknown field {v!r} (allowed: title, summary, content)")
                continue
            out.add(FIELD_NAMES.index(v))
        return frozenset(out) if out else None


def _add_needs(node: RegexNode, words: frozenset[str], table: TermTable) -> None:
    """Every match of ``node`` holds one of ``words`` at a word start (``regexinfo.required_words``): their
    terms (``word*``) gate the regex. Added last (``TermTable.defer``), so the other terms keep their ids."""
    try:
        node.needs = frozenset(table.add(w + "*") for w in sorted(words))
    except TermSyntaxError:  # all of them or none: a partial set would lose matches
        node.needs = None


def _add_opening(node: RegexNode, words: frozenset[str], table: TermTable) -> None:
    """Every match of ``node`` starts with one of ``words`` (``regexinfo.opening_words``): their terms
    stand in for it as ``boundary_prefixes``' do. Added last (``TermTable.defer``)."""
    try:
        node.required = frozenset(table.add(w + "*") for w in sorted(words))
    except TermSyntaxError:
        node.required = None


def prepare(node: Node, seen: set[int] | None = None) -> None:
    """Fill in, under ``node``, what a conjunction tests before it runs its children: the term-id sets
    one of which, missing from the article, rules it out (``expr.needed_sets``: a ``sentence``'s of its
    items in evaluation order), and an ``all``'s ``none`` guards (``expr.none_guards``). Run once the
    term table is built (a regex's ``needs`` come from deferred terms) and shared sub-expressions are
    interned; a node is prepared once however many rules share it (pass the same ``seen``)."""
    todo = [node]
    seen = set() if seen is None else seen
    while todo:
        n = todo.pop()
        if id(n) in seen:
            continue
        seen.add(id(n))
        if isinstance(n, AnyNode):
            todo.extend(n.children)
        elif isinstance(n, QuantityNode):
            todo.append(n.of)
        elif isinstance(n, FieldNode):
            todo.append(n.child)
        if isinstance(n, AnyNode):
            expr._quantities(n)  # sets ``_has_quantity``: the evidence pass reuses the boolean pass without one
        if type(n) is SentenceNode:
            n.split()
            n.needs = expr.needed_sets([n.items[i] for i in n.order])
            n.codes = expr.needs_codes(n.needs)
        elif isinstance(n, AllNode):  # ``all`` and ``near``
            n.needs = expr.needed_sets(n.children)
            n.codes = expr.needs_codes(n.needs)
            if type(n) is AllNode:
                n.guards = expr.none_guards(n)


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
