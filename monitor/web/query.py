"""The inbox's view of the recent-alerts store: filters from the URL, a newest-first scan, event groups.

``InboxQuery.parse(query)`` turns the page's query string into a frozen model (unknown parameters are
ignored so shared links survive; a bad value raises ``ValueError`` naming the parameter). ``scan`` walks
``monitor:alerts:recent`` newest first inside the query's time window, in chunks, decoding alerts and
keeping those every filter accepts, until a page is full; ``older`` is the cursor of the next page.
``group`` puts a page's alerts into events: alerts sharing an ``event_id`` (else a ``copy_group``, else
alone) form one group, in the order of their newest alert, so the Arabic and English reports of one
event sit together with the sources that reported it.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Annotated, Any
from urllib.parse import urlencode

import orjson
import redis.asyncio as aioredis
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from monitor.alerting.recent import HKEY, ZKEY
from monitor.models import SEVERITY_ORDER, Alert

FILTERS = ("tag", "rule", "severity", "lang", "source", "entity", "since", "until")
Text = Annotated[str, Field(max_length=200)]


def parse_time(value: str, now: float, name: str) -> float | None:
    """``''`` → None; ``30m``/``24h``/``7d``/``2w`` → that long before now; Unix seconds; ISO 8601 (the
    archive's reading, ``monitor.archive.backtest.parse_when``)."""
    from monitor.archive.backtest import parse_when

    if not value.strip():
        return None
    try:
        return parse_when(value, datetime.fromtimestamp(now, UTC)).timestamp()
    except ValueError as exc:
        raise ValueError(f"{name}: {exc}") from None


class InboxQuery(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    tag: Text = ""
    rule: Text = ""
    severity: Text = Field(default="", description="the minimum severity")
    lang: Text = ""
    source: Text = ""
    entity: Text = ""
    since: Text = ""
    until: Text = ""
    before: float | None = Field(default=None, description="page cursor: alerts created before this")
    limit: int = Field(default=100, ge=1, le=500)

    @classmethod
    def parse(cls, query: Mapping[str, str]) -> InboxQuery:
        data = {k: query[k].strip() for k in (*FILTERS, "before", "limit") if query.get(k, "").strip()}
        if data.get("severity") and data["severity"] not in SEVERITY_ORDER:
            raise ValueError(f"severity: one of {', '.join(SEVERITY_ORDER)}, got {data['severity']!r}")
        try:
            q = cls.model_validate(data)
        except ValidationError as exc:
            e = exc.errors()[0]
            raise ValueError(f"{'.'.join(str(x) for x in e['loc'])}: {e['msg']}") from None
        q.window(time.time())  # bad times are refused here, not half-way through a scan
        return q

    @property
    def filtered(self) -> bool:
        return any((self.tag, self.rule, self.severity, self.lang, self.source, self.entity))

    def window(self, now: float) -> tuple[float | None, float | None]:
        return parse_time(self.since, now, "since"), parse_time(self.until, now, "until")

    def accepts(self, a: Alert) -> bool:
        if self.tag and self.tag not in a.tags:
            return False
        if self.rule and a.rule != self.rule:
            return False
        if self.severity and SEVERITY_ORDER[a.severity] < SEVERITY_ORDER[self.severity]:
            return False
        if self.lang and a.article.lang != self.lang:
            return False
        if self.source and self.source != a.article.source and self.source not in a.sources:
            return False
        return not (self.entity and not any(self.entity in ids for ids in a.entities.values()))

    def may_accept(self, doc: bytes | str) -> bool:
        """A cheap test on the stored JSON (orjson: no spaces) that never refuses an alert ``accepts``
        would take: each filter's value must occur in it. Only what passes is decoded."""
        raw = doc.encode() if isinstance(doc, str) else doc
        if self.severity:
            floor = SEVERITY_ORDER[self.severity]
            if not any(b'"severity":"' + s.encode() + b'"' in raw for s, n in SEVERITY_ORDER.items() if n >= floor):
                return False
        if self.lang and b'"lang":' + orjson.dumps(self.lang) not in raw:
            return False
        if self.rule and b'"rule":' + orjson.dumps(self.rule) not in raw:
            return False
        return all(orjson.dumps(v) in raw for v in (self.tag, self.source, self.entity) if v)

    def params(self, **changes: object) -> dict[str, str]:
        data = {k: getattr(self, k) for k in FILTERS}
        data.update({k: v for k, v in changes.items() if k in (*FILTERS, "before")})
        return {k: str(v) for k, v in data.items() if v not in ("", None)}

    def url(self, path: str = "/", **changes: object) -> str:
        qs = urlencode(self.params(**changes))
        return f"{path}?{qs}" if qs else path


@dataclass
class Page:
    alerts: list[Alert]
    older: float | None  # cursor of the next page, None at the end
    newest: float | None  # score of the newest alert in the window (the live feed starts after it)


async def scan(redis: aioredis.Redis, q: InboxQuery, now: float | None = None) -> Page:
    lo, hi = q.window(now if now is not None else time.time())
    top: float | str = "+inf" if hi is None else hi
    if q.before is not None:
        top = f"({q.before}" if hi is None or q.before <= hi else top
    bottom: float | str = "-inf" if lo is None else lo
    chunk = 500 if q.filtered else q.limit + 1
    out: list[Alert] = []
    last: float | None = None
    newest: float | None = None
    pos = 0
    while len(out) <= q.limit:
        rows: list[Any] = await redis.zrevrangebyscore(ZKEY, top, bottom, start=pos, num=chunk, withscores=True)
        if not rows:
            break
        pos += len(rows)
        docs = await redis.hmget(HKEY, [r[0] for r in rows])
        for (_, score), doc in zip(rows, docs, strict=True):
            if newest is None:
                newest = score
            if doc is None or (q.filtered and not q.may_accept(doc)):
                continue
            a = Alert.from_json(doc)
            if q.accepts(a):
                out.append(a)
                if len(out) <= q.limit:
                    last = score
                if len(out) > q.limit:
                    break
        if len(rows) < chunk:
            break
    more = len(out) > q.limit
    return Page(out[: q.limit], last if more else None, newest)


@dataclass
class Group:
    key: str
    alerts: list[Alert] = field(default_factory=list)

    @property
    def head(self) -> Alert:
        return self.alerts[0]

    @property
    def sources(self) -> tuple[str, ...]:
        seen: dict[str, None] = {}
        for a in self.alerts:
            for s in (*a.sources, a.article.source):
                if s:
                    seen[s] = None
        return tuple(seen)

    @property
    def source_count(self) -> int:
        return max([len(self.sources), *(a.source_count for a in self.alerts)])

    @property
    def langs(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(a.article.lang for a in self.alerts if a.article.lang))


def group_key(a: Alert) -> str:
    return a.event_id or a.copy_group or a.id


def group(alerts: Sequence[Alert]) -> list[Group]:
    groups: dict[str, Group] = {}
    for a in alerts:
        groups.setdefault(group_key(a), Group(group_key(a))).alerts.append(a)
    return list(groups.values())


#: one slice of the recent store, newest first: the documents holding ARGV[3] (a plain substring test,
#: run in Redis so only candidates cross the wire; a slice of 1,000 keeps each call short)
_FIND = """
local ids = redis.call('ZREVRANGE', KEYS[1], ARGV[1], ARGV[2])
local out = {}
for _, id in ipairs(ids) do
  local doc = redis.call('HGET', KEYS[2], id)
  if doc and string.find(doc, ARGV[3], 1, true) then out[#out + 1] = doc end
end
return {#ids, out}
"""


async def find_event(redis: aioredis.Redis, event_id: str, limit: int = 50) -> list[Alert]:
    """The stored alerts of one event (or copy group), newest first (a scan of the recent store in
    slices, filtered inside Redis; only documents carrying the id come back and are decoded)."""
    needle = orjson.dumps(event_id)
    out: list[Alert] = []
    pos = 0
    while len(out) < limit:
        seen, docs = await redis.eval(_FIND, 2, ZKEY, HKEY, pos, pos + 999, needle)  # type: ignore[misc]
        for doc in docs:
            raw = orjson.loads(doc)
            if event_id in (raw.get("event_id"), raw.get("copy_group")):
                out.append(Alert.model_validate(raw))
        if int(seen) < 1000:
            break
        pos += 1000
    return out[:limit]
