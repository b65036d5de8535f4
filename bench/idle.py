"""Benchmark: CPU that `monitor run` uses with nothing to do, across its whole process tree.

Starts `monitor run` (embedded broker and Redis, as `make run` does) with its default feeds (the
bundled seed feed) and a private copy of the rules folder (an edit elsewhere must not trigger reloads
during the window), waits until the seed articles have become alerts and everything has settled, then
samples the CPU time of the process and all its children (psutil) over a window. The figure is the
share of one core: 2.0 means 2 % of one core. Per process kind it also says where the time went
(monitor itself, the embedded broker, Redis), to find what burns CPU while idle.

``--compare DIR`` measures the `monitor run` of another checkout the same way, right after, in the
same run (before/after pairs; see bench/pipeline.py for making such a checkout).

    python bench/idle.py [--settle 20] [--seconds 30] [--env NAME=VALUE ...] [--compare DIR]

Prints one JSON line per checkout: {"checkout", "seconds", "cpu_percent_of_one_core", "by_process":
{...}, "load"} (``load``: the 1-minute load average at the end of the window; the machine's other work
shows in it, not in the figure).
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import orjson
import psutil

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def tree(proc: psutil.Process) -> list[psutil.Process]:
    try:
        return [proc, *proc.children(recursive=True)]
    except psutil.NoSuchProcess:
        return []


def cpu_times(procs: list[psutil.Process]) -> dict[int, tuple[str, float]]:
    out = {}
    for p in procs:
        try:
            t = p.cpu_times()
            out[p.pid] = (kind(p), t.user + t.system)
        except psutil.NoSuchProcess:
            continue
    return out


def kind(p: psutil.Process) -> str:
    try:
        cmd = " ".join(p.cmdline())
    except psutil.Error:
        return "other"
    if "redis-server" in cmd:
        return "redis"
    if "tansu" in cmd.lower():
        return "broker"
    if "monitor" in cmd:
        return "monitor"
    return "other"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--settle", type=float, default=20.0, help="seconds to wait after the seed alerts arrived")
    ap.add_argument("--seconds", type=float, default=30.0, help="measurement window")
    ap.add_argument("--env", action="append", default=[], help="extra NAME=VALUE for monitor run")
    ap.add_argument("--compare", type=Path, action="append", default=[],
                    help="another checkout whose `monitor run` is measured the same way (repeatable)")
    args = ap.parse_args()
    for name, root in [("this", ROOT), *((str(c), c.resolve()) for c in args.compare)]:
        result = measure(root, args)
        print(orjson.dumps({"checkout": name, **result, "load": round(os.getloadavg()[0], 2)}).decode(),
              flush=True)


def measure(root: Path, args: argparse.Namespace) -> dict[str, object]:
    tmp = Path(tempfile.mkdtemp(prefix="bench-idle-"))
    shutil.copytree(root / "rules", tmp / "rules")
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("MONITOR_")}
    env.update(MONITOR_HTTP_PORT=str(port), MONITOR_DATA_DIR=str(tmp / "data"), MONITOR_HTTP_HOST="127.0.0.1",
               MONITOR_RULES=str(tmp / "rules"), PYTHONPATH=str(root))
    env.update(dict(e.split("=", 1) for e in args.env))
    proc = subprocess.Popen([sys.executable, "-m", "monitor", "run", "-q"], env=env, cwd=root,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise SystemExit(f"monitor run exited with {proc.returncode}")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v1/alerts", timeout=2) as r:
                    if orjson.loads(r.read()).get("alerts"):
                        break
            except (OSError, ValueError):
                pass
            time.sleep(0.5)
        else:
            raise SystemExit("no alerts from the seed feed within 180 s")
        time.sleep(args.settle)
        root = psutil.Process(proc.pid)
        before = cpu_times(tree(root))
        t0 = time.monotonic()
        time.sleep(args.seconds)
        after = cpu_times(tree(root))
        wall = time.monotonic() - t0
        by: dict[str, float] = {}
        for pid, (k, used) in after.items():
            by[k] = by.get(k, 0.0) + used - before.get(pid, (k, 0.0))[1]
        total = sum(by.values())
        return {
            "seconds": round(wall, 1), "cpu_percent_of_one_core": round(100 * total / wall, 2),
            "by_process": {k: round(100 * v / wall, 2) for k, v in sorted(by.items())},
        }
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
