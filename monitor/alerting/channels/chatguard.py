"""The chat channel's guard: which apprise URLs are accepted, and how every HTTP request they make is sent.

apprise turns a chat URL into a plugin that makes its own ``requests`` calls; left alone it reaches any
host (``json://127.0.0.1``), follows redirects, takes its timeouts and method from the URL and reads
replies without a limit. Two checks close that:

- ``check_chat_url`` (at create/update, and again before every send): the URL's service (scheme) must be
  in ``Settings.chat_services``; the query options that change the method, the timeouts or certificate
  checks (``method``, ``cto``, ``rto``, ``verify``) are refused; a service whose URL names the host it
  talks to (its apprise templates contain ``{host}``) gets the webhook address guard for that host
  (``ssrf.check_url``; ``resolve_checked`` at create).
- ``guarded(settings)``: a context in which every ``requests`` send made *by this thread* goes through
  apprise's own ``HTTPPolicySession`` with our address filter (``ssrf.address_allowed`` on every
  resolved address, the socket pinned to the checked address, proxies off), no redirects (a 3xx is a
  failure), our connect/read timeouts, a response cut at ``chat_max_response`` bytes and a watchdog that
  cuts every connection at the ``chat_timeout`` deadline. Outside such a context ``requests`` behaves
  as usual. The hook on ``requests.Session.send`` is installed once; it does nothing for other threads.

Errors: ``UnsafeURL`` (not retryable: fix the URL, the services list or ``MONITOR_WEBHOOK_ALLOW``).
"""

from __future__ import annotations

import contextlib
import contextvars
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlsplit

import requests
from apprise.utils.http import (
    ConnectionTracker,
    HTTPPolicy,
    HTTPPolicySession,
    read_bounded_response,
    track_connections,
)

from monitor.alerting.channels.ssrf import UnsafeURL, address_allowed, check_url, resolve_checked
from monitor.alerting.channels.ssrf import _networks as allow_lists

if TYPE_CHECKING:
    from monitor.settings import Settings

#: URL options that would let the caller pick the HTTP method, the timeouts or switch off TLS checks.
REFUSED_OPTIONS = frozenset({"method", "cto", "rto", "verify"})


def _plugin(url: str) -> Any:
    import apprise

    plugin = apprise.Apprise.instantiate(url, suppress_exceptions=True)
    if plugin is None:
        raise UnsafeURL("apprise does not understand this chat URL")
    return plugin


def _names_host(plugin: Any) -> bool:
    return any("{host}" in t for t in getattr(plugin, "templates", ()))


def _static_checks(url: str, settings: Settings) -> tuple[Any, str | None]:
    """The plugin and, for services whose URL names the host, an http(s) URL of that host."""
    scheme = url.partition("://")[0].lower()
    if not scheme or "://" not in url:
        raise UnsafeURL("a chat URL looks like service://…")
    if scheme not in {s.lower() for s in settings.chat_services}:
        raise UnsafeURL(f"chat service {scheme!r} is not allowed (MONITOR_CHAT_SERVICES)")
    try:
        parts = urlsplit(url)
        query = parse_qsl(parts.query, keep_blank_values=True)
        port = parts.port
    except ValueError as exc:
        raise UnsafeURL(f"invalid chat URL: {exc}") from exc
    bad = sorted({k.lower() for k, _ in query} & REFUSED_OPTIONS)
    if bad:
        raise UnsafeURL(f"chat URL options {', '.join(bad)} are not allowed (monitor sets them)")
    plugin = _plugin(url)
    if not _names_host(plugin) or not parts.hostname:
        return plugin, None
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    as_http = f"https://{host}{f':{port}' if port else ''}/"
    check_url(as_http, settings.webhook_allow)
    return plugin, as_http


def check_chat_url(url: str, settings: Settings) -> Any:
    """Static checks (every send); returns the apprise plugin. Raises ``UnsafeURL``."""
    return _static_checks(url, settings)[0]


async def resolve_chat_url(url: str, settings: Settings) -> None:
    """Create/update check: the static checks, then every address of a named host must be allowed."""
    _, as_http = _static_checks(url, settings)
    if as_http is not None:
        await resolve_checked(as_http, settings.webhook_allow)


@dataclass
class _Guard:
    session: HTTPPolicySession
    timeout: tuple[float, float]
    max_response: int
    host: str = ""  # of the request being sent: an allow-listed host name may reach any address

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
        kwargs.update(allow_redirects=False, stream=True, timeout=self.timeout, proxies={}, verify=True)
        self.host = (urlsplit(request.url or "").hostname or "").lower().rstrip(".")
        r = self.session.send(request, **kwargs)
        body = read_bounded_response(r, self.max_response)
        if body is None:
            raise requests.exceptions.ContentDecodingError(
                f"chat: reply larger than {self.max_response} bytes (cut off)"
            )
        r._content = body  # what r.content/r.json() return from now on
        r._content_consumed = True
        return r


_GUARD: contextvars.ContextVar[_Guard | None] = contextvars.ContextVar("monitor_chat_guard", default=None)
_ORIGINAL_SEND = requests.Session.send


def _send(self: requests.Session, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
    guard = _GUARD.get()
    if guard is None or isinstance(self, HTTPPolicySession):
        return _ORIGINAL_SEND(self, request, **kwargs)
    return guard.send(request, **kwargs)


def _install() -> None:
    if requests.Session.send is not _send:
        requests.Session.send = _send  # type: ignore[method-assign]


@contextlib.contextmanager
def guarded(settings: Settings) -> Iterator[None]:
    """Within: this thread's ``requests`` sends are guarded (see the module text), and cut at the deadline."""
    _install()
    allow = tuple(settings.webhook_allow)
    _, allowed_hosts = allow_lists(allow)

    def url_ok(url: str) -> bool:
        parts = urlsplit(url)
        return parts.scheme in ("http", "https") and not parts.username and not parts.password

    def address_ok(address: object) -> bool:
        return guard.host in allowed_hosts or address_allowed(str(address).split("%")[0], allow)

    policy = HTTPPolicy(url_filter=url_ok, address_filter=address_ok, resolve_timeout=settings.chat_connect_timeout)
    guard = _Guard(
        HTTPPolicySession(policy),
        (settings.chat_connect_timeout, settings.chat_timeout),
        settings.chat_max_response,
    )
    token = _GUARD.set(guard)
    try:
        with track_connections(ConnectionTracker(), deadline=time.monotonic() + settings.chat_timeout):
            yield
    finally:
        _GUARD.reset(token)
        guard.session.close()
