"""The archive's shapes: what is stored per article, what a search asks and what it answers.

``ArchivedArticle`` is one ``Article`` as the processor saw it (language, rule ``Match``es with their
evidence and entities) plus what the alerts said about it later (``copy_group``, ``event_id``).
``SearchQuery`` is a validated search request (every field bounded, so no request can ask for an
unbounded scan); ``SearchPage`` is one page of ``SearchHit``s, newest archived first. ``QueryInvalid``
is a bad request (the API answers 400; retrying the same request will not help); ``ArchiveUnavailable``
is the store being down or too slow (retry later).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import AfterValidator, Field, field_validator

from monitor.models import Article, Match, Model, _utc

MAX_QUERY_CHARS = 1000
MAX_QUERY_TERMS = 32
MAX_LIMIT = 100
MAX_OFFSET = 10_000


class QueryInvalid(ValueError):
    """The search or backtest request cannot be run as asked (HTTP 400). Not retryable: change it."""

    retryable = False


class ArchiveUnavailable(RuntimeError):
    """The archive store is down, or the query ran past its time budget (HTTP 503). Retryable."""

    retryable = True


class ArchivedArticle(Model):
    """One archived article: the article, what the processor learned, what its alerts said."""

    article: Article
    lang: str = Field(default="", description="detected language (ISO 639-1), '' = unknown")
    archived_at: datetime
    matches: tuple[Match, ...] = Field(default=(), description="every rule that matched, with evidence")
    copy_group: str = Field(default="", description="near-duplicate group, from this article's alerts")
    event_id: str = Field(default="", description="event across sources and languages, from its alerts")

    @field_validator("archived_at")
    @classmethod
    def _in_utc(cls, v: datetime) -> datetime:
        return _utc(v)  # type: ignore[return-value]

    @property
    def id(self) -> str:
        return self.article.id

    @property
    def rules(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(m.rule for m in self.matches))

    @property
    def entities(self) -> tuple[str, ...]:
        """``list/entity`` pairs found by any matching rule."""
        out: dict[str, None] = {}
        for m in self.matches:
            for name, ids in m.entities.items():
                for e in ids:
                    out[f"{name}/{e}"] = None
        return tuple(out)


def _printable(v: str) -> str:
    if any(ord(c) < 32 for c in v):
        raise ValueError("control characters are not allowed in a filter")
    return v


#: a filter value: a feed name, tag, rule id or entity, as stored (no control characters, 512 at most)
Filter = Annotated[str, Field(min_length=1, max_length=512), AfterValidator(_printable)]


class SearchQuery(Model):
    """A search: free text (Arabic-aware, see ``monitor.archive.query``) and filters, all optional."""

    q: Annotated[str, Field(max_length=MAX_QUERY_CHARS)] = ""
    lang: Filter | None = None
    source: Filter | None = None
    tag: Filter | None = Field(default=None, description="an article tag or a tag of a matching rule")
    rule: Filter | None = Field(default=None, description="only articles this rule matched")
    entity: Filter | None = Field(default=None, description="'list/entity' or just the entity id")
    since: datetime | None = Field(default=None, description="published at or after")
    until: datetime | None = Field(default=None, description="published before")
    limit: Annotated[int, Field(ge=1, le=MAX_LIMIT)] = 20
    offset: Annotated[int, Field(ge=0, le=MAX_OFFSET)] = 0

    @field_validator("since", "until")
    @classmethod
    def _in_utc(cls, v: datetime | None) -> datetime | None:
        return _utc(v)


class SearchHit(Model):
    id: str
    title: str
    url: str
    source: str
    lang: str
    published: datetime
    archived_at: datetime
    rules: tuple[str, ...] = ()
    event_id: str = ""
    copy_group: str = ""
    snippet: str = Field(default="", description="a window of the text around the first hit")
    highlights: tuple[tuple[int, int], ...] = Field(
        default=(), description="[start, end) spans of snippet that matched the query"
    )


class SearchPage(Model):
    hits: tuple[SearchHit, ...]
    offset: int
    limit: int
    more: bool = Field(description="true when a next page (offset + limit) has hits")
    took_ms: float = 0.0


class ArticleView(Model):
    """``GET /api/v1/articles/{id}``: the article, its copies, the other reports of its event."""

    article: ArchivedArticle
    copies: tuple[SearchHit, ...] = ()
    event: tuple[SearchHit, ...] = ()


class EventView(Model):
    """``GET /api/v1/events/{id}``: every archived report of one event, in published order."""

    event_id: str
    languages: tuple[str, ...]
    sources: tuple[str, ...]
    reports: tuple[SearchHit, ...]
