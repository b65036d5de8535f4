"""The pure step of the archiver: an ``Article`` in, the ``ArchivedArticle`` to store out.

It runs ``RuleSet.analyse`` (the stream's own engine: boilerplate trimming, normalisation, language
detection, the compiled matcher), so the archive records what the processor learned about the article
with the rules in force when the archiver read it. No I/O; the writer calls it off the event loop.
"""

from __future__ import annotations

from datetime import datetime

from monitor.archive.model import ArchivedArticle
from monitor.models import Article, utcnow
from monitor.rules import RuleSet


def analyse_for_archive(article: Article, rules: RuleSet | None, *, now: datetime | None = None) -> ArchivedArticle:
    if rules is None:
        return ArchivedArticle(article=article, lang=article.lang, archived_at=now or utcnow())
    analysis = rules.analyse(article)
    return ArchivedArticle(
        article=article, lang=analysis.lang, archived_at=now or utcnow(), matches=tuple(analysis.matches)
    )
