"""The console's archive pages on a real SQLite archive (the default backend): search with the words
marked, the try-out backtest with its hits marked, and the alert page reading the article's full text
from the archive (so evidence in the content is marked too)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from monitor.archive.record import analyse_for_archive
from monitor.archive.sqlite import SqliteArchive
from monitor.models import Alert, Article
from monitor.rules import load_rules

from .conftest import ROOT, ConsoleFactory

pytestmark = pytest.mark.integration

TALKS = "انطلقت في إسطنبول أول مفاوضات مباشرة بين روسيا وأوكرانيا منذ ثلاث سنوات."
OTHER = "قال وزير الخارجية إن الحكومة تسعى إلى علاقات متوازنة مع جيرانها."


@pytest.fixture
async def archived(tmp_path: Path):
    archive = SqliteArchive(tmp_path / "archive.db")
    rs = load_rules(ROOT / "rules")
    now = datetime.now(UTC)
    arts = [
        Article(id="x1", title="<b>خبر</b> عن المفاوضات", content=TALKS, source="wire", lang="ar",
                url="https://wire.example/1", published=now - timedelta(hours=1)),
        Article(id="x2", title="تصريح", content=OTHER, source="wire", lang="ar", url="https://wire.example/2",
                published=now - timedelta(hours=2)),
    ]
    await archive.put([analyse_for_archive(a, rs, now=now) for a in arts])
    yield archive
    await archive.close()


async def test_search_marks_the_words_found(make_console: ConsoleFactory, archived: SqliteArchive):
    c = await make_console()
    assert "No archive in this process" in await c.text("/search?q=x")
    c.deps.archive = archived
    body = await c.text("/search?q=" + "مفاوضات")
    assert "<mark>المفاوضات</mark>" in body, "Arabic-aware: the word with its article"
    assert "&lt;b&gt;خبر&lt;/b&gt;" in body and "<b>خبر" not in body
    assert "wire.example/2" not in body
    assert "expected" in await c.text("/search?q=x&since=someday", status=400)


async def test_backtest_runs_the_edited_rule_over_the_archive(make_console: ConsoleFactory,
                                                               archived: SqliteArchive):
    c = await make_console()
    c.deps.archive = archived
    rule = (ROOT / "rules" / "negotiation-round" / "talks-held.yaml").read_text(encoding="utf-8")
    _, body = await c.post("/rules/try", {"yaml": rule, "path": "negotiation-round/talks-held.yaml",
                                          "action": "backtest", "days": "1"}, status=200)
    assert re.search(r"\d archived articles? read in [\d.]+ s: <strong>1 match</strong>", body)
    hits = body.split('id="backtest"')[1]
    assert "&lt;b&gt;خبر" in hits and "تصريح" not in hits
    marked = re.findall(r"<mark[^>]*>([^<]+)</mark>", hits)
    assert marked and all(m in TALKS for m in marked)


async def test_alert_page_reads_the_full_text_from_the_archive(make_console: ConsoleFactory,
                                                               archived: SqliteArchive):
    c = await make_console()
    item = await archived.get("x1")
    assert item is not None and item.matches
    m = item.matches[0]
    alert = Alert.from_match(item.article, m, lang="ar")
    await c.add(alert)
    body = await c.text(f"/alerts/{alert.id}")
    assert 'class="content"' not in body, "without the archive only the alert's own fields are shown"
    c.deps.archive = archived
    body = await c.text(f"/alerts/{alert.id}")
    content = body.split('<div class="content">')[1].split("</div>")[0]
    content_marks = [e for e in m.evidence if e.field == "content"]
    assert content_marks and all(f">{e.matched}</mark>" in content for e in content_marks)
