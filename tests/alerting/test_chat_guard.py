"""Chat SSRF guard and isolation, against real local TCP listeners that count every connection.

The listener is a plain asyncio server: it counts connections and request bytes, and answers as told
(200, a redirect, a huge body, or never). "No request reached it" is ``connections == 0``.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field

import pytest
from pydantic import SecretStr

from monitor.alerting.channels.base import DeliveryError
from monitor.alerting.channels.chat import ChatChannel
from monitor.alerting.channels.chatguard import check_chat_url, resolve_chat_url
from monitor.alerting.channels.ssrf import UnsafeURL
from monitor.alerting.model import ChatTarget, Delivery, Subscription
from monitor.alerting.recent import RecentAlerts
from monitor.api.app import ApiDeps, make_app
from monitor.settings import Settings

from .helpers import make_alert, wait_for

pytestmark = pytest.mark.timeout(120)


@dataclass
class Listener:
    mode: str = "ok"  # ok | stall | redirect | huge
    location: str = ""
    connections: int = 0
    requests: int = 0
    open_now: int = 0
    port: int = 0
    _writers: list[asyncio.StreamWriter] = field(default_factory=list)

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        self.open_now += 1
        self._writers.append(writer)
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n"):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":")[1])
            await reader.readexactly(length)
            self.requests += 1
            if self.mode == "stall":
                await reader.read()  # until the client gives up
                return
            if self.mode == "redirect":
                writer.write(
                    f"HTTP/1.1 302 Found\r\nLocation: {self.location}\r\nContent-Length: 0\r\n\r\n".encode()
                )
            elif self.mode == "huge":
                size = 5 * 1024 * 1024
                writer.write(f"HTTP/1.1 200 OK\r\nContent-Length: {size}\r\n\r\n".encode())
                for _ in range(size // 65536):
                    writer.write(b"x" * 65536)
                    await writer.drain()
            else:
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
            await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            self.open_now -= 1
            writer.close()


@pytest.fixture
async def listen() -> AsyncIterator[Callable[..., asyncio.Future[Listener]]]:
    servers: list[asyncio.Server] = []
    listeners: list[Listener] = []

    async def start(mode: str = "ok", location: str = "") -> Listener:
        lst = Listener(mode=mode, location=location)
        srv = await asyncio.start_server(lst.handle, "127.0.0.1", 0)
        lst.port = srv.sockets[0].getsockname()[1]
        servers.append(srv)
        listeners.append(lst)
        return lst

    yield start  # type: ignore[misc]
    for lst in listeners:
        for w in lst._writers:
            w.close()
    for srv in servers:
        srv.close()


def chat_sub(*urls: str, sid: str = "c1") -> Subscription:
    return Subscription(id=sid, name="chat", channel=ChatTarget(urls=tuple(SecretStr(u) for u in urls)))


def delivery(sid: str = "c1") -> Delivery:
    return Delivery(id=f"d-{sid}", subscription=sid, channel="chat", alerts=(make_alert(),))


def plain(**kw: object) -> Settings:
    return Settings(_env_file=None, **kw)  # type: ignore[call-arg]


# --- no request reaches a loopback listener -----------------------------------------------------
async def test_json_to_loopback_is_refused_and_never_connects(listen, redis) -> None:  # type: ignore[no-untyped-def]
    lst = await listen()
    url = f"json://127.0.0.1:{lst.port}/hook"
    for s in (plain(), plain(chat_services=["json"])):  # not an allowed service; allowed but loopback
        with pytest.raises(UnsafeURL):
            check_chat_url(url, s)
        with pytest.raises(DeliveryError) as err:
            await ChatChannel(s, redis).send(delivery(), chat_sub(url))
        assert err.value.retryable is False
    assert lst.connections == 0


@pytest.mark.parametrize("option", ["method=GET", "cto=100", "rto=100", "verify=no"])
def test_options_that_change_method_timeouts_or_tls_are_refused(option: str) -> None:
    s = plain(chat_services=["json"], webhook_allow=["127.0.0.1/32"])
    check_chat_url("json://127.0.0.1:9/hook", s)  # the same URL without the option is fine
    with pytest.raises(UnsafeURL, match="not allowed"):
        check_chat_url(f"json://127.0.0.1:9/hook?{option}", s)


async def test_api_refuses_chat_url_to_loopback(listen, redis_db_url, redis) -> None:  # type: ignore[no-untyped-def]
    lst = await listen()
    s = plain(redis_url=redis_db_url, chat_services=["json", "slack"])
    app = make_app(ApiDeps(settings=s, redis=redis, recent=RecentAlerts(redis)))
    from aiohttp.test_utils import TestClient, TestServer

    async with TestClient(TestServer(app)) as client:
        for url in (f"json://127.0.0.1:{lst.port}/", f"form://127.0.0.1:{lst.port}/", f"json://localhost:{lst.port}/"):
            r = await client.post(
                "/api/v1/subscriptions", json={"name": "x", "channel": {"type": "chat", "urls": [url]}}
            )
            assert r.status == 422, (url, await r.text())
        sub = await client.post(
            "/api/v1/subscriptions",
            json={"name": "ok", "channel": {"type": "chat", "urls": ["slack://T1JJ3T3L2/A1BRTD4JD/TIiajkdnlazkcOXrIdevi7FQ"]}},
        )
        assert sub.status == 201, await sub.text()
        sid = (await sub.json())["subscription"]["id"]
        r = await client.patch(
            f"/api/v1/subscriptions/{sid}",
            json={"channel": {"type": "chat", "urls": [f"json://127.0.0.1:{lst.port}/"]}},
        )
        assert r.status == 422
    assert lst.connections == 0


async def test_every_connection_is_checked_dns_rebinding(listen, redis, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """The name resolves to a public address at create, to loopback at send: the send never connects."""
    lst = await listen()
    real = socket.getaddrinfo
    answers = iter(["93.184.216.34"])

    def rebinding(host, port, *a, **kw):  # type: ignore[no-untyped-def]
        if host == "chat.rebind.example":
            ip = next(answers, "127.0.0.1")
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (ip, port or lst.port))]
        return real(host, port, *a, **kw)

    monkeypatch.setattr(socket, "getaddrinfo", rebinding)
    s = plain(chat_services=["json"])
    url = f"json://chat.rebind.example:{lst.port}/hook"
    await resolve_chat_url(url, s)  # public at create time
    with pytest.raises(DeliveryError):
        await ChatChannel(s, redis).send(delivery(), chat_sub(url))
    assert lst.connections == 0


async def test_redirects_are_not_followed(listen, redis) -> None:  # type: ignore[no-untyped-def]
    target = await listen()
    hop = await listen("redirect", location=f"http://127.0.0.1:{target.port}/")
    s = plain(chat_services=["json"], webhook_allow=["127.0.0.1/32"])
    with pytest.raises(DeliveryError):
        await ChatChannel(s, redis).send(delivery(), chat_sub(f"json://127.0.0.1:{hop.port}/"))
    assert hop.requests == 1
    assert target.connections == 0


async def test_reply_size_is_capped(listen, redis) -> None:  # type: ignore[no-untyped-def]
    big = await listen("huge")
    ok = await listen("ok")
    s = plain(chat_services=["json"], webhook_allow=["127.0.0.1/32"])
    with pytest.raises(DeliveryError):
        await ChatChannel(s, redis).send(delivery(), chat_sub(f"json://127.0.0.1:{big.port}/"))
    await ChatChannel(s, redis).send(delivery(), chat_sub(f"json://127.0.0.1:{ok.port}/"))
    assert ok.requests == 1


async def test_stalled_endpoints_never_delay_a_healthy_one(listen, redis) -> None:  # type: ignore[no-untyped-def]
    """Ten endpoints that never answer are all in flight at once, and a healthy one still goes through
    while every one of them is still hanging (before: apprise's shared pool queued them)."""
    stalled = await listen("stall")
    healthy = await listen("ok")
    s = plain(chat_services=["json"], webhook_allow=["127.0.0.1/32"], chat_timeout=90.0)
    ch = ChatChannel(s, redis)
    hanging = [
        asyncio.create_task(ch.send(delivery(f"s{i}"), chat_sub(f"json://127.0.0.1:{stalled.port}/", sid=f"s{i}")))
        for i in range(10)
    ]
    try:
        await wait_for(lambda: stalled.requests == 10, timeout=30)
        await asyncio.wait_for(
            ch.send(delivery("h"), chat_sub(f"json://127.0.0.1:{healthy.port}/", sid="h")), 30
        )
        assert healthy.requests == 1
        assert stalled.open_now == 10 and not any(t.done() for t in hanging)
    finally:
        for t in hanging:
            t.cancel()
        await asyncio.gather(*hanging, return_exceptions=True)


async def test_an_allow_listed_host_name_is_reached(listen, redis) -> None:  # type: ignore[no-untyped-def]
    """MONITOR_WEBHOOK_ALLOW names a host (a self-hosted chat server): it may be reached, and only it."""
    lst = await listen()
    s = plain(chat_services=["json"], webhook_allow=["localhost"])
    await resolve_chat_url(f"json://localhost:{lst.port}/", s)
    await ChatChannel(s, redis).send(delivery(), chat_sub(f"json://localhost:{lst.port}/"))
    assert lst.requests == 1
    with pytest.raises(DeliveryError):
        await ChatChannel(s, redis).send(delivery(), chat_sub(f"json://127.0.0.1:{lst.port}/"))
    assert lst.connections == 1


async def test_cli_refuses_chat_url_to_loopback(listen, redis_db_url, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from click.testing import CliRunner

    from monitor.cli import main

    lst = await listen()
    monkeypatch.setenv("MONITOR_REDIS_URL", redis_db_url)
    monkeypatch.setenv("MONITOR_CHAT_SERVICES", '["json"]')
    monkeypatch.delenv("MONITOR_WEBHOOK_ALLOW", raising=False)
    url = f"json://127.0.0.1:{lst.port}/"
    res = await asyncio.to_thread(
        CliRunner().invoke, main, ["subscriptions", "create", "--name", "c", "--channel", "chat", "--chat-url", url]
    )
    assert res.exit_code != 0 and "not public" in res.output, res.output
    assert lst.connections == 0
