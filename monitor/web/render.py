"""Page rendering: one Jinja2 environment (autoescape always on) and the response headers every page gets.

``page(request, template, **ctx)`` renders a template from ``monitor/web/templates`` into an HTML response
with a strict Content-Security-Policy (scripts, styles and connections from this origin only; no inline
script or style, no frames, forms post here only), ``no-store`` caching and ``no-referrer``. Every
template sees ``csrf`` (the token its forms carry), ``auth`` (whether a session is in use) and ``path``.
Feed text is hostile input: it reaches the page only through autoescaped ``{{ }}``; ``Markup`` is built
in Python for exactly one thing, ``<mark>`` highlighting (``monitor.web.highlight``), from escaped parts.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from aiohttp import web
from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from monitor.models import SEVERITY_ORDER

CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-store",
}
RTL_LANGS = frozenset({"ar", "fa", "he", "ur", "ps", "ku", "yi"})


def text_dir(lang: str | None) -> str:
    """``rtl`` for right-to-left languages, else ``auto`` (the browser decides from the first strong letter)."""
    return "rtl" if (lang or "").split("-")[0].lower() in RTL_LANGS else "auto"


def when(value: datetime | float | None) -> str:
    if value is None:
        return ""
    if isinstance(value, int | float):
        value = datetime.fromtimestamp(value, UTC)
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def iso(value: datetime | None) -> str:
    return value.astimezone(UTC).isoformat() if value is not None else ""


def _env() -> Environment:
    env = Environment(
        loader=PackageLoader("monitor.web", "templates"),
        autoescape=select_autoescape(default=True, default_for_string=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(when=when, iso=iso, text_dir=text_dir)
    env.globals.update(severities=tuple(SEVERITY_ORDER))
    return env


ENV = _env()


def render(template: str, **ctx: Any) -> str:
    return ENV.get_template(template).render(**ctx)


def page(request: web.Request, template: str, status: int = 200, **ctx: Any) -> web.Response:
    from monitor.web.session import csrf_token, session_in_use

    token, fresh = csrf_token(request)
    body = render(template, csrf=token, auth=session_in_use(request), path=request.path, **ctx)
    resp = web.Response(text=body, status=status, content_type="text/html", charset="utf-8", headers=HEADERS)
    if fresh:
        from monitor.web.session import set_csrf_cookie

        set_csrf_cookie(request, resp, token)
    return resp


def see_other(location: str) -> web.HTTPSeeOther:
    """The answer to a successful form post (post/redirect/get)."""
    return web.HTTPSeeOther(location, headers=HEADERS)
