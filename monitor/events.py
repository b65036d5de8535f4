"""One alert per real-world event: the processor's alert policy on top of ``monitor.cluster``.

In: an article, its analysis (matches, normalised text) and the running rule set. Out: the alerts to
raise. The order per article:

1. matches of one *rule set* are merged: rules whose ids share the part before the first ``.``
   (``negotiation-round.round``, ``negotiation-round.committee-meeting``) are variants of one rule set,
   and an article matching several variants yields one match — the most severe (then highest score),
   with the evidence and entities of the others added;
2. an article with at least one match is filed with the near-duplicate detector (``copy_group``);
   articles without matches are not (they could not alert, and it keeps the store small);
3. each merged match is a sighting of its rule set's event: ``new`` raises the alert, ``update`` raises
   an update of the event (subscribers choose whether to receive updates), ``suppress`` (a copy of what
   was already alerted) and ``pending`` (``min_sources`` not reached yet) raise nothing.

Alert ids stay deterministic (article, rule version, kind, event), so reprocessing after a crash yields
the same ids and the alerter's dedup log drops them.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from typing import Any

from monitor.cluster import Clustering, article_time, sighting
from monitor.cluster.adapt import to_alert
from monitor.metrics import METRICS, Metrics
from monitor.models import SEVERITY_ORDER, Alert, Article, Match


def rule_set_of(rule_id: str) -> str:
    return rule_id.split(".", 1)[0]


def merge_rule_sets(matches: Iterable[Match]) -> list[Match]:
    """One match per rule set: the strongest variant, carrying the others' evidence and entities."""
    groups: dict[str, list[Match]] = {}
    for m in matches:
        groups.setdefault(rule_set_of(m.rule), []).append(m)
    merged: list[Match] = []
    for members in groups.values():
        members.sort(key=lambda m: (-SEVERITY_ORDER[m.severity], -m.score, m.rule))
        best = members[0]
        if len(members) > 1:
            evidence = list(best.evidence)
            entities = {k: list(v) for k, v in best.entities.items()}
            for other in members[1:]:
                evidence.extend(e for e in other.evidence if e not in evidence)
                for name, ids in other.entities.items():
                    have = entities.setdefault(name, [])
                    have.extend(i for i in ids if i not in have)
            best = best.model_copy(update={
                "evidence": tuple(evidence),
                "entities": {k: tuple(v) for k, v in entities.items()},
                "numbers": tuple(dict.fromkeys(n for m in members for n in m.numbers)),
            })
        merged.append(best)
    return merged


class EventAlerts:
    """An ``AlertPolicy`` (see ``monitor.processing``) that raises one alert per (rule set, event)."""

    def __init__(self, clustering: Clustering, metrics: Metrics = METRICS) -> None:
        self.clustering = clustering
        self.metrics = metrics

    def __call__(self, article: Article, analysis: Any, rules: Any) -> list[Alert]:
        matches = merge_rule_sets(analysis.matches)
        if not matches:
            return []
        c = self.clustering
        copy = c.on_article(article.id, analysis.text, article_time(article), article.source)
        if copy.is_copy:
            self.metrics.copy_groups.inc()
        lists = getattr(rules, "lists", None)
        alerts: list[Alert] = []
        for m in matches:
            rule = rules.get(m.rule) if hasattr(rules, "get") else None
            seen = dataclasses.replace(sighting(article, m, copy_group=copy.copy_group), rule=rule_set_of(m.rule))
            decision = c.on_match(seen, c.policy(rule, lists), tags=m.tags)
            self.metrics.event_decisions.labels(rule_set_of(m.rule), decision.kind).inc()
            if decision.alert:
                alerts.append(to_alert(article, m, copy, decision, lang=analysis.lang))
        return alerts
