"""Telegram public channels through their web preview (``https://t.me/s/NAME``): pages in, messages out.

The preview is an HTML page listing a channel's latest messages, oldest first. Each message is a
container ``div.tgme_widget_message`` whose ``data-post`` is ``NAME/NUMBER``; inside it the text
(``div.tgme_widget_message_text``; a reply's quoted text is a different block and is left out), the
time (``time[datetime]`` in the footer, ISO 8601 with its zone), a forwarded-from block
(``.tgme_widget_message_forwarded_from_name``) and a link preview (``a.tgme_widget_message_link_preview``).
Older messages are behind the "more" link (``a.tme_messages_more[data-before]``, ``?before=NUMBER``).

``parse_preview`` is pure: bytes in, ``PreviewPage`` out, or ``TelegramPageError`` for a page that is
not a channel preview at all (a private channel, a login wall, an error page). Containers without a
usable ``data-post`` and service messages ("channel created", pins) are skipped; a message with neither
text nor a document title (a photo or video without caption) is ``media_only``.

``read_channel`` fetches with the feed fetcher's limits: the newest page first, then back through
``?before=`` only while the page does not reach ``cursor`` (the highest message number already handled),
at most ``max_pages`` pages with ``page_delay`` seconds between them; on first sight (``cursor`` None)
one page only. It never raises; ``cursor`` in the result advances only when the read reached the old
cursor (or the page bound), so a page that failed half-way is read again next time.
``to_articles`` makes ``Article`` models: id and url ``https://t.me/NAME/NUMBER``, title the first line.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import datetime
from urllib.parse import urljoin, urlsplit

import aiohttp
from selectolax.lexbor import LexborHTMLParser, LexborNode

from monitor.ingest.feeds import FeedConfig
from monitor.ingest.fetch import FetchLimits, FetchResult, fetch
from monitor.ingest.parse import MAX_SUMMARY, MAX_TITLE, to_text
from monitor.ingest.textify import clean_space, html_to_text
from monitor.models import Article

TITLE_CHARS = 200  # a message has no title: its first line, cut at a word near this length


class TelegramPageError(Exception):
    """The body is not a channel preview page. Not retryable unless the page changes."""

    retryable = False
    reason = "not_a_preview"


@dataclass(frozen=True, slots=True)
class Message:
    channel: str  # as the page spells it in data-post
    number: int
    text: str
    published: datetime | None
    links: tuple[str, ...] = ()
    forwarded_from: str = ""
    edited: bool = False
    media_only: bool = False

    @property
    def url(self) -> str:
        return f"https://t.me/{self.channel}/{self.number}"


@dataclass(frozen=True, slots=True)
class PreviewPage:
    title: str  # the channel's display name, '' when the page does not show it
    messages: list[Message]  # in page order (oldest first)
    lowest: int | None  # the smallest message number on the page, skipped containers included
    more_url: str | None  # the page of older messages, absolute


@dataclass(slots=True)
class ChannelRead:
    fetch: FetchResult  # the first page's fetch (status, errors, Retry-After)
    messages: list[Message] = field(default_factory=list)  # newer than the cursor, oldest first
    cursor: int | None = None  # the cursor to keep after this read
    pages: int = 0
    title: str = ""
    parse_error: str | None = None

    @property
    def status(self) -> str:
        if self.fetch.status == "ok" and self.parse_error:
            return "error"
        return self.fetch.status

    @property
    def error(self) -> str | None:
        return f"not a channel preview: {self.parse_error}" if self.parse_error else self.fetch.error


def _classes(node: LexborNode) -> set[str]:
    return set((node.attributes.get("class") or "").split())


def _inside(node: LexborNode, stop: LexborNode, cls: str) -> bool:
    """True when an ancestor of ``node`` below ``stop`` has class ``cls``."""
    p = node.parent
    while p is not None and p.mem_id != stop.mem_id:
        if cls in _classes(p):
            return True
        p = p.parent
    return False


def _http_links(nodes: list[LexborNode], base: str, self_url: str) -> list[str]:
    out: list[str] = []
    for a in nodes:
        href = (a.attributes.get("href") or "").strip()
        if not href:
            continue
        href = urljoin(base, href)
        if urlsplit(href).scheme not in ("http", "https") or href.split("?")[0] == self_url:
            continue
        if href not in out:
            out.append(href)
    return out


def _when(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        t = datetime.fromisoformat(value.strip())
    except ValueError:
        return None
    return t if t.tzinfo is not None else None  # a time without a zone is not trusted


def _message(node: LexborNode, page_url: str) -> Message | None:
    post = (node.attributes.get("data-post") or "").strip()
    name, _, num = post.rpartition("/")
    if not name or not num.isdigit() or "service_message" in _classes(node):
        return None
    url = f"https://t.me/{name}/{int(num)}"
    text_node = next((t for t in node.css(".tgme_widget_message_text")
                      if not _inside(t, node, "tgme_widget_message_reply")), None)
    text = html_to_text(text_node.html or "") if text_node is not None else ""
    links = _http_links(text_node.css("a[href]") if text_node is not None else [], page_url, url)
    preview = node.css_first("a.tgme_widget_message_link_preview[href]")
    links += [u for u in _http_links([preview] if preview else [], page_url, url) if u not in links]
    if not text:
        doc = node.css_first(".tgme_widget_message_document_title")
        text = clean_space(doc.text()) if doc is not None else ""
    fwd = node.css_first(".tgme_widget_message_forwarded_from_name")
    forwarded = clean_space(fwd.text()) if fwd is not None else ""
    if fwd is not None and not forwarded:
        forwarded = fwd.attributes.get("href") or ""
    stamp = node.css_first(".tgme_widget_message_date time[datetime]") or node.css_first("time[datetime]")
    meta = node.css_first(".tgme_widget_message_meta")
    edited = meta is not None and "edited" in meta.text().lower()
    return Message(channel=name, number=int(num), text=text,
                   published=_when(stamp.attributes.get("datetime") if stamp else None),
                   links=tuple(links[:50]), forwarded_from=forwarded[:300], edited=edited,
                   media_only=not text)


def parse_preview(body: bytes, page_url: str, content_type: str = "") -> PreviewPage:
    """One preview page (see the module docstring). Raises ``TelegramPageError`` for other pages."""
    html, _enc = to_text(body, content_type)
    tree = LexborHTMLParser(html)
    containers = tree.css("div.tgme_widget_message[data-post]")
    info = tree.css_first(".tgme_channel_info")
    more = tree.css_first("a.tme_messages_more[data-before]")
    if not containers and info is None and more is None:
        raise TelegramPageError("no message containers, channel header or 'more' link on the page")
    messages: list[Message] = []
    numbers: list[int] = []
    for node in containers:
        num = (node.attributes.get("data-post") or "").rpartition("/")[2]
        if num.isdigit():
            numbers.append(int(num))
        m = _message(node, page_url)
        if m is not None:
            messages.append(m)
    more_url = None
    if more is not None:
        href = more.attributes.get("href") or ""
        before = (more.attributes.get("data-before") or "").strip()
        if href:
            more_url = urljoin(page_url, href)
        elif before.isdigit():
            more_url = urljoin(page_url, f"?before={before}")
    title_node = tree.css_first(".tgme_channel_info_header_title")
    title = clean_space(title_node.text()) if title_node is not None else ""
    return PreviewPage(title=title, messages=messages, lowest=min(numbers) if numbers else None,
                       more_url=more_url)


async def read_channel(session: aiohttp.ClientSession, url: str, limits: FetchLimits, *,
                       cursor: int | None, max_pages: int, page_delay: float) -> ChannelRead:
    """The messages newer than ``cursor`` (see the module docstring); never raises."""
    first: FetchResult | None = None
    found: dict[int, Message] = {}
    highest = cursor
    complete = False
    pages = 0
    title = ""
    page_url: str | None = url
    while page_url is not None:
        res = await fetch(session, page_url, limits)
        pages += 1
        if first is None:
            first = res
        if res.status != "ok":
            break  # a later page failed: keep what was read, the cursor stays
        try:
            page = parse_preview(res.body, res.final_url or page_url, res.content_type)
        except TelegramPageError as exc:
            if pages == 1:
                return ChannelRead(fetch=res, pages=1, parse_error=str(exc))
            break
        title = title or page.title
        for m in page.messages:
            if cursor is None or m.number > cursor:
                found.setdefault(m.number, m)
            highest = m.number if highest is None else max(highest, m.number)
        if (cursor is None or page.more_url is None or page.lowest is None or page.lowest <= cursor + 1
                or pages >= max_pages):
            complete = True  # reached what was handled before, the channel's start, or the page bound
            break
        page_url = page.more_url
        if page_delay > 0:
            await asyncio.sleep(page_delay)
    assert first is not None
    if first.status != "ok":
        return ChannelRead(fetch=first, pages=pages, cursor=cursor)
    return ChannelRead(fetch=first, messages=[found[n] for n in sorted(found)], pages=pages, title=title,
                       cursor=highest if complete else cursor)


def _title(text: str) -> str:
    line = next((ln.strip() for ln in text.splitlines() if ln.strip()), "")
    if len(line) <= TITLE_CHARS:
        return line
    cut = line.rfind(" ", 0, TITLE_CHARS)
    return line[:cut if cut > TITLE_CHARS // 2 else TITLE_CHARS].rstrip() + "…"


def to_articles(messages: list[Message], feed: FeedConfig, *, channel_title: str,
                fetched_at: datetime) -> list[Article]:
    """Messages with text as ``Article`` models (media-only messages have nothing to match: left out)."""
    out: list[Article] = []
    for m in messages:
        if m.media_only:
            continue
        out.append(Article(
            id=m.url, url=m.url, title=_title(m.text)[:MAX_TITLE], summary=m.text[:MAX_SUMMARY],
            author=channel_title or m.channel, published=m.published or fetched_at, fetched_at=fetched_at,
            source=feed.name, feed_url=feed.url, tags=feed.tags, lang=feed.language, links=m.links,
            forwarded_from=m.forwarded_from,
        ))
    return out
