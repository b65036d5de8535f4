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
from monitor.settings import Settings

log = logging.getLogger(__name__)

#: route modules, in registration order. Optional ones (built by later stages) are skipped if absent.
ROUTES: tuple[str, ...] = (
    "monitor.api.health",
    "monitor.api.alerts",
    "monitor.api.seeds",
    "monitor.api.subscriptions",
    "monitor.api.silences",
    "monitor.api.rules",
    "monitor.api.replay",
    "monitor.api.openapi",
)
REQUIRED = {"monitor.api.health", "monitor.api.alerts", "monitor.api.seeds"}

ReadyCheck = Callable[[], Awaitable[bool]]


@dataclass
class ApiDeps:
    settings: Settings
    redis: aioredis.Redis
    recent: RecentAlerts
    ready_checks: dict[str, ReadyCheck] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)


DEPS = web.AppKey("deps", ApiDeps)
MAX_BODY = 256 * 1024


def make_app(deps: ApiDeps) -> web.Application:
    middlewares: list[Any] = []
    try:
        from monitor.api.auth import auth_middleware

        middlewares.append(auth_middleware(deps.settings))
    except ImportError:
        if deps.settings.api_token is not None:
            raise RuntimeError("MONITOR_API_TOKEN is set but the auth middleware is unavailable") from None
    app = web.Application(middlewares=middlewares, client_max_size=MAX_BODY)
    app[DEPS] = deps
    for name in ROUTES:
        try:
            module = importlib.import_module(name)
        except ImportError:
            if name in REQUIRED:
                raise
            log.debug("route module %s not available", name)
            continue
        app.add_routes(module.routes)
    return app


def deps_of(request: web.Request) -> ApiDeps:
    return request.app[DEPS]
