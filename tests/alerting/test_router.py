"""Routing as pure functions with an explicit clock: filters, silences, grouping, digests, quiet hours."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

from monitor.alerting import router
from monitor.alerting.model import (
    Digest,
    Filter,
    Grouping,
    QuietHours,
    RedisTarget,
    Silence,
    Subscription,
    delivery_id,
)

from .helpers import make_alert


def sub(**kw) -> Subscription:
    return Subscription(id=kw.pop("id", "s1"), name="s", channel=RedisTarget(), **kw)


def ts(y: int, mo: int, d: int, h: int, mi: int = 0, tz: str = "UTC") -> float:
    from zoneinfo import ZoneInfo

    return datetime(y, mo, d, h, mi, tzinfo=ZoneInfo(tz)).timestamp()


NOW = ts(2026, 3, 10, 12)


def test_filters() -> None:
    a = make_alert(1, rule="r1", severity="medium", lang="ar", source="aljazeera", tags=("war",))
    assert router.matches(Filter(), a)
    assert router.matches(
        Filter(rules=("r1",), tags=("war", "x"), languages=("ar",), sources=("aljazeera",)), a
    )
    assert not router.matches(Filter(rules=("r2",)), a)
    assert not router.matches(Filter(tags=("peace",)), a)
    assert not router.matches(Filter(min_severity="high"), a)
    assert router.matches(Filter(min_severity="medium"), a)
    assert not router.matches(Filter(languages=("en",)), a)
    assert not router.matches(Filter(sources=("bbc",)), a)


def test_disabled_and_updates() -> None:
    upd = make_alert(1, kind="update")
    assert router.route_alert(upd, [sub(updates=False)], NOW) == []
    assert len(router.route_alert(upd, [sub(updates=True)], NOW)) == 1
    assert router.route_alert(make_alert(1), [sub(enabled=False)], NOW) == []


def test_delivery_ids_are_deterministic_and_distinct() -> None:
    a, b = make_alert(1), make_alert(2)
    assert delivery_id("s1", a, "webhook") == delivery_id("s1", make_alert(1), "webhook")
    assert (
        len(
            {
                delivery_id("s1", a, "webhook"),
                delivery_id("s2", a, "webhook"),
                delivery_id("s1", a, "email"),
                delivery_id("s1", b, "webhook"),
                delivery_id("s1", make_alert(1, kind="update"), "webhook"),
            }
        )
        == 5
    )


def test_silences() -> None:
    now = datetime(2026, 3, 10, 12, tzinfo=UTC)
    s = Silence(
        id="x",
        rules=("r1",),
        sources=("feedA",),
        starts_at=now - timedelta(hours=1),
        ends_at=now + timedelta(hours=1),
    )
    assert router.silenced_by(make_alert(1, rule="r1", source="feedA"), [s], now) is s
    assert router.silenced_by(make_alert(1, rule="r1", source="feedB"), [s], now) is None
    assert router.silenced_by(make_alert(1, rule="r2", source="feedA"), [s], now) is None
    assert router.silenced_by(make_alert(1, rule="r1", source="feedA"), [s], now + timedelta(hours=2)) is None
    tag = Silence(id="t", tags=("t1",), ends_at=now + timedelta(minutes=1), starts_at=now)
    assert router.silenced_by(make_alert(1), [tag], now) is tag


def test_grouping() -> None:
    g = Grouping(group_by=("rule",), group_wait=30, group_interval=300, repeat_interval=3600)
    s = sub(grouping=g)
    r1 = router.route_alert(make_alert(1, rule="r1"), [s], NOW)[0]
    r2 = router.route_alert(make_alert(2, rule="r1"), [s], NOW)[0]
    r3 = router.route_alert(make_alert(3, rule="r2"), [s], NOW)[0]
    assert r1.kind == "group" and r1.batch_key == r2.batch_key != r3.batch_key
    assert router.due_at(r1, NOW, None) == NOW + 30  # new group waits group_wait
    assert router.due_at(r1, NOW, NOW - 100) == NOW + 200  # sent 100 s ago: group_interval after that
    assert router.due_at(r1, NOW, NOW - 1000) == NOW  # interval passed: now
    assert router.due_at(r1, NOW, NOW - 4000) == NOW + 30  # idle past repeat_interval: a fresh group


def test_digest_and_immediate_override() -> None:
    s = sub(digest=Digest(mode="hourly", immediate_from="critical"))
    r = router.route_alert(make_alert(1, severity="high"), [s], ts(2026, 3, 10, 12, 20))[0]
    assert r.kind == "digest"
    assert router.due_at(r, ts(2026, 3, 10, 12, 20)) == ts(2026, 3, 10, 13)
    crit = router.route_alert(make_alert(2, severity="critical"), [s], NOW)[0]
    assert crit.kind == "alert" and router.due_at(crit, NOW) == NOW
    daily = sub(
        digest=Digest(mode="daily"), quiet_hours=QuietHours(start=time(1), end=time(2), tz="Asia/Riyadh")
    )
    d = router.route_alert(make_alert(3), [daily], ts(2026, 3, 10, 15, tz="Asia/Riyadh"))[0]
    assert router.due_at(d, ts(2026, 3, 10, 15, tz="Asia/Riyadh")) == ts(2026, 3, 11, 0, tz="Asia/Riyadh")


def test_quiet_hours_across_midnight_in_a_time_zone() -> None:
    q = QuietHours(start=time(22), end=time(7), tz="Asia/Riyadh", override_from="critical")
    s = sub(quiet_hours=q)
    late = ts(2026, 3, 10, 23, tz="Asia/Riyadh")
    early = ts(2026, 3, 11, 3, tz="Asia/Riyadh")
    day = ts(2026, 3, 11, 9, tz="Asia/Riyadh")
    r = router.route_alert(make_alert(1, severity="high"), [s], late)[0]
    assert router.due_at(r, late) == ts(2026, 3, 11, 7, tz="Asia/Riyadh")
    assert router.due_at(r, early) == ts(2026, 3, 11, 7, tz="Asia/Riyadh")
    assert router.due_at(r, day) == day
    crit = router.route_alert(make_alert(2, severity="critical"), [s], late)[0]
    assert router.due_at(crit, late) == late


def test_quiet_hours_same_day_and_dst() -> None:
    q = QuietHours(start=time(1, 30), end=time(3, 30), tz="Europe/Berlin", override_from=None)
    # 2026-03-29: clocks jump 02:00 -> 03:00 in Berlin
    inside = ts(2026, 3, 29, 1, 45, tz="Europe/Berlin")
    end = router.quiet_end(q, inside)
    assert end == ts(2026, 3, 29, 3, 30, tz="Europe/Berlin")
    assert router.quiet_end(q, ts(2026, 3, 29, 4, tz="Europe/Berlin")) is None
