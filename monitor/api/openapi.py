"""``GET /api/v1/openapi.json``: an OpenAPI 3.1 document of every route, built from the pydantic models.

``OPERATIONS`` lists each route with its request and response models; the schemas come from the same
frozen models the handlers parse with (``models_json_schema``), so the document cannot drift from
what the API accepts. A test checks that every route the app serves is described here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from aiohttp import web
from pydantic import BaseModel, ConfigDict
from pydantic.json_schema import models_json_schema

from monitor.alerting.model import (
    Silence,
    SilencePatch,
    SilenceSpec,
    Subscription,
    SubscriptionPatch,
    SubscriptionSpec,
)
from monitor.api.replay import ReplayRequest, ReplayResult
from monitor.api.subscriptions import json
from monitor.archive.model import ArticleView, EventView, SearchPage
from monitor.models import Alert

routes = web.RouteTableDef()


class _Out(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Error(_Out):
    error: str
    detail: Any = None


class SubscriptionResponse(_Out):
    subscription: Subscription
    secret: str | None = None


class SubscriptionList(_Out):
    subscriptions: list[Subscription]
    next_offset: int | None = None


class SilenceResponse(_Out):
    silence: Silence


class SilenceList(_Out):
    silences: list[Silence]
    next_offset: int | None = None


class RuleView(_Out):
    id: str
    version: str
    title: str
    description: str
    severity: str
    tags: list[str]
    languages: list[str]
    enabled: bool


class RuleResponse(_Out):
    rule: RuleView


class RuleList(_Out):
    rules: list[RuleView]


class AlertList(_Out):
    alerts: list[Alert]


class TestSendResult(_Out):
    delivery_id: str
    result: str


class Health(_Out):
    status: str


class Ready(_Out):
    ready: bool
    checks: dict[str, bool]


@dataclass(frozen=True)
class Op:
    method: str
    path: str
    summary: str
    response: type[BaseModel] | None
    status: int = 200
    body: type[BaseModel] | None = None
    query: tuple[tuple[str, str, str], ...] = ()  # (name, json type, description)
    public: bool = False
    content_type: str = "application/json"
    raw_body: str = ""  # a request body that is not JSON: its media type (described as a string)


_LIST_Q = (
    ("limit", "integer", "1-500, default 50"),
    ("offset", "integer", "skip this many"),
    ("rule", "string", "only this rule id"),
    ("tag", "string", "only alerts with this tag"),
    ("since", "string", "Unix seconds or ISO 8601"),
    ("until", "string", "Unix seconds or ISO 8601"),
)

_PAGE_Q = (
    ("limit", "integer", "1-500, default 100"),
    ("offset", "integer", "skip this many (next_offset of the previous page)"),
)

_ARTICLES_Q = (
    ("q", "string", "words, all required; Arabic-aware (proclitics, suffixes, hamza/alef folding); word* = prefix"),
    ("lang", "string", "detected language, e.g. ar, en"),
    ("source", "string", "feed name"),
    ("tag", "string", "article tag or tag of a matching rule"),
    ("rule", "string", "only articles this rule matched"),
    ("entity", "string", "list/entity or entity id found by a matching rule"),
    ("since", "string", "published at or after: Unix seconds or ISO 8601"),
    ("until", "string", "published before: Unix seconds or ISO 8601"),
    ("limit", "integer", "1-100, default 20"),
    ("offset", "integer", "0-10000"),
)
_BACKTEST_Q = (
    ("since", "string", "window start: 7d, 24h, 30m, Unix seconds or ISO 8601 (default 7d)"),
    ("until", "string", "window end (default now)"),
    ("tag", "string", "only rules with this tag"),
    ("rule", "string", "only this rule id"),
    ("limit", "integer", "matches shown with evidence, 1-5000, default 200"),
    ("max_articles", "integer", "articles scanned at most, default 100000"),
    ("max_seconds", "integer", "seconds at most, 1-120, default 30"),
    ("alert", "boolean", "backfill: raise kind=backfill alerts for the matches (deterministic ids)"),
)

OPERATIONS: tuple[Op, ...] = (
    Op("get", "/healthz", "The process is up", Health, public=True),
    Op("get", "/readyz", "Kafka, Redis and rules are ready (503 when not)", Ready, public=True),
    Op("get", "/metrics", "Prometheus metrics", None, public=True, content_type="text/plain"),
    Op("get", "/websub/{id}", "WebSub verification of intent (hubs only): echoes hub.challenge", None,
       public=True, content_type="text/plain", query=(
           ("hub.mode", "string", "subscribe or denied"), ("hub.topic", "string", "the feed's topic URL"),
           ("hub.challenge", "string", "echoed when the subscription is expected"),
           ("hub.lease_seconds", "integer", "the lease the hub granted"))),
    Op("post", "/websub/{id}", "WebSub content push (hubs only), signed with X-Hub-Signature", None, 202,
       public=True, content_type="text/plain"),
    Op("get", "/seeds/feed.xml", "The bundled seed feed", None, public=True, content_type="application/rss+xml"),
    Op("get", "/api/v1/openapi.json", "This document", None),
    Op("get", "/api/v1/alerts", "Recent alerts, newest first", AlertList, query=_LIST_Q),
    Op("get", "/api/v1/alerts/{id}", "One alert with its evidence", Alert),
    Op("get", "/api/v1/subscriptions", "List subscriptions, a page at a time", SubscriptionList, query=_PAGE_Q),
    Op(
        "post",
        "/api/v1/subscriptions",
        "Create a subscription (webhook secret shown once)",
        SubscriptionResponse,
        201,
        SubscriptionSpec,
    ),
    Op("get", "/api/v1/subscriptions/{id}", "Show a subscription", SubscriptionResponse),
    Op(
        "patch",
        "/api/v1/subscriptions/{id}",
        "Update a subscription",
        SubscriptionResponse,
        body=SubscriptionPatch,
    ),
    Op("delete", "/api/v1/subscriptions/{id}", "Delete a subscription", None, 204),
    Op(
        "post",
        "/api/v1/subscriptions/{id}/rotate-secret",
        "New webhook secret (shown once); the previous one stays valid until the next rotation",
        SubscriptionResponse,
    ),
    Op(
        "post",
        "/api/v1/subscriptions/{id}/test",
        "Queue a sample alert to this subscription",
        TestSendResult,
        202,
    ),
    Op(
        "post",
        "/api/v1/subscriptions/{id}/replay",
        "Re-deliver a time range with the same delivery ids",
        ReplayResult,
        202,
        ReplayRequest,
    ),
    Op("get", "/api/v1/silences", "List silences, a page at a time", SilenceList, query=_PAGE_Q),
    Op("post", "/api/v1/silences", "Create a silence", SilenceResponse, 201, SilenceSpec),
    Op("get", "/api/v1/silences/{id}", "Show a silence", SilenceResponse),
    Op("patch", "/api/v1/silences/{id}", "Update a silence", SilenceResponse, body=SilencePatch),
    Op("delete", "/api/v1/silences/{id}", "Delete a silence", None, 204),
    Op("get", "/api/v1/rules", "The loaded rules", RuleList),
    Op("get", "/api/v1/rules/{id}", "One rule", RuleResponse),
    Op("get", "/api/v1/articles", "Search the article archive (Arabic-aware), newest first", SearchPage,
       query=_ARTICLES_Q),
    Op("get", "/api/v1/articles/{id}", "One archived article: text, rule evidence, copies, event", ArticleView),
    Op("get", "/api/v1/events/{id}", "Every archived report of one event, in published order", EventView),
    Op("post", "/api/v1/rules/backtest",
       "Run the rule file in the body over the archive; NDJSON lines {hit} … {summary} (alert=true backfills)",
       None, query=_BACKTEST_Q, content_type="application/x-ndjson", raw_body="application/yaml"),
)

_ERRORS = {
    "400": "invalid JSON",
    "401": "missing or wrong bearer token",
    "403": "not loopback and no token set",
    "404": "not found",
    "409": "conflict",
    "413": "body too large",
    "422": "invalid request",
}


def build() -> dict[str, Any]:
    models: list[tuple[type[BaseModel], Any]] = [(Error, "serialization")]
    for op in OPERATIONS:
        if op.body is not None:
            models.append((op.body, "validation"))
        if op.response is not None:
            models.append((op.response, "serialization"))
    seen: set[tuple[type[BaseModel], str]] = set()
    unique = [m for m in models if not (m in seen or seen.add(m))]  # type: ignore[func-returns-value]
    refs, top = models_json_schema(unique, ref_template="#/components/schemas/{model}")
    paths: dict[str, dict[str, Any]] = {}
    for op in OPERATIONS:
        responses: dict[str, Any] = {}
        if op.response is not None:
            responses[str(op.status)] = {
                "description": "OK",
                "content": {op.content_type: {"schema": refs[(op.response, "serialization")]}},
            }
        elif op.status == 204:
            responses["204"] = {"description": "Done"}
        else:
            responses[str(op.status)] = {"description": "OK", "content": {op.content_type: {"schema": {}}}}
        if not op.public:
            for code, text in _ERRORS.items():
                if code in ("400", "413", "422") and op.body is None and op.method == "get":
                    continue
                responses[code] = {
                    "description": text,
                    "content": {"application/json": {"schema": refs[(Error, "serialization")]}},
                }
        params = (
            [{"name": "id", "in": "path", "required": True, "schema": {"type": "string"}}]
            if "{id}" in op.path
            else []
        )
        params += [
            {"name": n, "in": "query", "required": False, "schema": {"type": t}, "description": d}
            for n, t, d in op.query
        ]
        item: dict[str, Any] = {"summary": op.summary, "operationId": _op_id(op), "responses": responses}
        if params:
            item["parameters"] = params
        if op.body is not None:
            item["requestBody"] = {
                "required": True,
                "content": {"application/json": {"schema": refs[(op.body, "validation")]}},
            }
        elif op.raw_body:
            item["requestBody"] = {"required": True, "content": {op.raw_body: {"schema": {"type": "string"}}}}
        if op.public:
            item["security"] = []
        paths.setdefault(op.path, {})[op.method] = item
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "monitor API",
            "version": "1",
            "description": "Subscriptions, silences, rules, recent alerts and replay.",
        },
        "paths": paths,
        "components": {
            "schemas": top.get("$defs", {}),
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
        "security": [{"bearer": []}],
    }


def _op_id(op: Op) -> str:
    parts = [p.strip("{}") for p in op.path.split("/") if p and p not in ("api", "v1")]
    return op.method + "_" + "_".join(p.replace(".", "_").replace("-", "_") for p in parts)


_DOC: dict[str, Any] | None = None


@routes.get("/api/v1/openapi.json")
async def openapi(request: web.Request) -> web.Response:
    global _DOC
    if _DOC is None:
        _DOC = build()
    return json(_DOC)
