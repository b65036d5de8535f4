"""Fetch-and-parse of one feed: the single path the poller, ``monitor feeds check`` and the benchmark use.

In: a feed URL, the previous validators and body hash. Out: ``FeedRead`` with the fetch result, and the
parsed feed when there was something new to parse. A 304, or a 200 whose body hash equals the previous
one, costs no parsing (``parsed is None``, ``unchanged`` True). A body that breaks the parser yields
``parse_error`` (a short reason) and never an exception. Large bodies are parsed in a worker thread so
the event loop keeps serving other feeds.
"""

from __future__ import annotations

import asyncio
import hashlib
from dataclasses import dataclass

import aiohttp

from monitor.ingest.fetch import FetchLimits, FetchResult, fetch
from monitor.ingest.parse import FeedParseError, ParsedFeed, parse_feed

#: Bodies above this many bytes are parsed in a thread.
THREAD_PARSE_BYTES = 512 * 1024


@dataclass(frozen=True, slots=True)
class FeedRead:
    fetch: FetchResult
    parsed: ParsedFeed | None = None
    body_hash: str | None = None
    unchanged: bool = False
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
) -> FeedRead:
    res = await fetch(session, url, limits, etag=etag, last_modified=last_modified)
    if res.status != "ok":
        return FeedRead(fetch=res)
    digest = body_digest(res.body)
    if body_hash is not None and digest == body_hash:
        return FeedRead(fetch=res, body_hash=digest, unchanged=True)
    try:
        if len(res.body) > THREAD_PARSE_BYTES:
            parsed = await asyncio.to_thread(parse_feed, res.body, content_type=res.content_type,
                                             base_url=res.final_url)
        else:
            parsed = parse_feed(res.body, content_type=res.content_type, base_url=res.final_url)
    except FeedParseError as exc:
        return FeedRead(fetch=res, body_hash=digest, parse_error=exc.reason, parse_message=str(exc))
    return FeedRead(fetch=res, parsed=parsed, body_hash=digest)
