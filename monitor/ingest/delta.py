"""Parse only what changed: a changed feed body in, the items that were not in the previous body out.

Most changes to a feed add one or two items to an otherwise identical document, and feedparser costs
about 25 ms for a 60 KB feed whatever changed. So, on the sanitised UTF-8 bytes:
1. ``split_items`` cuts the document into prefix (channel header), items (``<item>`` / ``<entry>``, any
   namespace prefix) and suffix — only when the cut is unambiguous: no nested or self-closing items, and
   CDATA sections and comments balanced inside every item. Otherwise it returns None;
2. each item's raw bytes get a short digest; items whose digest was in the previous body are skipped
   (the same bytes give the same entry, already handled);
3. the prefix, the new items and the suffix form a small document that feedparser parses.
The caller falls back to a full parse when the split fails, when there is no previous digest list, or
when the small document does not yield exactly one entry per new item. Pure functions, no I/O.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass

_OPEN = re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?(item|entry)(?=[\s>/])")
_CLOSE = {b"item": re.compile(rb"</(?:[A-Za-z_][\w.-]*:)?item\s*>"),
          b"entry": re.compile(rb"</(?:[A-Za-z_][\w.-]*:)?entry\s*>")}


@dataclass(frozen=True, slots=True)
class Split:
    prefix: bytes
    items: list[bytes]
    suffix: bytes


def split_items(data: bytes) -> Split | None:
    """Cut a sanitised feed into prefix, items and suffix; None when the cut is not unambiguous."""
    items: list[bytes] = []
    pos = 0
    first = -1
    end = -1
    while True:
        m = _OPEN.search(data, pos)
        if m is None:
            break
        tag_end = data.find(b">", m.end())
        if tag_end == -1 or data[tag_end - 1:tag_end] == b"/":
            return None  # unterminated or self-closing item
        close = _CLOSE[m.group(1)].search(data, tag_end)
        if close is None:
            return None
        item = data[m.start():close.end()]
        if _OPEN.search(item, 1) is not None:
            return None  # nested
        if item.count(b"<![CDATA[") != item.count(b"]]>") or item.count(b"<!--") != item.count(b"-->"):
            return None
        if first == -1:
            first = m.start()
        items.append(item)
        pos = end = close.end()
    if not items:
        return None
    return Split(prefix=data[:first], items=items, suffix=data[end:])


def digest(item: bytes) -> str:
    return hashlib.blake2b(item, digest_size=8).hexdigest()


def item_digests(data: bytes) -> list[str] | None:
    """Digests of every item of a sanitised body, or None when it cannot be split."""
    split = split_items(data)
    return [digest(i) for i in split.items] if split is not None else None


def new_items_document(split: Split, digests: list[str], previous: Iterable[str]) -> tuple[bytes, int]:
    """The small document holding only items not in ``previous``; returns (document, item count)."""
    known = set(previous)
    fresh = [item for item, d in zip(split.items, digests, strict=True) if d not in known]
    return split.prefix + b"".join(fresh) + split.suffix, len(fresh)
