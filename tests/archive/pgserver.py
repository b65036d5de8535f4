"""A real PostgreSQL server for tests: ``initdb`` + ``pg_ctl`` from Debian's ``postgresql`` package on a
temporary folder and a free loopback port, as the ``postgres`` user when the tests run as root (the
server refuses to run as root). ``PgServer.start()`` returns the server or raises ``PgMissing`` saying
what to install; ``stop()`` shuts it down and deletes the folder.
"""

from __future__ import annotations

import atexit
import glob
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
from pathlib import Path


class PgMissing(RuntimeError):
    pass


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class PgServer:
    def __init__(self, bindir: Path, root: Path, port: int, user: str | None) -> None:
        self.bindir, self.root, self.port, self.user = bindir, root, port, user
        self._stopped = False

    @property
    def url(self) -> str:
        return f"postgresql://monitor@127.0.0.1:{self.port}/postgres"

    def db_url(self, name: str) -> str:
        return f"postgresql://monitor@127.0.0.1:{self.port}/{name}"

    def _run(self, *args: str) -> None:
        kw = {"user": self.user, "group": self.user} if self.user else {}
        r = subprocess.run(args, capture_output=True, text=True, timeout=120, **kw)  # type: ignore[call-overload]
        if r.returncode != 0:
            raise RuntimeError(f"{args[0]} failed: {r.stdout}\n{r.stderr}")

    @classmethod
    def start(cls) -> PgServer:
        found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
        if not found:
            raise PgMissing("PostgreSQL server not installed: `apt-get install postgresql` (Debian; .ci/run does it)")
        bindir = Path(found[-1]).parent
        user = None
        if os.geteuid() == 0:
            try:
                pwd.getpwnam("postgres")
            except KeyError:
                raise PgMissing("running as root and no `postgres` user to run the server as "
                                "(`apt-get install postgresql` creates it)") from None
            user = "postgres"
        root = Path(tempfile.mkdtemp(prefix="monitor-pg-"))
        if user:
            shutil.chown(root, user, user)
        srv = cls(bindir, root, _free_port(), user)
        srv._run(str(bindir / "initdb"), "-D", str(root / "data"), "-U", "monitor", "--auth=trust",
                 "-E", "UTF8", "--no-locale")
        srv._run(str(bindir / "pg_ctl"), "-D", str(root / "data"), "-l", str(root / "log"), "-w", "-t", "60",
                 "-o", f"-p {srv.port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off", "start")
        # pg_ctl daemonises the server: it outlives a test run that is stopped before its teardown (a
        # `timeout` sends SIGTERM, which by default ends Python without finalisers), so stop it at exit
        atexit.register(srv.stop)
        if threading.current_thread() is threading.main_thread() and signal.getsignal(signal.SIGTERM) in (
                signal.SIG_DFL, None):
            signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
        return srv

    def stop(self) -> None:
        if self._stopped:
            return
        self._stopped = True
        try:
            self._run(str(self.bindir / "pg_ctl"), "-D", str(self.root / "data"), "-m", "immediate", "-w", "stop")
        finally:
            shutil.rmtree(self.root, ignore_errors=True)
