"""``monitor backtest``: JSON lines from the archive under MONITOR_DATA_DIR; ``--alert`` sends backfill
alerts to the real embedded broker, and running it again sends the same alert ids."""

from __future__ import annotations

import asyncio
from pathlib import Path

import orjson
from aiokafka import AIOKafkaConsumer
from click.testing import CliRunner

from monitor.archive.sqlite import SqliteArchive
from monitor.cli import main
from monitor.models import Alert

from .helpers import CORPUS

ROOT = Path(__file__).resolve().parents[2]
RULE = "id: cli.base\ntitle: base\nmatch:\n  any: [\"قاعدة\", base]\n"


def _fill(data_dir: Path) -> None:
    async def go() -> None:
        a = SqliteArchive(data_dir / "archive.db")
        await a.put(CORPUS)
        await a.close()

    asyncio.run(go())


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    return {"MONITOR_DATA_DIR": str(tmp_path), "MONITOR_RULES": str(ROOT / "rules"), **extra}


def test_backtest_prints_hits_then_a_summary(tmp_path):
    _fill(tmp_path)
    rule = tmp_path / "rule.yaml"
    rule.write_text(RULE, encoding="utf-8")
    r = CliRunner().invoke(main, ["backtest", "--rules", str(rule), "--since", "3650d"], env=_env(tmp_path))
    assert r.exit_code == 0, r.output
    lines = [orjson.loads(x) for x in r.stdout.splitlines()]
    assert [x["hit"]["article_id"] for x in lines[:-1]] == ["en-3", "en-1", "ar-3", "ar-2", "ar-1"]
    assert lines[-1]["summary"]["per_day"] == [["2026-11-20", 5]]
    # the shipped rule set, one tag
    r = CliRunner().invoke(main, ["backtest", "--since", "3650d", "--tag", "attack"], env=_env(tmp_path))
    assert r.exit_code == 0 and "summary" in r.stdout.splitlines()[-1]


def test_backtest_errors_are_clear(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("id: x\ntitle: t\nmatch:\n  nope: [a]\n", encoding="utf-8")
    r = CliRunner().invoke(main, ["backtest", "--rules", str(bad)], env=_env(tmp_path))
    assert r.exit_code == 1 and f"{bad}:4:" in r.output
    r = CliRunner().invoke(main, ["backtest", "--since", "whenever"], env=_env(tmp_path))
    assert r.exit_code == 1 and "duration" in r.output
    r = CliRunner().invoke(main, ["backtest", "--alert"], env=_env(tmp_path))
    assert r.exit_code == 1 and "MONITOR_KAFKA_BOOTSTRAP" in r.output


def test_backfill_sends_the_same_alert_ids_twice(tmp_path, kafka_bootstrap, unique):
    _fill(tmp_path)
    rule = tmp_path / "rule.yaml"
    rule.write_text(RULE, encoding="utf-8")
    topic = f"alerts-{unique}"
    env = _env(tmp_path, MONITOR_KAFKA_BOOTSTRAP=kafka_bootstrap, MONITOR_TOPIC_ALERTS=topic,
               MONITOR_KAFKA_IDEMPOTENCE="false")
    # the corpus was published on 2026-11-20: --hours reaches back to it
    args = ["backtest", "--rules", str(rule), "--alert", "--hours", str(24 * 365)]
    first = CliRunner().invoke(main, args, env=env)
    assert first.exit_code == 0, first.output
    summary = orjson.loads(first.stdout.splitlines()[-1])["summary"]
    assert summary["alerts_sent"] == 5 and summary["already_live"] == 0
    second = CliRunner().invoke(main, args, env=env)
    assert second.exit_code == 0, second.output
    again = orjson.loads(second.stdout.splitlines()[-1])["summary"]
    assert again["alerts_sent"] == 0 and again["already_sent"] == 5

    async def read(n: int) -> list[Alert]:
        c = AIOKafkaConsumer(topic, bootstrap_servers=kafka_bootstrap, auto_offset_reset="earliest",
                             group_id=f"read-{unique}")
        await c.start()
        out: list[Alert] = []
        try:
            while len(out) < n:
                batch = await asyncio.wait_for(c.getmany(timeout_ms=500), 30)
                out += [Alert.from_json(r.value) for rs in batch.values() for r in rs]
            ends = await c.end_offsets(list(c.assignment()))
            assert sum(ends.values()) == n, ends  # the topic holds these and nothing more
        finally:
            await c.stop()
        return out

    alerts = asyncio.run(read(5))
    ids = [a.id for a in alerts]
    assert len(set(ids)) == 5
    assert all(a.kind == "backfill" and a.rule == "cli.base" and a.evidence for a in alerts)
