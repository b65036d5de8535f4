"""The analyst console: server-rendered pages on the API's own aiohttp server.

``install(app)`` adds the console's routes (the ``MODULES`` below, in order, then ``/static/``) and
closes its live streams when the application shuts down; ``monitor.api.app.make_app`` calls it.
Pages are Jinja2 templates with autoescaping (``render``), a little vanilla JavaScript where it earns its
place (``static/console.js``: live inbox rows, rule errors as you type), nothing fetched from elsewhere.
Access follows the API (``session``): loopback only without a token, a login and a session cookie with
one; every state-changing form carries a CSRF token. ``is_web_path`` tells the API's auth middleware
which paths are the console's.
"""

from __future__ import annotations

import importlib
from pathlib import Path

from aiohttp import web

STATIC = Path(__file__).parent / "static"

#: route modules of the console, in registration order.
MODULES: tuple[str, ...] = (
    "monitor.web.session",
    "monitor.web.inbox",
    "monitor.web.alert",
    "monitor.web.silences",
    "monitor.web.subscriptions",
    "monitor.web.rules",
    "monitor.web.tryout",
    "monitor.web.feedback",
    "monitor.web.search",
)
PREFIXES = ("/alerts/", "/events", "/silences", "/subscriptions", "/rules", "/feedback", "/search",
            "/login", "/logout", "/static/")


def is_web_path(path: str) -> bool:
    return path == "/" or path.startswith(PREFIXES)


def install(app: web.Application) -> None:
    from monitor.web.state import close

    for name in MODULES:
        app.add_routes(importlib.import_module(name).routes)
    app.router.add_static("/static/", STATIC, append_version=False)
    app.on_shutdown.append(close)
