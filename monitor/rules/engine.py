"""The matcher: a loaded ``RuleSet`` turns an ``Article`` into an ``Analysis`` (language, matches, text).

Per article, in order:

1. each field (title as is; summary and content through ``trim_boilerplate``) is normalised;
2. the language is detected on the raw text (``detect_language``), falling back to ``article.lang``;
3. one Aho-Corasick scan per field finds every term of every rule (``TermTable.scan``);
4. the presearcher picks the candidate rules: those whose trigger terms occurred, plus the rules that
   can hold without any term (pure ``regex``/``source``/``language``/``none`` rules: always evaluated),
   and drops those for which another required term group did not occur (set operations, no evaluation);
5. each enabled candidate whose ``languages`` admit the article is evaluated: the ``match`` expression
   must hold and, with ``score``, the sum of the weights of the distinct matched score terms must reach
   the threshold;
6. a ``Match`` carries the evidence mapped back to original offsets, the entities of named lists
   (canonical ids), the quantities read, and the score (weighted sum, or the number of distinct
   matched terms when the rule has no ``score``);
7. when the folder has a learned check (``monitor.rules.learned``), it reads the normalised text and may
   withdraw matches (``Analysis.vetoed``) or add ``<tag>.learned`` matches for tags no rule found — a tag
   with ``rescue_needs`` only where that expression holds (``Analysis.unmet``: the tags whose needs did not).

Pure: no I/O, no clocks, no global state; safe to share between threads (nothing is mutated).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from operator import itemgetter
from typing import Any

from monitor.models import SEVERITY_ORDER, Article, Match
from monitor.rules.expr import FIELD_NAMES, Ctx, Ev, Node, TermNode, missing, needs_codes, scope_of
from monitor.rules.learned import LearnedModel
from monitor.rules.schema import EventSpec, ExamplesSpec, SeverityBoost, VolumeSpec
from monitor.rules.terms import TermTable
from monitor.text import warm
from monitor.text.boilerplate import trim_boilerplate
from monitor.text.folding import Normalized, normalize
from monitor.text.lang import SAMPLE, detect_language

MAX_EVIDENCE = 20
PER_TERM = 3
SNIPPET = 60
_MATCH: Callable[[dict[str, Any]], Match] = Match.__pydantic_validator__.validate_python
_EV_ORDER = itemgetter(0, 1, 2)
_ALL_FIELDS = scope_of(range(len(FIELD_NAMES)))


@dataclass(frozen=True)
class Entity:
    id: str
    name: str
    terms: tuple[str, ...]


@dataclass(frozen=True)
class TermList:
    """A named list: entities with canonical ids and their spellings."""

    name: str
    description: str
    entities: dict[str, Entity]
    file: str = ""


@dataclass(frozen=True, eq=False)
class Rule:
    id: str
    version: str
    title: str
    description: str
    severity: str
    tags: tuple[str, ...]
    languages: tuple[str, ...]
    enabled: bool
    fields: tuple[str, ...]
    file: str = ""
    line: int | None = None
    event: EventSpec | None = None
    min_sources: int | None = None
    severity_boost: SeverityBoost | None = None
    volume: VolumeSpec | None = None
    examples: ExamplesSpec | None = None
    expr: Node | None = field(default=None, repr=False)
    score_terms: tuple[tuple[TermNode, float], ...] = field(default=(), repr=False)
    threshold: float | None = None
    triggers: frozenset[int] | None = field(default=None, repr=False)
    requires: tuple[frozenset[int], ...] = field(default=(), repr=False)
    scope: frozenset[int] = field(default=frozenset((0, 1, 2)), repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "scope", scope_of(FIELD_NAMES.index(f) for f in self.fields))


@dataclass(frozen=True)
class Analysis:
    lang: str
    matches: list[Match]
    text: str
    #: ids of the rules the presearcher let through (evaluated), in rule order
    evaluated: tuple[str, ...] = ()
    #: matches the learned check withdrew, and its probability for each tag it knows (empty without one)
    vetoed: tuple[Match, ...] = ()
    probabilities: dict[str, float] = field(default_factory=dict)
    #: the tags whose ``rescue_needs`` did not hold here: the learned check may not add them
    unmet: frozenset[str] = frozenset()


class RuleSet:
    """Rules and lists loaded from a folder, compiled into one automaton. Build with ``load_rules``."""

    def __init__(self, rules: list[Rule], lists: dict[str, TermList], table: TermTable,
                 source_hash: str = "", learned: LearnedModel | None = None,
                 rescue_needs: dict[str, Node] | None = None) -> None:
        warm()
        #: the learned check (None: the folder has none); ``learned.mode`` may be ``off``
        self.learned = learned
        #: tag -> what must hold in an article before the learned check may add the tag there
        self.rescue_needs: dict[str, Node] = dict(rescue_needs or {})
        self.rules: tuple[Rule, ...] = tuple(rules)
        self.lists = lists
        self.source_hash = source_hash
        self._table = table
        self._index = {r.id: i for i, r in enumerate(self.rules)}
        self._by_term: dict[int, list[int]] = {}
        #: each rule's ``requires`` as ``needs_codes`` (for ``missing``)
        self._codes = [needs_codes(r.requires) for r in self.rules]
        always: list[int] = []
        for i, rule in enumerate(self.rules):
            if not rule.enabled:
                continue
            if rule.triggers is None:
                always.append(i)
            else:
                for tid in rule.triggers:
                    self._by_term.setdefault(tid, []).append(i)
        self._always = frozenset(always)
        # a rescued tag's severity: the highest of the enabled rules carrying it
        self._severity: dict[str, str] = {}
        for rule in self.rules:
            for t in rule.tags if rule.enabled else ():
                old = self._severity.get(t)
                if old is None or SEVERITY_ORDER[rule.severity] > SEVERITY_ORDER[old]:
                    self._severity[t] = rule.severity

    @property
    def enabled(self) -> tuple[Rule, ...]:
        return tuple(r for r in self.rules if r.enabled)

    def get(self, rule_id: str) -> Rule | None:
        return next((r for r in self.rules if r.id == rule_id), None)

    def trigger_keys(self, rule: Rule) -> list[str] | None:
        """The normalised keys of the terms whose occurrence makes the engine evaluate ``rule``; ``None``
        when it is evaluated on every article (what the archive's backtest prefilter reads)."""
        if rule.triggers is None:
            return None
        return [self._table.terms[tid].key for tid in rule.triggers]

    # --- matching ------------------------------------------------------------------------------
    def match(self, article: Article) -> list[Match]:
        return self.analyse(article).matches

    def analyse(self, article: Article, *, only: frozenset[str] | None = None) -> Analysis:
        """Run the pipeline on one article (``only``: evaluate just these rule ids, enabled or not)."""
        raw = (article.title, trim_boilerplate(article.summary), trim_boilerplate(article.content))
        norms = [normalize(t) for t in raw]
        texts = [n.text for n in norms]
        lang = detect_language(f"{article.title}\n{article.summary[:SAMPLE]}\n{article.content[:SAMPLE]}")
        lang = lang or article.lang.strip().lower()[:8]
        hits: dict[int, list[tuple[int, int, int]]] = {}
        scan = self._table.scan_field
        for f, norm in enumerate(norms):
            if norm.text:
                scan(norm.text, norm.mask, f, hits)
        late = self._table.late
        # the regex prefilters' own terms: out of ``hits``, which then holds what it held without them
        extra = {tid: hits.pop(tid) for tid in late.intersection(hits)} if late else {}
        if only is not None:
            candidates = sorted(self._index[r] for r in only if r in self._index)
        else:
            found = set(self._always)
            by_term = self._by_term
            for tid in hits:
                rules = by_term.get(tid)
                if rules:
                    found.update(rules)
            for tid in extra:  # a regex's needed words can be a rule's trigger too
                rules = by_term.get(tid)
                if rules:
                    found.update(rules)
            candidates = sorted(found)
        ctx = Ctx(texts, hits, article, lang, extra)
        matches = []
        evaluated = []
        for i in candidates:
            rule = self.rules[i]
            if rule.languages and lang not in rule.languages:
                continue
            if only is None and missing(rule.requires, ctx, self._codes[i]):
                continue  # a required term group did not occur: cannot hold
            evaluated.append(rule.id)
            m = self._evaluate(rule, ctx, norms, raw)
            if m is not None:
                matches.append(m)
        text = "\n".join(t for t in texts if t)
        unmet = frozenset(t for t, need in self.rescue_needs.items() if not need.holds(ctx, _ALL_FIELDS))
        learned = self.learned
        if learned is not None and learned.active and only is None:
            def rescued(tag: str, p: float, words: list[str]) -> Match:
                return self._rescued(learned, tag, p, words, norms, raw)

            verdict = learned.apply(text, matches, rescued, unmet)
            return Analysis(lang=lang, matches=verdict.matches, text=text, evaluated=tuple(evaluated),
                            vetoed=verdict.vetoed, probabilities=verdict.probabilities, unmet=unmet)
        return Analysis(lang=lang, matches=matches, text=text, evaluated=tuple(evaluated), unmet=unmet)

    def _rescued(self, learned: LearnedModel, tag: str, p: float, words: list[str], norms: list[Normalized],
                 raw: tuple[str, ...]) -> Match:
        """The match of a tag the learned check added: rule ``<tag>.learned``, the probability as its
        score, the words that weighed most as its evidence (their first occurrence in each field)."""
        evs: list[Ev] = []
        for word in words:
            pattern = re.compile(r"(?<![^\W_])" + re.escape(word) + r"(?![^\W_])")
            for f, norm in enumerate(norms):
                hit = pattern.search(norm.text)
                if hit:
                    evs.append((f, hit.start(), hit.end(), word, None, None))
                    break
        return _MATCH({
            "rule": f"{tag}.learned", "rule_version": learned.version,
            "title": f"Learned check: {tag}", "tags": (tag,), "severity": self._severity.get(tag, "medium"),
            "score": round(p, 4), "evidence": _evidence(evs, norms, raw), "entities": {}, "numbers": (),
        })

    def _evaluate(self, rule: Rule, ctx: Ctx, norms: list[Normalized], raw: tuple[str, ...]) -> Match | None:
        scope = rule.scope
        # the boolean first pass: whether the rule holds, without building evidence (``Node.holds``, and
        # the score as below from the terms' ``holds``); only a rule that does is evaluated again with its
        # evidence (most rules the presearcher lets through do not match)
        if rule.expr is not None and not rule.expr.holds(ctx, scope):
            return None
        if rule.threshold is not None:
            total = 0.0
            for node, weight in rule.score_terms:
                if node.absent(ctx):
                    continue
                if node.holds(ctx, scope):
                    total += weight
            if total < rule.threshold:
                return None
        ctx.numbers = []  # those a quantity recorded in the first pass are recorded again below
        evidence: list[Ev] = []
        if rule.expr is not None:
            got = rule.expr.run(ctx, scope)
            if got is None:
                return None
            evidence.extend(got)
        if rule.threshold is not None:
            total = 0.0
            for node, weight in rule.score_terms:
                if node.absent(ctx):
                    continue
                got = node.eval(ctx, scope)
                if got:
                    total += weight
                    if weight > 0:
                        evidence.extend(got)
            if total < rule.threshold:
                return None
            score = total
        else:
            score = float(len({ev[3] for ev in evidence}))
        # one validation of plain data in pydantic-core (Rust) for the match and all its evidence:
        # faster than building each Evidence through BaseModel.__init__, and faster than model_construct
        return _MATCH({
            "rule": rule.id,
            "rule_version": rule.version,
            "title": rule.title,
            "tags": rule.tags,
            "severity": rule.severity,
            "score": round(score, 4),
            "evidence": _evidence(evidence, norms, raw),
            "entities": _entities(evidence),
            "numbers": tuple(dict.fromkeys(ctx.numbers)),
        })


def _evidence(evs: list[Ev], norms: list[Normalized], raw: tuple[str, ...]) -> list[dict[str, Any]]:
    """Evidence as plain mappings (validated with the match): in field and text order, at most
    ``PER_TERM`` occurrences of one term per field and ``MAX_EVIDENCE`` in all."""
    out: list[dict[str, Any]] = []
    seen: set[tuple[int, int, int]] = set()
    per_term: dict[tuple[int, str], int] = {}
    # the field of the evidence before and what mapping back to the original reads of it (as
    # ``Normalized.span``, inlined: its two ``to_original`` calls were half of this function's instructions)
    last = -1
    pos: Any = None
    size = 0
    original = ""
    for f, a, b, written, lst, ent in sorted(evs, key=_EV_ORDER):
        if (f, a, b) in seen:
            continue
        seen.add((f, a, b))
        n = per_term.get((f, written), 0)
        if n >= PER_TERM:  # a few occurrences of each term per field say enough; keeps room for others
            continue
        per_term[(f, written)] = n + 1
        if f != last:
            last = f
            original = raw[f]
            size = len(norms[f].text)
            pos = norms[f].pos if size else None
        start, end = _span(pos, size, len(original), a, b)
        lo = max(0, start - SNIPPET)
        hi = min(len(original), end + SNIPPET)
        snippet = " ".join(original[lo:hi].split())
        out.append({
            "term": written, "matched": original[start:end], "field": FIELD_NAMES[f],
            "start": start, "end": end,
            "snippet": ("…" if lo else "") + snippet + ("…" if hi < len(original) else ""),
            "list": lst, "entity": ent,
        })
        if len(out) >= MAX_EVIDENCE:
            break
    return out


def _span(pos: Any, size: int, length: int, a: int, b: int) -> tuple[int, int]:
    """``Normalized.span(a, b)`` from the field's ``pos`` (``size``: the normalised text's length, ``length``:
    the original's): the same clamping and the same ends as ``Normalized.to_original``."""
    if size == 0:
        return 0, length
    i = a if a < size else size
    if i < 0:
        i = 0
    start = int(pos[i]) if i < size else length
    j = b if b < size else size
    if j < 0:
        j = 0
    end = int(pos[j - 1]) + 1 if j > 0 else 0
    return start, end if end > start else start


def _entities(evs: list[Ev]) -> dict[str, tuple[str, ...]]:
    out: dict[str, dict[str, None]] = {}
    for ev in evs:
        if ev[4] is not None and ev[5] is not None:
            out.setdefault(ev[4], {})[ev[5]] = None
    return {k: tuple(v) for k, v in out.items()}


def article_from(data: dict[str, Any], default_id: str = "example") -> Article:
    """An ``Article`` from a loose mapping (examples, JSON Lines): unknown keys are dropped."""
    keep = {k: v for k, v in data.items() if k in Article.model_fields or k == "schema"}
    keep.setdefault("id", default_id)
    if "tags" in keep and isinstance(keep["tags"], list):
        keep["tags"] = tuple(keep["tags"])
    return Article.model_validate(keep)
