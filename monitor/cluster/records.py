"""The values clustering keeps between articles, and their byte form for snapshots and Redis.

Times are unix seconds of *article* time (see ``monitor.cluster.article_time``), never the wall clock,
so a replay of the same articles rebuilds the same state. Each record knows how to turn itself into
bytes and back; stores hold bytes or these frozen values and never look inside otherwise.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

import orjson

_COPY_HEAD = struct.Struct("<dHHf?")


@dataclass(frozen=True, slots=True)
class CopyEntry:
    """One fingerprinted article inside the copy window, with the decision it got."""

    article_id: str
    at: float
    group: str
    signature: bytes
    duplicate_of: str = ""
    similarity: float = 0.0
    exact: bool = False

    def to_bytes(self) -> bytes:
        g = self.group.encode("utf-8")
        d = self.duplicate_of.encode("utf-8")
        return _COPY_HEAD.pack(self.at, len(g), len(d), self.similarity, self.exact) + g + d + self.signature

    @classmethod
    def from_bytes(cls, article_id: str, data: bytes) -> CopyEntry:
        at, ng, nd, sim, exact = _COPY_HEAD.unpack_from(data)
        i = _COPY_HEAD.size
        group = data[i : i + ng].decode("utf-8")
        dup = data[i + ng : i + ng + nd].decode("utf-8")
        return cls(article_id, at, group, bytes(data[i + ng + nd :]), dup, sim, exact)


@dataclass(frozen=True, slots=True)
class EventRecord:
    """One open event of one rule: what it has gathered so far."""

    event_id: str
    rule: str
    start: float
    last: float
    first_article: str
    alerted: bool
    severity: str
    sources: tuple[str, ...] = ()  # distinct, in order of first appearance
    entities: dict[str, tuple[str, ...]] = field(default_factory=dict)  # list -> ids, sorted
    numbers: tuple[float, ...] = ()
    dates: tuple[str, ...] = ()
    copy_groups: tuple[str, ...] = ()
    articles: tuple[tuple[str, str], ...] = ()  # (article id, kind decided) in order

    def to_bytes(self) -> bytes:
        return orjson.dumps(
            {
                "event_id": self.event_id,
                "rule": self.rule,
                "start": self.start,
                "last": self.last,
                "first_article": self.first_article,
                "alerted": self.alerted,
                "severity": self.severity,
                "sources": self.sources,
                "entities": self.entities,
                "numbers": self.numbers,
                "dates": self.dates,
                "copy_groups": self.copy_groups,
                "articles": self.articles,
            }
        )

    @classmethod
    def from_bytes(cls, data: bytes) -> EventRecord:
        d = orjson.loads(data)
        return cls(
            event_id=d["event_id"],
            rule=d["rule"],
            start=d["start"],
            last=d["last"],
            first_article=d["first_article"],
            alerted=d["alerted"],
            severity=d["severity"],
            sources=tuple(d["sources"]),
            entities={k: tuple(v) for k, v in d["entities"].items()},
            numbers=tuple(d["numbers"]),
            dates=tuple(d["dates"]),
            copy_groups=tuple(d["copy_groups"]),
            articles=tuple((a, k) for a, k in d["articles"]),
        )


@dataclass(frozen=True, slots=True)
class SourceClock:
    """When a source (feed) last published and its usual interval (exponentially weighted mean)."""

    source: str
    last: float
    mean_interval: float = 0.0
    intervals: int = 0

    def to_bytes(self) -> bytes:
        return orjson.dumps([self.source, self.last, self.mean_interval, self.intervals])

    @classmethod
    def from_bytes(cls, data: bytes) -> SourceClock:
        s, last, mean, n = orjson.loads(data)
        return cls(s, last, mean, n)
