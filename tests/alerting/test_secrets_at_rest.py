"""Secrets at rest: with MONITOR_SECRET_KEY, Redis holds no webhook secret or chat URL in clear; rotation."""

from __future__ import annotations

import pytest
from pydantic import SecretStr

from monitor.alerting import keys
from monitor.alerting.model import ChatTarget, SubscriptionSpec, WebhookTarget
from monitor.alerting.secretbox import SecretBox, SecretsLocked, new_key
from monitor.alerting.store import Store
from monitor.settings import Settings

CHAT = "slack://T1JJ3T3L2/A1BRTD4JD/TIiajkdnlazkcOXrIdevi7FQ"


def s(key: str | None) -> Settings:
    return Settings(secret_key=key, _env_file=None)  # type: ignore[call-arg]


async def raw_values(redis) -> bytes:  # type: ignore[no-untyped-def]
    out = b""
    async for k in redis.scan_iter(match="monitor:*"):
        if (await redis.type(k)) == b"string":
            out += await redis.get(k) or b""
    return out


async def test_redis_holds_no_secret_in_clear_and_rotation_keeps_everything_readable(redis) -> None:  # type: ignore[no-untyped-def]
    old, new = new_key(), new_key()
    store = Store(redis, s(old))
    hook, secret = await store.create(
        SubscriptionSpec(name="w", channel=WebhookTarget(url="https://93.184.216.34/h"))
    )
    chat, _ = await store.create(SubscriptionSpec(name="c", channel=ChatTarget(urls=(SecretStr(CHAT),))))
    assert secret
    dump = await raw_values(redis)
    assert secret.encode() not in dump and b"TIiajkdnlazkcOXrIdevi7FQ" not in dump
    assert b"enc:v1:" in dump and b'"name":"w"' in dump  # the rest stays inspectable

    got = await store.get(hook.id)
    assert isinstance(got.channel, WebhookTarget) and got.channel.secrets[0].get_secret_value() == secret

    with pytest.raises(SecretsLocked):  # a Redis reader without the key gets nothing useful
        await Store(redis, s(None)).get(hook.id)
    with pytest.raises(SecretsLocked):
        await Store(redis, s(new)).get(hook.id)

    rotating = Store(redis, s(f"{new},{old}"))
    assert (await rotating.get(chat.id)).channel.urls[0].get_secret_value() == CHAT  # type: ignore[union-attr]
    assert await rotating.reencrypt() == 2
    only_new = Store(redis, s(new))  # the old key can go now
    assert (await only_new.get(chat.id)).channel.urls[0].get_secret_value() == CHAT  # type: ignore[union-attr]
    assert len(await only_new.list()) == 2


async def test_plain_values_from_before_a_key_are_read_and_sealed_on_rotation(redis) -> None:  # type: ignore[no-untyped-def]
    plain = Store(redis, s(None))
    sub, secret = await plain.create(SubscriptionSpec(name="w", channel=WebhookTarget(url="https://93.184.216.34/h")))
    assert secret and secret.encode() in await redis.get(keys.sub(sub.id))
    keyed = Store(redis, s(new_key()))
    assert (await keyed.get(sub.id)).channel.secrets[0].get_secret_value() == secret  # type: ignore[union-attr]
    await keyed.reencrypt()
    assert secret.encode() not in await redis.get(keys.sub(sub.id))


def test_a_bad_key_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="Fernet"):
        SecretBox("not-a-key")


def test_cli_reencrypt(redis_db_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from click.testing import CliRunner

    from monitor.cli import main

    old, new = new_key(), new_key()
    monkeypatch.setenv("MONITOR_REDIS_URL", redis_db_url)
    monkeypatch.setenv("MONITOR_SECRET_KEY", old)
    runner = CliRunner()
    res = runner.invoke(main, ["subscriptions", "create", "--name", "c", "--channel", "chat", "--chat-url", CHAT])
    assert res.exit_code == 0, res.output
    monkeypatch.setenv("MONITOR_SECRET_KEY", f"{new},{old}")
    res = runner.invoke(main, ["subscriptions", "reencrypt"])
    assert res.exit_code == 0 and "re-encrypted 1" in res.output, res.output
    monkeypatch.setenv("MONITOR_SECRET_KEY", new)
    res = runner.invoke(main, ["subscriptions", "list"])
    assert res.exit_code == 0 and " c" in res.output, res.output


async def test_api_without_the_key_says_so(redis_db_url: str, redis) -> None:  # type: ignore[no-untyped-def]
    from aiohttp.test_utils import TestClient, TestServer

    from monitor.alerting.recent import RecentAlerts
    from monitor.api.app import ApiDeps, make_app

    sub, _ = await Store(redis, s(new_key())).create(
        SubscriptionSpec(name="w", channel=WebhookTarget(url="https://93.184.216.34/h"))
    )
    plain = Settings(redis_url=redis_db_url, _env_file=None)  # type: ignore[call-arg]
    async with TestClient(TestServer(make_app(ApiDeps(settings=plain, redis=redis, recent=RecentAlerts(redis))))) as c:
        r = await c.get(f"/api/v1/subscriptions/{sub.id}")
        assert r.status == 500 and "MONITOR_SECRET_KEY" in (await r.json())["error"]


def test_start_up_summary_says_whether_secrets_are_sealed() -> None:
    import io
    from types import SimpleNamespace

    from monitor.cli.console import Console
    from monitor.runtime import Components

    for key, word in ((None, "in clear: set MONITOR_SECRET_KEY"), (new_key(), "sealed with MONITOR_SECRET_KEY")):
        buf = io.StringIO()
        settings = SimpleNamespace(kafka_bootstrap="k:9092", api_token=None, secret_key=key)
        Console(out=buf).started(settings, SimpleNamespace(api_url=None), Components(alerter=True), 0)
        assert word in buf.getvalue()
