"""Routing: alert + subscriptions + silences -> the deliveries it should become. Pure; the clock is passed in.

Order, per alert: (1) an active ``Silence`` that matches stops it everywhere (the caller records it);
(2) for each enabled subscription: cluster updates are dropped when ``updates`` is off, then the
``Filter`` must match; (3) the alert gets its deterministic per-subscription ``delivery_id``;
(4) it is either sent on its own, or joins a batch: a digest window (hourly/daily, unless its severity
reaches ``digest.immediate_from``) or an Alertmanager group (``group_by``/``group_wait``/…);
(5) ``due_at`` gives when a new single delivery or batch is due, pushed to the end of quiet hours unless
the severity reaches ``quiet_hours.override_from``.

Nothing here touches Redis; the service fetches group state (last flush times) and passes it in.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

from monitor.alerting.model import Filter, Grouping, QuietHours, Silence, Subscription, delivery_id
from monitor.models import SEVERITY_ORDER, Alert, stable_id


@dataclass(frozen=True, slots=True)
class Route:
    subscription: Subscription
    alert: Alert
    delivery_id: str
    kind: Literal["alert", "group", "digest"]
    batch_key: str = ""  # "" for a single delivery


def _at_least(severity: str, threshold: str | None) -> bool:
    return threshold is not None and SEVERITY_ORDER[severity] >= SEVERITY_ORDER[threshold]


def matches(f: Filter, alert: Alert) -> bool:
    if f.rules and alert.rule not in f.rules:
        return False
    if f.tags and not set(f.tags) & set(alert.tags):
        return False
    if f.min_severity and SEVERITY_ORDER[alert.severity] < SEVERITY_ORDER[f.min_severity]:
        return False
    if f.languages and alert.article.lang not in f.languages:
        return False
    if f.sources:
        sources = set(alert.sources) | {alert.article.source}
        if not set(f.sources) & sources:
            return False
    return True


def silenced_by(alert: Alert, silences: Iterable[Silence], now: datetime) -> Silence | None:
    for s in silences:
        if s.active(now) and s.matches(alert):
            return s
    return None


def group_key(g: Grouping, alert: Alert) -> str:
    values = {
        "rule": alert.rule,
        "source": alert.article.source,
        "lang": alert.article.lang,
        "event_id": alert.event_id,
        "severity": alert.severity,
        "tags": ",".join(sorted(alert.tags)),
    }
    label = "|".join(f"{f}={values[f]}" for f in g.group_by)
    return "group:" + stable_id(label, length=16)


def digest_window(mode: str, now: float, tz: str = "UTC") -> tuple[str, float]:
    """(label, end as unix seconds) of the hourly or daily window holding ``now``, in ``tz``."""
    local = datetime.fromtimestamp(now, ZoneInfo(tz))
    if mode == "hourly":
        start = local.replace(minute=0, second=0, microsecond=0)
        end = start + timedelta(hours=1)
    else:
        start = local.replace(hour=0, minute=0, second=0, microsecond=0)
        end = (start + timedelta(days=1, hours=2)).replace(hour=0)  # DST-safe next midnight
    return f"digest:{mode}:{start.strftime('%Y%m%dT%H')}", end.timestamp()


def quiet_end(q: QuietHours, ts: float) -> float | None:
    """The end of the quiet window holding ``ts`` (unix seconds), or None when ``ts`` is not quiet."""
    zone = ZoneInfo(q.tz)
    local = datetime.fromtimestamp(ts, zone)
    t = local.time().replace(tzinfo=None)
    if q.start == q.end:
        return None
    crosses = q.start > q.end  # e.g. 22:00 -> 07:00
    inside = (t >= q.start or t < q.end) if crosses else (q.start <= t < q.end)
    if not inside:
        return None
    end_day = local.date()
    if crosses and t >= q.start:
        end_day = end_day + timedelta(days=1)
    end = datetime.combine(end_day, q.end, tzinfo=zone)
    # round-trip through UTC resolves a wall-clock end that DST skipped or repeated
    return end.astimezone(UTC).timestamp()


def group_due(g: Grouping, now: float, last_flush: float | None) -> float:
    """When a new batch of a group is due: ``group_wait`` after a fresh group, else ``group_interval``
    after the group's last flush (a group idle longer than ``repeat_interval`` counts as fresh)."""
    if last_flush is None or now - last_flush >= g.repeat_interval:
        return now + g.group_wait
    return max(now, last_flush + g.group_interval)


def due_at(route: Route, now: float, last_flush: float | None = None) -> float:
    """When a single delivery, or the batch this route would open, is due."""
    sub = route.subscription
    if route.kind == "digest":
        due = digest_window(sub.digest.mode, now, sub.quiet_hours.tz if sub.quiet_hours else "UTC")[1]
    elif route.kind == "group":
        due = group_due(sub.grouping, now, last_flush)
    else:
        due = now
    q = sub.quiet_hours
    if q is not None and not _at_least(route.alert.severity, q.override_from):
        end = quiet_end(q, due)
        if end is not None:
            due = end
    return due


def route_alert(alert: Alert, subscriptions: Sequence[Subscription], now: float) -> list[Route]:
    """The deliveries one (unsilenced) alert becomes, one per matching enabled subscription."""
    out: list[Route] = []
    for sub in subscriptions:
        if not sub.enabled:
            continue
        if alert.kind == "update" and not sub.updates:
            continue
        if not matches(sub.filter, alert):
            continue
        did = delivery_id(sub.id, alert, sub.channel_name)
        if sub.digest.mode != "immediate" and not _at_least(alert.severity, sub.digest.immediate_from):
            tz = sub.quiet_hours.tz if sub.quiet_hours else "UTC"
            label, _ = digest_window(sub.digest.mode, now, tz)
            out.append(Route(sub, alert, did, "digest", label))
        elif sub.digest.mode == "immediate" and sub.grouping.active:
            out.append(Route(sub, alert, did, "group", group_key(sub.grouping, alert)))
        else:
            out.append(Route(sub, alert, did, "alert"))
    return out


def batch_id(subscription_id: str, batch_key: str, first_member: str) -> str:
    return stable_id("batch", subscription_id, batch_key, first_member)


def last_flush_keys(routes: Iterable[Route]) -> list[tuple[str, str]]:
    return sorted({(r.subscription.id, r.batch_key) for r in routes if r.kind == "group"})


def due_for(
    routes: Sequence[Route], now: float, flushes: Mapping[tuple[str, str], float | None]
) -> list[float]:
    return [due_at(r, now, flushes.get((r.subscription.id, r.batch_key))) for r in routes]
