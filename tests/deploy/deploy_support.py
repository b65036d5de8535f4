"""Shared helpers of the deploy tests: the metric catalogue read from ``monitor.metrics``, PromQL metric
names, dashboard queries, Grafana variable substitution, and finding promtool / prometheus / hadolint.

Also a script: ``python tests/deploy/deploy_support.py --write-metrics-doc`` regenerates the generated
table in ``docs/metrics.md`` after a metric was added to ``monitor/metrics.py``.
"""

from __future__ import annotations

import json
import re
import shutil
import socket
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
DASHBOARDS = DEPLOY / "grafana" / "dashboards"
METRICS_DOC = ROOT / "docs" / "metrics.md"

#: Metrics the alert rules and dashboards use that ``monitor/metrics.py`` does not declare yet (asked of
#: the lead in issue 4). Once declared they are checked like every other metric; until then the queries
#: that use them must still parse but may return nothing.
PENDING_METRICS: dict[str, str] = {}

#: Labelled metrics that a ``monitor run`` on the seed feed necessarily gives a value: it fetches the feed
#: successfully, processes the seed articles, matches rules and raises alerts in one process.
SEED_RUN_LABELLED = {
    "monitor_fetches",
    "monitor_feed_last_success_timestamp_seconds",
    "monitor_feed_last_new_article_timestamp_seconds",
    "monitor_articles_processed",
    "monitor_rule_matches",
    "monitor_alerts_raised",
    "monitor_component_up",
    # sampled from the broker by the process serving the API, for `articles` and `alerts`
    "monitor_consumer_lag",
    "monitor_consumer_committed_offset",
    "monitor_topic_end_offset",
    "monitor_tag_matches",
    # created at zero at start-up (Metrics.initialise): closed sets of channels, outcomes and reasons
    "monitor_feed_parse_errors",
    "monitor_dead_letters",
    "monitor_rules_reloads",
    "monitor_deliveries",
    "monitor_delivery_latency_seconds",
    "monitor_delivery_queue_depth",
    "monitor_delivery_retries",
    "monitor_endpoints_disabled",
}

#: Grafana's built-in interval variables, replaced by fixed values to run a panel query on Prometheus.
GRAFANA_VARIABLES = {"$__rate_interval": "1m", "$__interval": "15s", "$__range": "1h"}

BEGIN = "<!-- BEGIN GENERATED METRICS TABLE"
END = "<!-- END GENERATED METRICS TABLE -->"


@dataclass(frozen=True)
class MetricInfo:
    name: str  # the family name as declared, with namespace, e.g. monitor_fetches
    type: str  # counter, gauge, histogram, summary
    labels: tuple[str, ...]
    help: str
    buckets: tuple[float, ...] = ()

    @property
    def exposed(self) -> str:
        """The name to query: counters gain ``_total``."""
        return f"{self.name}_total" if self.type == "counter" else self.name

    @property
    def series(self) -> set[str]:
        """Every series name prometheus-client exposes for this metric."""
        if self.type == "counter":
            return {f"{self.name}_total", f"{self.name}_created"}
        if self.type == "histogram":
            return {f"{self.name}_{s}" for s in ("bucket", "sum", "count", "created")}
        if self.type == "summary":
            return {self.name, f"{self.name}_sum", f"{self.name}_count", f"{self.name}_created"}
        return {self.name}


def metric_catalogue() -> list[MetricInfo]:
    """Every metric of ``monitor.metrics.Metrics``, in declaration order, from a private registry."""
    from prometheus_client import CollectorRegistry
    from prometheus_client.metrics import MetricWrapperBase

    from monitor.metrics import Metrics

    metrics = Metrics(registry=CollectorRegistry())
    out = []
    for obj in vars(metrics).values():
        if isinstance(obj, MetricWrapperBase):
            bounds = tuple(b for b in getattr(obj, "_upper_bounds", ()) if b != float("inf"))
            out.append(MetricInfo(obj._name, obj._type, tuple(obj._labelnames), obj._documentation, bounds))
    return out


def pending_series() -> dict[str, set[str]]:
    """Series names of the pending metrics (counters by their ``_total`` name)."""
    out = {}
    for name, desc in PENDING_METRICS.items():
        out[name] = {f"{name}_total", f"{name}_created"} if desc.startswith("counter") else {name}
    return out


_METRIC = re.compile(r"(?<![A-Za-z0-9_:])(monitor_[A-Za-z0-9_:]+)")


def promql_metric_names(expr: str) -> set[str]:
    """The monitor_* series names a PromQL expression selects (label values in quotes excluded)."""
    without_strings = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)
    return set(_METRIC.findall(without_strings))


def family_of(series: str, catalogue: list[MetricInfo]) -> str | None:
    for m in catalogue:
        if series in m.series:
            return m.name
    for name, names in pending_series().items():
        if series in names:
            return name
    return None


@dataclass(frozen=True)
class PanelQuery:
    dashboard: str
    panel: str
    ref: str
    expr: str
    legend: str = ""

    def where(self) -> str:
        return f"{self.dashboard} / {self.panel!r} / {self.ref}"


def iter_panels(panels: list[dict]) -> list[dict]:
    out = []
    for p in panels:
        out.append(p)
        out.extend(iter_panels(p.get("panels", [])))
    return out


def dashboards() -> dict[str, dict]:
    return {p.name: json.loads(p.read_text(encoding="utf-8")) for p in sorted(DASHBOARDS.glob("*.json"))}


def dashboard_queries() -> list[PanelQuery]:
    out = []
    for fname, dash in dashboards().items():
        for p in iter_panels(dash.get("panels", [])):
            for t in p.get("targets", []):
                if t.get("expr"):
                    out.append(PanelQuery(fname, p.get("title", "?"), t.get("refId", "?"), t["expr"],
                                          t.get("legendFormat", "")))
    return out


def substitute(expr: str) -> str:
    """Replace Grafana's interval variables; any other ``$variable`` is left for the caller to reject."""
    for var, value in sorted(GRAFANA_VARIABLES.items(), key=lambda kv: -len(kv[0])):
        expr = expr.replace(var, value)
    return expr


def find_program(name: str) -> str | None:
    """A program on PATH or beside this Python (a venv's bin/, where pip-installed binaries land)."""
    found = shutil.which(name)
    if found:
        return found
    beside = Path(sys.executable).parent / name
    return str(beside) if beside.exists() else None


PROMETHEUS_HINT = (
    "install Debian's `prometheus` package (apt-get install -y prometheus), which provides "
    "promtool and prometheus; .ci/run does this"
)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# --- docs/metrics.md ------------------------------------------------------------------------------

def render_metrics_table(catalogue: list[MetricInfo]) -> str:
    rows = [
        f"{BEGIN}: `python tests/deploy/deploy_support.py --write-metrics-doc`; do not edit by hand -->",
        "",
        "| metric | type | labels | meaning |",
        "|---|---|---|---|",
    ]
    for m in catalogue:
        labels = ", ".join(f"`{label}`" for label in m.labels) or "—"
        meaning = m.help.replace("|", "\\|")
        if m.buckets:
            meaning += " Buckets: " + ", ".join(f"{b:g}" for b in m.buckets) + "."
        rows.append(f"| `{m.exposed}` | {m.type} | {labels} | {meaning} |")
    rows += ["", END]
    return "\n".join(rows)


def metrics_doc_expected(current: str, catalogue: list[MetricInfo]) -> str:
    start, end = current.index(BEGIN), current.index(END) + len(END)
    return current[:start] + render_metrics_table(catalogue) + current[end:]


if __name__ == "__main__":
    if sys.argv[1:] == ["--write-metrics-doc"]:
        sys.path.insert(0, str(ROOT))
        text = METRICS_DOC.read_text(encoding="utf-8")
        METRICS_DOC.write_text(metrics_doc_expected(text, metric_catalogue()), encoding="utf-8")
        print(f"wrote {METRICS_DOC.relative_to(ROOT)}")
    else:
        sys.exit("usage: python tests/deploy/deploy_support.py --write-metrics-doc")
