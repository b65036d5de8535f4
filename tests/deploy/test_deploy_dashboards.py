"""Grafana dashboards: well-formed and provisioned; every panel query parses (promtool, offline); and,
against a real Prometheus server (Debian's `prometheus`) scraping a real `monitor run` that has processed
the seed feed into alerts, every panel query succeeds and those whose metrics the seed run necessarily
produces return data.

The live test skips only when the `prometheus` binary is missing or when `monitor run` is not built yet
(the module ``monitor.cli.run`` or its ``run`` command does not exist); any other failure of
`monitor run` — a crash, no alerts within the deadline — fails the test.
"""

from __future__ import annotations

import contextlib
import importlib
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests
import yaml
from deploy_support import (
    DEPLOY,
    GRAFANA_VARIABLES,
    PROMETHEUS_HINT,
    SEED_RUN_LABELLED,
    PanelQuery,
    dashboard_queries,
    dashboards,
    family_of,
    find_program,
    free_port,
    iter_panels,
    metric_catalogue,
    promql_metric_names,
    substitute,
)

DATASOURCE_UID = "prometheus"
ALERTS_DEADLINE = 150.0  # seconds for `monitor run` to turn the seed feed into alerts
SCRAPES_DEADLINE = 60.0


# --- static ---------------------------------------------------------------------------------------

def test_dashboards_are_well_formed() -> None:
    dash = dashboards()
    assert {"pipeline.json", "feeds.json", "rules.json", "delivery.json"} <= set(dash)
    uids = [d["uid"] for d in dash.values()]
    assert len(uids) == len(set(uids))
    for fname, d in dash.items():
        assert d["title"].startswith("monitor / "), fname
        panels = iter_panels(d["panels"])
        ids = [p["id"] for p in panels]
        assert len(ids) == len(set(ids)), f"{fname}: duplicate panel ids"
        for p in panels:
            g = p["gridPos"]
            assert g["x"] >= 0 and g["w"] > 0 and g["x"] + g["w"] <= 24, f"{fname}/{p['title']}: {g}"
            if p["type"] == "row":
                continue
            assert p.get("description"), f"{fname}/{p['title']}: say what the panel shows"
            assert p["datasource"]["uid"] == DATASOURCE_UID
            assert p["targets"], f"{fname}/{p['title']}: no query"
            for t in p["targets"]:
                assert t["datasource"]["uid"] == DATASOURCE_UID


def test_known_label_sets_start_at_zero() -> None:
    from prometheus_client import CollectorRegistry

    from monitor.alerting.channels import CHANNELS
    from monitor.metrics import DELIVERY_CHANNELS, Metrics

    assert set(DELIVERY_CHANNELS) == set(CHANNELS)
    registry = CollectorRegistry()
    Metrics(registry).initialise(articles_topic="in", alerts_topic="out")
    families = {f.name: f for f in registry.collect()}
    for name in ("monitor_fetches", "monitor_feed_parse_errors", "monitor_dead_letters", "monitor_rules_reloads",
                 "monitor_deliveries", "monitor_delivery_latency_seconds", "monitor_delivery_retries",
                 "monitor_delivery_queue_depth", "monitor_endpoints_disabled", "monitor_articles_processed"):
        samples = families[name].samples
        assert samples, f"{name}: no series at start"
        assert all(s.value == 0 for s in samples if not s.name.endswith("_created")), name
    dead = {(s.labels["topic"], s.labels["reason"]) for s in families["monitor_dead_letters"].samples}
    assert ("in", "invalid_json") in dead and ("out", "handler_error") in dead
    channels = {s.labels["channel"] for s in families["monitor_deliveries"].samples}
    assert channels == set(CHANNELS)


def test_provisioned_datasource_uid_matches_the_dashboards() -> None:
    doc = yaml.safe_load((DEPLOY / "grafana/provisioning/datasources/prometheus.yml").read_text(encoding="utf-8"))
    assert [d["uid"] for d in doc["datasources"]] == [DATASOURCE_UID]


def test_queries_use_only_known_variables() -> None:
    for q in dashboard_queries():
        left = re.findall(r"\$\{?[A-Za-z_]\w*", substitute(q.expr))
        assert not left, f"{q.where()}: unknown variable {left} (known: {sorted(GRAFANA_VARIABLES)})"


def test_every_panel_query_parses_with_promtool(tmp_path: Path) -> None:
    promtool = find_program("promtool")
    if promtool is None:
        pytest.skip(f"promtool not found: {PROMETHEUS_HINT}")
    queries = dashboard_queries()
    rules = {"groups": [{"name": "dashboards", "rules": [
        {"record": f"dashboard:query_{i}", "expr": substitute(q.expr)} for i, q in enumerate(queries)]}]}
    path = tmp_path / "dashboard_rules.yml"
    path.write_text(yaml.safe_dump(rules, allow_unicode=True), encoding="utf-8")
    r = subprocess.run([promtool, "check", "rules", str(path)], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr + "\n" + "\n".join(
        f"query_{i}: {q.where()}: {q.expr}" for i, q in enumerate(queries))


# --- live: a real Prometheus scraping a real `monitor run` ------------------------------------------

def seed_run_series() -> set[str]:
    """Series a `monitor run` on the seed feed necessarily exposes with a value: every metric without
    labels (prometheus-client exports those from the start) and the labelled ones in SEED_RUN_LABELLED."""
    out = {"up"}
    for m in metric_catalogue():
        if not m.labels or m.name in SEED_RUN_LABELLED:
            out |= m.series
    return out


def expects_data(q: PanelQuery, necessary: set[str]) -> bool:
    """A panel must return data when every monitor_* series it selects is necessarily produced."""
    cat = metric_catalogue()
    declared = {s for m in cat for s in m.series}
    names = promql_metric_names(q.expr)
    return all(n in declared and n in necessary for n in names) and (bool(names) or "up{" in q.expr)


def require_monitor_run() -> None:
    """Skip only if `monitor run` is not built yet; a broken build of it is an error, not a skip."""
    try:
        module = importlib.import_module("monitor.cli.run")
    except ModuleNotFoundError as exc:
        if exc.name == "monitor.cli.run":
            pytest.skip("`monitor run` is not built yet: the module monitor.cli.run does not exist")
        raise
    if not hasattr(module, "run"):
        pytest.skip("`monitor run` is not built yet: monitor.cli.run has no `run` command")


@dataclass
class Proc:
    popen: subprocess.Popen[bytes]
    log: Path

    def tail(self, n: int = 60) -> str:
        with contextlib.suppress(OSError):
            return "\n".join(self.log.read_text(encoding="utf-8", errors="replace").splitlines()[-n:])
        return ""

    def stop(self, timeout: float) -> None:
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGTERM)
            try:
                self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.popen.pid, signal.SIGKILL)
                self.popen.wait(10)


def start(cmd: list[str], log: Path, env: dict[str, str], cwd: Path) -> Proc:
    fh = log.open("wb")
    popen = subprocess.Popen(cmd, stdout=fh, stderr=subprocess.STDOUT, env=env, cwd=cwd, start_new_session=True)
    fh.close()
    return Proc(popen, log)


def poll(what: str, deadline: float, check, proc: Proc | None = None, every: float = 0.5):  # type: ignore[no-untyped-def]
    """Call ``check`` until it returns a truthy value; fail with the process log on timeout or exit."""
    end = time.monotonic() + deadline
    last_error: object = None
    while time.monotonic() < end:
        if proc is not None and proc.popen.poll() is not None:
            pytest.fail(f"{what}: process exited with {proc.popen.returncode}\n{proc.tail()}")
        try:
            value = check()
            if value:
                return value
        except (requests.RequestException, ValueError, KeyError) as exc:
            last_error = exc
        time.sleep(every)
    pytest.fail(f"{what}: not within {deadline:.0f} s (last error: {last_error})\n{proc.tail() if proc else ''}")


@pytest.fixture(scope="module")
def monitor_run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A `monitor run` on the embedded broker and Redis with the seed feed, after it raised alerts."""
    require_monitor_run()
    tmp = tmp_path_factory.mktemp("monitor-run")
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("MONITOR_")}
    env.update(MONITOR_HTTP_PORT=str(port), MONITOR_DATA_DIR=str(tmp / "data"), MONITOR_HTTP_HOST="127.0.0.1")
    proc = start([sys.executable, "-m", "monitor", "run"], tmp / "monitor.log", env, cwd=tmp)
    base = f"http://127.0.0.1:{port}"
    try:
        poll("GET /api/v1/alerts returns alerts", ALERTS_DEADLINE,
             lambda: requests.get(f"{base}/api/v1/alerts", timeout=5).json()["alerts"], proc)
        yield base
    finally:
        proc.stop(timeout=25)


@pytest.fixture(scope="module")
def prometheus(monitor_run: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    binary = find_program("prometheus")
    if binary is None:
        pytest.skip(f"prometheus not found: {PROMETHEUS_HINT}")
    tmp = tmp_path_factory.mktemp("prometheus")
    target = monitor_run.removeprefix("http://")
    (tmp / "prometheus.yml").write_text(yaml.safe_dump({
        "global": {"scrape_interval": "1s", "scrape_timeout": "1s", "evaluation_interval": "1s"},
        "rule_files": [str(DEPLOY / "prometheus" / "alerts.yml")],
        "scrape_configs": [{"job_name": "monitor", "static_configs": [{"targets": [target]}]}],
    }), encoding="utf-8")
    port = free_port()
    proc = start([binary, f"--config.file={tmp / 'prometheus.yml'}", f"--storage.tsdb.path={tmp / 'data'}",
                  f"--web.listen-address=127.0.0.1:{port}"], tmp / "prometheus.log", dict(os.environ), cwd=tmp)
    base = f"http://127.0.0.1:{port}"
    try:
        poll("prometheus ready", SCRAPES_DEADLINE, lambda: requests.get(f"{base}/-/ready", timeout=2).ok, proc)

        def target_up() -> bool:
            active = requests.get(f"{base}/api/v1/targets", timeout=5).json()["data"]["activeTargets"]
            return any(t["health"] == "up" for t in active)

        poll("monitor target up", SCRAPES_DEADLINE, target_up, proc)

        def scraped_three_times() -> bool:
            r = query(base, 'count_over_time(up{job="monitor"}[5m])')
            return bool(r["data"]["result"]) and float(r["data"]["result"][0]["value"][1]) >= 3

        poll("three scrapes of monitor", SCRAPES_DEADLINE, scraped_three_times, proc)
        yield base
    finally:
        proc.stop(timeout=15)


def query(base: str, expr: str) -> dict:
    r = requests.post(f"{base}/api/v1/query", data={"query": expr}, timeout=10)
    return r.json()


def test_every_panel_query_runs_on_prometheus_scraping_a_seed_run(prometheus: str) -> None:
    necessary = seed_run_series()
    failures, checked_data = [], 0
    for q in dashboard_queries():
        expr = substitute(q.expr)
        body = query(prometheus, expr)
        if body.get("status") != "success":
            failures.append(f"{q.where()}: {body.get('errorType')}: {body.get('error')}\n    {expr}")
            continue
        result = body["data"]["result"]
        if expects_data(q, necessary):
            checked_data += 1
            if not result:
                failures.append(f"{q.where()}: no data, though a seed run produces its metrics\n    {expr}")
        legend_labels = set(re.findall(r"\{\{\s*(\w+)\s*\}\}", q.legend))
        for series in result:
            missing = legend_labels - set(series["metric"])
            if missing:
                failures.append(f"{q.where()}: legend uses {sorted(missing)}, absent from the result\n    {expr}")
                break
    if failures:
        names = query(prometheus, 'group by (__name__) ({__name__=~"monitor_.*"})')
        present = sorted(s["metric"]["__name__"] for s in names.get("data", {}).get("result", []))
        pytest.fail("\n".join(failures) + f"\nmonitor series in Prometheus: {present}")
    assert checked_data >= 20, f"only {checked_data} panel queries were checked for data"


def test_seed_run_series_are_declared_metrics() -> None:
    """The list of labelled metrics a seed run produces names real (or pending) metrics."""
    cat = metric_catalogue()
    from deploy_support import PENDING_METRICS

    for name in SEED_RUN_LABELLED:
        assert any(m.name == name for m in cat) or name in PENDING_METRICS, name
    for q in dashboard_queries():
        for s in promql_metric_names(q.expr):
            assert family_of(s, cat) is not None, f"{q.where()}: {s}"


def test_live_test_skips_only_when_monitor_run_is_not_built(monkeypatch: pytest.MonkeyPatch) -> None:
    """The skip is precise: a missing monitor.cli.run skips, a broken import inside it fails."""
    real = importlib.import_module

    def missing(name: str, *a: object) -> object:
        if name == "monitor.cli.run":
            raise ModuleNotFoundError("No module named 'monitor.cli.run'", name="monitor.cli.run")
        return real(name, *a)  # type: ignore[arg-type]

    monkeypatch.setattr(importlib, "import_module", missing)
    with pytest.raises(pytest.skip.Exception, match="not built yet"):
        require_monitor_run()

    def broken(name: str, *a: object) -> object:
        if name == "monitor.cli.run":
            raise ModuleNotFoundError("No module named 'somedep'", name="somedep")
        return real(name, *a)  # type: ignore[arg-type]

    monkeypatch.setattr(importlib, "import_module", broken)
    with pytest.raises(ModuleNotFoundError):
        require_monitor_run()


def test_alert_rules_evaluate_cleanly_on_a_seed_run(prometheus: str) -> None:
    """deploy/prometheus/alerts.yml loaded into the live Prometheus: every rule evaluates without error
    against real monitor metrics; on a healthy seed run none fires, and none without a `for:` is even pending."""

    def evaluated() -> list[dict]:
        groups = requests.get(f"{prometheus}/api/v1/rules", timeout=5).json()["data"]["groups"]
        rules = [r for g in groups for r in g["rules"]]
        return rules if rules and all(r.get("lastEvaluation", "").startswith("2") and
                                      not r["lastEvaluation"].startswith("0001") for r in rules) else []

    rules = poll("every alert rule evaluated", SCRAPES_DEADLINE, evaluated)
    broken = [f"{r['name']}: {r.get('lastError')}" for r in rules if r.get("health") != "ok"]
    assert not broken, "\n".join(broken)
    # a rule with `for:` may be pending on a run a minute old (a consumer still catching up has lag and an
    # unchanged committed offset for a few scrapes): its `for:` window is what tells a stuck group from a
    # busy one; it must not fire, and a rule without `for:` must not even be active
    firing = [f"{r['name']} ({r.get('state')}) {[a['labels'] for a in r.get('alerts', [])]}" for r in rules
              if r.get("alerts") and (not r.get("duration") or r.get("state") == "firing")]
    assert not firing, "alerts active on a healthy seed run:\n" + "\n".join(firing)
