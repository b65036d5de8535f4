"""The whole pipeline as a user runs it: ``monitor run`` on the embedded default, the seed feed in,
alerts out on the ``alerts`` topic, in the API and on the console; SIGTERM leaves nothing behind.
And a ``monitor worker`` against the real broker routes a poison record to ``dead-letter`` while the
next good record is still processed.
"""

from __future__ import annotations

import json
import re
import signal
import urllib.request
from pathlib import Path

import orjson
import pytest
from aiokafka import AIOKafkaProducer

from monitor.embedded import free_port
from tests.helpers import ROOT, MonitorProcess, alive, read_topic, run

pytestmark = pytest.mark.integration
SEEDS = ROOT / "seeds"


def http_json(url: str) -> dict:
    with urllib.request.urlopen(url, timeout=5) as resp:
        return json.loads(resp.read())


def metric_sum(url: str, name: str) -> float:
    with urllib.request.urlopen(url, timeout=5) as resp:
        text = resp.read().decode()
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
               if line.startswith(name) and not line.startswith("#"))


def test_monitor_run_alerts_on_the_seed_rounds_and_stops_cleanly(tmp_path: Path):
    port = free_port()
    mon = MonitorProcess(["run"], {"MONITOR_DATA_DIR": str(tmp_path), "MONITOR_HTTP_PORT": str(port)})
    try:
        m = mon.wait_for(lambda: mon.line_matching(r"Tansu.* on (127\.0\.0\.1:\d+)"), 60, "start-up summary")
        bootstrap = m.group(1)  # type: ignore[union-attr]
        api = f"http://127.0.0.1:{port}"
        # the summary's lines arrive one by one: wait for each rather than read them right after the first
        assert mon.wait_for(lambda: mon.line_matching(r"api\s+http://127\.0\.0\.1:\d+/api/v1/alerts"), 10,
                            "the summary's api line")
        assert mon.wait_for(lambda: mon.line_matching(r"feeds\s+1 from"), 10, "the summary's feeds line")

        def round_alerts() -> list[dict]:
            alerts = http_json(f"{api}/api/v1/alerts?limit=100")["alerts"]
            return [a for a in alerts if "negotiation-round" in a["tags"]]

        found = mon.wait_for(
            lambda: {a["article"]["id"] for a in round_alerts()} >= {"seed:001_dc5b0399aa33f440",
                                                                     "seed:003_987e725a71a5c5d0"},
            90, "negotiation-round alerts for seeds 001 and 003 in the API",
        )
        assert found
        mon.wait_for(lambda: metric_sum(f"{api}/metrics", "monitor_articles_processed_total") >= 5, 30,
                     "all five seeds processed")
        alerts = http_json(f"{api}/api/v1/alerts?limit=100")["alerts"]
        for a in alerts:
            assert {"id", "rule", "tags", "severity", "created_at", "article"} <= a.keys()
            assert {"id", "title", "url", "source", "published"} <= a["article"].keys()
        assert [a["created_at"] for a in alerts] == sorted((a["created_at"] for a in alerts), reverse=True)
        assert not [a for a in alerts if "attack-on-base" in a["tags"]], "no seed reports an attack on a base"
        round_ids = {a["article"]["id"] for a in alerts if "negotiation-round" in a["tags"]}
        assert round_ids <= {"seed:001_dc5b0399aa33f440", "seed:003_987e725a71a5c5d0",
                             "seed:000_defe45ebfd4422dc", "seed:004_ea332c4c9957a7af"}  # 000/004: borderline

        on_topic = run(read_topic(bootstrap, "alerts", lambda v: len(v) >= len(alerts), 30))
        docs = [orjson.loads(v) for v in on_topic]
        assert all(d["schema"] == 1 for d in docs)
        assert {d["article"]["id"] for d in docs if "negotiation-round" in d["tags"]} >= {
            "seed:001_dc5b0399aa33f440", "seed:003_987e725a71a5c5d0"}
        assert not [d for d in docs if "attack-on-base" in d["tags"]]

        assert mon.wait_for(lambda: mon.line_matching(r"ALERT .*negotiation-round"), 10, "console alert line")
        assert http_json(f"{api}/healthz") == {"status": "ok"}
        ready = http_json(f"{api}/readyz")
        assert ready["ready"] is True and ready["checks"]["redis"] and ready["checks"]["kafka"]

        children = mon.children()
        assert len(children) >= 2, "the embedded broker and Redis run as children"
        code = mon.stop(signal.SIGTERM, timeout=20)
        assert code == 0, "\n".join(mon.err[-30:])
        assert alive(children) == [], "SIGTERM left a child process behind"
        assert any("monitor stopped" in line for line in mon.lines)
    finally:
        mon.kill()


def test_poison_record_goes_to_dead_letter_and_the_next_record_is_processed(
    kafka_bootstrap: str, redis_db_url: str, unique: str, tmp_path: Path
):
    topics = {"articles": f"articles-{unique}", "alerts": f"alerts-{unique}", "dead": f"dead-{unique}"}
    env = {
        "MONITOR_KAFKA_BOOTSTRAP": kafka_bootstrap,
        "MONITOR_KAFKA_IDEMPOTENCE": "false",
        "MONITOR_REDIS_URL": redis_db_url,
        "MONITOR_TOPIC_ARTICLES": topics["articles"],
        "MONITOR_TOPIC_ALERTS": topics["alerts"],
        "MONITOR_TOPIC_DEAD_LETTER": topics["dead"],
        "MONITOR_APP_ID": f"monitor-{unique}",
        "MONITOR_RULES": str(ROOT / "tests" / "spine" / "rules"),
        "MONITOR_HTTP_PORT": "0",
        "MONITOR_DATA_DIR": str(tmp_path),
    }
    worker = MonitorProcess(["worker"], env)
    try:
        worker.wait_for(lambda: worker.line_matching("monitor started"), 60, "worker start")
        good = orjson.dumps({"schema": 1, "id": "good-1", "title": "بدء أول جولة من الحوار", "source": "t"})

        async def produce() -> None:
            p = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all")
            await p.start()
            try:
                await p.send_and_wait(topics["articles"], b"\x00not json{", key=b"bad", partition=0)
                await p.send_and_wait(topics["articles"], good, key=b"good-1", partition=0)
            finally:
                await p.stop()

        run(produce())
        dead = run(read_topic(kafka_bootstrap, topics["dead"], lambda v: len(v) >= 1, 60))
        alerts = run(read_topic(kafka_bootstrap, topics["alerts"], lambda v: len(v) >= 1, 60))
        assert len(dead) == 1
        d = orjson.loads(dead[0])
        assert d["reason"].startswith("invalid_json") and d["key"] == "bad" and d["topic"] == topics["articles"]
        assert "not json" in d["payload"]
        assert [orjson.loads(a)["article"]["id"] for a in alerts] == ["good-1"]
        assert re.search(r"test-round", alerts[0].decode())
        assert worker.stop(signal.SIGTERM, timeout=20) == 0
    finally:
        worker.kill()
