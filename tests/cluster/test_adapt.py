"""The edge: article times, settings, and the engine's Match -> Sighting."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from monitor.cluster import Clustering, MemoryStore, article_time, sighting, to_alert
from monitor.models import Alert, Article, Match
from monitor.settings import Settings


def test_article_time_is_published_but_never_after_fetching():
    fetched = datetime(2024, 1, 20, 18, 0, tzinfo=UTC)
    ok = Article(id="a", published=fetched - timedelta(hours=2), fetched_at=fetched)
    future = Article(id="b", published=fetched + timedelta(days=300), fetched_at=fetched)
    assert article_time(ok) == (fetched - timedelta(hours=2)).timestamp()
    assert article_time(future) == fetched.timestamp()


def test_sighting_carries_the_match_evidence():
    when = datetime(2024, 1, 20, 18, 0, tzinfo=UTC)
    a = Article(id="a", source="reuters", published=when, fetched_at=when)
    m = Match(rule="attack-on-base", severity="high", entities={"bases": ("ain-al-asad",)}, numbers=(3.0,))
    s = sighting(a, m, copy_group="g")
    assert (s.rule, s.article_id, s.source, s.copy_group, s.severity) == ("attack-on-base", "a", "reuters", "g", "high")
    assert s.entities == {"bases": ("ain-al-asad",)} and s.numbers == (3.0,) and s.at == when.timestamp()


def test_from_settings_uses_the_configured_windows_and_store():
    settings = Settings(_env_file=None, copy_threshold=0.9, copy_window_hours=12, event_window_hours=3)
    c = Clustering.from_settings(settings)
    assert isinstance(c.store, MemoryStore)
    assert (c.copies.threshold, c.copies.window_s, c.event_window_s) == (0.9, 12 * 3600, 3 * 3600)
    assert c.policy(object()).window_s == 3 * 3600  # a rule without `event:` gets the configured window


@pytest.mark.integration
def test_from_settings_picks_redis_when_configured(redis_db_url):
    from monitor.cluster.redis_store import RedisStore

    c = Clustering.from_settings(Settings(_env_file=None, redis_url=redis_db_url))
    assert isinstance(c.store, RedisStore)
    assert c.store.p == "monitor:cluster"


def test_to_alert_carries_the_event():
    when = datetime(2024, 1, 20, 18, 0, tzinfo=UTC)
    c = Clustering(MemoryStore())
    m = Match(rule="attack-on-base", rule_version="1", severity="high", entities={"bases": ("harir",)})
    alerts = []
    for aid, src in [("a", "ap"), ("b", "reuters"), ("c", "reuters")]:
        a = Article(id=aid, title="Drone attack on Harir", source=src, published=when, fetched_at=when)
        copy = c.on_article(a.id, a.title + " " + aid, article_time(a), a.source)
        d = c.on_match(sighting(a, m, copy_group=copy.copy_group), c.policy(object()))
        if d.alert:
            alerts.append(to_alert(a, m, copy, d))
        else:
            with pytest.raises(ValueError):
                to_alert(a, m, copy, d)
    assert [(x.kind, x.sources, x.source_count) for x in alerts] == [
        ("new", ("ap",), 1),
        ("update", ("ap", "reuters"), 2),
    ]
    assert alerts[0].event_id == alerts[1].event_id != ""
    assert alerts[0].id != alerts[1].id
    assert Alert.from_json(alerts[1].to_json()) == alerts[1]
