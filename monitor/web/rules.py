"""``GET /rules`` and ``GET /rules/{id}``: the rule set as authors and analysts read it.

Each rule with its title, description, severity, tags, and how often it fired over the last day and
week (counted in the recent-alerts store, so at most ``MONITOR_ALERTS_RECENT`` alerts back); a rule's
page adds its file's YAML, its examples with whether each passes now, and its latest alerts. A rules
folder with errors shows every ``file:line`` error instead (the stream keeps its last good set).
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from pathlib import Path
from typing import Any

import orjson
import redis.asyncio as aioredis
from aiohttp import web

from monitor.alerting.recent import HKEY, ZKEY
from monitor.api.app import deps_of
from monitor.rules import RulesInvalid
from monitor.web.render import page
from monitor.web.state import ruleset_of

routes = web.RouteTableDef()
DAY = 86400.0


async def fired(redis: aioredis.Redis, now: float) -> tuple[Counter[str], Counter[str]]:
    """Alerts per rule over the last day and the last week, from the recent store."""
    day: Counter[str] = Counter()
    week: Counter[str] = Counter()
    ids: list[Any] = await redis.zrevrangebyscore(ZKEY, "+inf", now - 7 * DAY, withscores=True)
    for start in range(0, len(ids), 1000):
        chunk = ids[start:start + 1000]
        for (_, score), doc in zip(chunk, await redis.hmget(HKEY, [i for i, _ in chunk]), strict=True):
            if doc is None:
                continue
            rule = orjson.loads(doc).get("rule", "")
            week[rule] += 1
            if score >= now - DAY:
                day[rule] += 1
    return day, week


def _errors_page(request: web.Request, exc: RulesInvalid) -> web.Response:
    return page(request, "rules_broken.html", status=500, title="Rules",
                errors=[str(e) for e in exc.errors], folder=str(deps_of(request).settings.rules))


@routes.get("/rules")
async def list_rules(request: web.Request) -> web.Response:
    try:
        rs = await ruleset_of(request)
    except RulesInvalid as exc:
        return _errors_page(request, exc)
    day, week = await fired(deps_of(request).redis, time.time())
    return page(request, "rules.html", title="Rules", rules=rs.rules, day=day, week=week,
                writable=deps_of(request).settings.rules_writable)


def _examples(rs: Any, rule_id: str) -> list[Any]:
    """The rule's examples as ``run_examples`` judges them now."""
    from monitor.rules.examples import run_examples

    return [r for r in run_examples(rs) if r.rule == rule_id]


def relative(folder: Path, file: str) -> str:
    try:
        return str(Path(file).resolve().relative_to(folder.resolve()))
    except ValueError:
        return Path(file).name


@routes.get("/rules/{id}")
async def show_rule(request: web.Request) -> web.Response:
    try:
        rs = await ruleset_of(request)
    except RulesInvalid as exc:
        return _errors_page(request, exc)
    rule = rs.get(request.match_info["id"])
    if rule is None:
        raise web.HTTPNotFound(text=f"no rule {request.match_info['id']}")
    deps = deps_of(request)
    try:
        source = await asyncio.to_thread(Path(rule.file).read_text, "utf-8")
    except OSError as exc:
        source = f"# cannot read {rule.file}: {exc.strerror or exc}"
    examples = await asyncio.to_thread(_examples, rs, rule.id)
    day, week = await fired(deps.redis, time.time())
    latest = await deps.recent.list(limit=10, rule=rule.id)
    return page(request, "rule.html", title=rule.title, rule=rule, source=source, examples=examples,
                day=day[rule.id], week=week[rule.id], latest=latest,
                file=relative(deps.settings.rules, rule.file))
