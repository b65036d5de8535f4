"""A sample alert for test-send: realistic shape, a fresh article id each time (so it is never deduped)."""

from __future__ import annotations

import uuid

from monitor.models import Alert, ArticleRef, Evidence, utcnow


def sample_alert() -> Alert:
    now = utcnow()
    art = ArticleRef(
        id=f"test-{uuid.uuid4().hex}",
        title="Test alert from monitor / تنبيه تجريبي",
        url="https://example.invalid/monitor-test",
        source="monitor",
        published=now,
        lang="en",
        summary="This is a test delivery. No action is needed.",
        fetched_at=now,
    )
    ev = Evidence(
        term="test", matched="Test", field="title", start=0, end=4, snippet="Test alert from monitor"
    )
    return Alert(
        id=Alert.make_id(art.id, "monitor-test", "1"),
        rule="monitor-test",
        rule_version="1",
        rule_title="Test delivery",
        tags=("test",),
        severity="info",
        article=art,
        evidence=(ev,),
        sources=("monitor",),
        created_at=now,
    )
