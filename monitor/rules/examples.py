"""Rule authors' regression tests: run each rule's positive and negative examples (as in Sigma).

``run_examples(ruleset)`` evaluates every example of every rule (disabled rules too) with that rule
alone, through the same pipeline as the stream, and returns one ``ExampleResult`` per example. A string
example is the article's ``content``; a mapping gives ``title``, ``summary``, ``content``, ``source``,
``tags``, ``lang``.
"""

from __future__ import annotations

from dataclasses import dataclass

from monitor.models import Article
from monitor.rules.engine import RuleSet
from monitor.rules.schema import Example, ExampleArticle


@dataclass(frozen=True)
class ExampleResult:
    rule: str
    kind: str  # "positive" | "negative"
    index: int
    passed: bool
    article: Article

    @property
    def excerpt(self) -> str:
        text = " ".join(f"{self.article.title} {self.article.content}".split())
        return text if len(text) <= 120 else text[:117] + "…"


def example_article(ex: Example, rule_id: str, kind: str, index: int) -> Article:
    aid = f"{rule_id}:{kind}:{index}"
    if isinstance(ex, str):
        return Article(id=aid, content=ex)
    assert isinstance(ex, ExampleArticle)
    return Article(id=aid, title=ex.title, summary=ex.summary, content=ex.content, source=ex.source,
                   tags=tuple(ex.tags), lang=ex.lang)


def run_examples(ruleset: RuleSet) -> list[ExampleResult]:
    out = []
    for rule in ruleset.rules:
        if rule.examples is None:
            continue
        only = frozenset({rule.id})
        for kind, items in (("positive", rule.examples.positive), ("negative", rule.examples.negative)):
            for i, ex in enumerate(items):
                article = example_article(ex, rule.id, kind, i)
                matched = any(m.rule == rule.id for m in ruleset.analyse(article, only=only).matches)
                out.append(ExampleResult(rule.id, kind, i, matched == (kind == "positive"), article))
    return out
