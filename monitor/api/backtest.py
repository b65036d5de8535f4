"""``POST /api/v1/rules/backtest``: run rules sent in the body over the archive, streaming the matches.

Body: the YAML of one rule file (one rule, or ``rules: [...]``), as ``application/yaml`` or text; it may
use the named lists of the live rules folder. It is validated with the loader the stream uses: a bad
file answers 422 with every error as ``request.yaml:LINE: message``. The live rule set is never
touched. Query parameters: ``since`` (default ``7d``; a duration, Unix seconds or ISO 8601), ``until``,
``tag``, ``rule`` (only this rule id), ``limit`` (matches shown with evidence, 1-5000, default 200),
``max_articles`` (default 100,000, at most 1,000,000), ``max_seconds`` (default 30, at most 120),
``alert=true`` (backfill: raise ``kind: backfill`` alerts for the matches, with deterministic ids).

Answer: ``application/x-ndjson``, newest first, one ``{"hit": …}`` line per match as it is found and
a last ``{"summary": …}`` line (matches per day, per rule, whether a limit cut the run short; with
``alert=true`` also ``alerts_sent`` and ``already_live``). An error after the stream started is a last
``{"error": …}`` line.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import orjson
from aiohttp import web

from monitor.api.alerts import query_int
from monitor.api.app import deps_of
from monitor.api.articles import guarded
from monitor.api.subscriptions import error
from monitor.archive.backtest import (
    BacktestHit,
    BacktestLimits,
    load_text_rules,
    parse_when,
    run_backtest,
    send_backfill,
)
from monitor.models import utcnow
from monitor.rules import RulesInvalid

log = logging.getLogger(__name__)
routes = web.RouteTableDef()


def _line(obj: Any) -> bytes:
    return orjson.dumps(obj) + b"\n"


@routes.post("/api/v1/rules/backtest")
@guarded
async def backtest(request: web.Request) -> web.StreamResponse:
    deps = deps_of(request)
    q = request.query
    now = utcnow()
    since = parse_when(q.get("since") or "7d", now)
    until = parse_when(q["until"], now) if q.get("until") else None
    limits = BacktestLimits(
        max_hits=query_int(q.get("limit"), "limit", 200, 1, 5000),
        max_articles=query_int(q.get("max_articles"), "max_articles", 100_000, 1, 1_000_000),
        max_seconds=float(query_int(q.get("max_seconds"), "max_seconds", 30, 1, 120)),
    )
    alert = q.get("alert", "").lower() in ("1", "true", "yes")
    producer = deps.extra.get("producer")
    if alert and producer is None:
        return error(503, "backfill needs a Kafka producer: this process does not produce (use `monitor run`, "
                          "or `monitor backtest --alert` with MONITOR_KAFKA_BOOTSTRAP)")
    limit = deps.settings.api_max_body
    raw = await request.content.read(limit + 1)
    if len(raw) > limit:
        raise web.HTTPRequestEntityTooLarge(max_size=limit, actual_size=len(raw))
    text = raw.decode("utf-8", errors="replace")
    if not text.strip():
        return error(400, "the body must be the YAML of a rule file")
    try:
        rules = await asyncio.to_thread(load_text_rules, text, deps.settings.rules)
    except RulesInvalid as exc:
        return error(422, "the rule file has errors", [str(e) for e in exc.errors])
    resp = web.StreamResponse(headers={"Content-Type": "application/x-ndjson"})
    await resp.prepare(request)
    hits: list[BacktestHit] = []
    try:
        async for out in run_backtest(deps.archive, rules, since=since, until=until, tag=q.get("tag") or None,
                                      rules_only=[q["rule"]] if q.get("rule") else (), limits=limits):
            if isinstance(out, BacktestHit):
                if alert:
                    hits.append(out)
                await resp.write(_line({"hit": out.view().model_dump(mode="json")}))
            else:
                summary = out.model_dump(mode="json")
                if alert:
                    r = await send_backfill(producer, deps.settings.topic_alerts, hits, deps.archive)
                    summary |= {"alerts_sent": len(r.sent), "already_live": r.live, "already_sent": r.repeated}
                await resp.write(_line({"summary": summary}))
    except (ConnectionResetError, asyncio.CancelledError):
        raise
    except Exception as exc:  # headers are sent: the error goes into the stream
        log.exception("backtest failed")
        await resp.write(_line({"error": f"{type(exc).__name__}: {exc}", "retry": True}))
    await resp.write_eof()
    return resp
