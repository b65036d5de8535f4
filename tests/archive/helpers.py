"""Archived articles for tests, built by hand (the store tests do not depend on the shipped rules)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from monitor.archive.model import ArchivedArticle
from monitor.models import Article, Evidence, Match

T0 = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


def item(aid: str, title: str, content: str = "", *, lang: str = "ar", source: str = "s1", hours: float = 0,
         rules: tuple[str, ...] = (), tags: tuple[str, ...] = (), entities: dict[str, tuple[str, ...]] | None = None,
         archived: datetime | None = None) -> ArchivedArticle:
    published = T0 + timedelta(hours=hours)
    matches = tuple(
        Match(rule=r, rule_version="v1", title=r, tags=("attack",), entities=entities or {},
              evidence=(Evidence(term="x", matched=title[:3], field="title", start=0, end=3),))
        for r in rules
    )
    return ArchivedArticle(
        article=Article(id=aid, title=title, content=content, source=source, published=published, tags=tags,
                        url=f"https://example.invalid/{aid}"),
        lang=lang, archived_at=archived or published, matches=matches,
    )


CORPUS = [
    item("ar-1", "هجوم بطائرة مسيرة على قاعدة عين الأسد", "استهدف هجوم القاعدة التي تستضيف قوات أمريكية.",
         rules=("attack-on-base.generic",), entities={"bases": ("ain-al-asad",)}, hours=1),
    item("ar-2", "صواريخ تسقط قرب والقاعدة الجوية", "سقطت ثلاثة صواريخ بالقاعدة فجر اليوم.", source="s2", hours=2),
    item("ar-3", "إصابة قاعدتين عسكريتين", "أعلنت الوزارة أن القاعدتين تعرضتا لهجوم.", hours=3),
    item("ar-4", "الرئيس يستقبل وفدا امريكيا", "بحث الرئيس مع الوفد الأميركي العلاقات.", hours=4, tags=("politics",)),
    item("en-1", "Rocket attack on Ain al-Asad BASE", "Three rockets hit the base hosting US troops.", lang="en",
         rules=("attack-on-base.generic",), source="wire", hours=5),
    item("en-2", "Talks resume in Muscat", "Negotiators met for a new round of talks.", lang="en", source="wire",
         hours=6, rules=("negotiation-round.talks-held",)),
    item("en-3", "Bases across the region on alert", "Several bases raised their alert level.", lang="en",
         source="s1", hours=7),
]
