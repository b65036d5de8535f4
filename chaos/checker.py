"""The checker: what should have happened (offline), what did happen (receiver, topics, Redis), compared.

Inputs:
- ``expected``: (article id, rule) pairs from ``monitor match`` run on the corpus as JSON Lines, before the
  pipeline starts (the same rules folder the workers load);
- the receiver's raw deliveries (before and after its ``webhook-id`` dedup);
- the ``articles``/``alerts``/``dead-letter`` topics as read back from offset 0 (``TopicLog``);
- the poison records the harness wrote (topic, partition, offset);
- the end state: pending entries in Redis delivery streams, queued deliveries, dead deliveries, and each
  consumer group's committed offsets against the log end.

Invariants (``ok`` is their conjunction): lost == 0; duplicates after dedup == 0; every poison record in
``dead-letter``; nothing pending or queued in Redis; committed == end for the worker and alerter groups;
no webhook failed signature verification. The raw duplicate deliveries, unexpected deliveries, per-stage
losses and recovery times are reported as figures, not invariants (a SIGKILL mid-send may legitimately
re-send; the receiver's dedup absorbs it). In the graceful scenario raw duplicates must be 0 as well.
"""

from __future__ import annotations

import subprocess
import sys
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from chaos.corpus import CorpusArticle
from chaos.servers import Receiver

ROOT = Path(__file__).resolve().parent.parent


def expected_alerts(corpus: list[CorpusArticle], rules: Path, workdir: Path) -> tuple[set[tuple[str, str]], str]:
    """(article id, rule) pairs that ``monitor match`` finds in the corpus; and how they were computed."""
    src = workdir / "articles.jsonl"
    src.write_bytes(b"\n".join(a.json_line() for a in corpus) + b"\n")
    out = workdir / "matches.jsonl"
    with open(src, "rb") as fin, open(out, "wb") as fout:
        proc = subprocess.run(
            [sys.executable, "-m", "monitor", "match", "--rules", str(rules), "-"], stdin=fin, stdout=fout,
            stderr=subprocess.PIPE, cwd=ROOT, timeout=600, check=False,
        )
    if proc.returncode != 0:
        raise RuntimeError(f"monitor match failed ({proc.returncode}): {proc.stderr.decode()[-2000:]}")
    pairs: set[tuple[str, str]] = set()
    lines = out.read_bytes().splitlines()
    if len(lines) != len(corpus):
        raise RuntimeError(f"monitor match wrote {len(lines)} lines for {len(corpus)} articles")
    for line in lines:
        doc = orjson.loads(line)
        for m in doc["matches"]:
            pairs.add((doc["id"], m["rule"]))
    return pairs, f"monitor match --rules {rules} ({len(corpus)} articles -> {len(pairs)} matches)"


@dataclass
class TopicLog:
    """Records read back from a topic: (partition, offset, arrival monotonic time, key, value)."""

    records: list[tuple[int, int, float, bytes | None, bytes | None]] = field(default_factory=list)


@dataclass
class FaultRecord:
    kind: str
    target: str
    at: float  # monotonic, when injected
    until: float | None = None  # when the harness undid it (restart, SIGCONT, receiver up)
    detail: str = ""


#: faults after which progress is counted from the restart (what was in flight at the fault is not progress)
RESTARTED = frozenset({"SIGKILL", "SIGTERM", "redis SIGKILL+AOF"})


def _first_after(times: list[float], t: float) -> float | None:
    for x in times:  # sorted
        if x > t:
            return x
    return None


def recovery_times(
    faults: list[FaultRecord], articles: TopicLog, alerts: TopicLog, receiver: Receiver, t0: float,
    poison_keys: set[bytes],
) -> list[dict[str, Any]]:
    """Per fault: seconds from injection to the next new article, alert and first-time delivery.

    For a fault the harness undoes by a restart (SIGKILL, SIGTERM, Redis), only records arriving after the
    restart count, so a record that was already in flight does not pass for recovery.
    """
    art_t = sorted(t for _, _, t, k, _ in articles.records if k not in poison_keys)
    alert_t = sorted(t for _, _, t, k, _ in alerts.records if k not in poison_keys)
    deliv_t = sorted(d.at for d in receiver.unique())
    out = []
    for f in faults:
        row: dict[str, Any] = {"fault": f.kind, "target": f.target, "at_s": round(f.at - t0, 1)}
        if f.until is not None:
            row["undone_after_s"] = round(f.until - f.at, 1)
        # after a kill, records already in flight still arrive; progress counts once the harness has
        # restarted what it killed (the new incarnation's work, or the rest of the pipeline's)
        ref = f.until if f.until is not None and f.kind in RESTARTED else f.at
        for name, times in (("article", art_t), ("alert", alert_t), ("delivery", deliv_t)):
            nxt = _first_after(times, ref)
            row[f"next_{name}_s"] = round(nxt - f.at, 2) if nxt is not None else None
        primary = {"poller": "article", "worker": "alert", "alerter": "delivery", "receiver": "delivery",
                   "redis": "delivery"}.get(f.target, "delivery")
        row["recovery_s"] = row[f"next_{primary}_s"]
        row["measured_by"] = f"next {primary}"
        if f.detail:
            row["detail"] = f.detail
        out.append(row)
    return out


def check(
    *,
    scenario: str,
    corpus: list[CorpusArticle],
    expected: set[tuple[str, str]],
    receiver: Receiver,
    offered: set[str],
    articles: TopicLog,
    alerts: TopicLog,
    dead: TopicLog,
    poison: list[tuple[str, int, int]],
    redis_state: dict[str, Any],
    offsets: dict[str, dict[str, Any]],
    faults: list[FaultRecord],
    t0: float,
    poison_keys: set[bytes],
    exit_codes: dict[str, list[tuple[str, int | None]]],
    how_expected: str,
) -> dict[str, Any]:
    unique = receiver.unique()
    delivered_ids: dict[tuple[str, str], set[str]] = defaultdict(set)
    raw_pairs: Counter[tuple[str, str]] = Counter()
    for d in receiver.deliveries:
        for aid, rule, _ in d.alerts:
            raw_pairs[(aid, rule)] += 1
    for d in unique:
        for aid, rule, _ in d.alerts:
            delivered_ids[(aid, rule)].add(d.webhook_id)
    delivered = set(delivered_ids)
    lost = sorted(expected - delivered)
    unexpected = sorted(delivered - expected)
    dup_after = sum(len(ids) - 1 for ids in delivered_ids.values() if len(ids) > 1)
    raw_dup_deliveries = sum(1 for d in receiver.deliveries if d.duplicate)

    # where were the lost ones lost? (stage diagnostics)
    on_articles = set()
    for _, _, _, k, _v in articles.records:
        if k is not None and k not in poison_keys:
            on_articles.add(k.decode("utf-8", "replace"))
    on_alerts: set[tuple[str, str]] = set()
    for _, _, _, k, v in alerts.records:
        if v and k not in poison_keys:
            try:
                doc = orjson.loads(v)
                on_alerts.add((doc["article"]["id"], doc["rule"]))
            except (orjson.JSONDecodeError, KeyError, TypeError):
                pass
    corpus_ids = {a.id for a in corpus}
    stage = {
        "never_offered_by_feed_server": len(corpus_ids - offered),
        "articles_missing_from_topic": len(corpus_ids - on_articles),
        "articles_offered_but_missing_from_topic": len((corpus_ids & offered) - on_articles),
        "expected_alerts_missing_from_alerts_topic": len(expected - on_alerts),
        "lost_between_alerts_topic_and_receiver": len((expected & on_alerts) - delivered),
    }
    article_dups = Counter(k for _, _, _, k, _ in articles.records if k is not None and k not in poison_keys)
    alert_dups = Counter(k for _, _, _, k, _ in alerts.records if k is not None and k not in poison_keys)

    dead_index = set()
    poison_set = set(poison)
    not_poison: list[dict[str, Any]] = []  # good records that ended in dead-letter: lost work
    for _, _, _, _, v in dead.records:
        try:
            doc = orjson.loads(v or b"")
            where = (doc["topic"], doc["partition"], doc["offset"])
        except (orjson.JSONDecodeError, KeyError, TypeError):
            continue
        dead_index.add(where)
        if where not in poison_set:
            not_poison.append({"topic": doc["topic"], "partition": doc["partition"], "offset": doc["offset"],
                               "key": doc.get("key"), "reason": str(doc.get("reason", ""))[:300]})
    poison_missing = [p for p in poison if p not in dead_index]
    dead_keys = {d["key"]: d["reason"] for d in not_poison if d.get("key")}
    lost_dead_lettered = [{"article": aid, "rule": rule, "reason": dead_keys[aid]}
                          for aid, rule in lost if aid in dead_keys]

    pending_total = sum(redis_state.get("pending", {}).values())
    queued = redis_state.get("scheduled", 0) + redis_state.get("bodies", 0)
    offsets_at_end = all(g.get("at_end") for g in offsets.values()) if offsets else False

    planted = {(a.id, r) for a in corpus for r in a.planted}
    invariants = {
        "no_lost_alerts": not lost,
        "no_duplicates_after_dedup": dup_after == 0,
        "all_poison_in_dead_letter": not poison_missing,
        "nothing_pending_in_redis": pending_total == 0 and queued == 0,
        "no_dead_deliveries": redis_state.get("dead_deliveries", 0) == 0,
        "committed_offsets_at_log_end": offsets_at_end,
        "signatures_valid": receiver.bad_signatures == 0,
    }
    if scenario == "graceful":
        invariants["no_raw_duplicate_deliveries"] = raw_dup_deliveries == 0
    summary: dict[str, Any] = {
        "scenario": scenario,
        "ok": all(invariants.values()),
        "invariants": invariants,
        "articles": len(corpus),
        "expected_alerts": len(expected),
        "expected_from": how_expected,
        "planted_by_generator": len(planted),
        "matcher_agrees_with_generator": planted == expected,
        "delivered_unique_alerts": len(delivered & expected),
        "lost": len(lost),
        "lost_sample": [list(p) for p in lost[:10]],
        "lost_because_dead_lettered": lost_dead_lettered[:20],
        "unexpected_deliveries": len(unexpected),
        "unexpected_sample": [list(p) for p in unexpected[:5]],
        "duplicates_after_dedup": dup_after,
        "raw_deliveries": len(receiver.deliveries),
        "raw_duplicate_deliveries": raw_dup_deliveries,
        "alerts_delivered_more_than_once_raw": sum(1 for c in raw_pairs.values() if c > 1),
        "receiver_503_while_down": receiver.refused_while_down,
        "bad_signatures": receiver.bad_signatures,
        "stages": stage,
        "duplicate_records": {
            "articles_topic": sum(c - 1 for c in article_dups.values() if c > 1),
            "alerts_topic": sum(c - 1 for c in alert_dups.values() if c > 1),
        },
        "poison": {"written": len(poison), "in_dead_letter": len(poison) - len(poison_missing),
                   "missing": [list(p) for p in poison_missing], "dead_letter_records": len(dead.records),
                   "good_records_in_dead_letter": not_poison[:20]},
        "redis": redis_state,
        "offsets": offsets,
        "recovery": recovery_times(faults, articles, alerts, receiver, t0, poison_keys),
        "exit_codes": {k: [list(x) for x in v] for k, v in exit_codes.items()},
    }
    return summary


def human(summary: dict[str, Any]) -> str:
    s = summary
    lines = [
        f"scenario {s['scenario']}: {'OK' if s['ok'] else 'FAILED'}",
        f"  articles {s['articles']}, expected alerts {s['expected_alerts']} ({s['expected_from']})",
        f"  delivered {s['delivered_unique_alerts']}/{s['expected_alerts']}, lost {s['lost']}, "
        f"duplicates after dedup {s['duplicates_after_dedup']}, unexpected {s['unexpected_deliveries']}",
        *([f"  lost because a good article went to dead-letter: {s['lost_because_dead_lettered'][:3]}"]
          if s["lost_because_dead_lettered"] else []),
        f"  raw deliveries {s['raw_deliveries']}, raw duplicates {s['raw_duplicate_deliveries']} "
        f"(dropped by the receiver's webhook-id dedup)",
        f"  poison {s['poison']['in_dead_letter']}/{s['poison']['written']} in dead-letter; good records "
        f"dead-lettered: {len(s['poison']['good_records_in_dead_letter'])} "
        f"{[(d['key'], d['reason'][:120]) for d in s['poison']['good_records_in_dead_letter'][:3]]}",
        f"  redis pending {s['redis'].get('pending')}, scheduled {s['redis'].get('scheduled')}, "
        f"bodies {s['redis'].get('bodies')}, dead deliveries {s['redis'].get('dead_deliveries')}",
    ]
    for g, o in s["offsets"].items():
        lines.append(f"  group {g}: committed {o.get('committed')} / end {o.get('end')} "
                     f"({'at end' if o.get('at_end') else 'BEHIND'})")
    lines.append(f"  stages: {s['stages']}; duplicate records {s['duplicate_records']}")
    for r in s["recovery"]:
        rec = "n/a" if r["recovery_s"] is None else f"{r['recovery_s']:.2f}s"
        lines.append(f"  fault @{r['at_s']:>6}s {r['fault']:<16} {r['target']:<9} recovery {rec} "
                     f"({r['measured_by']})")
    for name, ok in s["invariants"].items():
        lines.append(f"  [{'ok' if ok else 'FAIL'}] {name}")
    return "\n".join(lines)
