"""The harness's articles: deterministic, bilingual, unique, with planted markers.

``build_corpus(n, feeds, seed)`` returns ``n`` articles spread round-robin over ``feeds`` feeds. Each is
built from one of several English or Arabic templates with random slot fillers and a serial phrase, so no
two articles are near-copies (a clustering stage must not fold them together). A known share carries the
marker words the harness rules (``chaos/rules``) look for: ``zephyrquake``/``زفيركويك`` (rule
``chaos-alpha``) and ``moonbridge``/``جسرقمري`` (``chaos-beta``); some carry decoys that must not match
(``zephyr``, ``bridge``). ``planted`` records what the generator intended; the checker's expected alerts
come from ``monitor match`` on ``jsonl()``, and the two are compared as a sanity check of the matcher.

Ids are guids of the form ``urn:chaos:<run>:<feed>:<n>``: a URI guid is the canonical article id as is
(``monitor.ingest.parse.entry_id``), so the harness knows every article id without parsing its own feeds.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from xml.sax.saxutils import escape

import orjson

ALPHA = {"en": "zephyrquake", "ar": "زفيركويك"}
BETA = {"en": "moonbridge", "ar": "جسرقمري"}

EN_PLACES = ["Harbor City", "Northfield", "the river delta", "Eastgate", "the old quarter", "Lakeside",
             "the capital", "Westmoor", "the border town", "Pine Valley", "the coastal road", "Redhill"]
EN_ACTORS = ["officials", "residents", "the council", "engineers", "a spokesperson", "farmers",
             "the ministry", "local traders", "teachers", "volunteers", "the mayor", "analysts"]
EN_VERBS = ["reported", "described", "discussed", "warned about", "celebrated", "questioned",
            "documented", "reviewed", "welcomed", "criticised"]
EN_OBJECTS = ["a new market", "the harvest", "road repairs", "a water project", "school exams",
              "a football match", "power cuts", "the budget", "a film festival", "rising prices"]
AR_PLACES = ["المدينة الساحلية", "القرية الشمالية", "وادي النخيل", "الحي القديم", "العاصمة",
             "البلدة الحدودية", "الضفة الشرقية", "سهل الزيتون", "المرفأ", "الجبل الأخضر"]
AR_ACTORS = ["المسؤولون", "السكان", "المجلس البلدي", "المهندسون", "متحدث رسمي", "المزارعون",
             "الوزارة", "التجار", "المعلمون", "المتطوعون"]
AR_VERBS = ["أعلن", "ناقش", "حذر من", "احتفل", "انتقد", "راجع", "رحب", "وثق"]
AR_OBJECTS = ["سوقا جديدا", "موسم الحصاد", "إصلاح الطرق", "مشروع المياه", "امتحانات المدارس",
              "مباراة كرة القدم", "انقطاع الكهرباء", "الميزانية", "مهرجان الأفلام", "ارتفاع الأسعار"]
EN_WORDS = ["amber", "basalt", "cobalt", "dune", "ember", "fjord", "garnet", "heron", "indigo", "jasper",
            "kestrel", "lichen", "marble", "nectar", "onyx", "pollen", "quartz", "raven", "sable",
            "thistle", "umber", "violet", "willow", "yarrow"]
AR_WORDS = ["عنبر", "بازلت", "كوبالت", "كثيب", "جمرة", "مضيق", "عقيق", "مالك", "نيلي", "يشب", "صقر",
            "طحلب", "رخام", "رحيق", "جزع", "لقاح", "مرو", "غراب", "سمور", "شوك", "صفصاف", "بنفسج"]

EN_TEMPLATES = [
    "{actor} in {place} {verb} {obj}{marker}",
    "{place}: {actor} {verb} {obj} on day {serial}{marker}",
    "Report {serial} — {actor} {verb} {obj} near {place}{marker}",
    "Why {actor} {verb} {obj} in {place}{marker}",
]
AR_TEMPLATES = [
    "{actor} في {place} {verb} {obj}{marker}",
    "{place}: {verb} {actor} {obj} في اليوم {serial}{marker}",
    "تقرير {serial} — {actor} {verb} {obj} قرب {place}{marker}",
]


@dataclass(frozen=True)
class CorpusArticle:
    id: str
    feed: int
    seq: int  # release order over the whole corpus
    lang: str
    title: str
    summary: str
    published: datetime
    planted: tuple[str, ...] = field(default=())  # rule ids the generator meant to trigger

    def json_line(self) -> bytes:
        return orjson.dumps({"id": self.id, "title": self.title, "summary": self.summary, "content": ""})

    def rss_item(self) -> str:
        return (
            f"<item><guid isPermaLink=\"false\">{escape(self.id)}</guid>"
            f"<title>{escape(self.title)}</title>"
            f"<link>http://127.0.0.1/a/{escape(self.id.rsplit(':', 2)[-2])}/{self.seq}</link>"
            f"<description>{escape(self.summary)}</description>"
            f"<pubDate>{format_datetime(self.published)}</pubDate></item>"
        )


def _marker(rng: random.Random, lang: str) -> tuple[str, tuple[str, ...]]:
    """A marker phrase to append (in title or summary) and the rules it should trigger."""
    r = rng.random()
    if r < 0.10:
        return ALPHA[lang], ("chaos-alpha",)
    if r < 0.15:
        return BETA[lang], ("chaos-beta",)
    if r < 0.17:
        return f"{ALPHA[lang]} {BETA[lang]}", ("chaos-alpha", "chaos-beta")
    if r < 0.22:  # decoys: near the markers, must not match
        return ("zephyr quake" if lang == "en" else "زفير كويك"), ()
    return "", ()


def build_corpus(n: int, feeds: int, seed: int = 7, run: str = "r") -> list[CorpusArticle]:
    rng = random.Random(seed)
    base = datetime(2026, 1, 1, tzinfo=UTC)
    out: list[CorpusArticle] = []
    for i in range(n):
        feed = i % feeds
        lang = "ar" if rng.random() < 0.5 else "en"
        marker, planted = _marker(rng, lang)
        words = EN_WORDS if lang == "en" else AR_WORDS
        serial = " ".join(rng.choice(words) for _ in range(3)) + f" {i}"
        slots = {
            "actor": rng.choice(EN_ACTORS if lang == "en" else AR_ACTORS),
            "place": rng.choice(EN_PLACES if lang == "en" else AR_PLACES),
            "verb": rng.choice(EN_VERBS if lang == "en" else AR_VERBS),
            "obj": rng.choice(EN_OBJECTS if lang == "en" else AR_OBJECTS),
            "serial": serial,
        }
        in_title = rng.random() < 0.5
        tmpl = rng.choice(EN_TEMPLATES if lang == "en" else AR_TEMPLATES)
        title = tmpl.format(**slots, marker=(f" — {marker}" if marker and in_title else ""))
        filler = " ".join(rng.choice(words) for _ in range(12))
        if lang == "en":
            summary = f"{slots['actor'].capitalize()} said on record {serial} that {filler}."
        else:
            summary = f"قال {slots['actor']} في السجل {serial} إن {filler}."
        if marker and not in_title:
            summary += f" {marker}."
        if rng.random() < 0.05:
            summary += " Fish & chips <cheap> \"quoted\" 'single'."  # escaping through XML and HTML
        out.append(CorpusArticle(
            id=f"urn:chaos:{run}:{feed}:{i}", feed=feed, seq=i, lang=lang, title=title, summary=summary,
            published=base + timedelta(seconds=i), planted=planted,
        ))
    return out


def render_rss(feed: int, items: list[CorpusArticle]) -> bytes:
    """An RSS 2.0 document, newest first, as feeds list their items."""
    body = "".join(a.rss_item() for a in sorted(items, key=lambda a: a.seq, reverse=True))
    return (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
        f"<title>chaos feed {feed}</title><link>http://127.0.0.1/</link><description>harness</description>"
        f"{body}</channel></rss>"
    ).encode()
