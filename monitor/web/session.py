"""Console access: the API's rule (``monitor.api.auth``) for people with browsers.

Without ``MONITOR_API_TOKEN`` the console, like the API, serves loopback clients only and needs no login.
With a token, ``gate`` (called by the API's auth middleware for console paths that carry no valid bearer
token) lets through the login page and static files, and otherwise wants a session cookie: ``POST
/login`` with the token sets ``monitor_session`` (HttpOnly, SameSite=Strict, 12 h), a signed expiry
(``<exp>.<HMAC-SHA256(token, exp)>``), so rotating the token ends every session.

Every state-changing form carries a CSRF token: a random value kept in the ``monitor_csrf`` cookie
(HttpOnly, SameSite=Strict) and echoed in the form's ``csrf`` field (or the ``X-CSRF-Token`` header of a
script's request); ``read_form`` refuses a post whose two values differ or whose ``Origin`` is foreign
(403, do not retry: reload the page for a fresh form).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from collections.abc import Awaitable, Callable
from urllib.parse import quote

from aiohttp import web
from multidict import MultiDict, MultiDictProxy

from monitor.api.app import deps_of

routes = web.RouteTableDef()
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

SESSION_COOKIE = "monitor_session"
CSRF_COOKIE = "monitor_csrf"
SESSION_SECONDS = 12 * 3600
OPEN_PREFIXES = ("/static/",)
OPEN_PATHS = frozenset({"/login"})
_CSRF = web.RequestKey("csrf", tuple) if hasattr(web, "RequestKey") else "csrf"  # type: ignore[var-annotated]


def _token(request: web.Request) -> bytes | None:
    tok = deps_of(request).settings.api_token
    return tok.get_secret_value().encode() if tok else None


def _sign(token: bytes, exp: int) -> str:
    return hmac.new(token, f"monitor-console-session:{exp}".encode(), hashlib.sha256).hexdigest()


def session_value(token: bytes, now: float | None = None) -> str:
    exp = int((now if now is not None else time.time()) + SESSION_SECONDS)
    return f"{exp}.{_sign(token, exp)}"


def session_valid(token: bytes, value: str | None, now: float | None = None) -> bool:
    if not value:
        return False
    exp_s, _, sig = value.partition(".")
    if not exp_s.isdigit() or int(exp_s) < (now if now is not None else time.time()):
        return False
    return hmac.compare_digest(sig, _sign(token, int(exp_s)))


def session_in_use(request: web.Request) -> bool:
    return deps_of(request).settings.api_token is not None


def _safe_next(value: str | None) -> str:
    """Only a path on this site (no scheme, no ``//host``) is followed after login."""
    if not value or not value.startswith("/") or value.startswith("//") or "\\" in value:
        return "/"
    return value


async def gate(request: web.Request, handler: Handler, token: bytes) -> web.StreamResponse:
    """The console's check when a token is set and the request has no valid bearer token."""
    if request.path in OPEN_PATHS or request.path.startswith(OPEN_PREFIXES):
        return await handler(request)
    if session_valid(token, request.cookies.get(SESSION_COOKIE)):
        return await handler(request)
    if request.method in ("GET", "HEAD") and request.path != "/events":
        raise web.HTTPSeeOther("/login?next=" + quote(request.path_qs, safe=""))
    raise web.HTTPUnauthorized(text="log in first (/login)")


# --- CSRF -------------------------------------------------------------------------------------------
def csrf_token(request: web.Request) -> tuple[str, bool]:
    """The request's CSRF token and whether it is new (then the response must set the cookie)."""
    if _CSRF in request:
        return request[_CSRF]  # type: ignore[no-any-return]
    value = request.cookies.get(CSRF_COOKIE, "")
    fresh = len(value) < 32
    if fresh:
        value = secrets.token_urlsafe(32)
    request[_CSRF] = (value, fresh)
    return value, fresh


def set_csrf_cookie(request: web.Request, resp: web.StreamResponse, value: str) -> None:
    resp.set_cookie(CSRF_COOKIE, value, httponly=True, samesite="Strict", secure=request.secure, path="/")


def check_csrf(request: web.Request, given: str | None) -> None:
    origin = request.headers.get("Origin")
    if origin and origin != "null" and origin != f"{request.scheme}://{request.host}":
        raise web.HTTPForbidden(text=f"cross-site request refused (Origin {origin})")
    cookie = request.cookies.get(CSRF_COOKIE, "")
    if not cookie or not given or not hmac.compare_digest(cookie, given):
        raise web.HTTPForbidden(text="form expired or forged (CSRF check failed): reload the page and retry")


async def read_form(request: web.Request) -> MultiDictProxy[str]:
    """The posted form (text fields only), after the CSRF check."""
    form = await request.post()
    fields: MultiDict[str] = MultiDict((k, v) for k, v in form.items() if isinstance(v, str))
    check_csrf(request, fields.get("csrf"))
    return MultiDictProxy(fields)


# --- login ------------------------------------------------------------------------------------------
@routes.get("/login")
async def login_page(request: web.Request) -> web.StreamResponse:
    from monitor.web.render import page

    if _token(request) is None:
        raise web.HTTPSeeOther("/")
    return page(request, "login.html", title="Log in", next=_safe_next(request.query.get("next")), error="")


@routes.post("/login")
async def login(request: web.Request) -> web.StreamResponse:
    from monitor.web.render import page

    token = _token(request)
    if token is None:
        raise web.HTTPSeeOther("/")
    form = await read_form(request)
    nxt = _safe_next(form.get("next"))
    if not hmac.compare_digest(form.get("token", "").strip().encode(), token):
        return page(request, "login.html", status=401, title="Log in", next=nxt, error="Wrong token.")
    resp = web.HTTPSeeOther(nxt)
    resp.set_cookie(SESSION_COOKIE, session_value(token), max_age=SESSION_SECONDS, httponly=True,
                    samesite="Strict", secure=request.secure, path="/")
    raise resp


@routes.post("/logout")
async def logout(request: web.Request) -> web.StreamResponse:
    await read_form(request)
    resp = web.HTTPSeeOther("/login" if _token(request) else "/")
    resp.del_cookie(SESSION_COOKIE, path="/")
    raise resp
