"""The console's pages over HTTP on a real Redis: what they show, that feed text stays text, that the
forms act (and refuse without their CSRF token), the live stream, the login."""

from __future__ import annotations

import asyncio
import re
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import pytest

from monitor.models import Evidence
from monitor.rules import load_rules
from monitor.rules.evaluate import evaluate, read_labelled, rule_tags

from .conftest import AR_TITLE, ROOT, Console, ConsoleFactory, alert

pytestmark = pytest.mark.integration


async def test_inbox_lists_alerts_newest_first_grouped_by_event_with_arabic_isolated(console: Console):
    await console.add(
        alert(1, event="ev1", source="seeds"),
        alert(2, title="Baghdad and Washington open a new round of talks", lang="en", event="ev1", source="wire"),
        alert(3, title="Ceasefire announced", lang="en", rule="ceasefire.announced", tags=("ceasefire",)),
    )
    resp = await console.client.get("/")
    body = await resp.text()
    assert resp.status == 200
    assert "script-src 'self'" in resp.headers["Content-Security-Policy"]
    assert "default-src 'none'" in resp.headers["Content-Security-Policy"]
    groups = re.findall(r'<section class="event" id="g-([^"]+)"', body)
    assert groups == ["a00003", "ev1"], "groups in the order of their newest alert"
    rows = re.findall(r'data-id="(a\d+)"', body)
    assert rows == ["a00003", "a00002", "a00001"]
    assert f'<bdi dir="rtl" lang="ar">{AR_TITLE}</bdi>' in body
    assert "also reported by 1 other source" in body
    assert 'href="/alerts/a00001"' in body


async def test_feed_text_is_escaped_everywhere(console: Console):
    hostile = '<script>alert("x")</script><img src=x onerror=alert(1)> هجوم'
    a = alert(1, title=hostile, source='<b>src</b>', summary='"><svg onload=alert(1)>')
    a = a.model_copy(update={"article": a.article.model_copy(update={"url": "javascript:alert(1)"})})
    await console.add(a)
    for path in ("/", "/alerts/a00001", "/silences/new?alert=a00001"):
        body = await console.text(path)
        assert "<script>alert" not in body and "<img src=x" not in body and "<svg" not in body, path
        assert "&lt;script&gt;" in body, path
    body = await console.text("/alerts/a00001")
    assert 'href="javascript:' not in body
    assert "<code>javascript:alert(1)</code>" in body


async def test_filters_narrow_the_inbox_and_stay_in_the_links(console: Console):
    now = datetime.now(UTC)
    await console.add(
        alert(1, at=now - timedelta(days=3)),
        alert(2, lang="en", title="talks resume", source="wire", severity="high", at=now - timedelta(hours=1),
              entities={"bases": ("ain-al-asad",)}),
        alert(3, rule="ceasefire.announced", tags=("ceasefire",), at=now - timedelta(minutes=5)),
    )

    async def ids(qs: str) -> list[str]:
        return re.findall(r'data-id="(a\d+)"', await console.text("/?" + qs))

    assert await ids("") == ["a00003", "a00002", "a00001"]
    assert await ids("tag=negotiation-round") == ["a00002", "a00001"]
    assert await ids("rule=ceasefire.announced") == ["a00003"]
    assert await ids("severity=high") == ["a00002"]
    assert await ids("lang=ar") == ["a00003", "a00001"]
    assert await ids("source=wire") == ["a00002"]
    assert await ids("entity=ain-al-asad") == ["a00002"]
    assert await ids("since=24h") == ["a00003", "a00002"]
    assert await ids("since=24h&tag=negotiation-round") == ["a00002"]
    body = await console.text("/?since=24h&tag=negotiation-round")
    assert 'data-live="/events?tag=negotiation-round&amp;since=24h"' in body
    assert "severity: one of" in await console.text("/?severity=urgent", status=400)
    assert "since: expected" in await console.text("/?since=yesterday", status=400)


async def test_inbox_pages_with_a_cursor(console: Console):
    await console.add(*[alert(n) for n in range(1, 8)])
    body = await console.text("/?limit=3")
    assert re.findall(r'data-id="(a\d+)"', body) == ["a00007", "a00006", "a00005"]
    nxt = re.search(r'rel="next" href="([^"]+)"', body)
    assert nxt
    body = await console.text(nxt.group(1).replace("&amp;", "&") + "&limit=3")
    assert re.findall(r'data-id="(a\d+)"', body) == ["a00004", "a00003", "a00002"]
    assert "data-live" not in body, "older pages are not live"


async def test_alert_page_marks_the_evidence_and_names_the_entity(console: Console):
    title = "قصف صاروخي على قاعدة عين الأسد"
    a = alert(1, title=title, rule="attack-on-base.named-base", tags=("attack-on-base",),
              entities={"bases": ("ain-al-asad",)})
    s = title.index("عين الأسد")
    a = a.model_copy(update={"evidence": (
        Evidence(term="@bases", matched="عين الأسد", field="title", start=s, end=s + 9, list="bases",
                 entity="ain-al-asad"),
        Evidence(term="قاعدة", matched="قاعدة", field="title", start=title.index("قاعدة"),
                 end=title.index("قاعدة") + 5),
    )})
    await console.add(a)
    body = await console.text("/alerts/a00001")
    assert '<mark title="@bases">عين الأسد</mark>' in body
    assert '<mark title="قاعدة">قاعدة</mark>' in body
    assert 'dir="rtl" lang="ar"' in body
    rs = load_rules(ROOT / "rules")
    base = rs.lists["bases"].entities.get("ain-al-asad")
    if base is not None:
        assert base.name in body
    assert "/silences/new?alert=a00001" in body
    assert "Why it fired" in body and "attack-on-base.named-base" in body


async def test_alert_page_lists_the_other_reports_of_its_event(console: Console):
    await console.add(alert(1, event="ev9"), alert(2, event="ev9", lang="en", title="Talks begin", source="wire"),
                      alert(3))
    body = await console.text("/alerts/a00001")
    others = body.split("Other reports of this event")[1]
    assert "a00002" in others and "a00003" not in others


async def test_forms_refuse_a_post_without_the_csrf_token(console: Console):
    await console.add(alert(1))
    resp = await console.client.post("/alerts/a00001/ack", data={"comment": "x"}, allow_redirects=False)
    assert resp.status == 403
    resp = await console.client.post("/alerts/a00001/ack", data={"comment": "x", "csrf": "forged" * 8},
                                     allow_redirects=False)
    assert resp.status == 403
    token = await console.csrf()
    resp = await console.client.post("/alerts/a00001/ack", data={"csrf": token},
                                     headers={"Origin": "https://evil.example"}, allow_redirects=False)
    assert resp.status == 403
    assert await console.redis.hlen("monitor:web:acks") == 0


async def test_acknowledge_and_verdicts_round_trip_into_labelled_json_lines(console: Console, tmp_path: Path):
    await console.add(alert(1), alert(2, title="talks resume", lang="en", source="wire"))
    await console.post("/alerts/a00001/ack", {"comment": "seen, desk informed", "by": "Rana"})
    body = await console.text("/alerts/a00001")
    assert "Acknowledged by <strong>Rana</strong>" in body and "seen, desk informed" in body
    assert "acknowledged" in await console.text("/")
    await console.post("/alerts/a00001/verdict", {"verdict": "correct", "note": "a real round", "by": "Rana"})
    await console.post("/alerts/a00002/verdict", {"verdict": "false_positive", "note": "an interview"})
    await console.post("/alerts/a00002/verdict", {"verdict": "maybe"}, status=422)
    listing = await console.text("/feedback")
    assert "a real round" in listing and "an interview" in listing
    resp = await console.client.get("/feedback.jsonl")
    assert resp.status == 200 and "attachment" in resp.headers["Content-Disposition"]
    lines = [orjson.loads(x) for x in (await resp.read()).splitlines()]
    assert {x["id"]: x["labels"] for x in lines} == {"art-1": ["negotiation-round"], "art-2": []}
    path = tmp_path / "feedback.jsonl"
    path.write_bytes(await resp.read())
    rs = load_rules(ROOT / "rules")
    items, errors = read_labelled(path, rule_tags(rs))
    assert errors == [] and len(items) == 2
    ev = evaluate(rs, items, ["negotiation-round"])
    assert ev.articles == 2
    import subprocess
    import sys

    out = subprocess.run([sys.executable, "-m", "monitor", "rules", "eval", "--rules", str(ROOT / "rules"),
                          "--json", str(path)], capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert out.returncode == 0, out.stderr
    assert "negotiation-round" in out.stdout


async def test_silence_from_an_alert_is_prefilled_created_listed_and_expired(console: Console):
    await console.add(alert(1, tags=("negotiation-round", "iraq")))
    form = await console.text("/silences/new?alert=a00001")
    assert 'name="rules" value="negotiation-round.talks-held"' in form
    assert 'name="tags" value="negotiation-round, iraq"' in form
    assert 'name="sources" value="seeds"' in form
    _, body = await console.post("/silences", {"rules": "negotiation-round.talks-held", "tags": "", "sources": "seeds",
                                               "for_": "4h", "ends_at": "", "comment": "known story",
                                               "created_by": "Omar"})
    sils = await console.deps.extra["alerting_store"].list_silences()
    assert len(sils) == 1 and sils[0].rules == ("negotiation-round.talks-held",) and sils[0].sources == ("seeds",)
    assert sils[0].created_by == "Omar" and sils[0].comment == "known story"
    assert timedelta(hours=3.9) < sils[0].ends_at - sils[0].starts_at < timedelta(hours=4.1)
    listing = await console.text("/silences")
    assert "known story" in listing and "Omar" in listing and "active" in listing
    _, body = await console.post("/silences", {"rules": "", "tags": "", "sources": "", "for_": "1h",
                                               "comment": "nothing"}, status=422)
    assert "at least one of rules, tags, sources" in body
    await console.post(f"/silences/{sils[0].id}/expire", {})
    assert "expired" in await console.text("/silences")


async def test_subscriptions_create_edit_pause_and_test_send(console: Console):
    _, body = await console.post("/subscriptions", {"name": "Desk", "channel": "redis", "tags": "negotiation-round",
                                                    "min_severity": "medium", "updates": "on", "enabled": "on"})
    store = console.deps.extra["alerting_store"]
    (sub,) = await store.list()
    assert sub.name == "Desk" and sub.filter.tags == ("negotiation-round",) and sub.enabled
    await console.post(f"/subscriptions/{sub.id}", {"name": "Night desk", "channel": "redis", "tags": "",
                                                    "enabled": "on"})
    assert (await store.get(sub.id)).name == "Night desk"
    await console.post(f"/subscriptions/{sub.id}/pause", {})
    assert not (await store.get(sub.id)).enabled
    assert "Resume" in await console.text("/subscriptions")
    await console.post(f"/subscriptions/{sub.id}/pause", {})
    resp, _ = await console.post(f"/subscriptions/{sub.id}/test", {})
    assert "notice=test" in resp.headers["Location"]
    _, body = await console.post("/subscriptions", {"name": "Hook", "channel": "webhook", "url": "ftp://x"},
                                 status=422)
    assert "http" in body
    _, body = await console.post("/subscriptions", {"name": "Hook", "channel": "webhook",
                                                    "url": "http://127.0.0.1:9/hook", "enabled": "on"}, status=200)
    assert "whsec_" in body


async def test_rules_pages_show_yaml_examples_and_counts(console: Console):
    await console.add(alert(1, at=datetime.now(UTC) - timedelta(hours=2)),
                      alert(2, at=datetime.now(UTC) - timedelta(days=2)))
    body = await console.text("/rules")
    rs = load_rules(ROOT / "rules")
    for r in rs.rules:
        assert f'href="/rules/{r.id}"' in body
    row = body.split('id="r-negotiation-round.talks-held"')[1].split("</tr>")[0]
    assert re.findall(r'<td class="num"><a [^>]+>(\d+)</a>', row) == ["1", "2"]
    page = await console.text("/rules/negotiation-round.talks-held")
    assert "id: negotiation-round.talks-held" in page and "passes" in page
    await console.text("/rules/no-such-rule", status=404)


async def test_rule_check_reports_errors_with_lines_and_save_obeys_the_setting(make_console: ConsoleFactory,
                                                                             tmp_path: Path):
    import shutil

    folder = tmp_path / "rules"
    shutil.copytree(ROOT / "rules", folder)
    c = await make_console(rules=folder)
    token = await c.csrf()
    bad = "id: t.x\ntitle: X\nseverity: medium\ntags: [draft]\nmatch:\n  near: ['@nosuchlist', 'talks']\n  within: 3\n"
    resp = await c.client.post("/rules/check", data={"yaml": bad, "path": "drafts/x.yaml"},
                               headers={"X-CSRF-Token": token})
    result = await resp.json()
    assert resp.status == 200 and result["rules"] == []
    assert any(e["line"] == 6 and "nosuchlist" in e["message"] for e in result["errors"]), result
    resp = await c.client.post("/rules/check", data={"yaml": "id: [\n", "path": "x.yaml"},
                               headers={"X-CSRF-Token": token})
    assert (await resp.json())["errors"][0]["line"] is not None
    assert (await c.client.post("/rules/check", data={"yaml": bad})).status == 403
    good = bad.replace("@nosuchlist", "@talks")
    _, body = await c.post("/rules/try", {"yaml": good, "path": "drafts/x.yaml", "action": "save"}, status=403)
    assert "MONITOR_RULES_WRITABLE" in body and not (folder / "drafts" / "x.yaml").exists()
    w = await make_console(rules=folder, rules_writable=True)
    _, body = await w.post("/rules/try", {"yaml": good, "path": "../escape.yaml", "action": "save"}, status=422)
    assert not (tmp_path / "escape.yaml").exists()
    _, body = await w.post("/rules/try", {"yaml": bad, "path": "drafts/x.yaml", "action": "save"}, status=422)
    assert not (folder / "drafts" / "x.yaml").exists()
    _, body = await w.post("/rules/try", {"yaml": good, "path": "drafts/x.yaml", "action": "save"}, status=200)
    assert (folder / "drafts" / "x.yaml").read_text() == good
    assert load_rules(folder).get("t.x") is not None
    dup = good.replace("t.x", "negotiation-round.talks-held")
    _, body = await w.post("/rules/try", {"yaml": dup, "path": "drafts/y.yaml", "action": "save"}, status=422)
    assert "duplicate rule id" in body and not (folder / "drafts" / "y.yaml").exists()


async def test_every_shipped_rule_file_can_be_checked_from_the_console(console: Console):
    """A browser posts the try-out form percent-encoded: an Arabic rule file is several times its size on the
    wire (the largest shipped one, ~150 KB, is ~400 KB encoded). Each shipped file is accepted and checked
    clean; a text over the page's own limit is refused with 413, not a server error."""
    from monitor.web.tryout import MAX_TEXT

    token = await console.csrf()
    files = sorted((ROOT / "rules").rglob("*.yaml"))
    biggest = max(files, key=lambda f: f.stat().st_size)
    for path in [biggest, *files[:3]]:
        text = path.read_text(encoding="utf-8")
        resp = await console.client.post("/rules/check", data={"yaml": text, "path": path.name},
                                         headers={"X-CSRF-Token": token})
        assert resp.status == 200, (path.name, resp.status)
        assert (await resp.json())["errors"] == [], path.name
    resp = await console.client.post("/rules/check", data={"yaml": "x" * (MAX_TEXT + 1)},
                                     headers={"X-CSRF-Token": token})
    assert resp.status == 413


async def test_live_stream_sends_new_alerts_that_pass_the_filters(console: Console):
    await console.add(alert(1))
    after = (await console.redis.zrevrange("monitor:alerts:recent", 0, 0, withscores=True))[0][1]
    resp = await console.client.get(f"/events?tag=negotiation-round&after={after}")
    assert resp.headers["Content-Type"].startswith("text/event-stream")
    now = datetime.now(UTC)
    await console.add(alert(2, rule="ceasefire.announced", tags=("ceasefire",), at=now),
                      alert(3, title="<script>x</script> جولة", at=now))
    got = b""
    deadline = time.monotonic() + 20
    while b"a00003" not in got and time.monotonic() < deadline:
        got += await asyncio.wait_for(resp.content.readany(), max(0.1, deadline - time.monotonic()))
    events = [orjson.loads(line[6:]) for line in got.split(b"\n") if line.startswith(b"data: ")]
    assert [e["id"] for e in events] == ["a00003"], "a00001 was on the page; a00002 is filtered out"
    assert "&lt;script&gt;" in events[0]["row"] and "<script>" not in events[0]["row"]
    resp.close()


async def test_with_a_token_the_console_wants_a_login(make_console: ConsoleFactory):
    c = await make_console(api_token="s3cret-token-for-tests")
    await c.add(alert(1))
    resp = await c.client.get("/?tag=x", allow_redirects=False)
    assert resp.status == 303 and resp.headers["Location"].startswith("/login?next=")
    assert (await c.client.get("/api/v1/alerts")).status == 401
    assert (await c.client.get("/static/console.css")).status == 200
    login = await c.text("/login?next=/alerts/a00001")
    token = re.search(r'name="csrf" value="([^"]+)"', login).group(1)  # type: ignore[union-attr]
    resp = await c.client.post("/login", data={"csrf": token, "token": "wrong", "next": "/"}, allow_redirects=False)
    assert resp.status == 401
    resp = await c.client.post("/login", data={"csrf": token, "token": "s3cret-token-for-tests",
                                               "next": "//evil.example/"}, allow_redirects=False)
    assert resp.status == 303 and resp.headers["Location"] == "/"
    cookie = resp.cookies["monitor_session"]
    assert cookie["httponly"] and cookie["samesite"] == "Strict"
    assert AR_TITLE in await c.text("/")
    assert (await c.client.get("/api/v1/alerts")).status == 401, "a session cookie is not an API token"
    assert (await c.client.get("/api/v1/alerts",
                               headers={"Authorization": "Bearer s3cret-token-for-tests"})).status == 200
    await c.post("/logout", {})
    assert (await c.client.get("/", allow_redirects=False)).status == 303


async def test_a_broken_rules_folder_shows_every_error_with_its_line(make_console: ConsoleFactory, tmp_path: Path):
    folder = tmp_path / "broken"
    folder.mkdir()
    (folder / "a.yaml").write_text("id: a\ntitle: A\nmatch: {near: ['@nowhere', x], within: 2}\nbogus: 1\n")
    c = await make_console(rules=folder)
    body = await c.text("/rules", status=500)
    assert re.search(r"a\.yaml:\d+: unknown key `bogus`", body), body[-1500:]
    await c.add(alert(1))
    assert AR_TITLE in await c.text("/alerts/a00001"), "a broken rules folder does not hide the alert"


async def test_without_a_token_there_is_no_login(console: Console):
    resp = await console.client.get("/login", allow_redirects=False)
    assert resp.status == 303 and resp.headers["Location"] == "/"


async def test_live_stream_finds_an_alert_whose_notice_was_lost(console: Console):
    """A PUBLISH is only a hint: an alert stored without one still reaches the stream (its own look)."""
    resp = await console.client.get(f"/events?after={time.time() - 1}")
    a = alert(7, at=datetime.now(UTC))
    async with console.redis.pipeline(transaction=True) as p:  # what RecentAlerts.add does, minus the notice
        p.zadd("monitor:alerts:recent", {a.id: a.created_at.timestamp()})
        p.hset("monitor:alerts:doc", a.id, a.to_json())
        await p.execute()
    got = b""
    deadline = time.monotonic() + 30
    while b"a00007" not in got and time.monotonic() < deadline:
        got += await asyncio.wait_for(resp.content.readany(), max(0.1, deadline - time.monotonic()))
    assert b'"id":"a00007"' in got
    resp.close()
