"""Fetch-and-parse of one feed: the single path the poller, ``monitor feeds check`` and the benchmark use.

In: a feed URL, the previous validators, body hash and item digests. Out: ``FeedRead`` with the fetch
result, and the parsed feed when there was something new to parse:
- a 304, or a 200 whose body hash equals the previous one, costs no parsing (``parsed is None``,
  ``unchanged`` True);
- a changed body whose items can be told apart (``monitor.ingest.delta``) is parsed for its new items
  only (``partial`` True; ``parsed.entries`` holds just those) — unless there are no previous digests,
  or the small document does not give one entry per new item, in which case it is parsed in full;
- a body that breaks the parser yields ``parse_error`` (a short reason), never an exception.
Large bodies are parsed in a worker thread so the event loop keeps serving other feeds.
"""

from __future__ import annotations

import asyncio
import hashlib
from dataclasses import dataclass

import aiohttp

from monitor.ingest.delta import digest, new_items_document, split_items
from monitor.ingest.fetch import FetchLimits, FetchResult, fetch
from monitor.ingest.parse import FeedParseError, ParsedFeed, parse_sanitised, sanitise

#: Bodies above this many bytes are parsed in a thread.
THREAD_PARSE_BYTES = 512 * 1024


@dataclass(frozen=True, slots=True)
class FeedRead:
    fetch: FetchResult
    parsed: ParsedFeed | None = None
    body_hash: str | None = None
    unchanged: bool = False
    partial: bool = False  # only the new items were parsed
    skipped: int = 0  # items left out of a partial parse: their bytes were in the previous body
    items: list[str] | None = None  # digests of every item of this body (None: not splittable)
    parse_error: str | None = None  # reason label
    parse_message: str | None = None

    @property
    def status(self) -> str:
        """ok | not_modified | throttled | error (a parse failure is an error)."""
        if self.fetch.status == "ok":
            if self.parse_error:
                return "error"
            return "not_modified" if self.unchanged else "ok"
        return self.fetch.status

    @property
    def error(self) -> str | None:
        if self.parse_error:
            return f"parse error ({self.parse_error}): {self.parse_message}"
        return self.fetch.error


def body_digest(body: bytes) -> str:
    return hashlib.blake2b(body, digest_size=16).hexdigest()


async def read_feed(
    session: aiohttp.ClientSession,
    url: str,
    limits: FetchLimits,
    *,
    etag: str | None = None,
    last_modified: str | None = None,
    body_hash: str | None = None,
    items: list[str] | None = None,
) -> FeedRead:
    res = await fetch(session, url, limits, etag=etag, last_modified=last_modified)
    if res.status != "ok":
        return FeedRead(fetch=res)
    digest_ = body_digest(res.body)
    if body_hash is not None and digest_ == body_hash:
        return FeedRead(fetch=res, body_hash=digest_, unchanged=True, items=items)
    try:
        if len(res.body) > THREAD_PARSE_BYTES:
            return await asyncio.to_thread(_parse, res, digest_, items)
        return _parse(res, digest_, items)
    except FeedParseError as exc:
        return FeedRead(fetch=res, body_hash=digest_, parse_error=exc.reason, parse_message=str(exc))


def _parse(res: FetchResult, body_hash: str, previous: list[str] | None) -> FeedRead:
    data, enc = sanitise(res.body, res.content_type)
    split = split_items(data)
    digests = [digest(i) for i in split.items] if split is not None else None
    if split is not None and digests is not None and previous is not None:
        doc, fresh = new_items_document(split, digests, previous)
        if fresh == 0:  # items only removed or re-ordered: nothing to parse
            empty = ParsedFeed(entries=[], bozo=False, bozo_reason="", language="", title="", encoding=enc)
            return FeedRead(fetch=res, parsed=empty, body_hash=body_hash, partial=True, items=digests,
                            skipped=len(digests))
        parsed = parse_sanitised(doc, encoding=enc, base_url=res.final_url)
        if len(parsed.entries) == fresh:
            return FeedRead(fetch=res, parsed=parsed, body_hash=body_hash, partial=True, items=digests,
                            skipped=len(digests) - fresh)
    parsed = parse_sanitised(data, encoding=enc, base_url=res.final_url)
    return FeedRead(fetch=res, parsed=parsed, body_hash=body_hash, items=digests)
