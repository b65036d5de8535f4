"""``python -m chaos.run``: the pipeline as separate processes, real faults, and the checker's verdict.

One scenario (``run_scenario``):
1. start the embedded Kafka-protocol broker (``monitor.embedded``) and a Redis the harness owns
   (``chaos.procs.RedisServer``, same AOF settings), both fresh;
2. build the corpus, compute the expected alerts with ``monitor match`` on it (before anything runs);
3. serve the feeds and the webhook receiver on 127.0.0.1, create a webhook subscription pointing at the
   receiver (``monitor subscriptions create``), and start ``monitor alerter``,
   ``monitor worker`` (worker-a) and ``monitor poller`` as separate processes;
4. release the articles over ``duration`` seconds while the fault plan runs (see ``PLANS``); a tailer
   reads ``articles``, ``alerts`` and ``dead-letter`` from offset 0 the whole time;
5. wait (bounded) until every expected alert is delivered, nothing is pending in Redis and both consumer
   groups have committed up to the log end; then check (``chaos.checker``) and print the figures.

Scenarios: ``chaos`` (SIGKILLs, SIGSTOP, rebalance, receiver down, Redis killed and restarted from its
AOF, poison records) and ``graceful`` (each process stopped with SIGTERM and restarted; here even raw
duplicate deliveries must be 0). ``--small`` is the CI size.

Exit status: 0 when every scenario's invariants hold, 1 otherwise, 2 when the harness itself failed.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from chaos.checker import FaultRecord, TopicLog, check, expected_alerts, human
from chaos.corpus import CorpusArticle, build_corpus
from chaos.procs import MonitorProc, ProcessRegistry, RedisServer
from chaos.servers import FeedServer, Receiver
from monitor.embedded import EmbeddedServices, free_port

ROOT = Path(__file__).resolve().parent.parent
RULES = Path(__file__).resolve().parent / "rules"
TOPICS = {"articles": "articles", "alerts": "alerts", "dead": "dead-letter"}
WORKER_GROUP = "monitor"  # Settings.app_id
ALERTER_GROUP = "monitor-alerter"  # Settings.alerter_group
SESSION_TIMEOUT = 6.0  # Settings.broker_session_timeout
CHANNELS = ("redis", "webhook", "email", "chat")
#: fast retries so a receiver that is down for a while is retried within the run; enough attempts to
#: outlast the longest outage in the plans (about 4 minutes of attempts)
RETRY_SCHEDULE = [0.0, 0.5, 1.0, 1.0, 2.0] + [2.0] * 120


@dataclass(frozen=True)
class Step:
    at: float  # fraction of the release duration
    action: str  # kill | term | join | leave | stop | receiver_down | redis_restart | poison
    target: str = ""
    seconds: float = 0.0


@dataclass(frozen=True)
class Plan:
    articles: int
    feeds: int
    duration: float
    steps: tuple[Step, ...]
    window: int = 50
    settle_timeout: float = 300.0


def _chaos_steps(rounds: int) -> tuple[Step, ...]:
    steps = [
        Step(0.05, "kill", "poller"),
        Step(0.10, "kill", "worker"),
        Step(0.15, "kill", "alerter"),
        Step(0.20, "poison"),
        Step(0.25, "join", "worker"),
        Step(0.32, "stop", "worker", seconds=SESSION_TIMEOUT * 2.5),
        Step(0.45, "receiver_down", "receiver", seconds=20.0),
        Step(0.58, "redis_restart", "redis"),
        Step(0.62, "leave", "worker"),
        Step(0.64, "poison"),
    ]
    for r in range(rounds - 1):
        base = 0.68 + r * 0.12
        steps += [Step(base, "kill", "poller"), Step(base + 0.04, "kill", "worker"),
                  Step(base + 0.08, "kill", "alerter")]
    steps.append(Step(0.98, "poison"))
    return tuple(steps)


PLANS: dict[str, Plan] = {
    "chaos": Plan(articles=10_000, feeds=100, duration=300.0, steps=_chaos_steps(3), settle_timeout=420.0),
    "chaos-small": Plan(
        articles=500, feeds=10, duration=100.0, settle_timeout=240.0,
        steps=(
            Step(0.05, "kill", "poller"),
            Step(0.14, "kill", "worker"),
            Step(0.23, "kill", "alerter"),
            Step(0.30, "poison"),
            Step(0.34, "join", "worker"),
            Step(0.45, "stop", "worker", seconds=SESSION_TIMEOUT * 2),
            Step(0.62, "receiver_down", "receiver", seconds=6.0),
            Step(0.72, "redis_restart", "redis"),
            Step(0.80, "leave", "worker"),
            Step(0.85, "poison"),
        ),
    ),
    "graceful": Plan(
        articles=3000, feeds=30, duration=120.0, settle_timeout=300.0,
        steps=(Step(0.12, "term", "poller"), Step(0.30, "term", "worker"), Step(0.48, "term", "alerter"),
               Step(0.60, "join", "worker"), Step(0.78, "leave", "worker"), Step(0.90, "term", "alerter")),
    ),
    "graceful-small": Plan(
        articles=300, feeds=6, duration=60.0, settle_timeout=180.0,
        steps=(Step(0.15, "term", "poller"), Step(0.40, "term", "worker"), Step(0.65, "term", "alerter")),
    ),
}


def poison_records() -> dict[str, list[bytes | None]]:
    """Bad records written straight into the topics: each must reach ``dead-letter`` and block nothing."""
    long_id = "x" * 600
    return {
        "articles": [
            b"\x00not json{",
            b"[1, 2, 3]",
            orjson.dumps({"schema": 99, "id": "future-schema"}),
            orjson.dumps({"schema": 1, "id": long_id, "title": "an id past the 512-character cap"}),
            orjson.dumps({"schema": 1, "id": "p", "title": "unknown field", "surprise": True}),
            "\ufeff{\"schema\": 1, \"id\": \"bom\"}".encode("utf-16"),
        ],
        "alerts": [
            b"\xff\xfe\x00garbage",
            orjson.dumps({"schema": 1, "id": "alert-without-article", "rule": "r"}),
            orjson.dumps({"schema": 1}),
            b"",
        ],
    }


@dataclass
class Harness:
    name: str
    plan: Plan
    out: Path
    log: Any = print
    registry: ProcessRegistry = field(default_factory=ProcessRegistry)
    kafka: EmbeddedServices | None = None
    redis: RedisServer | None = None
    feeds: FeedServer | None = None
    receiver: Receiver = field(default_factory=Receiver)
    procs: dict[str, MonitorProc] = field(default_factory=dict)
    faults: list[FaultRecord] = field(default_factory=list)
    poison: list[tuple[str, int, int]] = field(default_factory=list)
    poison_keys: set[bytes] = field(default_factory=set)
    logs: dict[str, TopicLog] = field(default_factory=lambda: {k: TopicLog() for k in TOPICS})
    t0: float = 0.0
    notes: list[str] = field(default_factory=list)
    subscription_id: str = ""
    _tail_stop: asyncio.Event = field(default_factory=asyncio.Event)

    def say(self, msg: str) -> None:
        self.log(f"[{self.name} {time.monotonic() - self.t0:7.1f}s] {msg}" if self.t0 else f"[{self.name}] {msg}")

    # --- set-up ---------------------------------------------------------------------------------
    def env(self) -> dict[str, str]:
        assert self.kafka is not None and self.redis is not None and self.kafka.kafka_bootstrap
        return {
            "MONITOR_KAFKA_BOOTSTRAP": self.kafka.kafka_bootstrap,
            "MONITOR_REDIS_URL": self.redis.url,
            "MONITOR_KAFKA_IDEMPOTENCE": "false",
            "MONITOR_HTTP_PORT": "0",
            "MONITOR_FEEDS": str(self.out / "feeds.yaml"),
            "MONITOR_RULES": str(RULES),
            "MONITOR_RULES_RELOAD": "false",
            "MONITOR_POLL_INTERVAL": "1",
            "MONITOR_POLL_INTERVAL_MIN": "0.5",
            "MONITOR_POLL_INTERVAL_MAX": "2",
            "MONITOR_WEBHOOK_ALLOW": '["127.0.0.1/32"]',
            "MONITOR_DELIVERY_RETRY_SCHEDULE": json.dumps(RETRY_SCHEDULE),
            "MONITOR_DELIVERY_CLAIM_IDLE": "5",
            "MONITOR_LOG_LEVEL": "WARNING",
        }

    async def create_subscription(self) -> str:
        """A webhook subscription to the receiver, made with ``monitor subscriptions create``; its secret.

        The CLI prints the subscription as JSON on stdout and the new signing secret once on stderr.
        """
        import re
        import subprocess

        env = {k: v for k, v in os.environ.items() if not k.startswith("MONITOR_")}
        env.update(self.env())
        proc = await asyncio.to_thread(
            subprocess.run,
            [sys.executable, "-m", "monitor", "subscriptions", "create", "--name", "chaos receiver",
             "--url", self.receiver.url],
            env=env, cwd=ROOT, capture_output=True, text=True, timeout=60, check=False,
        )
        secret = re.search(r"whsec_[A-Za-z0-9+/=]+", proc.stderr + proc.stdout)
        if proc.returncode != 0 or secret is None:
            raise RuntimeError(f"monitor subscriptions create failed ({proc.returncode}): "
                               f"{proc.stderr[-2000:]} {proc.stdout[-2000:]}")
        self.subscription_id = orjson.loads(proc.stdout)["id"]
        return secret.group(0)

    def write_feeds(self) -> None:
        assert self.feeds is not None
        lines = ["feeds:"]
        for n in range(self.plan.feeds):
            lines += [f"  - url: {self.feeds.url(n)}", f"    name: chaos-{n}", "    interval: 1"]
        (self.out / "feeds.yaml").write_text("\n".join(lines) + "\n")

    def proc(self, name: str, command: str) -> MonitorProc:
        env = self.env()
        if command == "alerter":
            env["MONITOR_DELIVERY_CONSUMER"] = name
        p = MonitorProc(name, command, env, self.out / "logs", self.registry)
        self.procs[name] = p
        return p

    # --- observation ----------------------------------------------------------------------------
    async def tail(self) -> None:
        """Read the three topics from offset 0 for the whole run, stamping arrival times."""
        assert self.kafka is not None
        names = {v: k for k, v in TOPICS.items()}
        consumer = AIOKafkaConsumer(*TOPICS.values(), bootstrap_servers=self.kafka.kafka_bootstrap,
                                    group_id=None, auto_offset_reset="earliest", enable_auto_commit=False,
                                    metadata_max_age_ms=2000)
        await consumer.start()
        try:
            while not self._tail_stop.is_set():
                batch = await consumer.getmany(timeout_ms=200, max_records=5000)
                now = time.monotonic()
                for tp, records in batch.items():
                    sink = self.logs[names[tp.topic]].records
                    sink.extend((r.partition, r.offset, now, r.key, r.value) for r in records)
        finally:
            await consumer.stop()

    async def offsets(self) -> dict[str, dict[str, Any]]:
        assert self.kafka is not None
        bs = self.kafka.kafka_bootstrap
        admin = AIOKafkaAdminClient(bootstrap_servers=bs)
        consumer = AIOKafkaConsumer(bootstrap_servers=bs, group_id=None)
        await admin.start()
        await consumer.start()
        out: dict[str, dict[str, Any]] = {}
        names = {v: k for k, v in TOPICS.items()}
        try:
            for group, topic in ((WORKER_GROUP, TOPICS["articles"]), (ALERTER_GROUP, TOPICS["alerts"])):
                parts = consumer.partitions_for_topic(topic) or set()
                if not parts:
                    await consumer._client.force_metadata_update()
                    parts = consumer.partitions_for_topic(topic) or set()
                tps = [TopicPartition(topic, p) for p in sorted(parts)]
                ends = await consumer.end_offsets(tps) if tps else {}
                committed = await admin.list_consumer_group_offsets(group, partitions=tps) if tps else {}
                per = {tp.partition: (max(0, committed[tp].offset) if tp in committed else 0, ends[tp])
                       for tp in tps}
                seen: dict[int, int] = {}
                for part, off, _, _, _ in self.logs[names[topic]].records:
                    seen[part] = max(seen.get(part, 0), off + 1)
                # Tansu's ListOffsets(latest) can report less than the records it serves (see
                # docs/reliability.md): the log end is the larger of the two
                broker_end = dict(per)
                per = {p: (c, max(e, seen.get(p, 0))) for p, (c, e) in per.items()}
                out[group] = {
                    "topic": topic,
                    "committed": sum(c for c, _ in per.values()),
                    "end": sum(e for _, e in per.values()),
                    "partitions": {str(p): {"committed": c, "end": e, "broker_end": broker_end[p][1]}
                                   for p, (c, e) in per.items()},
                    "broker_end_short_by": sum(e - broker_end[p][1] for p, (_, e) in per.items()),
                    "at_end": bool(tps) and all(c == e for c, e in per.values()),
                }
        finally:
            await consumer.stop()
            await admin.close()
        return out

    async def redis_state(self) -> dict[str, Any]:
        import redis.asyncio as aioredis

        from monitor.alerting import keys

        assert self.redis is not None
        r = aioredis.Redis.from_url(self.redis.url)
        try:
            pending = {}
            for ch in CHANNELS:
                if await r.exists(keys.work(ch)):
                    info = await r.xpending(keys.work(ch), keys.GROUP)
                    pending[ch] = int(info["pending"])
            return {
                "pending": pending,
                "scheduled": int(await r.zcard(keys.SCHED)),
                "bodies": int(await r.hlen(keys.BODY)),
                "dead_deliveries": int(await r.xlen(keys.DEAD)) if await r.exists(keys.DEAD) else 0,
                "aof_enabled": (await r.config_get("appendonly")).get("appendonly"),
            }
        finally:
            await r.aclose()

    # --- faults ---------------------------------------------------------------------------------
    async def write_poison(self) -> None:
        assert self.kafka is not None
        p = AIOKafkaProducer(bootstrap_servers=self.kafka.kafka_bootstrap, acks="all")
        await p.start()
        try:
            for topic_key, values in poison_records().items():
                for i, v in enumerate(values):
                    key = f"poison-{topic_key}-{len(self.poison)}-{i}".encode()
                    meta = await p.send_and_wait(TOPICS[topic_key], v, key=key)
                    self.poison.append((meta.topic, meta.partition, meta.offset))
                    self.poison_keys.add(key)
        finally:
            await p.stop()

    def _worker_target(self, action: str) -> MonitorProc:
        return self.procs["worker-b"] if action in ("join", "leave") else self.procs["worker-a"]

    async def inject(self, step: Step) -> None:
        now = time.monotonic
        if step.action == "poison":
            rec = FaultRecord("poison", "topics", now(), detail="articles+alerts")
            self.faults.append(rec)
            await self.write_poison()
            self.say(f"poison: {len(self.poison)} records written so far")
            return
        if step.action == "receiver_down":
            rec = FaultRecord("receiver down", "receiver", now(), detail=f"{step.seconds:.0f}s")
            self.faults.append(rec)
            await self.receiver.down()
            self.say(f"receiver down for {step.seconds:.0f}s")
            await asyncio.sleep(step.seconds)
            await self.receiver.up()
            rec.until = now()
            self.say("receiver up")
            return
        if step.action == "redis_restart":
            assert self.redis is not None
            before = await asyncio.to_thread(self.redis.dbsize)
            rec = FaultRecord("redis SIGKILL+AOF", "redis", now())
            self.faults.append(rec)
            await asyncio.to_thread(self.redis.kill)
            self.say("redis killed; restarting from its AOF")
            await asyncio.sleep(2.0)
            await asyncio.to_thread(self.redis.start)
            rec.until = now()
            after = await asyncio.to_thread(self.redis.dbsize)
            rec.detail = f"keys {before} before the kill, {after} after the AOF load"
            self.say(f"redis back: {rec.detail}")
            return
        target = step.target
        p = self._worker_target(step.action) if target == "worker" else self.procs[target]
        if step.action == "kill":
            rec = FaultRecord("SIGKILL", target, now(), detail=p.name)
            self.faults.append(rec)
            await asyncio.to_thread(p.kill)
            self.say(f"SIGKILL {p.name}")
            await asyncio.sleep(1.0)
            p.start()
            rec.until = now()
        elif step.action == "term":
            rec = FaultRecord("SIGTERM", target, now(), detail=p.name)
            self.faults.append(rec)
            code = await asyncio.to_thread(p.term)
            self.say(f"SIGTERM {p.name}: exit {code}")
            if code != 0:
                self.notes.append(f"{p.name} exited {code} on SIGTERM")
            p.start()
            rec.until = now()
        elif step.action == "join":
            self.faults.append(FaultRecord("join (rebalance)", "worker", now(), detail=p.name))
            p.start()
            self.say(f"{p.name} joins")
        elif step.action == "leave":
            rec = FaultRecord("leave (rebalance)", "worker", now(), detail=p.name)
            self.faults.append(rec)
            code = await asyncio.to_thread(p.term)
            self.say(f"{p.name} leaves: exit {code}")
            if code != 0:
                self.notes.append(f"{p.name} exited {code} on SIGTERM")
        elif step.action == "stop":
            rec = FaultRecord("SIGSTOP", target, now(), detail=f"{p.name} {step.seconds:.0f}s")
            self.faults.append(rec)
            p.pause()
            self.say(f"SIGSTOP {p.name} for {step.seconds:.0f}s (session timeout {SESSION_TIMEOUT:.0f}s)")
            await asyncio.sleep(step.seconds)
            p.resume()
            rec.until = now()
            self.say(f"SIGCONT {p.name}")
        else:
            raise ValueError(f"unknown fault action {step.action!r}")

    async def run_plan(self) -> None:
        for step in self.plan.steps:
            wait = self.t0 + step.at * self.plan.duration - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
            await self.inject(step)

    # --- settling -------------------------------------------------------------------------------
    def delivered_pairs(self) -> set[tuple[str, str]]:
        return {(aid, rule) for d in self.receiver.unique() for aid, rule, _ in d.alerts}

    async def settle(self, expected: set[tuple[str, str]]) -> bool:
        """Wait until everything expected is delivered and nothing is pending or uncommitted."""
        deadline = time.monotonic() + self.plan.settle_timeout
        stable = 0
        last_report = 0.0
        while time.monotonic() < deadline:
            await self.ensure_alive()
            missing = len(expected - self.delivered_pairs())
            try:
                rs = await self.redis_state()
                offs = await self.offsets()
            except Exception as exc:  # a transient broker/Redis error: look again
                self.say(f"settle: state not readable yet: {exc!r}")
                await asyncio.sleep(1.0)
                continue
            quiet = (sum(rs["pending"].values()) == 0 and rs["scheduled"] == 0 and rs["bodies"] == 0
                     and all(o["at_end"] for o in offs.values()))
            if missing == 0 and quiet:
                stable += 1
                if stable >= 3:
                    return True
            else:
                stable = 0
            if time.monotonic() - last_report > 10:
                last_report = time.monotonic()
                behind = {g: o["end"] - o["committed"] for g, o in offs.items()}
                self.say(f"settling: missing {missing}, pending {rs['pending']}, scheduled {rs['scheduled']}, "
                         f"queued {rs['bodies']}, uncommitted {behind}")
            await asyncio.sleep(1.0)
        return False

    async def ensure_alive(self) -> None:
        """A process that died on its own is a finding: note it and start it again."""
        for name, p in self.procs.items():
            if name == "worker-b":
                continue
            if p.proc is not None and not p.alive:
                code = p.proc.returncode
                if p.exit_codes and p.exit_codes[-1][1] == code:
                    continue
                self.notes.append(f"{name} (incarnation {p.incarnation}) exited on its own with {code}; "
                                  f"log {p.log_path}")
                p.exit_codes.append(("died", code))
                self.say(f"{name} died ({code}); restarting")
                p.start()

    # --- the whole scenario ---------------------------------------------------------------------
    async def run(self, scenario: str) -> dict[str, Any]:
        (self.out / "logs").mkdir(parents=True, exist_ok=True)
        (self.out / "data").mkdir(parents=True, exist_ok=True)
        corpus: list[CorpusArticle] = build_corpus(self.plan.articles, self.plan.feeds, seed=7, run=self.name)
        expected, how = await asyncio.to_thread(expected_alerts, corpus, RULES, self.out)
        self.say(f"{len(corpus)} articles over {self.plan.feeds} feeds; {how}")
        self.kafka = EmbeddedServices(data_dir=self.out / "data" / "kafka")
        await asyncio.to_thread(self.kafka.start, kafka=True, redis=False)
        self.redis = RedisServer(self.out / "data", free_port(), self.registry)
        await asyncio.to_thread(self.redis.start)
        self.feeds = FeedServer(corpus, self.plan.feeds, self.plan.duration, self.plan.window)
        await self.feeds.start()
        await self.receiver.start()
        self.write_feeds()
        self.receiver.secret = await self.create_subscription()
        self.say(f"broker {self.kafka.kafka_bootstrap}, redis {self.redis.url}, feeds :{self.feeds.port}, "
                 f"receiver {self.receiver.url}")
        self.proc("alerter", "alerter").start()
        self.proc("worker-a", "worker").start()
        self.proc("worker-b", "worker")
        for name in ("alerter", "worker-a"):
            if not await asyncio.to_thread(self.procs[name].wait_started, 120.0):
                raise RuntimeError(f"{name} did not start:\n{self.procs[name].log_text()[-3000:]}")
        self.proc("poller", "poller").start()
        if not await asyncio.to_thread(self.procs["poller"].wait_started, 120.0):
            raise RuntimeError(f"poller did not start:\n{self.procs['poller'].log_text()[-3000:]}")
        tailer = asyncio.create_task(self.tail())
        self.t0 = time.monotonic()
        self.feeds.start_release()
        self.say("release started")
        await self.run_plan()
        while not self.feeds.all_released():
            await asyncio.sleep(0.5)
        self.say("all articles released; settling")
        settled = await self.settle(expected)
        if not settled:
            self.notes.append(f"did not settle within {self.plan.settle_timeout:.0f}s")
        await asyncio.sleep(2.0)  # the tailer catches up
        self._tail_stop.set()
        await tailer
        summary = check(
            scenario=scenario, corpus=corpus, expected=expected, receiver=self.receiver,
            offered=self.feeds.offered, articles=self.logs["articles"], alerts=self.logs["alerts"],
            dead=self.logs["dead"], poison=self.poison, redis_state=await self.redis_state(),
            offsets=await self.offsets(), faults=self.faults, t0=self.t0, poison_keys=self.poison_keys,
            exit_codes={n: p.exit_codes for n, p in self.procs.items()}, how_expected=how,
        )
        summary["settled"] = settled
        summary["notes"] = self.notes
        summary["release_seconds"] = self.plan.duration
        summary["elapsed_seconds"] = round(time.monotonic() - self.t0, 1)
        summary["feed_requests"] = {"total": self.feeds.requests, "not_modified": self.feeds.not_modified}
        summary["incarnations"] = {n: p.incarnation for n, p in self.procs.items()}
        summary["out"] = str(self.out)
        return summary

    async def close(self) -> None:
        self._tail_stop.set()
        for p in self.procs.values():
            if p.alive:
                await asyncio.to_thread(p.term, 20.0)
        if self.feeds is not None:
            await self.feeds.stop()
        await self.receiver.stop()
        if self.kafka is not None:
            await asyncio.to_thread(self.kafka.stop)
        if self.redis is not None:
            await asyncio.to_thread(self.redis.stop)
        self.registry.close()


async def run_scenario(scenario: str, plan: Plan, out: Path, log: Any = print) -> dict[str, Any]:
    h = Harness(scenario, plan, out, log=log)
    try:
        return await h.run("graceful" if scenario.startswith("graceful") else "chaos")
    finally:
        with contextlib.suppress(Exception):
            await h.close()
        h.registry.close()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m chaos.run", description=__doc__.split("\n\n")[0])
    ap.add_argument("--articles", type=int, help="articles in the chaos scenario (default 10000)")
    ap.add_argument("--small", action="store_true", help="the CI size (500 articles, one fault of each kind)")
    ap.add_argument("--scenario", choices=("chaos", "graceful", "both"), default="both")
    ap.add_argument("--duration", type=float, help="seconds over which articles are released")
    ap.add_argument("--out", type=Path, help="working folder (logs, data, summary); default: a temp folder")
    ap.add_argument("--json", type=Path, help="also write the summaries here")
    ap.add_argument("--keep", action="store_true", help="keep the working folder")
    args = ap.parse_args(argv)
    out = args.out or Path(tempfile.mkdtemp(prefix="monitor-chaos-"))
    wanted = ["chaos", "graceful"] if args.scenario == "both" else [args.scenario]
    summaries = []
    code = 0
    for sc in wanted:
        key = f"{sc}-small" if args.small else sc
        plan = PLANS[key]
        if args.articles and sc == "chaos":
            plan = Plan(**{**plan.__dict__, "articles": args.articles,
                           "feeds": max(4, min(200, args.articles // 100))})
        if args.duration:
            plan = Plan(**{**plan.__dict__, "duration": args.duration})
        try:
            s = asyncio.run(run_scenario(key, plan, out / key))
        except Exception as exc:
            print(f"[{key}] harness failed: {exc!r}", file=sys.stderr)
            return 2
        summaries.append(s)
        print(human(s))
        print(orjson.dumps(s).decode())
        code |= 0 if s["ok"] else 1
    if args.json:
        args.json.write_bytes(orjson.dumps(summaries, option=orjson.OPT_INDENT_2))
    if not args.keep and not args.out and code == 0:
        shutil.rmtree(out, ignore_errors=True)
    return code


if __name__ == "__main__":
    sys.exit(main())
