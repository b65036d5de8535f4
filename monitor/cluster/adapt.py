"""The edge between clustering and the rest of monitor: articles, matches and rules in, plain values out.

This is the one module of ``monitor.cluster`` that knows other packages' types. Rules are read by
attribute (``event.keys``, ``event.window``, ``min_sources``, ``severity_boost.sources/.severity``) so
the rules engine's classes are not imported here; a rule without those fields gets the defaults.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from monitor.cluster.events import EventPolicy, Sighting
from monitor.models import Article, Match


def article_time(article: Article) -> float:
    """The time clustering files an article under: published, but never after it was fetched.

    A feed clock in the future would otherwise move every window forward and expire everything.
    """
    at: datetime = min(article.published, article.fetched_at)
    return at.timestamp()


def policy_for_rule(rule: Any, *, default_window_s: float = 6 * 3600) -> EventPolicy:
    """The ``EventPolicy`` of a rule object (engine ``Rule`` or ``RuleSpec``), defaults where unset."""
    event = getattr(rule, "event", None)
    keys = tuple(getattr(event, "keys", None) or ()) or None
    window = getattr(event, "window", None) if event is not None else None
    boost = getattr(rule, "severity_boost", None)
    return EventPolicy(
        keys=keys,
        window_s=float(window) if window else default_window_s,
        min_sources=int(getattr(rule, "min_sources", None) or 1),
        boost_sources=getattr(boost, "sources", None) if boost is not None else None,
        boost_severity=getattr(boost, "severity", None) if boost is not None else None,
    )


def sighting(
    article: Article, match: Match, *, copy_group: str = "", dates: tuple[str, ...] = ()
) -> Sighting:
    """The ``Sighting`` of one match in one article (``copy_group`` from ``CopyDetector.check``)."""
    return Sighting(
        rule=match.rule,
        article_id=article.id,
        at=article_time(article),
        source=article.source,
        copy_group=copy_group,
        severity=match.severity,
        entities=match.entities,
        numbers=match.numbers,
        dates=dates,
    )
