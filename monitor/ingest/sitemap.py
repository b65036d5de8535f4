"""Sitemaps as a source (``kind: sitemap``): a site's sitemap, Google News sitemap or sitemap index in,
candidate ``Article``s (one per page URL, newest first) out; the poller fetches each new page's text.

``parse_sitemap`` is pure: bytes (gzip or not) in, ``Sitemap`` out, or ``SitemapError`` for a body that
is not a sitemap. The body goes through the feed parser's transcoding and entity defence first (no
DOCTYPE, hence no entity, survives), then a streaming XML parse that stops after ``max_urls`` entries.
Per ``<url>``: ``loc``, ``lastmod``, and from the news extension ``news:publication_date``,
``news:title`` and ``news:publication/news:language``. Per index ``<sitemap>``: ``loc`` and ``lastmod``.
Namespaces are matched by local name (real sitemaps get them wrong often enough).

``read_source`` (the ``sources.READERS`` entry): the top URL with the feed's validators (an index is
always fetched: its children change under it), then for an index its ``max_children`` newest children
whose ``lastmod`` changed since the last read, down to ``max_depth`` levels, with the same fetch limits
as feeds. Entries dated before ``sitemap_max_age_days`` are left out; of the rest, the ``sitemap_max_new``
newest become candidates (id and url: the normalised ``loc``; title from ``news:title``, else the page's
own title when its full text is fetched; time: publication date, else lastmod, else the fetch time).
A child that fails is skipped and read again next time (its lastmod is not recorded).
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal
from urllib.parse import urljoin
from xml.etree.ElementTree import ParseError, XMLPullParser

import aiohttp

from monitor.ingest.feeds import FeedConfig
from monitor.ingest.fetch import FetchLimits, FetchResult, fetch
from monitor.ingest.parse import MAX_TITLE, normalise_link, sanitise
from monitor.ingest.read import body_digest
from monitor.ingest.sources import SourceRead
from monitor.ingest.state import FeedState
from monitor.models import Article
from monitor.settings import Settings


class SitemapError(Exception):
    """Not a sitemap (or a broken one). Not retryable unless the body changes."""

    retryable = False
    reason = "not_a_sitemap"


@dataclass(frozen=True, slots=True)
class SitemapUrl:
    loc: str
    lastmod: datetime | None = None
    published: datetime | None = None
    title: str = ""
    language: str = ""

    @property
    def when(self) -> datetime | None:
        return self.published or self.lastmod


@dataclass(slots=True)
class Sitemap:
    kind: Literal["urlset", "index"]
    urls: list[SitemapUrl] = field(default_factory=list)
    children: list[tuple[str, str]] = field(default_factory=list)  # (loc, lastmod as written)
    truncated: bool = False  # stopped at max_urls


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1].lower()


def w3c_time(value: str) -> datetime | None:
    """A W3C datetime (date, or date and time with zone) in UTC; a missing zone is taken as UTC."""
    value = value.strip()
    if not value:
        return None
    try:
        t = datetime.fromisoformat(value)
    except ValueError:
        return None
    return t.replace(tzinfo=UTC) if t.tzinfo is None else t.astimezone(UTC)


def gunzip(body: bytes, max_bytes: int) -> bytes:
    """A gzip file (``sitemap.xml.gz`` served as is) decompressed, at most ``max_bytes``."""
    d = zlib.decompressobj(16 + zlib.MAX_WBITS)
    try:
        out = d.decompress(body, max_bytes + 1)
    except zlib.error as exc:
        raise SitemapError(f"bad gzip body: {exc}") from exc
    if len(out) > max_bytes:
        raise SitemapError(f"sitemap over {max_bytes} bytes once decompressed")
    return out


def parse_sitemap(body: bytes, *, base_url: str = "", content_type: str = "", max_urls: int = 50_000,
                  max_bytes: int = 10 * 1024 * 1024) -> Sitemap:
    if body[:2] == b"\x1f\x8b":
        body = gunzip(body, max_bytes)
    data, _enc = sanitise(body, content_type)
    parser: Any = XMLPullParser(events=("start", "end"))  # (event, Element) pairs; typeshed's union is wider
    doc: Sitemap | None = None
    item: dict[str, str] = {}
    depth = 0
    try:
        for chunk in (data[i:i + 65536] for i in range(0, len(data), 65536)):
            parser.feed(chunk)
            for event, el in parser.read_events():
                name = _local(el.tag)
                if event == "start":
                    depth += 1
                    if depth == 1:
                        if name not in ("urlset", "sitemapindex"):
                            raise SitemapError(f"root element is <{name}>, not <urlset> or <sitemapindex>")
                        doc = Sitemap(kind="urlset" if name == "urlset" else "index")
                    continue
                depth -= 1
                if depth >= 2 and name in ("loc", "lastmod", "publication_date", "title", "language"):
                    item.setdefault(name, (el.text or "").strip())
                elif depth == 1 and doc is not None and name in ("url", "sitemap"):
                    _add(doc, item, base_url)
                    item = {}
                    el.clear()
                    if len(doc.urls) + len(doc.children) >= max_urls:
                        doc.truncated = True
                        return doc
        parser.close()
    except ParseError as exc:
        if doc is None or not (doc.urls or doc.children):
            raise SitemapError(f"not well-formed XML: {exc}") from exc
        doc.truncated = True  # a body cut short: keep what was read before the break
    if doc is None:
        raise SitemapError("empty body")
    return doc


def _add(doc: Sitemap, item: dict[str, str], base_url: str) -> None:
    loc = item.get("loc", "")
    if not loc:
        return
    loc = urljoin(base_url, loc) if base_url else loc
    if not loc.startswith(("http://", "https://")):
        return
    if doc.kind == "index":
        doc.children.append((loc, item.get("lastmod", "")))
        return
    lang = item.get("language", "").lower().replace("_", "-").split("-")[0]
    doc.urls.append(SitemapUrl(loc=loc, lastmod=w3c_time(item.get("lastmod", "")),
                               published=w3c_time(item.get("publication_date", "")),
                               title=" ".join(item.get("title", "").split())[:MAX_TITLE],
                               language=lang if lang.isalpha() and 2 <= len(lang) <= 3 else ""))


@dataclass(slots=True)
class _Walk:
    session: aiohttp.ClientSession
    limits: FetchLimits
    settings: Settings
    seen_children: dict[str, str]
    urls: list[SitemapUrl] = field(default_factory=list)
    children: dict[str, str] = field(default_factory=dict)  # read this time: url -> lastmod

    async def index(self, doc: Sitemap, depth: int) -> None:
        if depth >= self.settings.sitemap_max_depth:
            return  # deeper indexes are not followed
        newest = sorted(doc.children, key=lambda c: w3c_time(c[1]) or datetime.min.replace(tzinfo=UTC),
                        reverse=True)[:self.settings.sitemap_max_children]
        for loc, lastmod in newest:
            if lastmod and self.seen_children.get(loc) == lastmod:
                self.children[loc] = lastmod  # unchanged since it was read
                continue
            res = await fetch(self.session, loc, self.limits)
            if res.status != "ok":
                continue
            try:
                child = parse_sitemap(res.body, base_url=res.final_url, content_type=res.content_type,
                                      max_urls=self.settings.sitemap_max_urls, max_bytes=self.limits.max_bytes)
            except SitemapError:
                continue
            if child.kind == "index":
                await self.index(child, depth + 1)
            else:
                self.urls.extend(child.urls)
            self.children[loc] = lastmod


async def read_source(session: aiohttp.ClientSession, feed: FeedConfig, st: FeedState, limits: FetchLimits,
                      settings: Settings, fetched_at: datetime) -> SourceRead:
    was_index = st.children is not None
    res: FetchResult = await fetch(session, feed.url, limits, etag=None if was_index else st.etag,
                                   last_modified=None if was_index else st.last_modified)
    if res.status != "ok":
        return SourceRead(fetch=res)
    digest = body_digest(res.body)
    if not was_index and st.body_hash == digest:
        return SourceRead(fetch=res, body_hash=digest)
    try:
        top = parse_sitemap(res.body, base_url=res.final_url, content_type=res.content_type,
                            max_urls=settings.sitemap_max_urls, max_bytes=limits.max_bytes)
    except SitemapError as exc:
        return SourceRead(fetch=res, parse_error=SitemapError.reason, error_text=f"not a sitemap: {exc}")
    walk = _Walk(session, limits, settings, dict(st.children or {}))
    keep: dict[str, object] = {}
    if top.kind == "index":
        await walk.index(top, 1)
        keep["children"] = walk.children
    else:
        walk.urls = top.urls
    horizon = fetched_at - timedelta(days=settings.sitemap_max_age_days)
    recent = [u for u in walk.urls if u.when is None or u.when >= horizon]
    oldest = datetime.min.replace(tzinfo=UTC)
    recent.sort(key=lambda u: u.when or oldest, reverse=True)
    articles = [
        Article(id=normalise_link(u.loc), url=normalise_link(u.loc), title=u.title,
                published=u.when or fetched_at, updated=u.lastmod, fetched_at=fetched_at, source=feed.name,
                feed_url=feed.url, tags=feed.tags, lang=feed.language or u.language)
        for u in recent[:settings.sitemap_max_new]
    ]
    articles.reverse()  # oldest first, as the poller publishes
    return SourceRead(fetch=res, articles=articles, read=len(walk.urls), keep=keep,
                      body_hash=None if top.kind == "index" else digest)

