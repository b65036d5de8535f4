"""The processor's pure core: one ``articles`` record in, alerts or a dead letter out.

``Processor.process(record)`` decodes the record into an ``Article`` (a bad record becomes a
``DeadLetter`` with a short reason and the processor carries on), runs the rule set's text pipeline and
matcher, and turns each match into an ``Alert`` with a deterministic id (article id + rule id + rule
version), so reprocessing a record after a crash produces the same alerts and the alerter's dedup log
drops the repeats. When an event grouper is attached (``monitor.cluster``), it decides per match whether
the article raises a new alert, an update of an existing event, or nothing.

No Kafka and no I/O here: the consume loop (``monitor.process.loop``) feeds records and sends what
comes back, and tests call ``process`` directly.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from contextlib import nullcontext
from dataclasses import dataclass, field
from typing import Any, Protocol

import orjson
from pydantic import ValidationError

from monitor.metrics import METRICS, Metrics
from monitor.models import SCHEMA_VERSION, Alert, Article, DeadLetter, Match
from monitor.retry import InfrastructureError, is_infrastructure

log = logging.getLogger(__name__)

MAX_DEAD_PAYLOAD = 1_000_000
LANG_LABELS = frozenset({"ar", "en", "fa"})  # metric label values stay bounded


class AnalysisLike(Protocol):
    lang: str
    matches: list[Match]
    text: str


class RuleSetLike(Protocol):
    def analyse(self, article: Article) -> AnalysisLike: ...


#: Decides what an analysed article's matches become: the alerts to raise (none, new ones or updates).
AlertPolicy = Callable[[Article, AnalysisLike, Any], list[Alert]]


@dataclass(frozen=True)
class Record:
    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None


@dataclass
class Processed:
    alerts: list[Alert] = field(default_factory=list)
    dead: DeadLetter | None = None
    lang: str = ""


class RetryLater(InfrastructureError):
    """State the processor needs (Redis) is unavailable: the record is fine, retry it later.

    Retryable: the agent pauses and processes the batch again; the record is never dead-lettered.
    Which errors count as the infrastructure's rather than the record's is ``monitor.retry``'s call.
    """


def dead_letter(record: Record, reason: str) -> DeadLetter:
    payload = (record.value or b"")[:MAX_DEAD_PAYLOAD].decode("utf-8", errors="replace")
    key = record.key.decode("utf-8", errors="replace") if record.key is not None else None
    return DeadLetter(
        topic=record.topic, partition=record.partition, offset=record.offset, key=key, reason=reason,
        payload=payload,
    )


def decode_article(value: bytes | None) -> Article:
    """Raise ``ValueError`` with a short reason code as its first argument."""
    if not value:
        raise ValueError("empty_record", "the record has no value")
    try:
        doc: Any = orjson.loads(value)
    except orjson.JSONDecodeError as exc:
        raise ValueError("invalid_json", str(exc)) from exc
    if not isinstance(doc, dict):
        raise ValueError("invalid_article", f"expected a JSON object, got {type(doc).__name__}")
    version = doc.get("schema", SCHEMA_VERSION)
    if version != SCHEMA_VERSION:
        raise ValueError("unsupported_schema", f"schema {version!r}, this worker reads {SCHEMA_VERSION}")
    try:
        return Article.model_validate(doc)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ()))
        raise ValueError("invalid_article", f"{where}: {first.get('msg')}") from exc


def one_alert_per_match(article: Article, analysis: AnalysisLike, rules: Any = None) -> list[Alert]:
    return [Alert.from_match(article, m, lang=analysis.lang) for m in analysis.matches]


class Processor:
    def __init__(
        self, rules: RuleSetLike, *, metrics: Metrics = METRICS, policy: AlertPolicy = one_alert_per_match
    ) -> None:
        self.rules = rules
        self.metrics = metrics
        self.policy = policy
        #: labelled metric children by (metric, label values): ``labels()`` once per series, not per article
        self._series: dict[tuple[Any, tuple[str, ...]], Any] = {}

    def set_rules(self, rules: RuleSetLike) -> None:
        self.rules = rules

    def process(self, record: Record) -> Processed:
        return self.process_batch([record])[0]

    def process_batch(self, records: Sequence[Record]) -> list[Processed]:
        """``process`` of each record, in order, with the same results; a policy with ``prepare`` and
        ``batch`` (``EventAlerts``) reads the state the batch needs ahead and writes it at the end.
        Raises ``RetryLater`` for the whole batch when the infrastructure fails."""
        out: list[Processed | None] = [None] * len(records)
        analysed: list[tuple[int, Article, AnalysisLike, float]] = []
        for i, record in enumerate(records):
            try:
                article = decode_article(record.value)
            except ValueError as exc:
                reason, detail = exc.args[0], exc.args[1] if len(exc.args) > 1 else ""
                self.metrics.dead_letters.labels(record.topic, reason).inc()
                log.warning("dead-letter %s[%d]@%d: %s: %s", record.topic, record.partition, record.offset,
                            reason, detail)
                out[i] = Processed(dead=dead_letter(record, f"{reason}: {detail}"))
                continue
            started = time.perf_counter()
            try:
                analysis = self.rules.analyse(article)
            except Exception as exc:
                out[i] = self._failed(record, article, exc)
                continue
            analysed.append((i, article, analysis, time.perf_counter() - started))
        rules = self.rules
        prepare = getattr(self.policy, "prepare", None)
        batch = getattr(self.policy, "batch", None)
        try:
            with batch() if batch is not None else nullcontext():
                if prepare is not None and analysed:
                    try:
                        prepare([(a, an, rules) for _, a, an, _ in analysed])
                    except Exception as exc:  # reading ahead only saves round trips: go on without it
                        if is_infrastructure(exc):
                            raise
                        log.exception("reading the batch's state ahead failed; one article at a time")
                for i, article, analysis, took in analysed:
                    started = time.perf_counter()
                    try:
                        alerts = self.policy(article, analysis, rules)
                    except Exception as exc:
                        out[i] = self._failed(records[i], article, exc)
                        continue
                    self.metrics.process_seconds.observe(took + time.perf_counter() - started)
                    out[i] = self._done(analysis, alerts)
        except RetryLater:
            raise
        except Exception as exc:
            if is_infrastructure(exc):
                raise RetryLater(f"{type(exc).__name__}: {exc}") from exc
            raise
        done = [p for p in out if p is not None]
        if len(done) != len(records):
            raise RuntimeError("a record of the batch got no result")  # a bug here, not in the record
        return done

    def _failed(self, record: Record, article: Article, exc: Exception) -> Processed:
        """The boundary: one bad article must never stop the stream (but a failing Redis does)."""
        if is_infrastructure(exc):
            raise RetryLater(f"{type(exc).__name__}: {exc}") from exc
        log.exception("processing failed", extra={"article_id": article.id})
        self.metrics.dead_letters.labels(record.topic, "processing_error").inc()
        return Processed(dead=dead_letter(record, f"processing_error: {type(exc).__name__}: {exc}"))

    def _series_of(self, metric: Any, *labels: str) -> Any:
        """``metric.labels(*labels)``, looked up once per series (the children are long-lived: nothing
        removes a series of these metrics)."""
        key = (metric, labels)
        child = self._series.get(key)
        if child is None:
            child = self._series[key] = metric.labels(*labels)
        return child

    def _done(self, analysis: AnalysisLike, alerts: list[Alert]) -> Processed:
        lang = analysis.lang if analysis.lang in LANG_LABELS else ("unknown" if not analysis.lang else "other")
        series = self._series_of
        metrics = self.metrics
        series(metrics.articles_processed, lang).inc()
        for m in analysis.matches:
            series(metrics.matches, m.rule, lang).inc()
            for tag in m.tags:
                series(metrics.tag_matches, tag, lang).inc()
        for a in alerts:
            series(metrics.alerts_raised, a.rule, a.kind).inc()
        return Processed(alerts=alerts, lang=analysis.lang)
