"""docs/metrics.md cannot drift from monitor/metrics.py, and every metric the operations config uses
exists (or is listed as pending, asked of the lead, in deploy_support.PENDING_METRICS)."""

from __future__ import annotations

import re

import yaml
from deploy_support import (
    DEPLOY,
    METRICS_DOC,
    PENDING_METRICS,
    dashboard_queries,
    family_of,
    metric_catalogue,
    metrics_doc_expected,
    promql_metric_names,
)


def test_catalogue_follows_the_conventions() -> None:
    cat = metric_catalogue()
    assert cat, "monitor.metrics.Metrics declares no metric"
    names = [m.name for m in cat]
    assert len(names) == len(set(names))
    for m in cat:
        assert m.name.startswith("monitor_"), m.name
        assert m.help.strip(), f"{m.name} has no help text (its meaning in docs/metrics.md)"
        if m.type == "histogram":
            assert m.name.endswith(("_seconds", "_bytes")), f"{m.name}: say the unit in the name"
        assert not {"url", "title", "id", "article", "article_id"} & set(m.labels), (
            f"{m.name}: unbounded label {m.labels}"
        )


def test_metrics_doc_table_matches_monitor_metrics() -> None:
    current = METRICS_DOC.read_text(encoding="utf-8")
    expected = metrics_doc_expected(current, metric_catalogue())
    assert current == expected, (
        "docs/metrics.md is out of date with monitor/metrics.py: run "
        "`python tests/deploy/deploy_support.py --write-metrics-doc` and commit docs/metrics.md"
    )


def test_pending_metrics_are_documented() -> None:
    text = METRICS_DOC.read_text(encoding="utf-8")
    declared = {m.name for m in metric_catalogue()}
    for name, desc in PENDING_METRICS.items():
        if name in declared:
            continue  # landed: the generated table covers it
        exposed = f"{name}_total" if desc.startswith("counter") else name
        assert f"`{exposed}`" in text, f"pending metric {exposed} is not described in docs/metrics.md"


def _alert_exprs() -> list[tuple[str, str]]:
    doc = yaml.safe_load((DEPLOY / "prometheus" / "alerts.yml").read_text(encoding="utf-8"))
    return [(r.get("alert") or r.get("record"), r["expr"]) for g in doc["groups"] for r in g["rules"]]


def test_every_metric_used_by_alerts_and_dashboards_exists() -> None:
    cat = metric_catalogue()
    unknown = []
    for where, expr in [*_alert_exprs(), *((q.where(), q.expr) for q in dashboard_queries())]:
        for series in promql_metric_names(expr):
            if family_of(series, cat) is None:
                unknown.append(f"{where}: {series}")
    assert not unknown, "series neither in monitor/metrics.py nor pending:\n" + "\n".join(unknown)


def test_promql_metric_names_ignores_label_values() -> None:
    expr = 'sum by (x) (rate(monitor_a_total{job="monitor_b"}[5m])) / monitor_c'
    assert promql_metric_names(expr) == {"monitor_a_total", "monitor_c"}
    assert re.fullmatch(r"monitor_[a-z_]+", "monitor_fetches_total")
