"""Build the aiohttp application: one visible registry of route modules, shared dependencies.

Each module in ``ROUTES`` exposes ``routes: web.RouteTableDef``; ``make_app`` adds them all and keeps
an ``ApiDeps`` under ``app[DEPS]`` for handlers. Health and metrics need no token; everything under
``/api/`` goes through the auth middleware when one is installed (``monitor.api.auth``).
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import redis.asyncio as aioredis
from aiohttp import web

from monitor.alerting.recent import RecentAlerts
from monitor.api.auth import auth_middleware
from monitor.settings import Settings

log = logging.getLogger(__name__)

#: route modules, in registration order: the one list of what the API serves.
ROUTES: tuple[str, ...] = (
    "monitor.api.health",
    "monitor.api.alerts",
    "monitor.api.seeds",
    "monitor.api.subscriptions",
    "monitor.api.silences",
    "monitor.api.rules",
    "monitor.api.replay",
    "monitor.api.articles",
    "monitor.api.backtest",
    "monitor.api.openapi",
    "monitor.api.websub",
)

ReadyCheck = Callable[[], Awaitable[bool]]


@dataclass
class ApiDeps:
    settings: Settings
    redis: aioredis.Redis
    recent: RecentAlerts
    ready_checks: dict[str, ReadyCheck] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)
    registry: Any = None  # the prometheus CollectorRegistry /metrics serves (None: the default registry)
    archive: Any = None  # monitor.archive.Archive when the archive is open here (None: its routes answer 503)


DEPS = web.AppKey("deps", ApiDeps)


def make_app(deps: ApiDeps) -> web.Application:
    from monitor.web.tryout import FORM_MAX_BODY

    # the API's JSON routes read their bodies themselves, each under ``api_max_body`` (413 past it); the
    # app-wide cap is for the console's forms, parsed by aiohttp: a shipped rule file of Arabic, posted
    # from the try-out page, is several times its size once percent-encoded
    app = web.Application(
        middlewares=[auth_middleware(deps.settings)],
        client_max_size=max(deps.settings.api_max_body, FORM_MAX_BODY),
    )
    app[DEPS] = deps
    for name in ROUTES:
        app.add_routes(importlib.import_module(name).routes)
    from monitor.web import install  # the analyst console (pages at /, /alerts/…, /rules …)

    install(app)
    return app


def deps_of(request: web.Request) -> ApiDeps:
    return request.app[DEPS]
