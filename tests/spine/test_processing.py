"""The processor's pure core: decode, match, alert ids, dead letters (no Kafka)."""

from __future__ import annotations

from dataclasses import dataclass, field

import orjson
import pytest
from prometheus_client import CollectorRegistry

from monitor.metrics import Metrics
from monitor.models import Alert, Article, DeadLetter, Match
from monitor.process.core import Processor, Record


@dataclass
class FakeAnalysis:
    lang: str
    matches: list[Match]
    text: str = ""


@dataclass
class KeywordRules:
    """A stand-in rule set at the boundary: one rule that fires on a keyword in the title."""

    keyword: str = "round"
    calls: list[str] = field(default_factory=list)

    def analyse(self, article: Article) -> FakeAnalysis:
        self.calls.append(article.id)
        hit = self.keyword in article.title
        matches = [Match(rule="r1", rule_version="7", tags=("negotiation-round",), severity="high")] if hit else []
        return FakeAnalysis(lang="en", matches=matches)


def rec(value: bytes | None, offset: int = 0) -> Record:
    return Record("articles", 0, offset, b"k", value)


@pytest.fixture
def metrics() -> Metrics:
    return Metrics(registry=CollectorRegistry())


def test_a_match_becomes_an_alert_with_a_deterministic_id(metrics):
    p = Processor(KeywordRules(), metrics=metrics)
    art = Article(id="a1", title="new round of talks", url="https://x.test/1", source="wire")
    out1 = p.process(rec(art.to_json()))
    out2 = p.process(rec(art.to_json(), offset=5))
    assert out1.dead is None and len(out1.alerts) == 1
    alert = out1.alerts[0]
    assert alert.rule == "r1" and alert.tags == ("negotiation-round",) and alert.severity == "high"
    assert alert.article.id == "a1" and alert.article.url == "https://x.test/1"
    assert alert.id == out2.alerts[0].id == Alert.make_id("a1", "r1", "7")
    assert Alert.from_json(alert.to_json()) == alert


def test_no_match_no_alert(metrics):
    out = Processor(KeywordRules(), metrics=metrics).process(rec(Article(id="a2", title="weather").to_json()))
    assert out.alerts == [] and out.dead is None and out.lang == "en"


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        (b"\xff\xfe not json", "invalid_json"),
        (b"[1, 2]", "invalid_article"),
        (b'{"title": "no id"}', "invalid_article"),
        (b'{"schema": 99, "id": "x"}', "unsupported_schema"),
        (b"", "empty_record"),
        (None, "empty_record"),
    ],
)
def test_poison_records_become_dead_letters(metrics, value, reason):
    rules = KeywordRules()
    out = Processor(rules, metrics=metrics).process(rec(value, offset=42))
    assert out.alerts == []
    assert isinstance(out.dead, DeadLetter)
    assert out.dead.reason.startswith(reason)
    assert out.dead.offset == 42 and out.dead.topic == "articles"
    assert rules.calls == []
    doc = orjson.loads(out.dead.to_json())
    assert doc["schema"] == 1 and doc["key"] == "k"


def test_an_exception_in_the_engine_dead_letters_the_article_and_the_next_one_is_processed(metrics):
    class Exploding(KeywordRules):
        def analyse(self, article: Article) -> FakeAnalysis:
            if article.id == "boom":
                raise RuntimeError("engine bug")
            return super().analyse(article)

    p = Processor(Exploding(), metrics=metrics)
    bad = p.process(rec(Article(id="boom", title="round").to_json()))
    good = p.process(rec(Article(id="ok", title="round").to_json()))
    assert bad.dead is not None and "engine bug" in bad.dead.reason
    assert len(good.alerts) == 1


def test_an_outage_of_redis_is_retried_not_dead_lettered(metrics):
    import redis.exceptions

    from monitor.process.core import RetryLater

    class RedisDown(KeywordRules):
        def analyse(self, article: Article) -> FakeAnalysis:
            raise redis.exceptions.ConnectionError("Connection refused")

    with pytest.raises(RetryLater):
        Processor(RedisDown(), metrics=metrics).process(rec(Article(id="a", title="round").to_json()))


async def test_the_loop_retries_the_batch_until_the_dependency_is_back(metrics):
    import redis.exceptions

    from monitor.process.loop import process_with_retry

    class Flaky(KeywordRules):
        failures = 2

        def analyse(self, article: Article) -> FakeAnalysis:
            if self.failures:
                self.failures -= 1
                raise redis.exceptions.ConnectionError("down")
            return super().analyse(article)

    rules = Flaky()
    outcomes = await process_with_retry(Processor(rules, metrics=metrics),
                                         [rec(Article(id="a", title="round").to_json())])
    assert rules.failures == 0
    assert [len(o.alerts) for o in outcomes] == [1] and outcomes[0].dead is None
