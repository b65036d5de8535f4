"""API access: a bearer token (``MONITOR_API_TOKEN``) on everything but ``/healthz``, ``/readyz``, ``/metrics``
and the bundled ``/seeds/feed.xml``. An empty or blank token is no token (``Settings``).

With no token set, the API answers loopback clients only (403 for anyone else), and ``check_bind``
refuses a bind address beyond loopback, so ``monitor run`` works out of the box and nothing is exposed
by accident. The token is compared in constant time; failures answer 401 with ``WWW-Authenticate``.
The web console's paths (``monitor.web.is_web_path``) without a valid bearer token go to the console's
own gate instead (``monitor.web.session.gate``: a login form and a session cookie).
"""

from __future__ import annotations

import hmac
import ipaddress
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from monitor.settings import Settings

#: no token needed: health, metrics, and the bundled seed feed (``monitor run`` polls it itself)
OPEN_PATHS = frozenset({"/healthz", "/readyz", "/metrics", "/seeds/feed.xml"})
#: WebSub callbacks: hubs cannot send a token; the subscription secret and record guard them
OPEN_PREFIXES = ("/websub/",)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def is_loopback(host: str | None) -> bool:
    if not host:
        return False
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]").split("%")[0]).is_loopback
    except ValueError:
        return False


def check_bind(settings: Settings) -> str | None:
    """An error message when the API would listen beyond loopback without a token; else None."""
    if settings.api_token is None and not is_loopback(settings.http_host):
        return (
            f"refusing to serve the API on {settings.http_host}: no MONITOR_API_TOKEN is set. "
            "Set MONITOR_API_TOKEN, or bind to 127.0.0.1 (MONITOR_HTTP_HOST)."
        )
    return None


def _deny(status: int, message: str) -> web.Response:
    headers = {"WWW-Authenticate": 'Bearer realm="monitor"'} if status == 401 else {}
    return web.json_response({"error": message}, status=status, headers=headers)


def auth_middleware(settings: Settings) -> Any:
    from monitor.web import is_web_path
    from monitor.web.session import gate

    token = settings.api_token.get_secret_value().encode() if settings.api_token else None

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.path in OPEN_PATHS or request.path.startswith(OPEN_PREFIXES):
            return await handler(request)
        if token is None:
            if not is_loopback(request.remote):
                return _deny(403, "no MONITOR_API_TOKEN set: the API serves loopback clients only")
            return await handler(request)
        scheme, _, value = request.headers.get("Authorization", "").partition(" ")
        given = value.strip()
        # a token is ASCII: anything else (even bytes aiohttp decoded with surrogates) is simply wrong
        if scheme.lower() != "bearer" or not given.isascii() or not hmac.compare_digest(given.encode(), token):
            if is_web_path(request.path):  # the console: a login form and a session cookie instead
                return await gate(request, handler, token)
            return _deny(401, "missing or wrong bearer token")
        return await handler(request)

    return middleware
