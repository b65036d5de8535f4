"""Full text for feeds that carry only summaries: an ``Article`` in, the same article with its linked
page's main text as ``content`` out.

The page is fetched with the feed fetcher (same limits, http(s) only, redirects checked; the body cap is
``Settings.fulltext_max_bytes``) and its main text extracted by trafilatura in a worker thread (it is
CPU-bound). Anything that goes wrong leaves the article as it was: full text is an improvement, never a
reason to drop or delay an article past its fetch deadline. An entry whose feed content is already much
longer than its summary (the feed carries full text after all) is left alone.
"""

from __future__ import annotations

import asyncio
import logging

import aiohttp
from selectolax.lexbor import LexborHTMLParser

from monitor.ingest.fetch import FetchLimits, fetch
from monitor.ingest.parse import MAX_CONTENT, MAX_TITLE, to_text
from monitor.ingest.textify import clean_space
from monitor.models import Article

log = logging.getLogger(__name__)


def extract_main_text(html: bytes, content_type: str = "", url: str = "") -> str:
    """Main text of an HTML page (trafilatura), '' when nothing useful was found."""
    import trafilatura  # imported lazily: it is slow to import and only fulltext feeds need it

    text, _enc = to_text(html, content_type)
    try:
        result = trafilatura.extract(text, url=url or None, include_comments=False, include_tables=False,
                                     favor_precision=True)
    except Exception as exc:  # trafilatura/lxml failures on hostile pages: the boundary, log and go on
        log.debug("trafilatura failed on %s: %r", url, exc)
        return ""
    return (result or "").strip()


def page_title(html: bytes, content_type: str = "") -> str:
    """The page's own title: ``og:title``, else ``<title>``; '' when it has neither."""
    text, _enc = to_text(html[:512 * 1024], content_type)
    tree = LexborHTMLParser(text)
    og = tree.css_first('meta[property="og:title"]')
    title = (og.attributes.get("content") or "") if og is not None else ""
    if not title.strip():
        node = tree.css_first("title")
        title = node.text() if node is not None else ""
    return clean_space(title)[:MAX_TITLE]


async def with_fulltext(session: aiohttp.ClientSession, article: Article, limits: FetchLimits) -> Article:
    """``article`` with ``content`` from its page when that is longer than what the feed gave (and the
    page's title when the article has none: sitemap entries without ``news:title``)."""
    if not article.url or len(article.content) > max(2 * len(article.summary), 1000):
        return article  # no page, or the feed already carries the full text
    res = await fetch(session, article.url, limits)
    if res.status != "ok" or not res.body:
        return article
    text = await asyncio.to_thread(extract_main_text, res.body, res.content_type, res.final_url)
    update: dict[str, str] = {}
    if not article.title:
        update["title"] = page_title(res.body, res.content_type)
    if len(text) > max(len(article.content), len(article.summary)):
        update["content"] = text[:MAX_CONTENT]
    return article.model_copy(update=update) if update else article
