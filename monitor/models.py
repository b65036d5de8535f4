"""The shapes that cross a boundary: Kafka records, the HTTP API, the CLI's JSON.

Every record on a topic is one of these models serialised as JSON (UTF-8, not ASCII-escaped) with a
``schema`` field holding ``SCHEMA_VERSION``. Models are frozen and forbid unknown fields, so a record
that does not fit is rejected at the edge (and the processor routes it to ``dead-letter``) instead of
travelling inward as a half-valid dict.

- ``Article``: one feed entry, as published by the poller on ``articles`` (key: article id).
- ``Match``: what one rule found in one article, with its ``Evidence``.
- ``Alert``: a match raised for delivery, on ``alerts`` (key: alert id). Its id is deterministic:
  the same article and rule version always give the same alert id.
- ``DeadLetter``: a record that could not be processed, with the reason, on ``dead-letter``.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

import orjson
from pydantic import BaseModel, ConfigDict, Field, field_validator

SCHEMA_VERSION = 1

Severity = Literal["info", "low", "medium", "high", "critical"]
SEVERITY_ORDER: dict[str, int] = {"info": 0, "low": 1, "medium": 2, "high": 3, "critical": 4}
Field_ = Literal["title", "summary", "content"]


def utcnow() -> datetime:
    return datetime.now(UTC)


def stable_id(*parts: str, length: int = 24) -> str:
    """A short deterministic id from its parts (sha256, hex)."""
    h = hashlib.sha256("\x1f".join(parts).encode("utf-8")).hexdigest()
    return h[:length]


class Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    def to_json(self) -> bytes:
        return orjson.dumps(self.model_dump(mode="json"))

    @classmethod
    def from_json(cls, data: bytes | str) -> Any:
        return cls.model_validate(orjson.loads(data))


def _utc(v: datetime | None) -> datetime | None:
    if v is not None and v.tzinfo is None:
        return v.replace(tzinfo=UTC)
    return v


class Article(Model):
    """One news item, as the poller publishes it."""

    schema_: int = Field(default=SCHEMA_VERSION, alias="schema")
    id: Annotated[str, Field(min_length=1, max_length=512)]
    url: str = ""
    title: str = ""
    summary: str = ""
    content: str = ""
    content_html: str = Field(default="", description="the feed's HTML, for channels that want it")
    author: str = ""
    published: datetime = Field(default_factory=utcnow)
    updated: datetime | None = None
    fetched_at: datetime = Field(default_factory=utcnow)
    source: str = Field(default="", description="feed name")
    feed_url: str = ""
    tags: tuple[str, ...] = ()
    lang: str = Field(default="", description="ISO 639-1 code, '' = unknown (detected downstream)")
    links: tuple[str, ...] = Field(default=(), description="links the item carries (Telegram messages)")
    forwarded_from: str = Field(default="", description="the channel a Telegram message was forwarded from")

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)

    @field_validator("published", "updated", "fetched_at")
    @classmethod
    def _in_utc(cls, v: datetime | None) -> datetime | None:
        return _utc(v)

    def to_json(self) -> bytes:
        return orjson.dumps(self.model_dump(mode="json", by_alias=True))


class ArticleRef(Model):
    """The part of an article an alert carries."""

    id: str
    title: str
    url: str
    source: str
    published: datetime
    lang: str = ""
    summary: str = ""
    feed_url: str = ""
    fetched_at: datetime | None = None

    @classmethod
    def of(cls, a: Article, *, lang: str | None = None) -> ArticleRef:
        return cls(
            id=a.id,
            title=a.title,
            url=a.url,
            source=a.source,
            published=a.published,
            lang=lang if lang is not None else a.lang,
            summary=a.summary[:500],
            feed_url=a.feed_url,
            fetched_at=a.fetched_at,
        )


class Evidence(Model):
    """One matched term: where, what, and the original text around it."""

    term: str = Field(description="the rule's term as written")
    matched: str = Field(description="the original text that matched")
    field: Field_
    start: int = Field(ge=0, description="offset into the original field text")
    end: int = Field(ge=0)
    snippet: str = ""
    list: str | None = Field(default=None, description="named term list the term came from")
    entity: str | None = Field(default=None, description="canonical entity id from that list")


class Match(Model):
    """What one rule found in one article."""

    rule: str
    rule_version: str = ""
    title: str = ""
    tags: tuple[str, ...] = ()
    severity: Severity = "medium"
    score: float = 0.0
    evidence: tuple[Evidence, ...] = ()
    entities: dict[str, tuple[str, ...]] = Field(
        default_factory=dict, description="list name -> canonical entity ids found"
    )
    numbers: tuple[float, ...] = Field(default=(), description="quantities the rule extracted")


class Alert(Model):
    """A match raised for delivery: one per (rule, event); updates carry kind='update'; alerts raised
    from the archive for a newly loaded rule (``monitor backtest --alert``) carry kind='backfill'."""

    schema_: int = Field(default=SCHEMA_VERSION, alias="schema")
    id: str
    kind: Literal["new", "update", "backfill"] = "new"
    rule: str
    rule_version: str = ""
    rule_title: str = ""
    tags: tuple[str, ...] = ()
    severity: Severity = "medium"
    score: float = 0.0
    created_at: datetime = Field(default_factory=utcnow)
    article: ArticleRef
    evidence: tuple[Evidence, ...] = ()
    entities: dict[str, tuple[str, ...]] = Field(default_factory=dict)
    event_id: str = ""
    copy_group: str = ""
    sources: tuple[str, ...] = ()
    source_count: int = 1

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)

    def to_json(self) -> bytes:
        return orjson.dumps(self.model_dump(mode="json", by_alias=True))

    @staticmethod
    def make_id(article_id: str, rule: str, rule_version: str, kind: str = "new", seq: str = "") -> str:
        return stable_id("alert", article_id, rule, rule_version, kind, seq)

    @classmethod
    def from_match(
        cls, article: Article, match: Match, *, lang: str | None = None, ref: ArticleRef | None = None,
        kind: str = "new", event_id: str = "", severity: Severity | None = None, copy_group: str = "",
        sources: tuple[str, ...] | None = None, source_count: int = 1,
    ) -> Alert:
        """The alert for ``match`` on ``article``; an event decision's fields (``kind``: ``new`` or an update
        kind, ``event_id``, ``severity``, ``copy_group``, ``sources``, ``source_count``) when it has them.

        The id is deterministic per (article, rule version, kind, event). ``ref``: ``ArticleRef.of(article,
        lang=lang)`` when the caller has it already (one per article, whatever the number of its alerts).
        """
        return cls(
            id=cls.make_id(article.id, match.rule, match.rule_version, kind, event_id),
            kind="new" if kind == "new" else "update",
            rule=match.rule,
            rule_version=match.rule_version,
            rule_title=match.title,
            tags=match.tags,
            severity=match.severity if severity is None else severity,
            score=match.score,
            article=ref if ref is not None else ArticleRef.of(article, lang=lang),
            evidence=match.evidence,
            entities=match.entities,
            event_id=event_id,
            copy_group=copy_group,
            sources=((article.source,) if article.source else ()) if sources is None else sources,
            source_count=source_count,
        )


class DeadLetter(Model):
    """A record that could not be processed, kept whole with the reason."""

    schema_: int = Field(default=SCHEMA_VERSION, alias="schema")
    topic: str
    partition: int
    offset: int
    key: str | None = None
    reason: str
    payload: str = Field(description="the original value, UTF-8 with replacement, truncated at 1 MB")
    at: datetime = Field(default_factory=utcnow)

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)

    def to_json(self) -> bytes:
        return orjson.dumps(self.model_dump(mode="json", by_alias=True))
