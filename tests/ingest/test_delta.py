"""Parsing only what changed gives the same entries as a full parse, and falls back when it cannot."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from aiohttp import web
from hypothesis import given, settings
from hypothesis import strategies as st

from monitor.ingest.delta import item_digests, new_items_document, split_items
from monitor.ingest.feeds import FeedConfig
from monitor.ingest.parse import entry_id, parse_sanitised, sanitise, to_articles
from monitor.ingest.read import read_feed
from monitor.ingest.textify import html_to_text, html_to_texts

from .conftest import SMALL, rss_feed, serve

NOW = datetime(2026, 11, 22, tzinfo=UTC)


def _atom(entries: list[str]) -> bytes:
    body = "".join(f"<entry><id>tag:x,2026:{e}</id><title>{e}</title><updated>2026-11-22T00:00:00Z</updated>"
                   f"<content type='html'>&lt;p&gt;{e}&lt;/p&gt;</content></entry>" for e in entries)
    return f'<feed xmlns="http://www.w3.org/2005/Atom"><title>t</title>{body}</feed>'.encode()


def test_split_rss_and_atom() -> None:
    data, _ = sanitise(rss_feed([("1", "a"), ("2", "b")]))
    split = split_items(data)
    assert split is not None and len(split.items) == 2
    assert split.prefix.endswith(b"<language>en</language>") and split.suffix == b"</channel></rss>"
    atom = split_items(_atom(["x", "y", "z"]))
    assert atom is not None and len(atom.items) == 3


def test_split_refuses_ambiguous_documents() -> None:
    assert split_items(b"<rss><channel><title>no items</title></channel></rss>") is None
    assert split_items(b"<rss><item><title>a</title><item>nested</item></item></rss>") is None
    assert split_items(b"<rss><item/></rss>") is None
    assert split_items(b"<rss><item><description><![CDATA[ </item> ]]></description></item></rss>") is None
    assert split_items(b"<rss><item><title>unclosed</title></rss>") is None
    rdf = split_items(b"<rdf:RDF><channel><items><rdf:Seq/></items></channel><item><title>a</title></item>"
                      b"</rdf:RDF>")
    assert rdf is not None and len(rdf.items) == 1  # <items> is not an item


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(0, 30), min_size=1, max_size=12, unique=True),
       st.lists(st.integers(0, 30), min_size=1, max_size=12, unique=True))
def test_delta_parse_equals_full_parse_of_new_items(old: list[int], new: list[int]) -> None:
    feed = FeedConfig(url="http://x.example/rss")
    old_data, _ = sanitise(rss_feed([(str(i), f"t{i} &amp; <b>x</b>") for i in old]))
    new_data, _ = sanitise(rss_feed([(str(i), f"t{i} &amp; <b>x</b>") for i in new]))
    split = split_items(new_data)
    previous = item_digests(old_data)
    assert split is not None and previous is not None
    digests = item_digests(new_data)
    assert digests is not None
    doc, fresh = new_items_document(split, digests, previous)
    assert fresh == len(set(new) - set(old))
    partial = parse_sanitised(doc)
    full = parse_sanitised(new_data)
    wanted = {entry_id(e, feed.url) for e in full.entries if int(e["id"].rsplit("#", 1)[-1]) not in old}
    assert {entry_id(e, feed.url) for e in partial.entries} == wanted
    a = to_articles([(entry_id(e, feed.url), e) for e in partial.entries], feed, partial, fetched_at=NOW)
    b = to_articles([(entry_id(e, feed.url), e) for e in full.entries if entry_id(e, feed.url) in wanted],
                    feed, full, fetched_at=NOW)
    assert sorted(a, key=lambda x: x.id) == sorted(b, key=lambda x: x.id)


async def test_read_feed_parses_only_new_items(session: Any) -> None:
    items = [("1", "one"), ("2", "two")]
    app = web.Application()
    app.router.add_get("/f", lambda r: web.Response(body=rss_feed(items)))
    async with serve(app) as base:
        first = await read_feed(session, f"{base}/f", SMALL)
        assert first.parsed is not None and len(first.parsed.entries) == 2 and not first.partial
        items.insert(0, ("3", "three"))
        second = await read_feed(session, f"{base}/f", SMALL, body_hash=first.body_hash, items=first.items)
        assert second.partial and second.skipped == 2 and second.parsed is not None
        assert [e["title"] for e in second.parsed.entries] == ["three"]
        items.reverse()
        third = await read_feed(session, f"{base}/f", SMALL, body_hash=second.body_hash, items=second.items)
        assert third.partial and third.parsed is not None and third.parsed.entries == []


def test_batched_html_to_text_matches_one_by_one() -> None:
    fragments = ["<p>a</p><p>b", "plain & simple", "", "<table><tr><td>cell", "after table",
                 "<b>bold", "<i>x</i> y <br> z", "<textarea>raw", "tail &amp; <unclosed", "last"]
    assert html_to_texts(fragments) == [html_to_text(f) for f in fragments]
