"""At-least-once across a kill: ``monitor worker`` SIGKILLed mid-stream and started again loses no alert.

Real processes and the real embedded broker and Redis: a worker (the shipped CLI, the event policy on
Redis) reads 1,500 distinct articles that each match the test rule, in batches of 10; when part of the
alerts are out it is SIGKILLed (no stop, no commit of the batch in hand), which the test checks left work
behind (committed offsets below the end); a new worker in the same group then finishes. Every article must
then have its alert on the ``alerts`` topic, and an article processed twice must have yielded the same
alert id both times (the only duplicates allowed). Waits are for conditions, with deadlines.
"""

from __future__ import annotations

import random
import signal
import time
from pathlib import Path

import orjson
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from monitor.models import Article
from tests.helpers import ROOT, MonitorProcess, run

pytestmark = pytest.mark.integration
N = 1500
PARTITIONS = 4


def articles() -> list[Article]:
    rnd = random.Random(14)
    vocab = [f"w{rnd.randrange(10**6)}" for _ in range(5000)]
    return [Article(id=f"k{n}", title=f"round {n} {' '.join(rnd.sample(vocab, 6))}",
                    content=" ".join(rnd.sample(vocab, 60)), source=f"src{n % 5}") for n in range(N)]


async def produce(bootstrap: str, topic: str, arts: list[Article]) -> None:
    p = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=5)
    await p.start()
    try:
        for a in arts:
            await p.send(topic, a.to_json(), key=a.id.encode())
        await p.flush()
    finally:
        await p.stop()


class Alerts:
    """Every record of the alerts topic so far, read from the start."""

    def __init__(self, bootstrap: str, topic: str) -> None:
        self.bootstrap, self.topic = bootstrap, topic
        self.records: list[dict] = []

    async def read_until(self, want, timeout: float) -> bool:  # type: ignore[no-untyped-def]
        c = AIOKafkaConsumer(self.topic, bootstrap_servers=self.bootstrap, group_id=None,
                             auto_offset_reset="earliest", enable_auto_commit=False)
        await c.start()
        self.records = []
        try:
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                batch = await c.getmany(timeout_ms=300)
                self.records.extend(orjson.loads(r.value) for rs in batch.values() for r in rs)
                if want(self.records):
                    return True
            return False
        finally:
            await c.stop()


async def committed(bootstrap: str, group: str, topic: str) -> int:
    c = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False)
    await c.start()
    try:
        return sum([(await c.committed(TopicPartition(topic, p))) or 0 for p in range(PARTITIONS)])
    finally:
        await c.stop()


def test_a_worker_killed_mid_stream_and_restarted_loses_no_alert(
        kafka_bootstrap: str, redis_db_url: str, unique: str, tmp_path: Path) -> None:
    topics = {"articles": f"articles-{unique}", "alerts": f"alerts-{unique}", "dead": f"dead-{unique}"}
    group = f"monitor-{unique}"
    env = {
        "MONITOR_KAFKA_BOOTSTRAP": kafka_bootstrap, "MONITOR_KAFKA_IDEMPOTENCE": "false",
        "MONITOR_REDIS_URL": redis_db_url, "MONITOR_TOPIC_ARTICLES": topics["articles"],
        "MONITOR_TOPIC_ALERTS": topics["alerts"], "MONITOR_TOPIC_DEAD_LETTER": topics["dead"],
        "MONITOR_TOPIC_PARTITIONS": str(PARTITIONS), "MONITOR_APP_ID": group,
        "MONITOR_RULES": str(ROOT / "tests" / "spine" / "rules"), "MONITOR_HTTP_PORT": "0",
        "MONITOR_DATA_DIR": str(tmp_path), "MONITOR_WORKER_BATCH": "10",
    }
    arts = articles()
    alerts = Alerts(kafka_bootstrap, topics["alerts"])
    first = MonitorProcess(["worker"], env)
    second = None
    try:
        first.wait_for(lambda: first.line_matching("monitor started"), 60, "first worker start")
        run(produce(kafka_bootstrap, topics["articles"], arts))
        assert run(alerts.read_until(lambda r: len(r) >= N // 5, 120)), "the first worker produced no alerts"
        first.proc.send_signal(signal.SIGKILL)
        first.proc.wait(timeout=10)
        left = run(committed(kafka_bootstrap, group, topics["articles"]))
        assert left < N, f"the kill came after the whole stream was committed ({left}); nothing was tested"
        second = MonitorProcess(["worker"], env)
        second.wait_for(lambda: second.line_matching("monitor started"), 60, "second worker start")
        done = run(alerts.read_until(lambda r: len({a["article"]["id"] for a in r}) >= N, 180))
        assert done, f"only {len({a['article']['id'] for a in alerts.records})} of {N} articles alerted"
        assert second.stop(signal.SIGTERM, timeout=30) == 0
    finally:
        first.kill()
        if second is not None:
            second.kill()
    ids_by_article: dict[str, set[str]] = {}
    for a in alerts.records:
        ids_by_article.setdefault(a["article"]["id"], set()).add(a["id"])
    assert set(ids_by_article) == {a.id for a in arts}
    assert all(len(ids) == 1 for ids in ids_by_article.values()), "an article alerted twice with another id"
    assert run(committed(kafka_bootstrap, group, topics["articles"])) == N
