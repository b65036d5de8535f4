"""The archive's HTTP API on a real server (aiohttp test server, real SQLite archive, real Redis): search,
article, event, backtest streaming; bad input answers 400/422, never 500; the token guards it all."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import orjson
import pytest
import redis.asyncio as aioredis
from aiohttp.test_utils import TestClient, TestServer
from pydantic import SecretStr

from monitor.alerting.recent import RecentAlerts
from monitor.api.app import ApiDeps, make_app
from monitor.archive.sqlite import SqliteArchive
from monitor.archive.store import Note
from monitor.settings import Settings

from .helpers import CORPUS
from .test_store import HOSTILE

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "archive-t0ken"
H = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture
async def api(redis_db_url, tmp_path) -> AsyncIterator[TestClient]:  # type: ignore[no-untyped-def]
    s = Settings(redis_url=redis_db_url, api_token=SecretStr(TOKEN), rules=ROOT / "rules", data_dir=tmp_path,
                 _env_file=None)  # type: ignore[call-arg]
    archive = SqliteArchive(tmp_path / "archive.db")
    await archive.put(CORPUS)
    await archive.annotate([Note("ar-1", "ev-1", "cg-1"), Note("en-1", "ev-1", "cg-2"), Note("ar-2", "", "cg-1")])
    redis = aioredis.Redis.from_url(redis_db_url)
    app = make_app(ApiDeps(settings=s, redis=redis, recent=RecentAlerts(redis), archive=archive))
    client = TestClient(TestServer(app, host="127.0.0.1"))
    await client.start_server()
    yield client
    await client.close()
    await archive.close()
    await redis.aclose()


async def test_token_is_required(api):
    for path in ("/api/v1/articles", "/api/v1/articles/ar-1", "/api/v1/events/ev-1"):
        assert (await api.get(path)).status == 401
    assert (await api.post("/api/v1/rules/backtest", data=b"id: x")).status == 401


async def test_search(api):
    r = await api.get("/api/v1/articles", params={"q": "قاعدة", "limit": "2"}, headers=H)
    assert r.status == 200
    page = await r.json()
    assert [h["id"] for h in page["hits"]] == ["ar-3", "ar-2"] and page["more"] is True
    h = page["hits"][1]
    assert [h["snippet"][a:b] for a, b in h["highlights"]] == ["والقاعدة"]
    r = await api.get("/api/v1/articles", params={"q": "base", "lang": "en", "since": "2026-11-20T16:00:00Z"},
                      headers=H)
    assert [h["id"] for h in (await r.json())["hits"]] == ["en-3", "en-1"]


@pytest.mark.parametrize("params", [
    {"limit": "0"}, {"limit": "101"}, {"limit": "x"}, {"offset": "-1"}, {"offset": "99999999"},
    {"since": "yesterday"}, {"until": "1e400"}, {"q": "a" * 1001}, {"q": " ".join(f"w{i}" for i in range(40))},
    {"source": "a\x00b"}, {"entity": "x" * 600},
])
async def test_bad_search_parameters_are_400(api, params):
    r = await api.get("/api/v1/articles", params=params, headers=H)
    assert r.status == 400, await r.text()
    assert (await r.json())["error"]


@pytest.mark.parametrize("q", HOSTILE)
async def test_hostile_queries_never_500(api, q):
    r = await api.get("/api/v1/articles", params={"q": q}, headers=H)
    assert r.status in (200, 400), await r.text()


async def test_article_and_event(api):
    r = await api.get("/api/v1/articles/ar-1", headers=H)
    body = await r.json()
    assert r.status == 200 and body["article"]["article"]["id"] == "ar-1"
    assert body["article"]["matches"][0]["rule"] == "attack-on-base.generic"
    assert body["article"]["matches"][0]["evidence"][0]["field"] == "title"
    assert [c["id"] for c in body["copies"]] == ["ar-2"] and [e["id"] for e in body["event"]] == ["en-1"]
    assert (await api.get("/api/v1/articles/nope", headers=H)).status == 404
    assert (await api.get("/api/v1/articles/a%00b", headers=H)).status == 404
    r = await api.get("/api/v1/events/ev-1", headers=H)
    ev = await r.json()
    assert [x["id"] for x in ev["reports"]] == ["ar-1", "en-1"] and ev["languages"] == ["ar", "en"]
    assert (await api.get("/api/v1/events/none", headers=H)).status == 404


RULE = "id: api.base\ntitle: base\nmatch:\n  any: [\"قاعدة\", base]\n"


async def test_backtest_streams_hits_then_a_summary(api):
    r = await api.post("/api/v1/rules/backtest", params={"since": "3650d"}, data=RULE.encode(),
                       headers={**H, "Content-Type": "application/yaml"})
    assert r.status == 200 and r.headers["Content-Type"].startswith("application/x-ndjson")
    lines = [orjson.loads(x) for x in (await r.read()).splitlines()]
    hits, summary = lines[:-1], lines[-1]["summary"]
    assert [h["hit"]["article_id"] for h in hits] == ["en-3", "en-1", "ar-3", "ar-2", "ar-1"]
    assert hits[0]["hit"]["evidence"] and summary["matched"] == 5 and summary["per_day"] == [["2026-11-20", 5]]


async def test_backtest_bad_input(api):
    r = await api.post("/api/v1/rules/backtest", data=b"id: x\ntitle: t\nmatch:\n  nope: [a]\n", headers=H)
    assert r.status == 422
    assert (await r.json())["detail"][0].startswith("request.yaml:4:")
    r = await api.post("/api/v1/rules/backtest", data=b"id: [unclosed\n", headers=H)
    assert r.status == 422 and (await r.json())["detail"][0].startswith("request.yaml:")
    assert (await api.post("/api/v1/rules/backtest", data=b"", headers=H)).status == 400
    r = await api.post("/api/v1/rules/backtest", params={"since": "soon"}, data=RULE.encode(), headers=H)
    assert r.status == 400
    r = await api.post("/api/v1/rules/backtest", params={"alert": "true"}, data=RULE.encode(), headers=H)
    assert r.status == 503  # no producer in this process: said so, nothing sent


async def test_no_archive_in_this_process_is_503(redis_db_url, tmp_path):
    s = Settings(redis_url=redis_db_url, data_dir=tmp_path, _env_file=None)  # type: ignore[call-arg]
    redis = aioredis.Redis.from_url(redis_db_url)
    client = TestClient(TestServer(make_app(ApiDeps(settings=s, redis=redis, recent=RecentAlerts(redis))),
                                   host="127.0.0.1"))
    await client.start_server()
    try:
        r = await client.get("/api/v1/articles", params={"q": "x"})
        assert r.status == 503 and "archive" in (await r.json())["error"]
    finally:
        await client.close()
        await redis.aclose()
