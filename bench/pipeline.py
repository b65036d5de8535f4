"""Benchmark: articles/s from ``articles`` through the processor to ``alerts`` on the embedded broker,
side by side with a raw aiokafka consume-and-produce loop over the same records (the ceiling).

Both read the same pre-produced input topic (N articles of ~5 KB built from the seeds), each with its own
consumer group. The processor runs the shipped rules plus a bench rule matching a marker word. Two modes:

- ``worst``: every article carries the marker, so every article alerts and files its copy and event state
  (the raw loop also writes one record per article). Throughput from the alerts' timestamps, first to
  last, so start-up and group-join time are excluded for both.
- ``realistic``: 2 % of the articles alert, as in a real feed mix: the articles are those of the pool
  that match no shipped rule, and every 50th (and the last) carries the marker. Throughput = the
  articles between the first and the last alert over the time between them (the worker takes the four
  partitions in turn, so this is close, not exact).

``--workers 1 2`` runs each measurement with that many worker processes in one consumer group (the
partitions split among them; on this machine's 2 cores, to see whether more processes are the way to a
higher ratio). Then every count, 1 included, starts its workers on an empty input topic of its own,
waits ``--settle`` seconds for the group to form, and only then gets the articles, so no rebalance falls
inside the measurement (the default, a single count of 1, keeps the pre-produced input above).

``--compare DIR`` runs the same measurements, in the same run and on the same input, with the worker of
another checkout (for example ``git worktree add --detach /tmp/before <commit>`` with its compiled cores
built: ``python setup.py build_ext --inplace`` there), so a before/after pair shares one baseline. The
bench checks that each worker really imports ``monitor`` from its checkout, and stops with the worker's
exit code if a worker dies instead of waiting for its output.

    python bench/pipeline.py [--articles 4000] [--mode worst|realistic|both] [--compare DIR]

Prints one JSON line per (mode, checkout, workers): {"mode", "checkout", "commit", "workers", "articles",
"processor_articles_per_s", "raw_articles_per_s", "ratio", "load"} (``load``: the 1-minute load average
when the line was printed; compare figures only within one run).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from monitor.embedded import EmbeddedServices  # noqa: E402
from monitor.models import Article  # noqa: E402

PARTITIONS = 4
CATCH_ALL = """\
id: bench-catch-all
title: Bench rule that matches every article
severity: info
tags: [bench]
match:
  any: ["benchvariant"]
"""


def articles(n: int, *, every: int = 1, skip_matching: bool = False) -> list[bytes]:
    """``n`` distinct articles; every ``every``-th one (and the last) carries the bench marker.
    ``skip_matching``: only articles no shipped rule matches (the pool is drawn until there are ``n``)."""
    seeds = sorted((ROOT / "seeds").glob("[0-9]*.txt"))
    texts = [p.read_text(encoding="utf-8") for p in seeds]
    shipped = None
    if skip_matching:
        from monitor.rules import load_rules

        shipped = load_rules(ROOT / "rules")
    out: list[bytes] = []
    i = 0
    while len(out) < n:
        text = texts[i % len(texts)]
        words = text[:2600].split()
        random.Random(i).shuffle(words)  # distinct articles: near-duplicate detection must not fold them
        content = " ".join(words)
        art = Article(id=f"bench-{i}", title=text.splitlines()[0][:120], content=content, source=f"src{i % 7}")
        i += 1
        if shipped is not None and shipped.analyse(art).matches:
            continue
        k = len(out)
        if k % every == 0 or k == n - 1:
            art = art.model_copy(update={"content": content + f"\n(benchvariant {k})"})
        out.append(art.to_json())
    return out


async def create_topics(bootstrap: str, names: list[str]) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(n, PARTITIONS, 1) for n in names])
    finally:
        await admin.close()


async def produce(bootstrap: str, topic: str, values: list[bytes]) -> None:
    p = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=20, max_request_size=4 << 20)
    await p.start()
    try:
        futs = [await p.send(topic, v, key=f"k{i}".encode()) for i, v in enumerate(values)]
        await p.flush()
        await asyncio.gather(*futs)
    finally:
        await p.stop()


async def output_stamps(bootstrap: str, topic: str, n: int, timeout: float, marker: bytes = b"",
                        workers: Sequence[subprocess.Popen[bytes]] = (),
                        on_records: Callable[[int], None] | None = None) -> list[int]:
    """Timestamps (ms) of the first ``n`` records on ``topic`` carrying ``marker``; ``on_records`` is
    told the count seen so far after each fetch that brought some."""
    c = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest", group_id=None)
    await c.start()
    stamps: list[int] = []
    deadline = time.monotonic() + timeout
    try:
        while len(stamps) < n and time.monotonic() < deadline:
            batch = await c.getmany(timeout_ms=500, max_records=5000)
            for recs in batch.values():
                stamps.extend(r.timestamp for r in recs if marker in r.value)
            if batch and on_records is not None:
                on_records(len(stamps))
            for worker in workers:
                if worker.poll() is not None:
                    raise SystemExit(f"a worker exited with code {worker.returncode} after {len(stamps)}/{n} "
                                     f"records on {topic} (run with BENCH_VERBOSE=1 to see its output)")
    finally:
        await c.stop()
    if len(stamps) < n:
        raise SystemExit(f"only {len(stamps)}/{n} output records on {topic} within {timeout}s")
    return stamps[:n] if len(stamps) == n else sorted(stamps)[:n]


async def output_rate(bootstrap: str, topic: str, n: int, timeout: float, group_marker: str) -> float:
    """Records/s of the raw loop's ``n`` records of one mode on ``topic``, first to last."""
    stamps = await output_stamps(bootstrap, topic, n, timeout, marker=f'"m":"{group_marker}"'.encode())
    span = (max(stamps) - min(stamps)) / 1000
    return n / span if span > 0 else float("inf")


async def raw_loop(bootstrap: str, src: str, dst: str, n: int, *, group: str) -> None:
    c = AIOKafkaConsumer(src, bootstrap_servers=bootstrap, group_id=group, auto_offset_reset="earliest",
                         enable_auto_commit=False, max_poll_records=500)
    p = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=5, max_request_size=4 << 20)
    await c.start()
    await p.start()
    done = 0
    mode = src.rsplit("-", 1)[1]
    try:
        while done < n:
            batch = await c.getmany(timeout_ms=500, max_records=500)
            for recs in batch.values():
                for r in recs:
                    doc = orjson.loads(r.value)
                    await p.send(dst, orjson.dumps({"id": doc["id"], "m": mode}), key=r.key)
                    done += 1
            await p.flush()
            await c.commit()
    finally:
        await p.stop()
        await c.stop()


def checked_root(root: Path) -> str:
    """The commit of ``root``; stops unless ``python -m monitor`` run there imports that checkout's code."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MONITOR_")}
    env["PYTHONPATH"] = str(root)
    where = subprocess.run([sys.executable, "-c", "import monitor; print(monitor.__file__)"], cwd=root, env=env,
                           capture_output=True, text=True, check=True).stdout.strip()
    if not Path(where).resolve().is_relative_to(root.resolve()):
        raise SystemExit(f"{root}: `monitor` is imported from {where}, not from this checkout")
    commit = subprocess.run(["git", "-C", str(root), "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
    dirty = subprocess.run(["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no", "monitor"],
                           capture_output=True, text=True).stdout.strip()
    return (commit.stdout.strip() or "?") + ("+dirty" if dirty else "")


def run_worker(root: Path, bs: str, redis_url: str, tmp: Path, rules: Path, tag: str, src: str,
               index: int = 0, command: Sequence[str] = ("-m", "monitor", "worker")) -> subprocess.Popen:
    """A worker process (``python COMMAND [-q]``, by default ``monitor worker``) on ``src``, whose
    settings (``MONITOR_*``) give it topics, a group and Redis state of its own named by ``tag``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MONITOR_")}
    env.update({
        "MONITOR_KAFKA_BOOTSTRAP": bs, "MONITOR_KAFKA_IDEMPOTENCE": "false", "MONITOR_REDIS_URL": redis_url,
        "MONITOR_TOPIC_ARTICLES": src, "MONITOR_TOPIC_ALERTS": f"b-alerts-{tag}", "MONITOR_TOPIC_DEAD_LETTER": f"b-dead-{tag}",
        "MONITOR_TOPIC_PARTITIONS": str(PARTITIONS), "MONITOR_RULES": str(rules), "MONITOR_HTTP_PORT": "0",
        "MONITOR_DATA_DIR": str(tmp / f"{tag}-{index}"), "MONITOR_APP_ID": f"bench-processor-{tag}", "MONITOR_RULES_RELOAD": "false",
        "MONITOR_CLUSTER_REDIS_PREFIX": f"bench:{tag}",
    })
    env["PYTHONPATH"] = str(root)
    quiet = [] if os.environ.get("BENCH_VERBOSE") else ["-q"]
    worker = subprocess.Popen([sys.executable, *command, *quiet], env=env, cwd=root)
    if os.environ.get("BENCH_PROFILE"):  # sample the worker with py-spy: BENCH_PROFILE=out.txt
        spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
        subprocess.Popen([spy, "record", "-r", "200", "-d", "25", "-f", "raw", "--nonblocking",
                          "-o", f"{os.environ['BENCH_PROFILE']}{f'.{index}' if index else ''}", "--pid", str(worker.pid)])
    return worker


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--articles", type=int, default=4000)
    ap.add_argument("--mode", choices=["worst", "realistic", "both"], default="both")
    ap.add_argument("--compare", type=Path, action="append", default=[],
                    help="another checkout whose worker runs the same measurements (repeatable)")
    ap.add_argument("--rules", type=Path, default=ROOT / "rules",
                    help="rules folder to run (the catch-all bench rule is added); default: the shipped rules")
    ap.add_argument("--workers", type=int, nargs="+", default=[1],
                    help="worker processes per measurement, one measurement per count (default: 1)")
    ap.add_argument("--settle", type=float, default=12.0,
                    help="with --workers other than a single 1: seconds for the group to form before the input")
    args = ap.parse_args()
    n = args.articles
    settle_first = args.workers != [1]
    modes = ["worst", "realistic"] if args.mode == "both" else [args.mode]
    tmp = Path(tempfile.mkdtemp(prefix="bench-pipeline-"))
    svc = EmbeddedServices(data_dir=tmp).start()
    try:
        bs = svc.kafka_bootstrap
        assert bs and svc.redis_url
        rules = tmp / "rules"
        shutil.copytree(args.rules, rules)
        (rules / "bench-catch-all.yaml").write_text(CATCH_ALL, encoding="utf-8")
        roots = [("this", ROOT), *((str(c), c.resolve()) for c in args.compare)]
        commits = {name: checked_root(root) for name, root in roots}
        asyncio.run(create_topics(bs, ["b-raw-out", *(f"b-in-{m}" for m in modes)]))
        for mode in modes:
            src = f"b-in-{mode}"
            data = articles(n) if mode == "worst" else articles(n, every=50, skip_matching=True)
            asyncio.run(produce(bs, src, data))
            asyncio.run(raw_loop(bs, src, "b-raw-out", n, group=f"bench-raw-{mode}"))
            raw = asyncio.run(output_rate(bs, "b-raw-out", n, 120, group_marker=mode))
            alerting = n if mode == "worst" else len(range(0, n, 50)) + (1 if (n - 1) % 50 else 0)
            for k, (name, root) in enumerate(roots):
                for count in args.workers:
                    tag = f"{mode}-{k}-w{count}"
                    own_src = f"b-in-{tag}" if settle_first else src
                    asyncio.run(create_topics(bs, [f"b-alerts-{tag}", f"b-dead-{tag}",
                                                   *([own_src] if settle_first else [])]))
                    workers = [run_worker(root, bs, svc.redis_url, tmp, rules, tag, own_src, i) for i in range(count)]
                    try:
                        if settle_first:
                            time.sleep(args.settle)
                            asyncio.run(produce(bs, own_src, data))
                        stamps = asyncio.run(output_stamps(bs, f"b-alerts-{tag}", alerting, 600,
                                                           marker=b'"rule":"bench-catch-all"', workers=workers))
                    finally:
                        for worker in workers:
                            worker.terminate()
                        for worker in workers:
                            worker.wait(timeout=30)
                    span = (max(stamps) - min(stamps)) / 1000
                    done = n if mode == "worst" else n - 1
                    proc = done / span if span > 0 else float("inf")
                    print(orjson.dumps({
                        "mode": mode, "checkout": name, "commit": commits[name], "workers": count, "articles": n,
                        "processor_articles_per_s": round(proc, 1), "raw_articles_per_s": round(raw, 1),
                        "ratio": round(proc / raw, 3), "load": round(os.getloadavg()[0], 2),
                    }).decode(), flush=True)
    finally:
        svc.stop()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
