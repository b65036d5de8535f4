"""Feed bytes in, feed entries and ``Article`` models out. Pure and synchronous: no network, no files.

Order of operations (``parse_feed``):
1. transcode to UTF-8: BOM, then UTF-16/32 by the NUL pattern, then valid UTF-8, then the HTTP charset,
   then the XML declaration, then windows-1252 (with replacement: decoding never fails);
2. entity defence on the decoded text: every ``<!DOCTYPE …>`` (internal subset included) and any stray
   ``<!ENTITY …>`` is removed, so no entity is ever defined, expanded or resolved (billion laughs,
   quadratic blow-up and external entities all need a declaration); the XML declaration is rewritten to
   say UTF-8. Doing this *after* transcoding matters: in UTF-16 the DOCTYPE is invisible to byte regexes;
3. feedparser gets the UTF-8 bytes wrapped in ``BytesIO`` (given ``bytes`` it would try them as a file
   path; given a ``str`` URL it would fetch it itself, without limits);
4. anything feedparser raises instead of setting ``bozo`` becomes ``FeedParseError`` with a short reason.

``entry_id`` gives the canonical id: the guid (scoped by the feed URL when it is not a URI, since
"1", "2" guids repeat across feeds), else the link (resolved against the feed's address) without
tracking parameters or fragment, else a hash of title and published time. ``to_articles`` converts
entries (HTML to text, relative links resolved, times in UTC).
"""

from __future__ import annotations

import codecs
import io
import re
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit, urlunsplit

import feedparser
from feedparser.urls import resolve_relative_uris

from monitor.ingest.feeds import FeedConfig
from monitor.ingest.textify import clean_space, html_to_texts
from monitor.models import Article, stable_id

#: Field caps, in characters: an article must fit in one Kafka record comfortably.
MAX_TITLE, MAX_SUMMARY, MAX_CONTENT, MAX_HTML = 2_000, 20_000, 200_000, 500_000

_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
_NUL_PATTERNS = (
    (b"\x00\x00\x00<", "utf-32-be"),
    (b"<\x00\x00\x00", "utf-32-le"),
    (b"\x00<", "utf-16-be"),
    (b"<\x00", "utf-16-le"),
)
_CHARSET = re.compile(r"charset\s*=\s*[\"']?([\w.:-]+)", re.I)
_XML_DECL_ENC = re.compile(rb"^\s*<\?xml[^>]*?encoding\s*=\s*[\"']([\w.:-]+)[\"']", re.I)
_XML_DECL = re.compile(r"^\s*<\?xml[^>]*\?>", re.I)
_MARKUP_START = re.compile(r"<!\[CDATA\[|<!--|<!\s*doctype\b", re.I)
_DOCTYPE_TOKENS = re.compile(r"\"[^\"]*\"|'[^']*'|<!--.*?-->|[\[\]>]", re.S)
_STRAY_ENTITY = re.compile(r"<!\s*entity\b(?:\"[^\"]*\"|'[^']*'|[^>\"'])*>?", re.I)

TRACKING_PARAMS = frozenset(
    ["fbclid", "gclid", "dclid", "gbraid", "wbraid", "msclkid", "yclid", "mc_cid", "mc_eid", "igshid", "_ga", "_gl", "ref_src", "ref_url", "cmpid", "ncid", "ocid", "spm", "__twitter_impression", "at_medium", "at_campaign"]
)


class FeedParseError(Exception):
    """feedparser raised on this body. ``reason`` is a short label; retryable only if the body changes."""

    retryable = False

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class ParsedFeed:
    entries: list[Any]  # feedparser entries (FeedParserDict)
    bozo: bool
    bozo_reason: str
    language: str  # the feed's declared language, primary subtag, or ''
    title: str
    encoding: str
    base: str = ""  # the URL the body came from, for resolving relative links


def _codec(name: str | None) -> str | None:
    if not name:
        return None
    try:
        return codecs.lookup(name).name
    except LookupError:
        return None


def to_text(body: bytes, content_type: str = "") -> tuple[str, str]:
    """Decode a feed body (see the module docstring for the order); returns (text, encoding used)."""
    for bom, enc in _BOMS:
        if body.startswith(bom):
            return body[len(bom):].decode(enc, errors="replace"), enc
    head = body[:4]
    for pattern, enc in _NUL_PATTERNS:
        if head.startswith(pattern):
            return body.decode(enc, errors="replace"), enc
    try:
        return body.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    m = _CHARSET.search(content_type or "")
    m2 = _XML_DECL_ENC.match(body[:512])
    for candidate in (m.group(1) if m else None, m2.group(1).decode("ascii") if m2 else None):
        codec = _codec(candidate)
        if codec and not codec.startswith(("utf-16", "utf-32", "utf_16", "utf_32")):
            return body.decode(codec, errors="replace"), codec
    return body.decode("cp1252", errors="replace"), "cp1252"


def strip_doctype(text: str) -> str:
    """Remove every DOCTYPE (with its internal subset) outside CDATA sections and comments, and any
    stray ENTITY declaration. Linear time: every search only moves forward."""
    out: list[str] = []
    pos = 0
    scan = 0
    no_close = {"]]>": False, "-->": False}  # once a closer is missing, no later opener can close
    while True:
        m = _MARKUP_START.search(text, scan)
        if m is None:
            break
        opener = m.group(0)
        if opener in ("<![CDATA[", "<!--"):
            closer = "]]>" if opener == "<![CDATA[" else "-->"
            end = -1 if no_close[closer] else text.find(closer, m.end())
            if end == -1:
                no_close[closer] = True
                scan = m.end()
            else:
                scan = end + len(closer)
            continue
        out.append(text[pos:m.start()])
        depth = 0
        end = len(text)  # unterminated: drop the rest
        for tok in _DOCTYPE_TOKENS.finditer(text, m.end()):
            t = tok.group(0)
            if t == "[":
                depth += 1
            elif t == "]":
                depth = max(0, depth - 1)
            elif t == ">" and depth == 0:
                end = tok.end()
                break
        pos = scan = end
    out.append(text[pos:])
    result = "".join(out)
    if "<!" in result and _STRAY_ENTITY.search(result):
        result = _STRAY_ENTITY.sub("", result)
    return result


def sanitise(body: bytes, content_type: str = "") -> tuple[bytes, str]:
    """Transcode to UTF-8 and apply the entity defence; returns (UTF-8 bytes, source encoding)."""
    text, enc = to_text(body, content_type)
    text = text.lstrip("\ufeff")
    if "<!" in text:
        text = strip_doctype(text)
    decl = _XML_DECL.match(text)
    if decl:
        text = '<?xml version="1.0" encoding="utf-8"?>' + text[decl.end():]
    return text.encode("utf-8", errors="replace"), enc


def _lang(code: object) -> str:
    if not isinstance(code, str):
        return ""
    primary = code.strip().lower().replace("_", "-").split("-")[0]
    return primary if re.fullmatch(r"[a-z]{2,3}", primary) else ""


def parse_feed(body: bytes, *, content_type: str = "", base_url: str = "") -> ParsedFeed:
    """Parse a feed body. Raises ``FeedParseError`` when feedparser itself raises."""
    data, enc = sanitise(body, content_type)
    return parse_sanitised(data, encoding=enc, base_url=base_url)


def parse_sanitised(data: bytes, *, encoding: str = "utf-8", base_url: str = "") -> ParsedFeed:
    """Parse bytes that ``sanitise`` produced (UTF-8, no DOCTYPE). Raises ``FeedParseError``.

    feedparser is *not* given ``base_url``: with a base it resolves every relative URI of every entry's
    HTML (a quarter of its time on a 60 KB feed), most of which are never published. Links, and the
    HTML of the articles actually published, are resolved against ``base_url`` in ``to_articles``.
    """
    headers = {"content-type": "application/xml; charset=utf-8"}
    try:
        result = feedparser.parse(io.BytesIO(data), response_headers=headers)
    except RecursionError as exc:
        raise FeedParseError("recursion", f"feedparser: nesting too deep: {exc}") from exc
    except Exception as exc:  # feedparser's own failures, the one boundary where we catch them all
        raise FeedParseError(type(exc).__name__.lower()[:40], f"feedparser raised {exc!r}") from exc
    feed = result.get("feed", {})
    reason = result.get("bozo_exception")
    return ParsedFeed(
        entries=list(result.get("entries", [])),
        bozo=bool(result.get("bozo")),
        bozo_reason=f"{type(reason).__name__}: {reason}" if reason else "",
        language=_lang(feed.get("language")),
        title=str(feed.get("title", "")),
        encoding=encoding,
        base=base_url,
    )


# --- identity ------------------------------------------------------------------------------------


def normalise_link(link: str) -> str:
    """Lower-case scheme and host, no default port, no fragment, no tracking parameters."""
    link = link.strip()
    try:
        parts = urlsplit(link)
        port = parts.port
    except ValueError:
        return link
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        return link.split("#", 1)[0]
    scheme = parts.scheme.lower()
    host = parts.hostname.lower()
    if port and not ((scheme == "http" and port == 80) or (scheme == "https" and port == 443)):
        host = f"{host}:{port}"
    if parts.username or parts.password:
        host = f"{parts.netloc.rsplit('@', 1)[0]}@{host}"
    query = parts.query
    if query:
        kept = [(k, v) for k, v in parse_qsl(query, keep_blank_values=True)
                if not (k.lower().startswith("utm_") or k.lower() in TRACKING_PARAMS)]
        query = urlencode(kept, doseq=True)
    return urlunsplit((scheme, host, parts.path or "/", query, ""))


def absolute(link: str, base: str) -> str:
    """``link`` resolved against ``base`` (unchanged when it is absolute, empty, or cannot be joined)."""
    link = link.strip()
    if not link or not base or re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]*:", link):
        return link
    try:
        return urljoin(base, link)
    except ValueError:
        return link


def _capped_id(value: str) -> str:
    return value if len(value) <= 512 else "sha256:" + stable_id(value, length=64)


def entry_id(entry: Any, feed_url: str, base: str = "") -> str:
    """The canonical article id of one feedparser entry (see the module docstring); ``base`` resolves a
    relative link (default: the feed URL)."""
    guid = str(entry.get("id") or "").strip()
    if guid:
        if re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]*:\S", guid):
            return _capped_id(guid)
        return _capped_id(f"{feed_url}#{guid}")
    link = absolute(str(entry.get("link") or ""), base or feed_url)
    if link:
        return _capped_id(normalise_link(link))
    title = str(entry.get("title") or "")
    published = str(entry.get("published") or entry.get("updated") or "")
    return "hash:" + stable_id(feed_url, title, published, length=32)


# --- entry -> Article ----------------------------------------------------------------------------


def _when(entry: Any, *keys: str) -> datetime | None:
    for key in keys:
        t = entry.get(key)
        if isinstance(t, time.struct_time):
            try:
                return datetime(*t[:6], tzinfo=UTC)
            except (ValueError, OverflowError):
                continue
    return None


def _is_plain(detail: Any) -> bool:
    return bool(detail) and str(detail.get("type", "")) == "text/plain"


def _richest(entry: Any) -> tuple[Any, str]:
    """(detail, HTML) of the entry's longest content, or (None, '')."""
    best: Any = None
    for c in entry.get("content") or ():
        if best is None or len(c.get("value", "")) > len(best.get("value", "")):
            best = c
    if best is not None and best.get("value"):
        return best, str(best["value"])
    return None, ""


def to_articles(items: list[tuple[str, Any]], feed: FeedConfig, parsed: ParsedFeed, *,
                fetched_at: datetime) -> list[Article]:
    """(id, feedparser entry) pairs as ``Article`` models: text cleaned (one HTML parse for the whole
    batch, see ``textify.html_to_texts``), times in UTC, language from the feed's hint, else the entry's
    or the feed's declared language, else ''."""
    fragments: list[str] = []
    for _aid, entry in items:
        content_detail, content_html = _richest(entry)
        for detail, value in ((entry.get("title_detail"), str(entry.get("title") or "")),
                              (entry.get("summary_detail"), str(entry.get("summary") or "")[:MAX_HTML]),
                              (content_detail, content_html[:MAX_HTML])):
            fragments.append(value if not _is_plain(detail) else value.replace("&", "&amp;").replace("<", "&lt;"))
    texts = html_to_texts(fragments)
    out: list[Article] = []
    for n, (aid, entry) in enumerate(items):
        title, summary, content = texts[3 * n:3 * n + 3]
        _detail, content_html = _richest(entry)
        if not content_html:
            content_html = str(entry.get("summary") or "")
        if parsed.base and "<" in content_html:
            content_html = resolve_relative_uris(content_html[:MAX_HTML], parsed.base, "utf-8", "text/html")
        link = absolute(str(entry.get("link") or ""), parsed.base or feed.url)
        out.append(Article(
            id=aid,
            url=normalise_link(link) if link else "",
            title=title[:MAX_TITLE],
            summary=summary[:MAX_SUMMARY],
            content=content[:MAX_CONTENT],
            content_html=content_html[:MAX_HTML],
            author=clean_space(str(entry.get("author") or ""))[:500],
            published=_when(entry, "published_parsed", "updated_parsed", "created_parsed") or fetched_at,
            updated=_when(entry, "updated_parsed"),
            fetched_at=fetched_at,
            source=feed.name,
            feed_url=feed.url,
            tags=feed.tags,
            lang=feed.language or _lang(entry.get("language")) or parsed.language,
        ))
    return out


def to_article(entry: Any, feed: FeedConfig, parsed: ParsedFeed, *, fetched_at: datetime,
               article_id: str | None = None) -> Article:
    """One feedparser entry as an ``Article`` (see ``to_articles``)."""
    aid = article_id or entry_id(entry, feed.url, parsed.base)
    return to_articles([(aid, entry)], feed, parsed, fetched_at=fetched_at)[0]
