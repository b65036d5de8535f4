"""One owner per embedded data dir: a second start is refused; children a crashed owner left are stopped.

Real redis-server processes (the embedded one). A crashed owner is simulated by a child Python process
that starts the embedded Redis from a non-main thread (so no parent-death signal is asked for, as if it
had been missed) and then SIGKILLs itself: its Redis outlives it, recorded in ``embedded.lock``.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import psutil
import pytest

from monitor.embedded import EmbeddedError, EmbeddedServices

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]


def _gone(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def test_a_second_owner_is_refused_with_the_owners_pid(tmp_path: Path) -> None:
    first = EmbeddedServices(data_dir=tmp_path).start(kafka=False)
    try:
        with pytest.raises(EmbeddedError, match=rf"pid {os.getpid()}.*{tmp_path.name}"):
            EmbeddedServices(data_dir=tmp_path).start(kafka=False)
        assert len(first.pids()) == 1, "the refused start touched nothing"
    finally:
        first.stop()
    again = EmbeddedServices(data_dir=tmp_path).start(kafka=False)  # free after a clean stop
    again.stop()


CRASHING_OWNER = textwrap.dedent(
    """
    import os, signal, sys, threading
    from pathlib import Path
    from monitor.embedded import EmbeddedServices
    svc = EmbeddedServices(data_dir=Path(sys.argv[1]))
    t = threading.Thread(target=svc.start, kwargs={"kafka": False})
    t.start(); t.join()
    print(svc.pids()[0], flush=True)
    os.kill(os.getpid(), signal.SIGKILL)
    """
)


def test_children_left_by_a_crashed_owner_are_stopped_before_starting(tmp_path: Path) -> None:
    proc = subprocess.run([sys.executable, "-c", CRASHING_OWNER, str(tmp_path)], cwd=ROOT, capture_output=True,
                          text=True, timeout=60, check=False)
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    stale = int(proc.stdout.split()[0])
    assert not _gone(stale), "the simulated survivor must be running"
    assert json.loads((tmp_path / "embedded.lock").read_text())["children"]["redis"] == stale
    svc = EmbeddedServices(data_dir=tmp_path).start(kafka=False)
    try:
        deadline = time.monotonic() + 15
        while not _gone(stale) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert _gone(stale), "the stale redis-server still runs beside the new one"
        import redis

        assert redis.Redis.from_url(svc.redis_url).ping()
    finally:
        svc.stop()
        if not _gone(stale):
            os.kill(stale, signal.SIGKILL)
