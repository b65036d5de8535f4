"""Per-application state of the console, kept on ``ApiDeps.extra``: the live feed, the judgements store,
and the rule set (loaded off the event loop, cached for ``RULES_CACHE`` seconds; a folder with errors
gives ``RulesInvalid``, shown on the page with every file:line).
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from aiohttp import web

from monitor.api.app import deps_of
from monitor.web.judgements import Judgements
from monitor.web.live import Live

RULES_CACHE = 5.0


def live_of(request: web.Request) -> Live:
    deps = deps_of(request)
    live = deps.extra.get("web_live")
    if live is None:
        live = deps.extra["web_live"] = Live(deps.redis)
    return live  # type: ignore[no-any-return]


def judgements_of(request: web.Request) -> Judgements:
    deps = deps_of(request)
    j = deps.extra.get("web_judgements")
    if j is None:
        j = deps.extra["web_judgements"] = Judgements(deps.redis)
    return j  # type: ignore[no-any-return]


def archive_of(request: web.Request) -> Any | None:
    """The article archive when this process has one (``ApiDeps.archive``), else None."""
    deps = deps_of(request)
    return getattr(deps, "archive", None) or deps.extra.get("archive")


async def ruleset_of(request: web.Request, *, fresh: bool = False) -> Any:
    """The rule set of ``Settings.rules``; raises ``RulesInvalid``."""
    from monitor.rules import load_rules

    deps = deps_of(request)
    cached = deps.extra.get("web_ruleset")
    if not fresh and cached is not None and time.monotonic() - cached[0] < RULES_CACHE:
        return cached[1]
    rs = await asyncio.to_thread(load_rules, deps.settings.rules)
    deps.extra["web_ruleset"] = (time.monotonic(), rs)
    return rs


async def close(app: web.Application) -> None:
    from monitor.api.app import DEPS

    live = app[DEPS].extra.get("web_live")
    if live is not None:
        await live.close()
