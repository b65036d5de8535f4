"""Every Prometheus metric of monitor, in one place.

Namespace ``monitor``; durations in seconds; label values come from small closed sets (outcome names,
channel names, configured feed names, rule ids, languages) — never URLs, titles or article ids. Tests
can build a private ``Metrics(registry=CollectorRegistry())``; the process uses ``METRICS``.

The catalogue with meanings is in ``docs/metrics.md``; keep the two in step.
"""

from __future__ import annotations

from typing import Any

from prometheus_client import REGISTRY as DEFAULT_REGISTRY
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

NS = "monitor"
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300)
FETCH_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 30, 60)
BYTES_BUCKETS = (1e3, 1e4, 6e4, 2.5e5, 1e6, 4e6, 1e7)


#: the closed label sets, created at zero when a process starts (``Metrics.initialise``) so every dashboard
#: panel shows data or an explicit zero on a fresh install instead of "no data"
DELIVERY_CHANNELS = ("redis", "webhook", "email", "chat")  # monitor.alerting.channels.CHANNELS
DELIVERY_OUTCOMES = ("ok", "retry", "failed", "dropped")
FETCH_OUTCOMES = ("ok", "not_modified", "error", "throttled", "skipped")
PARSE_REASONS = ("bozo_no_entries", "recursion", "not_a_sitemap", "not_a_preview")
ARTICLE_DEAD_REASONS = ("empty_record", "invalid_json", "invalid_article", "unsupported_schema", "processing_error")
ALERT_DEAD_REASONS = ("invalid_json", "invalid_alert", "handler_error")
LANGS = ("ar", "en", "fa", "other", "unknown")
RELOAD_OUTCOMES = ("ok", "error")

#: distinct rule ids that get series of their own in the per-rule metrics; later ones count as ``_other``
RULE_LABELS = 200
OTHER_RULE = "_other"


class _RuleCounter(Counter):
    """A counter whose first label is a rule id, capped: past ``Metrics.rule_labels`` distinct rule ids, new
    ones are counted under ``rule="_other"``, so 10,000 rules cannot make 10,000 x languages series."""

    _owner: Metrics | None = None

    def labels(self, *labelvalues: Any, **labelkwargs: Any) -> Any:
        owner = self._owner
        if owner is not None:
            if labelvalues:
                labelvalues = (owner.rule_label(str(labelvalues[0])), *labelvalues[1:])
            elif "rule" in labelkwargs:
                labelkwargs["rule"] = owner.rule_label(str(labelkwargs["rule"]))
        return super().labels(*labelvalues, **labelkwargs)


class Metrics:
    def initialise(self, *, articles_topic: str = "articles", alerts_topic: str = "alerts") -> None:
        """Create every series of a closed label set at zero (as Prometheus advises for known labels), so
        a fresh process exports them before anything happened. Idempotent; counts are not touched."""
        for outcome in FETCH_OUTCOMES:
            self.fetches.labels(outcome)
        for reason in PARSE_REASONS:
            self.parse_errors.labels(reason)
        for lang in LANGS:
            self.articles_processed.labels(lang)
        for reason in ARTICLE_DEAD_REASONS:
            self.dead_letters.labels(articles_topic, reason)
        for reason in ALERT_DEAD_REASONS:
            self.dead_letters.labels(alerts_topic, reason)
        for outcome in RELOAD_OUTCOMES:
            self.rules_reloads.labels(outcome)
        for channel in DELIVERY_CHANNELS:
            for outcome in DELIVERY_OUTCOMES:
                self.deliveries.labels(channel, outcome)
            self.delivery_seconds.labels(channel)
            self.delivery_retries.labels(channel)
            self.delivery_queue.labels(channel)
            self.endpoints_disabled.labels(channel)

    def rule_label(self, rule: str) -> str:
        """The ``rule`` label value for ``rule``: itself while under the cap (or already seen), else _other."""
        if rule in self._rules:
            return rule
        if len(self._rules) < self.rule_labels:
            self._rules.add(rule)
            return rule
        return OTHER_RULE

    def __init__(self, registry: CollectorRegistry = DEFAULT_REGISTRY, *, rule_labels: int = RULE_LABELS) -> None:
        r = registry
        self.registry = r
        self.rule_labels = rule_labels  # MONITOR_METRICS_RULE_LABELS sets it at start-up
        self._rules: set[str] = set()
        # --- ingest ---------------------------------------------------------------------------
        self.fetches = Counter(
            "fetches", "Feed fetches by outcome (ok, not_modified, error, throttled, skipped).",
            ["outcome"], namespace=NS, registry=r,
        )
        self.fetch_seconds = Histogram(
            "fetch_duration_seconds", "Wall time of one feed fetch, request to parsed.",
            namespace=NS, registry=r, buckets=FETCH_BUCKETS,
        )
        self.fetch_bytes = Counter(
            "fetch_bytes", "Body bytes received from feeds, after decompression.", namespace=NS, registry=r,
        )
        self.parse_errors = Counter(
            "feed_parse_errors", "Feeds that could not be used, by reason.", ["reason"],
            namespace=NS, registry=r,
        )
        self.articles_new = Counter(
            "articles_new", "Articles published to Kafka for the first time.", namespace=NS, registry=r,
        )
        self.articles_duplicate = Counter(
            "articles_duplicate", "Feed entries skipped because their id was already seen.",
            namespace=NS, registry=r,
        )
        self.feed_last_success = Gauge(
            "feed_last_success_timestamp_seconds",
            "Unix time of each configured feed's last successful fetch (alert on time() - this).",
            ["feed"], namespace=NS, registry=r,
        )
        self.feed_last_new_article = Gauge(
            "feed_last_new_article_timestamp_seconds",
            "Unix time of each feed's last poll that published a new article (alert on time() - this: a "
            "feed that fetches fine but has published nothing new for long is broken or abandoned; unset "
            "until the feed's first new article).",
            ["feed"], namespace=NS, registry=r,
        )
        self.feeds_configured = Gauge(
            "feeds_configured", "Enabled feeds in the feeds file.", namespace=NS, registry=r,
        )
        self.source_polls = Counter(
            "source_polls", "Polls of sources other than RSS/Atom feeds, by kind (telegram, sitemap) and "
            "outcome (ok, not_modified, throttled, error).", ["kind", "outcome"], namespace=NS, registry=r,
        )
        self.source_articles = Counter(
            "source_articles", "New articles published from sources other than polled RSS/Atom feeds, by "
            "kind (telegram, sitemap, websub).", ["kind"], namespace=NS, registry=r,
        )
        self.websub_events = Counter(
            "websub_events", "WebSub subscriptions and pushes by event (subscribe_requested, "
            "subscribe_failed, verified, denied, unknown_topic, push, bad_signature).",
            ["event"], namespace=NS, registry=r,
        )
        # --- processing -------------------------------------------------------------------------
        self.articles_processed = Counter(
            "articles_processed", "Articles the processor matched, by detected language.", ["lang"],
            namespace=NS, registry=r,
        )
        self.process_seconds = Histogram(
            "process_duration_seconds", "Text pipeline and matcher time per article.",
            namespace=NS, registry=r, buckets=LATENCY_BUCKETS,
        )
        self.matches = _RuleCounter(
            "rule_matches", "Rule matches by rule and article language.", ["rule", "lang"],
            namespace=NS, registry=r,
        )
        self.tag_matches = Counter(
            "tag_matches", "Rule matches by rule tag and article language (once per tag of the rule).",
            ["tag", "lang"], namespace=NS, registry=r,
        )
        self.alerts_raised = _RuleCounter(
            "alerts_raised", "Alerts produced to the alerts topic, by rule and kind (new, update).",
            ["rule", "kind"], namespace=NS, registry=r,
        )
        self.dead_letters = Counter(
            "dead_letters", "Records routed to the dead-letter topic, by source topic and reason.",
            ["topic", "reason"], namespace=NS, registry=r,
        )
        self.rules_loaded = Gauge(
            "rules_loaded", "Enabled rules in the running rule set.", namespace=NS, registry=r,
        )
        self.rules_reloads = Counter(
            "rules_reloads", "Rule reload attempts by outcome (ok, error).", ["outcome"],
            namespace=NS, registry=r,
        )
        self.copy_groups = Counter(
            "copy_group_joins", "Articles that joined an existing near-duplicate copy group.",
            namespace=NS, registry=r,
        )
        self.event_decisions = _RuleCounter(
            "event_decisions", "What rule-set matches became: new, update, suppress (a copy), pending "
            "(waiting for min_sources).", ["rule", "kind"], namespace=NS, registry=r,
        )
        # --- alerting / delivery ----------------------------------------------------------------
        self.alerts_received = Counter(
            "alerts_received",
            "Alerts consumed by the alerter, once each when their effects are done (stored, routed, enqueued).", namespace=NS, registry=r,
        )
        self.deliveries = Counter(
            "deliveries", "Delivery attempts by channel and outcome (ok, retry, failed, dropped).",
            ["channel", "outcome"], namespace=NS, registry=r,
        )
        self.delivery_seconds = Histogram(
            "delivery_latency_seconds", "Article first seen by the poller to alert delivered, by channel.",
            ["channel"], namespace=NS, registry=r, buckets=LATENCY_BUCKETS,
        )
        self.delivery_retries = Counter(
            "delivery_retries", "Deliveries scheduled for another attempt, by channel.", ["channel"],
            namespace=NS, registry=r,
        )
        self.delivery_queue = Gauge(
            "delivery_queue_depth", "Deliveries waiting (due or scheduled), by channel.", ["channel"],
            namespace=NS, registry=r,
        )
        self.endpoints_disabled = Gauge(
            "endpoints_disabled", "Subscriptions disabled after continuous delivery failure, by channel.",
            ["channel"], namespace=NS, registry=r,
        )
        self.alerts_silenced = Counter(
            "alerts_silenced", "Alerts recorded but not delivered because a silence matched.",
            namespace=NS, registry=r,
        )
        self.alerts_deduplicated = Counter(
            "alerts_deduplicated", "Deliveries skipped because the notification log had them.",
            namespace=NS, registry=r,
        )
        # --- Kafka consumer progress (sampled by the API process) ------------------------------
        self.consumer_lag = Gauge(
            "consumer_lag", "Records not yet committed by a consumer group, summed over partitions.",
            ["group", "topic"], namespace=NS, registry=r,
        )
        self.consumer_committed = Gauge(
            "consumer_committed_offset", "Committed offsets of a consumer group, summed over partitions.",
            ["group", "topic"], namespace=NS, registry=r,
        )
        self.topic_end_offset = Gauge(
            "topic_end_offset", "Log end offsets of a topic, summed over partitions.", ["topic"],
            namespace=NS, registry=r,
        )
        # --- process --------------------------------------------------------------------------
        self.journal_articles = Gauge(
            "journal_articles", "Articles the embedded default holds in its Redis journal until every stage has "
            "acknowledged them (0 with a real Kafka cluster); one that only grows means a stage stopped.",
            namespace=NS, registry=r,
        )
        self.up = Gauge(
            "component_up", "1 while a component (poller, worker, alerter, api) runs in this process.",
            ["component"], namespace=NS, registry=r,
        )
        # --- volume ---------------------------------------------------------------------------
        self.volume_alerts = _RuleCounter(
            "volume_alerts", "Alerts raised by volume rules (frequency, spike), by rule and kind.",
            ["rule", "kind"], namespace=NS, registry=r,
        )
        for c in (self.matches, self.alerts_raised, self.event_decisions, self.volume_alerts):
            c._owner = self
        # --- archive --------------------------------------------------------------------------
        self.archive_articles = Counter(
            "archive_articles", "Articles the archiver read: stored, repeat (already archived), invalid (not an article), "
            "unanalysed (the engine failed on it: stored without matches).",
            ["result"], namespace=NS, registry=r,
        )
        self.archive_pruned = Counter(
            "archive_pruned_articles", "Articles dropped from the archive after MONITOR_ARCHIVE_DAYS.",
            namespace=NS, registry=r,
        )
        self.archive_search_seconds = Histogram(
            "archive_search_seconds", "Time to answer one archive search (API or console).",
            namespace=NS, registry=r, buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5),
        )


METRICS = Metrics()
