"""Benchmark: latency of the first alert after a quiet spell, in one `monitor run` (embedded broker).

bench/latency.py measures a steady stream through separate processes; a real feed mix is mostly quiet
spells with a few new articles in between, and `monitor run` hosts poller, processor and alerter in one
process. Here a local RSS feed (polled every 3 s) gains one article that a bench rule matches, after
25 s (then 12 s) of nothing, three times; the figure is the time from the article's ``fetched_at``
(set by the poller just before it publishes) to the alert showing in ``/api/v1/alerts`` (polled every
20 ms). The rules are a private copy of the checkout's, plus the marker rule.

``--compare DIR`` measures the `monitor run` of another checkout the same way, right after, in the
same run (see bench/pipeline.py for making such a checkout).

    python bench/quiet.py [--compare DIR]

Prints one JSON line per checkout: {"checkout", "after_quiet_ms": [three figures], "load"} (``load``:
the 1-minute load average at the end).
"""

from __future__ import annotations

import argparse
import http.server
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from datetime import datetime
from pathlib import Path
from typing import Any, ClassVar

import orjson

ROOT = Path(__file__).resolve().parent.parent
MARKER_RULE = """\
id: bench-quiet
title: Bench quiet marker
severity: high
tags: [bench]
match:
  any: ["quietmarker"]
"""


class Feed(http.server.BaseHTTPRequestHandler):
    items: ClassVar[list[tuple[str, str]]] = []  # (guid, title), served as RSS items

    def do_GET(self) -> None:
        items = "".join(f"<item><title>{t}</title><link>http://example.invalid/{g}</link><guid>{g}</guid>"
                        f"<description>{t}</description></item>" for g, t in self.items)
        body = ('<?xml version="1.0"?><rss version="2.0"><channel><title>quiet</title>'
                f"<link>http://example.invalid/</link><description>bench</description>{items}</channel></rss>")
        data = body.encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/rss+xml")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: Any) -> None:
        pass


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def alert_age(port: int, title: str, timeout: float = 30.0) -> float | None:
    """Milliseconds from the article's fetched_at to its alert in the API, or None within ``timeout``."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v1/alerts", timeout=2) as r:
                doc = orjson.loads(r.read())
        except (OSError, ValueError):
            time.sleep(0.02)
            continue
        for alert in doc.get("alerts", []):
            article = alert.get("article", {})
            if article.get("title") == title:
                fetched = datetime.fromisoformat(article["fetched_at"].replace("Z", "+00:00")).timestamp()
                return round((time.time() - fetched) * 1000, 1)
        time.sleep(0.02)
    return None


def measure(root: Path, feed_url: str, tag: str) -> list[float | None]:
    tmp = Path(tempfile.mkdtemp(prefix="bench-quiet-"))
    shutil.copytree(root / "rules", tmp / "rules")
    (tmp / "rules" / "bench-quiet.yaml").write_text(MARKER_RULE, encoding="utf-8")
    (tmp / "feeds.yaml").write_text(f'feeds:\n  - name: quiet\n    url: "{feed_url}"\n    language: en\n'
                                    "    interval: 3\n", encoding="utf-8")
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("MONITOR_")}
    env.update(MONITOR_HTTP_PORT=str(port), MONITOR_HTTP_HOST="127.0.0.1", MONITOR_DATA_DIR=str(tmp / "data"),
               MONITOR_RULES=str(tmp / "rules"), MONITOR_FEEDS=str(tmp / "feeds.yaml"),
               MONITOR_POLL_INTERVAL="3", MONITOR_POLL_INTERVAL_MIN="2", MONITOR_POLL_INTERVAL_MAX="3",
               PYTHONPATH=str(root))
    proc = subprocess.Popen([sys.executable, "-m", "monitor", "run", "-q"], env=env, cwd=root,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    out: list[float | None] = []
    try:
        for k, quiet in enumerate((25.0, 12.0, 12.0)):
            time.sleep(quiet)
            if proc.poll() is not None:
                raise SystemExit(f"monitor run exited with {proc.returncode}")
            title = f"quietmarker story {tag} {k}"
            Feed.items.append((f"quiet-{tag}-{k}", title))
            out.append(alert_age(port, title))
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
        shutil.rmtree(tmp, ignore_errors=True)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--compare", type=Path, action="append", default=[],
                    help="another checkout whose `monitor run` is measured the same way (repeatable)")
    args = ap.parse_args()
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Feed)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/feed.xml"
    try:
        for n, (name, root) in enumerate([("this", ROOT), *((str(c), c.resolve()) for c in args.compare)]):
            figures = measure(root, url, str(n))
            print(orjson.dumps({"checkout": name, "after_quiet_ms": figures,
                                "load": round(os.getloadavg()[0], 2)}).decode(), flush=True)
    finally:
        server.shutdown()


if __name__ == "__main__":
    main()
