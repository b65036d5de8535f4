"""Both archive backends (SQLite FTS5 and a real PostgreSQL): the same behaviour, test by test."""

from __future__ import annotations

from datetime import timedelta

import pytest

from monitor.archive.model import QueryInvalid, SearchQuery
from monitor.archive.store import Note, QueryTooBroad

from .helpers import CORPUS, T0, item


async def ids(archive, **kw) -> list[str]:  # type: ignore[no-untyped-def]
    page = await archive.search(SearchQuery(**kw))
    return [h.id for h in page.hits]


@pytest.fixture
async def filled(archive):  # type: ignore[no-untyped-def]
    assert await archive.put(CORPUS) == len(CORPUS)
    return archive


async def test_put_is_idempotent_on_article_id(archive):
    assert await archive.put(CORPUS[:3]) == 3
    assert await archive.put(CORPUS) == len(CORPUS) - 3
    assert await archive.put(CORPUS) == 0
    assert await archive.count() == len(CORPUS)


async def test_arabic_query_finds_proclitic_and_suffix_forms(filled):
    # «قاعدة» finds قاعدة (ar-1), والقاعدة / بالقاعدة (ar-2) and قاعدتين (ar-3); newest archived first
    assert await ids(filled, q="قاعدة") == ["ar-3", "ar-2", "ar-1"]
    assert await ids(filled, q="القاعدة") == ["ar-3", "ar-2", "ar-1"]  # القاعدتين, بالقاعدة, القاعدة
    # hamza and alef forms fold: أمريكية / امريكيا / الأميركي
    assert await ids(filled, q="امريكيه") == ["ar-1"]
    assert await ids(filled, q="أمريكيا") == ["ar-4"]


async def test_english_is_case_insensitive_with_plurals(filled):
    assert await ids(filled, q="base") == ["en-3", "en-1"]  # BASE, base, Bases
    assert await ids(filled, q="ROCKET") == ["en-1"]
    assert await ids(filled, q="negotiat*") == ["en-2"]
    assert await ids(filled, q="rocket talks") == []  # every word must occur


async def test_filters(filled):
    assert await ids(filled, lang="en") == ["en-3", "en-2", "en-1"]
    assert await ids(filled, source="wire") == ["en-2", "en-1"]
    assert await ids(filled, rule="attack-on-base.generic") == ["en-1", "ar-1"]
    assert await ids(filled, tag="attack") == ["en-2", "en-1", "ar-1"]  # tags of matching rules
    assert await ids(filled, tag="politics") == ["ar-4"]  # article tags
    assert await ids(filled, entity="bases/ain-al-asad") == ["ar-1"]
    assert await ids(filled, entity="ain-al-asad") == ["ar-1"]
    assert await ids(filled, q="base", lang="en", source="s1") == ["en-3"]
    assert await ids(filled, since=T0 + timedelta(hours=4), until=T0 + timedelta(hours=6)) == ["en-1", "ar-4"]
    assert await ids(filled, q="قاعدة", since=T0 + timedelta(hours=2)) == ["ar-3", "ar-2"]
    assert await ids(filled, rule="no-such-rule") == []


async def test_pagination(filled):
    p1 = await filled.search(SearchQuery(limit=3))
    p2 = await filled.search(SearchQuery(limit=3, offset=3))
    p3 = await filled.search(SearchQuery(limit=3, offset=6))
    assert p1.more and p2.more and not p3.more
    seen = [h.id for p in (p1, p2, p3) for h in p.hits]
    assert seen == [i.id for i in reversed(CORPUS)]


async def test_snippets_highlight_the_original_text(filled):
    page = await filled.search(SearchQuery(q="قاعدة"))
    hit = next(h for h in page.hits if h.id == "ar-2")
    marked = [hit.snippet[a:b] for a, b in hit.highlights]
    assert marked == ["والقاعدة"]
    hit = next(h for h in (await filled.search(SearchQuery(q="base"))).hits if h.id == "en-1")
    assert [hit.snippet[a:b] for a, b in hit.highlights] == ["BASE"]


HOSTILE = [
    '"', "'", '"unbalanced', "a AND OR NOT", "NEAR(a b)", "*", "**", "a*b*", "-", "--", ";", "'; DROP TABLE articles; --",
    "\\", "\x00", "{}", "()", "(((", ":*", "'a':*", "a & | !b", "^a", "$$", "title:x", "\u200f\u200e",
    "ـــ", "ً", "🙂", "قاعدة\"*(", "a" * 1000, "ق" * 500, " ".join(["x"] * 32),
]


@pytest.mark.parametrize("q", HOSTILE)
async def test_any_query_string_is_safe(filled, q):
    page = await filled.search(SearchQuery(q=q))  # answers, whatever it finds
    assert len(page.hits) <= page.limit


async def test_too_many_or_too_long_is_a_clear_error(filled):
    with pytest.raises(QueryInvalid, match="at most 32"):
        await filled.search(SearchQuery(q=" ".join(f"w{i}" for i in range(40))))
    with pytest.raises(ValueError, match="1000"):
        SearchQuery(q="a" * 1001)
    for bad in ({"source": "a\x00b"}, {"tag": "x" * 513}, {"rule": "\n"}, {"lang": ""}):
        with pytest.raises(ValueError):
            SearchQuery(**bad)
    assert await ids(filled, source="s\u200f1 ' OR 1=1 --") == []  # any printable value is just a value


async def test_a_statement_past_its_budget_is_too_broad(archive):
    # a statement that runs a whole second (or 10^9 steps) against a 10 ms budget: cancelled, not waited for
    if archive.backend == "sqlite":
        slow = "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 1000000000) SELECT max(x) FROM c"
        with pytest.raises(QueryTooBroad, match="budget"):
            await archive._read(lambda c: c.execute(slow).fetchall(), 0.01)
    else:
        with pytest.raises(QueryTooBroad, match="budget"):
            await archive._fetch("SELECT pg_sleep(1)", (), 0.01)
    await archive.put(CORPUS)
    assert await ids(archive, q="base") == ["en-3", "en-1"]  # the connection is fine afterwards


async def test_notes_events_and_copies(filled):
    await filled.annotate([Note("ar-1", "ev-1", "cg-1"), Note("en-1", "ev-1", "cg-2"), Note("ar-2", "", "cg-1")])
    await filled.annotate([Note("ar-1", "", "")])  # empty notes change nothing
    # a note may come before its article
    await filled.annotate([Note("late", "ev-1", "")])
    await filled.put([item("late", "تقرير متأخر", hours=-5)])
    assert [a.id for a in await filled.event("ev-1")] == ["late", "ar-1", "en-1"]  # published order
    assert {a.id for a in await filled.copies("cg-1")} == {"ar-1", "ar-2"}
    got = await filled.get("ar-1")
    assert got is not None and got.event_id == "ev-1" and got.copy_group == "cg-1"
    assert got.matches[0].evidence[0].term == "x" and got.article.content.startswith("استهدف")
    assert await filled.get("nope") is None
    assert await filled.event("") == [] and await filled.event("ev-unknown") == []
    hit = (await filled.search(SearchQuery(q="rocket"))).hits[0]
    assert hit.event_id == "ev-1" and hit.copy_group == "cg-2"


async def test_batches_newest_first_within_the_window(filled):
    got = [i.id async for b in filled.batches(size=2) for i in b]
    assert got == [i.id for i in reversed(CORPUS)]
    window = [i.id async for b in filled.batches(T0 + timedelta(hours=2), T0 + timedelta(hours=5), size=3)
              for i in b]
    assert window == ["ar-4", "ar-3", "ar-2"]


async def test_prune_drops_what_was_archived_before(filled):
    await filled.annotate([Note("ar-1", "ev-1", "")])
    assert await filled.prune(T0 + timedelta(hours=3)) == 2  # ar-1, ar-2
    assert await filled.count() == len(CORPUS) - 2
    assert await ids(filled, q="قاعدة") == ["ar-3"]
    assert await filled.event("ev-1") == []
    assert await filled.put([CORPUS[0]]) == 1  # gone for good: it can be archived again
