"""The single-process scenario: ``monitor run`` on the embedded default, killed with SIGKILL mid-burst.

What a small team runs: one ``monitor run`` with no ``MONITOR_KAFKA_BOOTSTRAP``/``MONITOR_REDIS_URL``, so
it starts its own broker (Tansu, memory storage) and Redis (AOF) under ``MONITOR_DATA_DIR``. A local
feed serves ``articles`` new articles at once, every one of them matching ``chaos-alpha``; a webhook
subscription (made through the HTTP API) points at a local receiver that dedups on ``webhook-id``. The
scenario kills the whole process tree (``monitor run``'s process group *and* the embedded broker and
Redis, all with SIGKILL: no cleanup anywhere) at the given moments, starts ``monitor run`` again on the
same data dir each time, and then checks:

- every expected (article, rule) pair (``monitor match`` over the corpus) reached the receiver
  (``lost`` = 0), and none under two different ``webhook-id`` (``duplicates_after_dedup`` = 0);
- the same for a second subscription on the redis channel: every pair in its stream (``stream_lost`` = 0),
  no delivery id twice (``stream_duplicate_entries`` = 0: that channel is exactly-once);
- the journal drained (nothing held in ``monitor:journal:order`` once everything is delivered);
- no process outlived its run (``orphans`` = 0): every pid seen (monitor and its children) is gone
  after the last SIGTERM;
- the last ``monitor run`` stopped with exit code 0 on SIGTERM.

Kill moments are ``kills``: an int k kills once the receiver has k unique deliveries (0 = as soon as
the articles are released, before any alert); a float t kills t seconds after that incarnation's
start-up summary. ``groups_only`` kills only ``monitor run``'s process group and lets the children die
of their parent-death signal (the orphan check then proves they did).

``python -m chaos.single --articles 2000 --kill 1 --kill 1000`` runs it by hand; ``tests/reliability``
runs a small version, and the 2,000-article runs are marked slow.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import orjson
import psutil

from chaos.checker import expected_alerts
from chaos.corpus import ALPHA, AR_WORDS, EN_WORDS, CorpusArticle, render_rss

ROOT = Path(__file__).resolve().parent.parent
RULES = ROOT / "chaos" / "rules"
RETRY_SCHEDULE = [0.0, 0.5, 1.0, 1.0, 2.0] + [2.0] * 120


def marked_corpus(n: int, run: str = "single", seed: int = 11) -> list[CorpusArticle]:
    """``n`` distinct articles (no near-copies), every one carrying the alpha marker, Arabic and English."""
    rng = random.Random(seed)
    base = datetime.now(UTC) - timedelta(minutes=30)
    out = []
    for i in range(n):
        lang = "en" if i % 2 else "ar"
        words = EN_WORDS if lang == "en" else AR_WORDS
        title = " ".join(rng.choice(words) for _ in range(6)) + f" {i} {ALPHA[lang]}"
        summary = " ".join(rng.choice(words) for _ in range(24)) + f" {i}."
        out.append(CorpusArticle(id=f"urn:chaos:{run}:0:{i}", feed=0, seq=i, lang=lang, title=title,
                                 summary=summary, published=base + timedelta(milliseconds=i),
                                 planted=("chaos-alpha",)))
    return out


class _Servers:
    """The feed (empty until released) and the dedup-ing webhook receiver, on threads of this process."""

    def __init__(self, corpus: list[CorpusArticle]) -> None:
        self.corpus = corpus
        self.released = threading.Event()
        self.lock = threading.Lock()
        self.deliveries: list[tuple[str, list[tuple[str, str, str]]]] = []  # (webhook-id, [(article, rule, id)])
        empty, full = render_rss(0, []), render_rss(0, corpus)
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                body = full if outer.released.is_set() else empty
                self.send_response(200)
                self.send_header("Content-Type", "application/rss+xml")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                wid = self.headers.get("webhook-id", "")
                try:
                    doc = orjson.loads(raw)
                    alerts = [(a["article"]["id"], a["rule"], a["id"]) for a in doc.get("alerts", [])]
                except (orjson.JSONDecodeError, KeyError, TypeError, AttributeError):
                    self.send_response(400)
                    self.end_headers()
                    return
                with outer.lock:
                    outer.deliveries.append((wid, alerts))
                self.send_response(200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

        self.http = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.http.daemon_threads = True
        self.port = self.http.server_address[1]
        self.thread = threading.Thread(target=self.http.serve_forever, daemon=True)
        self.thread.start()

    def unique(self) -> dict[str, set[tuple[str, str]]]:
        """webhook-id -> the (article, rule) pairs it carried (a receiver's dedup)."""
        with self.lock:
            out: dict[str, set[tuple[str, str]]] = {}
            for wid, alerts in self.deliveries:
                out.setdefault(wid, set()).update((a, r) for a, r, _ in alerts)
            return out

    def delivered_pairs(self) -> set[tuple[str, str]]:
        return {p for pairs in self.unique().values() for p in pairs}

    def close(self) -> None:
        self.http.shutdown()
        self.http.server_close()


@dataclass
class SingleRun:
    """One ``monitor run`` incarnation after another on the same data dir."""

    work: Path
    env: dict[str, str]
    incarnation: int = 0
    proc: subprocess.Popen[bytes] | None = None
    seen_pids: set[int] = field(default_factory=set)
    exit_codes: list[tuple[str, int | None]] = field(default_factory=list)

    @property
    def log_path(self) -> Path:
        return self.work / "logs" / f"run-{self.incarnation}.log"

    def start(self) -> None:
        self.incarnation += 1
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        env = {k: v for k, v in os.environ.items() if not k.startswith("MONITOR_")}
        env.update(self.env)
        env.setdefault("PYTHONUNBUFFERED", "1")
        with open(self.log_path, "ab") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "monitor", "run"], env=env, cwd=ROOT, stdout=out,
                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True,
            )
        self.seen_pids.add(self.proc.pid)

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace") if self.log_path.exists() else ""

    def wait_started(self, timeout: float = 120.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self._note_children()
            if "monitor started" in self.log() and self.redis_port() is not None:
                return
            if self.proc is not None and self.proc.poll() is not None:
                raise RuntimeError(f"monitor run exited with {self.proc.returncode}:\n{self.log()[-3000:]}")
            time.sleep(0.2)
        raise RuntimeError(f"monitor run did not start within {timeout:.0f}s:\n{self.log()[-3000:]}")

    def redis_port(self) -> int | None:
        m = re.search(r"Redis .*\(AOF\) on 127\.0\.0\.1:(\d+)", self.log())
        return int(m.group(1)) if m else None

    def _note_children(self) -> list[psutil.Process]:
        if self.proc is None:
            return []
        try:
            kids = psutil.Process(self.proc.pid).children(recursive=True)
        except psutil.NoSuchProcess:
            return []
        self.seen_pids.update(k.pid for k in kids)
        return kids

    def kill(self, *, groups_only: bool = False) -> None:
        """SIGKILL ``monitor run``'s group and (unless ``groups_only``) its children's, all at once."""
        assert self.proc is not None
        kids = self._note_children()
        targets = [self.proc.pid] + ([] if groups_only else [k.pid for k in kids])
        for pid in targets:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(pid, signal.SIGKILL)
        self.proc.wait(timeout=30)
        self.exit_codes.append(("SIGKILL", self.proc.returncode))

    def term(self, timeout: float = 60.0) -> int | None:
        assert self.proc is not None
        self._note_children()
        self.proc.send_signal(signal.SIGTERM)
        try:
            code: int | None = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)
            code = None
        self.exit_codes.append(("SIGTERM", code))
        return code

    def orphans(self, timeout: float = 15.0) -> list[int]:
        """Pids seen during the runs that are still alive (a bounded wait for them to go)."""
        deadline = time.monotonic() + timeout
        while True:
            alive = []
            for pid in self.seen_pids:
                with contextlib.suppress(psutil.NoSuchProcess):
                    if psutil.Process(pid).status() != psutil.STATUS_ZOMBIE:
                        alive.append(pid)
            if not alive or time.monotonic() > deadline:
                return sorted(alive)
            time.sleep(0.2)


def _http(url: str, body: dict[str, Any] | None = None) -> Any:
    data = orjson.dumps(body) if body is not None else None
    req = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=10) as resp:
        return orjson.loads(resp.read())


_PASSWORDS: dict[int, str | None] = {}


def _redis(port: int, timeout: float) -> Any:
    """A client for the embedded Redis on ``port``; its password is in ``redis.conf`` of its data dir
    (redis-server runs in ``data_dir/redis`` and shows ``127.0.0.1:<port>`` as its title)."""
    import redis

    from monitor.embedded import redis_password

    if port in _PASSWORDS:
        return redis.Redis(port=port, socket_timeout=timeout, password=_PASSWORDS[port])
    password = None
    for p in psutil.process_iter(["cmdline"]):
        cmd = " ".join(p.info["cmdline"] or [])
        if "redis-server" in cmd and (f":{port}" in cmd or f"--port {port} " in cmd):
            with contextlib.suppress(psutil.Error):
                password = redis_password(Path(p.cwd()).parent / "redis.conf")
    if password is not None:
        _PASSWORDS[port] = password
    return redis.Redis(port=port, socket_timeout=timeout, password=password)


def _journal_size(port: int | None) -> int:
    import redis

    if port is None:
        return -1
    try:
        return int(_redis(port, 2).zcard("monitor:journal:order"))
    except redis.RedisError:
        return -1


def _stream(port: int | None, sub_id: str) -> tuple[set[tuple[str, str]], int, int]:
    """The redis-channel subscription's stream: its (article, rule) pairs, entries, distinct delivery ids."""
    import redis

    if port is None:
        return set(), 0, 0
    try:
        rows = _redis(port, 5).xrange(f"monitor:{{sub:{sub_id}}}:stream")
    except redis.RedisError:
        return set(), 0, 0
    pairs: set[tuple[str, str]] = set()
    ids: set[bytes] = set()
    for _, fields in rows:
        ids.add(fields[b"id"])
        for a in orjson.loads(fields[b"payload"]).get("alerts", []):
            pairs.add((a["article"]["id"], a["rule"]))
    return pairs, len(rows), len(ids)


def run_single(
    articles: int, kills: list[int | float], work: Path, *, groups_only: bool = False,
    deadline: float = 600.0, log: Any = print,
) -> dict[str, Any]:
    work.mkdir(parents=True, exist_ok=True)
    corpus = marked_corpus(articles)
    expected, how = expected_alerts(corpus, RULES, work)
    log(f"{articles} articles; {how}")
    servers = _Servers(corpus)
    from monitor.embedded import free_port

    port = free_port()
    (work / "feeds.yaml").write_text(
        f"feeds:\n  - url: http://127.0.0.1:{servers.port}/feed.xml\n    name: burst\n    interval: 1\n"
    )
    env = {
        "MONITOR_DATA_DIR": str(work / "data"),
        "MONITOR_HTTP_PORT": str(port),
        "MONITOR_FEEDS": str(work / "feeds.yaml"),
        "MONITOR_RULES": str(RULES),
        "MONITOR_RULES_RELOAD": "false",
        "MONITOR_POLL_INTERVAL": "1",
        "MONITOR_POLL_INTERVAL_MIN": "0.5",
        "MONITOR_POLL_INTERVAL_MAX": "2",
        "MONITOR_POLL_RESTART_SPREAD": "0",
        "MONITOR_WEBHOOK_ALLOW": '["127.0.0.1/32"]',
        "MONITOR_DELIVERY_RETRY_SCHEDULE": json.dumps(RETRY_SCHEDULE),
        "MONITOR_DELIVERY_CLAIM_IDLE": "5",
        "MONITOR_DELIVERY_CONSUMER": "single",
        "MONITOR_LOG_LEVEL": "WARNING",
    }
    run = SingleRun(work, env)
    t0 = time.monotonic()
    summary: dict[str, Any] = {"scenario": "single", "articles": articles, "expected": len(expected),
                               "kills": [], "groups_only": groups_only}
    try:
        run.start()
        run.wait_started()
        api = f"http://127.0.0.1:{port}"
        _http(f"{api}/api/v1/subscriptions",
              {"name": "single receiver", "channel": {"type": "webhook", "url": f"http://127.0.0.1:{servers.port}/hook"}})
        stream_sub = _http(f"{api}/api/v1/subscriptions", {"name": "single stream", "channel": {"type": "redis"}})
        stream_id = stream_sub.get("subscription", stream_sub)["id"]
        servers.released.set()
        released_at = time.monotonic()
        for k in kills:
            started = time.monotonic()
            while True:  # the kill moment: k unique deliveries, or t seconds into this incarnation
                got = len(servers.delivered_pairs())
                if (isinstance(k, int) and got >= k) or (isinstance(k, float) and time.monotonic() - started >= k):
                    break
                if time.monotonic() - t0 > deadline:
                    raise RuntimeError(f"kill moment {k!r} not reached (delivered {got})")
                if run.proc is not None and run.proc.poll() is not None:
                    raise RuntimeError(f"monitor run exited on its own:\n{run.log()[-3000:]}")
                time.sleep(0.05)
            run.kill(groups_only=groups_only)
            summary["kills"].append({"at": k, "delivered_before": len(servers.delivered_pairs()),
                                     "seconds_after_release": round(time.monotonic() - released_at, 1)})
            log(f"SIGKILL #{len(summary['kills'])} at {k!r}: {len(servers.delivered_pairs())} delivered so far")
            run.start()
            run.wait_started()
        while not expected <= servers.delivered_pairs():  # the receiver first, then the stream
            if (run.proc is not None and run.proc.poll() is not None) or time.monotonic() - t0 > deadline:
                break
            time.sleep(0.2)
        while not expected <= _stream(run.redis_port(), stream_id)[0]:
            if (run.proc is not None and run.proc.poll() is not None) or time.monotonic() - t0 > deadline:
                break
            time.sleep(1.0)
        stream_pairs, stream_entries, stream_ids = _stream(run.redis_port(), stream_id)
        summary["stream_delivered"] = len(stream_pairs & expected)
        summary["stream_lost"] = len(expected - stream_pairs)
        summary["stream_duplicate_entries"] = stream_entries - stream_ids  # the same delivery id twice
        summary["all_delivered_after_s"] = round(time.monotonic() - released_at, 1)
        journal_deadline = time.monotonic() + 60
        while _journal_size(run.redis_port()) != 0 and time.monotonic() < journal_deadline:
            time.sleep(0.2)
        summary["journal_left"] = _journal_size(run.redis_port())
        recovered = [int(m) for m in re.findall(r"recovered (\d+) article", "".join(
            (work / "logs" / f"run-{i}.log").read_text(errors="replace") for i in range(1, run.incarnation + 1)))]
        summary["republished"] = recovered
        summary["last_exit_code"] = run.term()
    finally:
        if run.proc is not None and run.proc.poll() is None:
            run.kill()
        servers.close()
    delivered = servers.delivered_pairs()
    by_pair: dict[tuple[str, str], set[str]] = {}
    for wid, pairs in servers.unique().items():
        for p in pairs:
            by_pair.setdefault(p, set()).add(wid)
    summary.update({
        "delivered": len(delivered & expected),
        "lost": len(expected - delivered),
        "lost_sample": sorted(expected - delivered)[:5],
        "unexpected": len(delivered - expected),
        "duplicates_after_dedup": sum(1 for w in by_pair.values() if len(w) > 1),
        "raw_deliveries": len(servers.deliveries),
        "raw_duplicates": len(servers.deliveries) - len(servers.unique()),
        "incarnations": run.incarnation,
        "orphans": run.orphans(),
        "exit_codes": run.exit_codes,
        "work": str(work),
    })
    summary["ok"] = (summary["lost"] == 0 and summary["duplicates_after_dedup"] == 0 and not summary["orphans"]
                     and summary.get("stream_lost") == 0 and summary.get("stream_duplicate_entries") == 0
                     and summary["journal_left"] == 0 and summary["last_exit_code"] == 0
                     and summary["unexpected"] == 0)
    return summary


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--articles", type=int, default=2000)
    ap.add_argument("--kill", action="append", default=[],
                    help="an int: after that many deliveries; a float (e.g. 2.5): seconds after start-up")
    ap.add_argument("--random-kills", type=int, default=0, help="this many kills at random moments (0.5-12 s into an incarnation)")
    ap.add_argument("--groups-only", action="store_true", help="kill monitor run's group only")
    ap.add_argument("--out", type=Path, default=Path("/tmp/chaos-single"),
                    help="work folder, emptied first (a previous run's logs and data would mislead this one)")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args(argv)
    kills: list[int | float] = [float(k) if "." in k else int(k) for k in args.kill]
    rng = random.Random()
    kills += [round(rng.uniform(0.5, 12.0), 2) for _ in range(args.random_kills)]
    if args.out.exists():  # `make chaos` runs two scenarios on the default folder one after the other
        shutil.rmtree(args.out)
    summary = run_single(args.articles, kills, args.out, groups_only=args.groups_only)
    line = json.dumps(summary, default=str)
    print(line)
    if args.json:
        args.json.write_text(line + "\n")
    return 0 if summary["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
