"""Events: the matches of one rule that report the same real-world happening, and what to alert.

In: a ``Sighting`` (one rule matched one article: its time, source, copy group and the rule's canonical
entity ids, numbers and dates) and the rule's ``EventPolicy``. Out: an ``EventDecision`` saying which
event it belongs to and whether to raise a ``new`` alert, an ``update``, nothing (``suppress``) or
nothing yet (``pending``, corroboration not reached).

How a sighting finds its event, in order:
1. Key evidence: the entity ids of the policy's key lists (default: the match's lists that are entity
   lists, with canonical ids, as opposed to plain-term lists whose "ids" are words of one language;
   see ``adapt.entity_lists``). Entity ids are language-independent, so an Arabic and an English report
   of one attack on ``ain-al-asad`` carry the same key. A sighting with no key evidence can only join
   by copy group.
2. Candidates: open events of the same rule that share a key or the sighting's copy group and whose
   start is within ``window_s`` of the sighting (events do not stretch: an event lasts at most one
   window from its first report, so two attacks on one base on different days are two events).
3. Compatibility: for every key list both sides name, they must share an entity (different bases do
   not join); when both carry dates, they must share one. A copy of an article of the event always joins.
4. Best candidate: most shared keys, then earliest start, then event id. None: a new event whose id is
   derived from the rule and the first article.

Kinds: an event alerts once, when it has ``min_sources`` distinct sources (``new``); before that its
sightings are ``pending``. After it, a sighting is an ``update`` when it brings a new source, a new
fact (a number, date or entity of an entity list not seen in the event) or raises the severity (``severity_boost``);
a copy of a story already in the event, or anything that adds nothing, is ``suppress`` (its source is
still counted). A redelivered (rule, article) returns the kind it got the first time.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from monitor.cluster.memory_store import ClusterStore
from monitor.cluster.records import EventRecord
from monitor.models import SEVERITY_ORDER, Severity, stable_id

EventKind = Literal["new", "update", "suppress", "pending"]
_SEP = "\x1f"
_MAX_ARTICLES = 1000  # per event, for redelivery answers; later articles are still counted by source


@dataclass(frozen=True, slots=True)
class EventPolicy:
    """What a rule says about grouping its matches (see ``policy_for_rule``)."""

    keys: tuple[str, ...] | None = None  # key lists; None = the match's lists in ``default_keys``
    default_keys: frozenset[str] | None = None  # lists eligible as default keys; None = every list
    window_s: float = 6 * 3600
    min_sources: int = 1
    boost_sources: int | None = None
    boost_severity: Severity | None = None

    def __post_init__(self) -> None:
        if self.window_s <= 0:
            raise ValueError(f"event window must be positive, not {self.window_s}")
        if self.min_sources < 1:
            raise ValueError(f"min_sources must be at least 1, not {self.min_sources}")

    def key_lists(self, entities: Mapping[str, object]) -> tuple[str, ...]:
        """The lists whose entities are key evidence for a match (or an event) with these lists."""
        if self.keys is not None:
            return self.keys
        return tuple(sorted(ln for ln in entities if self.default_keys is None or ln in self.default_keys))


@dataclass(frozen=True, slots=True)
class Sighting:
    """One rule matched one article: the plain values the tracker needs."""

    rule: str
    article_id: str
    at: float  # article time, unix seconds
    source: str
    copy_group: str = ""
    severity: Severity = "medium"
    entities: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    numbers: tuple[float, ...] = ()
    dates: tuple[str, ...] = ()  # ISO days the rule extracted, e.g. "2024-01-20"


@dataclass(frozen=True, slots=True)
class Fact:
    """Something an article adds to its event: ``kind`` number|date|entity, ``list`` for entities."""

    kind: Literal["number", "date", "entity"]
    value: str
    list: str = ""


@dataclass(frozen=True, slots=True)
class EventDecision:
    event_id: str
    kind: EventKind
    severity: Severity
    source_count: int
    sources: tuple[str, ...]
    new_facts: tuple[Fact, ...] = ()
    first_article: str = ""
    articles: int = 1  # sightings in the event so far, this one included
    repeat: bool = False  # this (rule, article) was decided before: the same kind, no new facts

    @property
    def alert(self) -> bool:
        """True when the processor should produce an Alert (kind new or update)."""
        return self.kind in ("new", "update")


def _number(v: float) -> str:
    return str(int(v)) if float(v).is_integer() else repr(float(v))


def _key(rule: str, kind: str, value: str) -> str:
    return f"{rule}{_SEP}{kind}{_SEP}{value}"


class EventTracker:
    """Event grouping over a ``ClusterStore``; see the module doc."""

    def __init__(self, store: ClusterStore) -> None:
        self.store = store

    def decide(self, s: Sighting, policy: EventPolicy) -> EventDecision:
        """Place one sighting in its event, remember it, and say what to alert."""
        self.store.advance(s.at)
        keys = self._evidence(s, policy)
        lookup = self.lookup_keys(s, policy, keys)
        best: tuple[tuple[int, float, str], EventRecord] | None = None
        for ev in self.store.events_by_keys(lookup):
            if ev.rule != s.rule:
                continue
            done = dict(ev.articles).get(s.article_id)
            if done is not None:  # redelivery
                return self._decision(ev, done, (), repeat=True)
            shared = self._joins(ev, s, keys, policy)
            if shared is None:
                continue
            rank = (-shared, ev.start, ev.event_id)
            if best is None or rank < best[0]:
                best = (rank, ev)
        if best is None:
            return self._open(s, policy, keys)
        return self._join(best[1], s, policy, keys)

    def lookup_keys(self, s: Sighting, policy: EventPolicy, evidence: list[tuple[str, str]] | None = None) -> list[str]:
        """The store keys ``decide`` looks events up by (for a caller that reads ahead for many)."""
        keys = [_key(s.rule, "e", f"{ln}{_SEP}{e}") for ln, e in (evidence or self._evidence(s, policy))]
        if s.copy_group:
            keys.append(_key(s.rule, "c", s.copy_group))
        return keys

    # --- evidence -----------------------------------------------------------------------------
    @staticmethod
    def _evidence(s: Sighting, policy: EventPolicy) -> list[tuple[str, str]]:
        return sorted({(ln, e) for ln in policy.key_lists(s.entities) for e in s.entities.get(ln, ())})

    @staticmethod
    def _joins(ev: EventRecord, s: Sighting, keys: list[tuple[str, str]], policy: EventPolicy) -> int | None:
        """How many key entities ``s`` shares with ``ev``, or None when it may not join it."""
        if abs(s.at - ev.start) > policy.window_s:
            return None
        if s.copy_group and s.copy_group in ev.copy_groups:
            return len(keys) + 1
        mine: dict[str, set[str]] = {}
        for ln, e in keys:
            mine.setdefault(ln, set()).add(e)
        shared = 0
        for ln, ids in mine.items():
            theirs = ev.entities.get(ln)
            if not theirs:
                continue
            common = len(ids.intersection(theirs))
            if common == 0:
                return None
            shared += common
        if shared == 0:
            return None
        if s.dates and ev.dates and not set(s.dates).intersection(ev.dates):
            return None
        return shared

    # --- state changes ------------------------------------------------------------------------
    def _severity(self, s: Sighting, policy: EventPolicy, sources: int, current: str) -> Severity:
        sev: Severity = s.severity
        if SEVERITY_ORDER[current] > SEVERITY_ORDER[sev]:
            sev = current  # type: ignore[assignment]
        boost = policy.boost_severity
        boosted = policy.boost_sources is not None and sources >= policy.boost_sources
        if boost is not None and boosted and SEVERITY_ORDER[boost] > SEVERITY_ORDER[sev]:
            sev = boost
        return sev

    def _open(self, s: Sighting, policy: EventPolicy, keys: list[tuple[str, str]]) -> EventDecision:
        sources = (s.source,) if s.source else ()
        alerted = len(sources) >= policy.min_sources
        kind: EventKind = "new" if alerted else "pending"
        ev = EventRecord(
            event_id=stable_id("event", s.rule, s.article_id),
            rule=s.rule,
            start=s.at,
            last=s.at,
            first_article=s.article_id,
            alerted=alerted,
            severity=self._severity(s, policy, len(sources), s.severity),
            sources=sources,
            entities={ln: tuple(sorted(ids)) for ln, ids in s.entities.items() if ids},
            numbers=tuple(sorted(set(s.numbers))),
            dates=tuple(sorted(set(s.dates))),
            copy_groups=(s.copy_group,) if s.copy_group else (),
            articles=((s.article_id, kind),),
        )
        self._save(ev, policy)
        return self._decision(ev, kind, ())

    def _join(
        self, ev: EventRecord, s: Sighting, policy: EventPolicy, keys: list[tuple[str, str]]
    ) -> EventDecision:
        facts: list[Fact] = []
        numbers = set(ev.numbers)
        facts += [Fact("number", _number(n)) for n in sorted(set(s.numbers) - numbers)]
        facts += [Fact("date", d) for d in sorted(set(s.dates) - set(ev.dates))]
        entities = {ln: set(ids) for ln, ids in ev.entities.items()}
        for ln in sorted(s.entities):
            as_fact = policy.default_keys is None or ln in policy.default_keys or ln in (policy.keys or ())
            for e in sorted(set(s.entities[ln]) - entities.get(ln, set())):
                if as_fact:  # a word from a plain-term list is wording, not a fact
                    facts.append(Fact("entity", e, ln))
                entities.setdefault(ln, set()).add(e)
        new_source = bool(s.source) and s.source not in ev.sources
        sources = (*ev.sources, s.source) if new_source else ev.sources
        severity = self._severity(s, policy, len(sources), ev.severity)
        is_copy = bool(s.copy_group) and s.copy_group in ev.copy_groups
        kind: EventKind
        if not ev.alerted:
            kind = "new" if len(sources) >= policy.min_sources else "pending"
        elif facts or SEVERITY_ORDER[severity] > SEVERITY_ORDER[ev.severity] or (new_source and not is_copy):
            kind = "update"
        else:
            kind = "suppress"
        articles = ev.articles
        if len(articles) < _MAX_ARTICLES:
            articles = (*articles, (s.article_id, kind))
        groups = ev.copy_groups
        if s.copy_group and not is_copy and len(groups) < _MAX_ARTICLES:
            groups = (*groups, s.copy_group)
        old, ev = ev, EventRecord(
            event_id=ev.event_id,
            rule=ev.rule,
            start=ev.start,
            last=max(ev.last, s.at),
            first_article=ev.first_article,
            alerted=ev.alerted or kind == "new",
            severity=severity,
            sources=sources,
            entities={ln: tuple(sorted(ids)) for ln, ids in sorted(entities.items())},
            numbers=tuple(sorted(numbers | set(s.numbers))),
            dates=tuple(sorted(set(ev.dates) | set(s.dates))),
            copy_groups=groups,
            articles=articles,
        )
        self._save(ev, policy, old)
        return self._decision(ev, kind, tuple(facts))

    def _save(self, ev: EventRecord, policy: EventPolicy, old: EventRecord | None = None) -> None:
        """Store the record; index it under the evidence keys it gained (stores keep earlier keys)."""
        lists = policy.key_lists(ev.entities)
        had = old.entities if old is not None else {}
        keys = [
            _key(ev.rule, "e", f"{ln}{_SEP}{e}")
            for ln in lists
            for e in ev.entities.get(ln, ())
            if e not in had.get(ln, ())
        ]
        had_groups = set(old.copy_groups) if old is not None else set()
        keys += [_key(ev.rule, "c", g) for g in ev.copy_groups if g not in had_groups]
        self.store.event_put(ev, keys, ev.start + policy.window_s)

    @staticmethod
    def _decision(ev: EventRecord, kind: str, facts: tuple[Fact, ...], *, repeat: bool = False) -> EventDecision:
        return EventDecision(
            event_id=ev.event_id,
            kind=kind,  # type: ignore[arg-type]
            severity=ev.severity,  # type: ignore[arg-type]
            source_count=len(ev.sources),
            sources=ev.sources,
            new_facts=facts,
            first_article=ev.first_article,
            articles=len(ev.articles),
            repeat=repeat,
        )
