"""API hardening (issue 18): bodies read whole, auth edge cases, strict query numbers, caps and pages.

Every test runs the real aiohttp app on a real local port over the real Redis; raw-socket requests
where a client library would refuse to send the bytes.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator

import pytest
from aiohttp.test_utils import TestClient, TestServer

from monitor.alerting.model import EmailTarget, SubscriptionSpec
from monitor.alerting.recent import RecentAlerts
from monitor.api.app import ApiDeps, make_app
from monitor.api.auth import check_bind
from monitor.settings import Settings

TOKEN = "s3cret-token"


def settings_for(redis_db_url: str, **kw: object) -> Settings:
    return Settings(redis_url=redis_db_url, _env_file=None, **kw)  # type: ignore[call-arg]


@pytest.fixture
async def client(redis_db_url: str, redis) -> AsyncIterator[TestClient]:  # type: ignore[no-untyped-def]
    s = settings_for(redis_db_url, max_subscriptions=3, max_silences=2, max_filter_items=5)
    app = make_app(ApiDeps(settings=s, redis=redis, recent=RecentAlerts(redis)))
    async with TestClient(TestServer(app)) as c:
        yield c


async def raw_request(client: TestClient, data: bytes, pieces: list[bytes] = ()) -> tuple[int, bytes]:  # type: ignore[assignment]
    reader, writer = await asyncio.open_connection("127.0.0.1", client.port)
    writer.write(data)
    await writer.drain()
    for p in pieces:
        await asyncio.sleep(0.05)  # let the server start on what it has
        writer.write(p)
        await writer.drain()
    head = await reader.readuntil(b"\r\n\r\n")
    writer.close()
    return int(head.split(b" ")[1]), head


def _chunk(b: bytes) -> bytes:
    return f"{len(b):x}\r\n".encode() + b + b"\r\n"


SPEC = b'{"name": "pieces", "channel": {"type": "redis"}}'


async def test_a_body_arriving_in_pieces_is_read_whole(client: TestClient) -> None:
    head = b"POST /api/v1/subscriptions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
    status, _ = await raw_request(
        client, head + b"Transfer-Encoding: chunked\r\n\r\n" + _chunk(SPEC[:10]),
        [_chunk(SPEC[10:]), b"0\r\n\r\n"],
    )
    assert status == 201
    status, _ = await raw_request(
        client, head + f"Content-Length: {len(SPEC)}\r\n\r\n".encode() + SPEC[:7], [SPEC[7:]]
    )
    assert status == 201


async def test_a_body_followed_by_garbage_is_refused(client: TestClient) -> None:
    head = b"POST /api/v1/subscriptions HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
    status, _ = await raw_request(client, head + _chunk(SPEC), [_chunk(b"garbage"), b"0\r\n\r\n"])
    assert status == 400
    assert (await (await client.get("/api/v1/subscriptions")).json())["subscriptions"] == []


def test_an_empty_token_is_no_token() -> None:
    for blank in ("", "   "):
        s = Settings(api_token=blank, http_host="0.0.0.0", _env_file=None)  # type: ignore[call-arg]
        assert s.api_token is None
        assert check_bind(s) is not None


async def test_non_ascii_authorization_is_401_not_500(
    redis_db_url: str, redis, caplog: pytest.LogCaptureFixture  # type: ignore[no-untyped-def]
) -> None:
    s = settings_for(redis_db_url, api_token=TOKEN)
    app = make_app(ApiDeps(settings=s, redis=redis, recent=RecentAlerts(redis)))
    async with TestClient(TestServer(app)) as c:
        caplog.set_level(logging.ERROR)
        for value in ("Bearer \xe9t\xe9".encode("latin-1"), "Bearer токен".encode(), b"Bearer \xff\xfe"):
            status, head = await raw_request(
                c, b"GET /api/v1/subscriptions HTTP/1.1\r\nHost: x\r\nAuthorization: " + value + b"\r\n\r\n"
            )
            assert status == 401, head
        assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
        ok = await c.get("/api/v1/subscriptions", headers={"Authorization": f"Bearer {TOKEN}"})
        assert ok.status == 200


async def test_the_seed_feed_works_whatever_the_token(redis_db_url: str, redis) -> None:  # type: ignore[no-untyped-def]
    s = settings_for(redis_db_url, api_token=TOKEN)
    app = make_app(ApiDeps(settings=s, redis=redis, recent=RecentAlerts(redis)))
    async with TestClient(TestServer(app)) as c:
        r = await c.get("/seeds/feed.xml")
        assert r.status == 200 and b"<rss" in await r.read()
        assert (await c.get("/api/v1/alerts")).status == 401


@pytest.mark.parametrize(
    "query",
    ["since=nan", "until=nan", "since=inf", "since=-inf", "limit=%EF%BC%95", "limit=1_0", "limit=+5",
     "limit= 5", "offset=%EF%BC%90", "limit=5.0"],
)
async def test_odd_numbers_in_queries_are_400(client: TestClient, query: str) -> None:
    r = await client.get(f"/api/v1/alerts?{query}")
    assert r.status == 400, (query, r.status, await r.text())


async def test_patch_validates_webhook_secrets(client: TestClient) -> None:
    r = await client.post(
        "/api/v1/subscriptions",
        json={"name": "w", "channel": {"type": "webhook", "url": "https://93.184.216.34/hook"}},
    )
    assert r.status == 201
    sid = (await r.json())["subscription"]["id"]
    for bad in (["not base64!"], ["whsec_c2hvcnQ="]):
        r = await client.patch(
            f"/api/v1/subscriptions/{sid}",
            json={"channel": {"type": "webhook", "url": "https://93.184.216.34/hook", "secrets": bad}},
        )
        assert r.status == 422, bad


@pytest.mark.parametrize("addr", ["a@example.com\n", "a@example.com\r\n", "\na@example.com"])
def test_email_addresses_match_whole(addr: str) -> None:
    with pytest.raises(ValueError):
        EmailTarget(to=(addr,))
    with pytest.raises(ValueError):
        SubscriptionSpec(name="x", channel={"type": "redis"}, contact=addr)  # type: ignore[arg-type]


async def test_caps_on_subscriptions_silences_and_filter_lists(client: TestClient) -> None:
    for i in range(3):
        r = await client.post("/api/v1/subscriptions", json={"name": f"s{i}", "channel": {"type": "redis"}})
        assert r.status == 201
    r = await client.post("/api/v1/subscriptions", json={"name": "s3", "channel": {"type": "redis"}})
    assert r.status == 422 and "MONITOR_MAX_SUBSCRIPTIONS" in (await r.json())["error"]
    sid = (await (await client.get("/api/v1/subscriptions")).json())["subscriptions"][0]["id"]
    r = await client.patch(f"/api/v1/subscriptions/{sid}", json={"filter": {"tags": [f"t{i}" for i in range(6)]}})
    assert r.status == 422 and "MONITOR_MAX_FILTER_ITEMS" in (await r.json())["error"]
    sil = {"ends_at": "2099-01-01T00:00:00Z"}
    r = await client.post("/api/v1/silences", json={**sil, "rules": [f"r{i}" for i in range(6)]})
    assert r.status == 422
    for i in range(2):
        assert (await client.post("/api/v1/silences", json={**sil, "rules": [f"r{i}"]})).status == 201
    r = await client.post("/api/v1/silences", json={**sil, "rules": ["r9"]})
    assert r.status == 422 and "MONITOR_MAX_SILENCES" in (await r.json())["error"]


async def test_lists_are_paginated(client: TestClient) -> None:
    for i in range(3):
        await client.post("/api/v1/subscriptions", json={"name": f"s{i}", "channel": {"type": "redis"}})
    first = await (await client.get("/api/v1/subscriptions?limit=2")).json()
    assert len(first["subscriptions"]) == 2 and first["next_offset"] == 2
    rest = await (await client.get("/api/v1/subscriptions?limit=2&offset=2")).json()
    assert len(rest["subscriptions"]) == 1 and rest["next_offset"] is None
    ids = [s["id"] for s in first["subscriptions"] + rest["subscriptions"]]
    assert len(set(ids)) == 3
    sil = {"ends_at": "2099-01-01T00:00:00Z"}
    for i in range(2):
        await client.post("/api/v1/silences", json={**sil, "rules": [f"r{i}"]})
    page = await (await client.get("/api/v1/silences?limit=1")).json()
    assert len(page["silences"]) == 1 and page["next_offset"] == 1
    assert (await client.get("/api/v1/silences?limit=0")).status == 400
