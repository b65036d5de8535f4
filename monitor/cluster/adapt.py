"""The edge between clustering and the rest of monitor: articles, matches and rules in, plain values out.

This is the one module of ``monitor.cluster`` that knows other packages' types. Rules are read by
attribute (``event.keys``, ``event.window``, ``min_sources``, ``severity_boost.sources/.severity``) so
the rules engine's classes are not imported here; a rule without those fields gets the defaults.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from monitor.cluster.copies import CopyDecision
from monitor.cluster.events import EventDecision, EventPolicy, Sighting
from monitor.models import Alert, Article, ArticleRef, Match


def article_time(article: Article) -> float:
    """The time clustering files an article under: published, but never after it was fetched.

    A feed clock in the future would otherwise move every window forward and expire everything.
    """
    at: datetime = min(article.published, article.fetched_at)
    return at.timestamp()


def entity_lists(lists: Mapping[str, Any]) -> frozenset[str]:
    """Names of the lists of canonical entities (``entities:`` with ids and several spellings).

    A plain-term list (``terms:``) reports each term as its own entity, so its ids are words of one
    language (استهدف, "hit") and cannot tell two reports of one event apart from two events; only
    lists with at least one entity whose id is not its single term count. ``lists``: the engine's
    ``RuleSet.lists`` (name -> list with ``.entities``: id -> entity with ``.id``, ``.terms``).
    """
    out = set()
    for name, lst in lists.items():
        for ent in getattr(lst, "entities", {}).values():
            terms = tuple(getattr(ent, "terms", ()))
            if terms != (getattr(ent, "id", None),):
                out.add(name)
                break
    return frozenset(out)


def policy_for_rule(
    rule: Any, *, default_window_s: float = 6 * 3600, entity_lists: frozenset[str] | None = None
) -> EventPolicy:
    """The ``EventPolicy`` of a rule object (engine ``Rule`` or ``RuleSpec``), defaults where unset.

    ``entity_lists``: the lists that may be default keys (``entity_lists(ruleset.lists)``); without it
    every list in a match is a key, which only suits rules whose lists are all entity lists.
    """
    event = getattr(rule, "event", None)
    keys = tuple(getattr(event, "keys", None) or ()) or None
    window = getattr(event, "window", None) if event is not None else None
    boost = getattr(rule, "severity_boost", None)
    return EventPolicy(
        keys=keys,
        default_keys=entity_lists,
        window_s=float(window) if window else default_window_s,
        min_sources=int(getattr(rule, "min_sources", None) or 1),
        boost_sources=getattr(boost, "sources", None) if boost is not None else None,
        boost_severity=getattr(boost, "severity", None) if boost is not None else None,
    )


def sighting(
    article: Article, match: Match, *, copy_group: str = "", dates: tuple[str, ...] = (),
    rule: str | None = None, at: float | None = None,
) -> Sighting:
    """The ``Sighting`` of one match in one article (``copy_group`` from ``CopyDetector.check``).
    ``rule``: the name to group under (default the match's rule); ``at``: ``article_time(article)`` when
    the caller has it already."""
    return Sighting(
        rule=match.rule if rule is None else rule,
        article_id=article.id,
        at=article_time(article) if at is None else at,
        source=article.source,
        copy_group=copy_group,
        severity=match.severity,
        entities=match.entities,
        numbers=match.numbers,
        dates=dates,
    )


def to_alert(
    article: Article, match: Match, copy: CopyDecision, decision: EventDecision, *, lang: str | None = None,
    ref: ArticleRef | None = None,
) -> Alert:
    """The ``Alert`` for a decision whose ``alert`` is true (kind ``new`` or ``update``).

    Its id is deterministic per (article, rule version, kind, event), so a redelivered article yields
    the same alert id and downstream deduplication drops it. ``ref``: ``ArticleRef.of(article, lang=lang)``
    when the caller has it already (one per article, whatever the number of its alerts).
    """
    if not decision.alert:
        raise ValueError(f"no alert for an event decision of kind {decision.kind!r}")
    return Alert.from_match(
        article, match, lang=lang, ref=ref, kind=decision.kind, event_id=decision.event_id,
        severity=decision.severity, copy_group=copy.copy_group, sources=decision.sources,
        source_count=decision.source_count,
    )
