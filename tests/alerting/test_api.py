"""The HTTP API with aiohttp's test client on real Redis: auth, CRUD, replay, test-send, OpenAPI, limits."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from aiohttp.test_utils import TestClient, TestServer
from jsonschema import Draft202012Validator
from openapi_spec_validator import validate as validate_openapi
from pydantic import SecretStr

from monitor.alerting import keys
from monitor.alerting.recent import RecentAlerts
from monitor.api.app import ApiDeps, make_app
from monitor.api.auth import check_bind
from monitor.api.openapi import OPERATIONS

from .helpers import make_alert

TOKEN = "t0ken-for-tests"


async def _client(settings, redis) -> TestClient:
    app = make_app(ApiDeps(settings=settings, redis=redis, recent=RecentAlerts(redis)))
    client = TestClient(TestServer(app, host="127.0.0.1"))
    await client.start_server()
    return client


@pytest.fixture
async def api(settings, redis) -> AsyncIterator[TestClient]:
    s = settings.model_copy(update={"api_token": SecretStr(TOKEN)})
    client = await _client(s, redis)
    yield client
    await client.close()


H = {"Authorization": f"Bearer {TOKEN}"}


async def test_auth(api, settings, redis):
    assert (await api.get("/healthz")).status == 200
    assert (await api.get("/metrics")).status == 200
    r = await api.get("/api/v1/subscriptions")
    assert r.status == 401 and "Bearer" in r.headers["WWW-Authenticate"]
    assert (await api.get("/api/v1/subscriptions", headers={"Authorization": "Bearer nope"})).status == 401
    assert (await api.get("/api/v1/openapi.json")).status == 401
    assert (await api.get("/api/v1/subscriptions", headers=H)).status == 200


async def test_no_token_serves_loopback_only(settings, redis):
    client = await _client(settings, redis)  # no token
    try:
        assert (await client.get("/api/v1/subscriptions")).status == 200  # we are on 127.0.0.1
    finally:
        await client.close()
    # a non-loopback client, for real: serve on this machine's own non-loopback address, if it has one
    import socket

    addr = None
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        try:
            s.connect(("192.0.2.1", 9))
            addr = s.getsockname()[0]
        except OSError:
            pass
    if addr and not addr.startswith("127."):
        app = make_app(ApiDeps(settings=settings, redis=redis, recent=RecentAlerts(redis)))
        c = TestClient(TestServer(app, host=addr))
        await c.start_server()
        try:
            assert (await c.get("/api/v1/subscriptions")).status == 403
            assert (await c.get("/healthz")).status == 200
        finally:
            await c.close()
    assert check_bind(settings) is None
    assert "MONITOR_API_TOKEN" in (check_bind(settings.model_copy(update={"http_host": "0.0.0.0"})) or "")
    assert (
        check_bind(settings.model_copy(update={"http_host": "0.0.0.0", "api_token": SecretStr("x")})) is None
    )


async def test_subscription_crud_and_secret_shown_once(api, receiver):
    spec = {
        "name": "ops",
        "channel": {"type": "webhook", "url": receiver.url},
        "filter": {"min_severity": "high", "languages": ["ar"]},
        "quiet_hours": {"start": "22:00", "end": "07:00", "tz": "Asia/Riyadh"},
    }
    r = await api.post("/api/v1/subscriptions", json=spec, headers=H)
    assert r.status == 201, await r.text()
    body = await r.json()
    secret, sub_id = body["secret"], body["subscription"]["id"]
    assert secret.startswith("whsec_")
    assert body["subscription"]["channel"]["secrets"] == ["**********"]
    shown = await (await api.get(f"/api/v1/subscriptions/{sub_id}", headers=H)).text()
    assert secret not in shown and secret[6:] not in shown
    listed = await (await api.get("/api/v1/subscriptions", headers=H)).text()
    assert secret[6:] not in listed and sub_id in listed
    r = await api.patch(f"/api/v1/subscriptions/{sub_id}", json={"name": "ops2", "enabled": False}, headers=H)
    assert r.status == 200 and (await r.json())["subscription"]["name"] == "ops2"
    r = await api.post(f"/api/v1/subscriptions/{sub_id}/rotate-secret", headers=H)
    new = (await r.json())["secret"]
    assert new.startswith("whsec_") and new != secret
    assert (await api.delete(f"/api/v1/subscriptions/{sub_id}", headers=H)).status == 204
    assert (await api.get(f"/api/v1/subscriptions/{sub_id}", headers=H)).status == 404


@pytest.mark.parametrize(
    ("body", "status"),
    [
        (b"{not json", 400),
        (b'{"name": "x", "channel": {"type": "webhook", "url": "http://169.254.169.254/"}}', 422),
        (b'{"name": "x", "channel": {"type": "webhook", "url": "http://10.0.0.1/"}}', 422),
        (b'{"name": "x", "channel": {"type": "webhook", "url": "http://[::ffff:127.0.0.2]/"}}', 422),
        (b'{"name": "x", "channel": {"type": "pager"}}', 422),
        (b'{"name": "x", "channel": {"type": "redis"}, "extra": 1}', 422),
        (b'{"name": "x", "channel": {"type": "email", "to": ["a@b.c\\r\\nBcc: x@y.z"]}}', 422),
        (
            b'{"name": "x", "channel": {"type": "redis"}, "quiet_hours": {"start": "1:00", "end": "2:00", "tz": "Mars/Base"}}',
            422,
        ),
    ],
)
async def test_invalid_bodies(api, body, status):
    r = await api.post("/api/v1/subscriptions", data=body, headers={**H, "Content-Type": "application/json"})
    assert r.status == status, await r.text()
    assert "error" in await r.json()


async def test_body_size_is_bounded(api, settings):
    big = b'{"name": "' + b"x" * (settings.api_max_body + 10) + b'"}'
    r = await api.post("/api/v1/subscriptions", data=big, headers={**H, "Content-Type": "application/json"})
    assert r.status == 413


async def test_silences_crud(api):
    now = datetime.now(UTC)
    r = await api.post(
        "/api/v1/silences",
        headers=H,
        json={"rules": ["r1"], "ends_at": (now + timedelta(hours=1)).isoformat(), "comment": "maintenance"},
    )
    assert r.status == 201, await r.text()
    sid = (await r.json())["silence"]["id"]
    assert len((await (await api.get("/api/v1/silences", headers=H)).json())["silences"]) == 1
    r = await api.patch(f"/api/v1/silences/{sid}", headers=H, json={"comment": "longer"})
    assert (await r.json())["silence"]["comment"] == "longer"
    r = await api.post("/api/v1/silences", headers=H, json={"ends_at": now.isoformat()})
    assert r.status == 422
    assert (await api.delete(f"/api/v1/silences/{sid}", headers=H)).status == 204
    assert (await api.get(f"/api/v1/silences/{sid}", headers=H)).status == 404


RULE = """id: demo.rule
version: "3"
title: Demo rule
description: A rule for the API test.
severity: high
tags: [demo]
languages: [en]
match:
  all:
    - "ceasefire"
"""


async def test_rules(settings, redis, tmp_path):
    (tmp_path / "demo.yaml").write_text(RULE)
    s = settings.model_copy(update={"api_token": SecretStr(TOKEN), "rules": tmp_path})
    api = await _client(s, redis)
    try:
        r = await api.get("/api/v1/rules", headers=H)
        assert r.status == 200, await r.text()
        (rule,) = (await r.json())["rules"]
        assert rule["id"] == "demo.rule" and rule["version"] == "3" and rule["tags"] == ["demo"]
        one = await api.get("/api/v1/rules/demo.rule", headers=H)
        assert (await one.json())["rule"]["title"] == "Demo rule"
        assert (await api.get("/api/v1/rules/no-such-rule", headers=H)).status == 404
    finally:
        await api.close()


async def test_replay_and_test_send_queue_with_stable_ids(api, redis):
    recent = RecentAlerts(redis)
    alerts = [make_alert(i) for i in range(3)]
    await recent.add(alerts)
    r = await api.post("/api/v1/subscriptions", headers=H, json={"name": "s", "channel": {"type": "redis"}})
    sub_id = (await r.json())["subscription"]["id"]
    since = (datetime.now(UTC) - timedelta(hours=1)).isoformat()
    r = await api.post(f"/api/v1/subscriptions/{sub_id}/replay", headers=H, json={"since": since})
    assert r.status == 202, await r.text()
    first = await r.json()
    assert first["queued"] == 3
    r = await api.post(f"/api/v1/subscriptions/{sub_id}/replay", headers=H, json={"since": since})
    again = await r.json()
    assert again["delivery_ids"] == first["delivery_ids"] and again["already_queued"] == 3
    r = await api.post(f"/api/v1/subscriptions/{sub_id}/test", headers=H)
    assert r.status == 202 and (await r.json())["result"] == "new"
    assert await redis.hlen(keys.BODY) == 4


async def test_openapi_is_valid_and_complete(api):
    from monitor.web import is_web_path

    r = await api.get("/api/v1/openapi.json", headers=H)
    doc = await r.json()
    validate_openapi(doc)
    for schema in doc["components"]["schemas"].values():
        Draft202012Validator.check_schema(schema)
    served = set()
    for route in api.server.app.router.routes():
        info = route.resource.get_info() if route.resource else {}
        path = info.get("path") or info.get("formatter")
        if route.method in ("HEAD", "OPTIONS") or not path or is_web_path(path):
            continue  # the web console's pages are HTML for people, not API (docs/console.md)
        served.add((route.method.lower(), path))
    described = {(op.method, op.path) for op in OPERATIONS}
    assert served <= described, served - described
    assert {p for _, p in served} <= set(doc["paths"])
