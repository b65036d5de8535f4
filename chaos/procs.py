"""Processes the harness starts, each in its own process group, and the faults it can inflict on them.

``MonitorProc`` runs ``python -m monitor <command>`` with a given environment, its output in a log file
per incarnation (``<name>-<n>.log``). ``kill()`` is SIGKILL to the whole group, ``term()`` a graceful
SIGTERM with a wait, ``pause()``/``resume()`` SIGSTOP/SIGCONT, ``restart()`` starts a new incarnation.

``RedisServer`` is redis-server from ``monitor.embedded.redis_binary()`` with the embedded service's own
arguments (AOF on, ``appendfsync everysec``, ``noeviction``), started by the harness so that it can be
killed and started again on the same port and directory: the new server loads the AOF.

``ProcessRegistry.close()`` kills every group still alive: the harness never leaves an orphan.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from monitor.embedded import EmbeddedError, redis_binary

ROOT = Path(__file__).resolve().parent.parent


def _killpg(pid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, sig)


class ProcessRegistry:
    def __init__(self) -> None:
        self.procs: list[subprocess.Popen[bytes]] = []

    def add(self, p: subprocess.Popen[bytes]) -> None:
        self.procs.append(p)

    def close(self) -> None:
        for p in self.procs:
            if p.poll() is None:
                _killpg(p.pid, signal.SIGCONT)
                _killpg(p.pid, signal.SIGKILL)
        for p in self.procs:
            with contextlib.suppress(subprocess.TimeoutExpired):
                p.wait(timeout=10)
        # a group may outlive its leader (a child it started): sweep the groups once more
        for p in self.procs:
            _killpg(p.pid, signal.SIGKILL)


class MonitorProc:
    def __init__(self, name: str, command: str, env: dict[str, str], logs: Path, registry: ProcessRegistry):
        self.name = name
        self.command = command
        self.env = env
        self.logs = logs
        self.registry = registry
        self.incarnation = 0
        self.proc: subprocess.Popen[bytes] | None = None
        self.log_path: Path | None = None
        self.exit_codes: list[tuple[str, int | None]] = []  # (how it stopped, code)

    def start(self) -> MonitorProc:
        self.incarnation += 1
        self.log_path = self.logs / f"{self.name}-{self.incarnation}.log"
        env = {k: v for k, v in os.environ.items() if not k.startswith("MONITOR_")}
        env.update(self.env)
        env.setdefault("PYTHONUNBUFFERED", "1")
        env["MONITOR_DATA_DIR"] = str(self.logs.parent / "data" / self.name)
        with open(self.log_path, "ab") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "monitor", self.command, "-v"], env=env, cwd=ROOT,
                stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True,
            )
        self.registry.add(self.proc)
        return self

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc else None

    def log_text(self) -> str:
        if self.log_path is None or not self.log_path.exists():
            return ""
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def started(self) -> bool:
        return "monitor started" in self.log_text()

    def wait_started(self, timeout: float = 90.0) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.started():
                return True
            if not self.alive:
                return False
            time.sleep(0.2)
        return False

    def kill(self) -> None:
        """SIGKILL the whole process group (a crash: no cleanup, no commit)."""
        if self.proc is not None and self.proc.poll() is None:
            _killpg(self.proc.pid, signal.SIGCONT)
            _killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)
            self.exit_codes.append(("SIGKILL", self.proc.returncode))

    def term(self, timeout: float = 30.0) -> int | None:
        """SIGTERM and wait; SIGKILL after ``timeout``. Returns the exit code (None when killed)."""
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else None
        _killpg(self.proc.pid, signal.SIGCONT)
        self.proc.send_signal(signal.SIGTERM)
        try:
            code: int | None = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            _killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)
            code = None
        self.exit_codes.append(("SIGTERM", code))
        return code

    def pause(self) -> None:
        if self.proc is not None:
            _killpg(self.proc.pid, signal.SIGSTOP)

    def resume(self) -> None:
        if self.proc is not None:
            _killpg(self.proc.pid, signal.SIGCONT)

    def restart(self) -> MonitorProc:
        self.kill()
        return self.start()


class RedisServer:
    """A redis-server the harness owns (same arguments as ``monitor.embedded``), restartable in place."""

    def __init__(self, data_dir: Path, port: int, registry: ProcessRegistry) -> None:
        self.dir = data_dir / "redis"
        self.port = port
        self.registry = registry
        self.proc: subprocess.Popen[bytes] | None = None
        self.starts = 0

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self, timeout: float = 20.0) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        argv = [
            str(redis_binary()), "--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(self.dir),
            "--appendonly", "yes", "--appendfsync", "everysec", "--maxmemory-policy", "noeviction",
            "--save", "", "--daemonize", "no", "--protected-mode", "yes", "--logfile", "",
        ]
        self.starts += 1
        with open(self.dir.parent / f"redis-{self.starts}.log", "ab") as out:
            self.proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                         start_new_session=True, cwd=str(self.dir))
        self.registry.add(self.proc)
        import redis

        deadline = time.monotonic() + timeout
        client = redis.Redis(port=self.port, socket_timeout=1)
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise EmbeddedError(f"redis-server exited with {self.proc.returncode}")
            try:
                if client.ping():  # answers only once the AOF is loaded (LOADING otherwise)
                    return
            except redis.RedisError:
                pass
            time.sleep(0.05)
        raise EmbeddedError(f"redis-server did not answer on 127.0.0.1:{self.port} within {timeout:.0f}s")

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            _killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)

    def dbsize(self) -> int:
        import redis

        return int(redis.Redis(port=self.port, socket_timeout=5).dbsize())

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            _killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.kill()
