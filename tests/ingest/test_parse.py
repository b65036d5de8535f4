"""Bytes to entries to Articles: encodings, entity defence, canonical ids, HTML to text. No network."""

from __future__ import annotations

import codecs
from datetime import UTC, datetime

from hypothesis import given, settings
from hypothesis import strategies as st

from monitor.ingest.feeds import FeedConfig
from monitor.ingest.parse import entry_id, normalise_link, parse_feed, sanitise, strip_doctype, to_article
from monitor.ingest.textify import html_to_text

from .conftest import rss_feed

FEED = FeedConfig(url="https://news.example/rss", name="news", tags=("gulf",))
NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)


def test_normalise_link_drops_tracking_and_fragment() -> None:
    assert normalise_link("HTTPS://News.Example:443/a/b?id=7&utm_source=x&UTM_Medium=y&fbclid=1&gclid=2#top") \
        == "https://news.example/a/b?id=7"
    assert normalise_link("http://x.example:8080") == "http://x.example:8080/"
    assert normalise_link("mailto:a@b") == "mailto:a@b"
    assert normalise_link("http://[bad") == "http://[bad"


def test_entry_id_order_guid_link_hash() -> None:
    assert entry_id({"id": "urn:uuid:1", "link": "http://x/"}, FEED.url) == "urn:uuid:1"
    assert entry_id({"id": "42"}, FEED.url) == "https://news.example/rss#42"  # bare guids are feed-scoped
    assert entry_id({"link": "http://x.example/a?utm_campaign=z#f"}, FEED.url) == "http://x.example/a"
    h1 = entry_id({"title": "T", "published": "Sun, 22 Nov 2026"}, FEED.url)
    assert h1.startswith("hash:") and h1 == entry_id({"title": "T", "published": "Sun, 22 Nov 2026"}, FEED.url)
    assert h1 != entry_id({"title": "T2", "published": "Sun, 22 Nov 2026"}, FEED.url)
    long_id = entry_id({"id": "urn:" + "x" * 600}, FEED.url)
    assert long_id.startswith("sha256:") and len(long_id) < 512


def test_html_to_text() -> None:
    assert html_to_text("<p>Hel<b>lo</b> world<br>two</p><script>evil()</script><div>a &amp; b</div>") \
        == "Hello world\ntwo\na & b"
    assert html_to_text("plain   text\n\n\n\nnext") == "plain text\n\nnext"
    assert html_to_text("") == ""


def test_article_fields() -> None:
    body = (
        b'<?xml version="1.0"?><rss version="2.0"><channel><title>c</title><language>ar-SA</language>'
        b"<item><guid>g1</guid><title>A &amp; B</title><link>http://news.example/1?utm_source=rss</link>"
        b"<description>&lt;p&gt;Sum &lt;b&gt;mary&lt;/b&gt;&lt;/p&gt;</description><author>x@y (X)</author>"
        b"<pubDate>Sun, 22 Nov 2026 13:00:00 +0300</pubDate></item>"
        b"<item><title>no date</title></item></channel></rss>"
    )
    parsed = parse_feed(body)
    assert not parsed.bozo and parsed.language == "ar"
    a = to_article(parsed.entries[0], FEED, parsed, fetched_at=NOW)
    assert a.id == "https://news.example/rss#g1"
    assert (a.title, a.summary, a.url) == ("A & B", "Sum mary", "http://news.example/1")
    assert a.content_html == "<p>Sum <b>mary</b></p>"
    assert a.published == datetime(2026, 11, 22, 10, 0, tzinfo=UTC)
    assert (a.source, a.feed_url, a.tags, a.lang) == ("news", FEED.url, ("gulf",), "ar")
    b = to_article(parsed.entries[1], FeedConfig(url=FEED.url, language="en"), parsed, fetched_at=NOW)
    assert b.published == NOW and b.lang == "en" and b.id.startswith("hash:")


def test_relative_links_resolved_against_the_feed_address() -> None:
    body = (b'<rss version="2.0"><channel><title>c</title><item><title>t</title><link>/news/1?utm_source=x</link>'
            b'<description>&lt;p&gt;&lt;a href="/x"&gt;x&lt;/a&gt; &lt;img src="i.png"&gt;&lt;/p&gt;</description>'
            b"</item></channel></rss>")
    parsed = parse_feed(body, base_url="https://news.example/feeds/rss")
    a = to_article(parsed.entries[0], FEED, parsed, fetched_at=NOW)
    assert a.url == a.id == "https://news.example/news/1"
    assert 'href="https://news.example/x"' in a.content_html
    assert 'src="https://news.example/feeds/i.png"' in a.content_html


def test_atom_content_kept_as_html_and_text() -> None:
    body = (b'<feed xmlns="http://www.w3.org/2005/Atom"><title>t</title><entry><id>tag:x,2026:1</id>'
            b'<title type="html">&lt;i&gt;Hi&lt;/i&gt;</title><updated>2026-11-22T09:00:00Z</updated>'
            b'<content type="html">&lt;p&gt;Body one&lt;/p&gt;&lt;p&gt;two&lt;/p&gt;</content></entry></feed>')
    parsed = parse_feed(body)
    a = to_article(parsed.entries[0], FEED, parsed, fetched_at=NOW)
    assert (a.id, a.title, a.content) == ("tag:x,2026:1", "Hi", "Body one\ntwo")
    assert "<p>Body one</p>" in a.content_html
    assert a.updated == datetime(2026, 11, 22, 9, 0, tzinfo=UTC) == a.published


def test_encodings_become_utf8() -> None:
    text = rss_feed([("1", "مرحبا بالعالم")]).decode().replace('encoding="utf-8"', 'encoding="windows-1256"')
    for data, ctype in [
        (text.encode("windows-1256"), ""),
        (text.encode("windows-1256"), "text/xml; charset=windows-1256"),
        (codecs.BOM_UTF16_LE + text.encode("utf-16-le"), ""),
        (text.encode("utf-16-be"), ""),
        (codecs.BOM_UTF8 + text.encode("utf-8"), "text/xml; charset=iso-8859-1"),
    ]:
        parsed = parse_feed(data, content_type=ctype)
        assert parsed.entries[0]["title"] == "مرحبا بالعالم", (ctype, parsed.encoding)


def test_doctype_and_entities_removed_even_in_utf16() -> None:
    doc = ('<?xml version="1.0" encoding="utf-16"?>\n<!DOCTYPE rss [<!ENTITY a "aaaa"> <!ENTITY b "&a;&a;">'
           ' <!ENTITY % p SYSTEM "http://127.0.0.1:1/x.dtd"> %p; ]>\n<rss><channel><item><title>&b;</title>'
           "</item></channel></rss>")
    data, enc = sanitise(doc.encode("utf-16"))
    assert enc.startswith("utf-16") and b"DOCTYPE" not in data and b"ENTITY" not in data
    assert data.startswith(b'<?xml version="1.0" encoding="utf-8"?>')
    assert "aaaa" not in str(parse_feed(doc.encode("utf-16")).entries)


def test_doctype_inside_cdata_is_content() -> None:
    text = "<rss><item><description><![CDATA[ <!DOCTYPE ]]></description></item></rss>"
    assert strip_doctype(text) == text
    assert strip_doctype("<!DOCTYPE x [ <!ENTITY y '>'> ]><a/>") == "<a/>"
    assert strip_doctype("<!-- <!DOCTYPE x> --><!DOCTYPE y><a/>") == "<!-- <!DOCTYPE x> --><a/>"
    assert strip_doctype("<a/><!DOCTYPE unterminated [ <b/>") == "<a/>"


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet="<!-[]>\"'CDATAdoctypeENTITY x&;", max_size=200))
def test_strip_doctype_never_crashes_and_leaves_no_declaration(text: str) -> None:
    out = strip_doctype(text)
    assert len(out) <= len(text)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=400))
def test_parse_any_bytes(data: bytes) -> None:
    try:
        parse_feed(data)
    except Exception as exc:  # only the documented error may escape
        from monitor.ingest.parse import FeedParseError

        assert isinstance(exc, FeedParseError)


@given(st.from_regex(r"https?://[a-z]{1,8}\.example(:[0-9]{1,4})?/[a-z/]{0,10}(\?[a-z_=&]{0,20})?(#[a-z]*)?",
                     fullmatch=True))
def test_normalise_link_is_idempotent(link: str) -> None:
    once = normalise_link(link)
    assert normalise_link(once) == once and "#" not in once and "utm_" not in once
