"""``GET /api/v1/rules`` (the rule set in ``Settings.rules``) and ``GET /api/v1/rules/{id}``.

The folder is loaded with ``monitor.rules.load_rules`` and cached for ``CACHE_SECONDS``; a folder with
errors answers 500 with every ``file:line`` error listed (fix the files; retrying will not help).
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from aiohttp import web

from monitor.api.app import deps_of
from monitor.api.subscriptions import error, json

routes = web.RouteTableDef()
CACHE_SECONDS = 5.0


def rule_view(rule: Any) -> dict[str, Any]:
    return {
        "id": rule.id,
        "version": rule.version,
        "title": rule.title,
        "description": rule.description,
        "severity": rule.severity,
        "tags": list(rule.tags),
        "languages": list(rule.languages),
        "enabled": rule.enabled,
    }


async def _rules(request: web.Request) -> list[dict[str, Any]] | web.Response:
    from monitor.rules import RulesInvalid, load_rules

    deps = deps_of(request)
    cached = deps.extra.get("rules_cache")
    if cached is not None and time.monotonic() - cached[0] < CACHE_SECONDS:
        return cached[1]  # type: ignore[no-any-return]
    try:
        ruleset = await asyncio.to_thread(load_rules, deps.settings.rules)
    except RulesInvalid as exc:
        return error(500, "the rules folder has errors", [str(e) for e in exc.errors])
    views = [rule_view(r) for r in ruleset.rules]
    deps.extra["rules_cache"] = (time.monotonic(), views)
    return views


@routes.get("/api/v1/rules")
async def list_rules(request: web.Request) -> web.Response:
    rules = await _rules(request)
    if isinstance(rules, web.Response):
        return rules
    return json({"rules": rules})


@routes.get("/api/v1/rules/{id}")
async def show_rule(request: web.Request) -> web.Response:
    rules = await _rules(request)
    if isinstance(rules, web.Response):
        return rules
    for r in rules:
        if r["id"] == request.match_info["id"]:
            return json({"rule": r})
    return error(404, f"no rule {request.match_info['id']}")
