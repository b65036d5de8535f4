"""``monitor subscriptions`` / ``monitor silences`` against real Redis, and through a running API."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator

import pytest
from aiohttp import web
from click.testing import CliRunner
from pydantic import SecretStr

from monitor.cli import main


@pytest.fixture
def cli(redis_db_url: str, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("MONITOR_REDIS_URL", redis_db_url)
    monkeypatch.setenv("MONITOR_WEBHOOK_ALLOW", '["127.0.0.1/32"]')
    monkeypatch.delenv("MONITOR_API_TOKEN", raising=False)
    runner = CliRunner()

    def run(*args: str, ok: bool = True) -> str:
        res = runner.invoke(main, list(args), catch_exceptions=False)
        assert (res.exit_code == 0) == ok, res.output
        return res.output

    return run


def test_subscription_lifecycle(cli) -> None:
    out = cli(
        "subscriptions",
        "create",
        "--name",
        "ops",
        "--url",
        "http://127.0.0.1:9/hook",
        "--min-severity",
        "high",
        "--lang",
        "ar",
        "--quiet",
        "22:00-07:00",
        "--tz",
        "Asia/Riyadh",
        "--group-by",
        "rule",
        "--group-wait",
        "30",
    )
    assert "shown once" in out and "whsec_" in out
    sub = json.loads(out[: out.rindex("}") + 1])
    assert sub["filter"]["min_severity"] == "high" and sub["quiet_hours"]["tz"] == "Asia/Riyadh"
    assert sub["id"] in cli("subscriptions", "list")
    shown = cli("subscriptions", "show", sub["id"])
    assert "whsec_" not in shown
    out = cli("subscriptions", "update", sub["id"], "--disable", "--name", "ops2")
    assert '"enabled": false' in out and '"name": "ops2"' in out
    assert "whsec_" in cli("subscriptions", "rotate-secret", sub["id"])
    assert "queued test delivery" in cli("subscriptions", "test-send", sub["id"])
    cli("subscriptions", "delete", sub["id"])
    assert "no subscription" in cli("subscriptions", "show", sub["id"], ok=False)


def test_clear_errors(cli, monkeypatch) -> None:
    assert "not public" in cli(
        "subscriptions", "create", "--name", "x", "--url", "http://10.1.2.3/", ok=False
    )
    assert "channel" in cli("subscriptions", "create", "--name", "x", ok=False)
    assert "email" in cli("subscriptions", "create", "--name", "x", "--to", "not-an-address", ok=False)
    assert "time or duration" in cli("silences", "create", "--rule", "r", "--ends", "soon", ok=False)
    monkeypatch.delenv("MONITOR_REDIS_URL")
    assert "MONITOR_REDIS_URL" in cli("subscriptions", "list", ok=False)


def test_silences(cli) -> None:
    out = cli("silences", "create", "--rule", "r1", "--source", "feedA", "--ends", "2h", "--comment", "known")
    sil = json.loads(out)
    assert sil["rules"] == ["r1"]
    assert sil["id"] in cli("silences", "list")
    assert '"comment": "longer"' in cli("silences", "update", sil["id"], "--comment", "longer")
    cli("silences", "show", sil["id"])
    cli("silences", "delete", sil["id"])
    assert "no silence" in cli("silences", "show", sil["id"], ok=False)


@pytest.fixture
def api_url(settings) -> Iterator[str]:
    """The real API in a thread of its own (the CLI runs its own event loop)."""
    import redis.asyncio as aioredis

    from monitor.alerting.recent import RecentAlerts
    from monitor.api.app import ApiDeps, make_app

    s = settings.model_copy(update={"api_token": SecretStr("tok")})
    loop = asyncio.new_event_loop()
    started = threading.Event()
    box: dict[str, object] = {}

    async def start() -> None:
        r = aioredis.Redis.from_url(s.redis)
        runner = web.AppRunner(make_app(ApiDeps(settings=s, redis=r, recent=RecentAlerts(r))))
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        box["url"] = f"http://127.0.0.1:{runner.addresses[0][1]}"
        box["runner"] = runner
        started.set()

    t = threading.Thread(target=lambda: (loop.run_until_complete(start()), loop.run_forever()), daemon=True)
    t.start()
    started.wait(10)
    yield str(box["url"])
    asyncio.run_coroutine_threadsafe(box["runner"].cleanup(), loop).result(10)  # type: ignore[union-attr]
    loop.call_soon_threadsafe(loop.stop)


def test_through_the_api(cli, api_url) -> None:
    assert "401" in cli("subscriptions", "--api", api_url, "list", ok=False)
    out = cli(
        "subscriptions", "--api", api_url, "--token", "tok", "create", "--name", "s", "--channel", "redis"
    )
    sub = json.loads(out)
    assert sub["channel"]["type"] == "redis"
    assert sub["id"] in cli("subscriptions", "--api", api_url, "--token", "tok", "list")
    assert "queued" in cli("subscriptions", "--api", api_url, "--token", "tok", "test-send", sub["id"])
    assert "422" in cli(
        "subscriptions",
        "--api",
        api_url,
        "--token",
        "tok",
        "update",
        sub["id"],
        "--url",
        "http://169.254.169.254/",
        ok=False,
    )
    out = cli("silences", "--api", api_url, "--token", "tok", "create", "--tag", "t1", "--ends", "1h")
    assert json.loads(out)["tags"] == ["t1"]
