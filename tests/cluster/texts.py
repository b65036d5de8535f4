"""Real text for clustering tests: the seed pages and realistic near-copies of them.

Near-copies are what aggregators do to a story: another headline, a dateline, paragraphs in another
order, the site's boilerplate (follow-us lines, copyright, "read also" teasers) added. Also a short
Arabic and English report of one attack, written independently, for event grouping.
"""

from __future__ import annotations

import random
from collections.abc import Callable

BOILERPLATE_AR = [
    "تابعونا على قناتنا في تلغرام وعلى صفحتنا في فيسبوك لمتابعة آخر الأخبار العاجلة",
    "جميع الحقوق محفوظة لموقع الأخبار العربية 2024 ولا يجوز النسخ دون إذن مسبق",
    "اقرأ أيضا: أسعار صرف الدولار في الأسواق المحلية اليوم السبت",
]


def paragraphs(text: str) -> list[str]:
    return [p for p in text.split("\n") if p.strip()]


def another_headline(text: str) -> str:
    return "عاجل | مصادر: تطورات جديدة في ملف انسحاب قوات التحالف الدولي من العراق\n" + text


def reordered(text: str, seed: int = 7) -> str:
    ps = paragraphs(text)
    random.Random(seed).shuffle(ps)
    return "\n\n".join(ps)


def with_boilerplate(text: str) -> str:
    return "بغداد - وكالات\n" + text + "\n" + "\n".join(BOILERPLATE_AR)


def all_edits(text: str) -> str:
    return with_boilerplate(reordered(another_headline(text), seed=3))


NEAR_COPIES: dict[str, Callable[[str], str]] = {
    "another-headline": another_headline,
    "reordered-paragraphs": reordered,
    "added-boilerplate": with_boilerplate,
    "all-three": all_edits,
}


# One attack (Ain al-Asad, 20 January 2024, evening), reported independently in Arabic and English.
ATTACK_AR = """هجوم صاروخي يستهدف قاعدة عين الأسد غربي العراق
تعرضت قاعدة عين الأسد الجوية الواقعة في الأنبار غربي العراق، التي تستضيف قوات أمريكية، لهجوم بعدد من الصواريخ الباليستية مساء السبت، وفق ما أفاد مسؤول أمني عراقي.
وقال المسؤول إن منظومات الدفاع الجوي اعترضت معظم الصواريخ، فيما سقط بعضها داخل القاعدة، مشيرا إلى أن الهجوم أسفر عن إصابة عدد من الجنود الأمريكيين.
وأعلنت فصائل المقاومة الإسلامية في العراق مسؤوليتها عن الهجوم في بيان نشرته على قناتها في تلغرام.
"""

ATTACK_EN = """Missiles hit Ain al-Asad air base in western Iraq
Several ballistic missiles and rockets struck at Ain al-Asad Air Base in Iraq's west late on Saturday, according to a statement from U.S. Central Command.
The base's air defences brought down most of the missiles, while some landed inside. A number of U.S. personnel are being checked for traumatic brain injuries, the statement added.
The Islamic Resistance in Iraq, an umbrella for militias backed by Iran, claimed responsibility for the attack.
"""

# The same day, another base.
ATTACK_HARIR_EN = """Drone attack targets Harir base in Erbil
A drone attack targeted Harir air base north of Erbil in Iraq's Kurdistan region on Saturday, security officials said.
The base hosts U.S.-led coalition troops. There were no immediate reports of casualties or damage, the officials said.
"""

# The next day, Ain al-Asad again.
ATTACK_AR_NEXT_DAY = """قصف جديد على قاعدة عين الأسد
أفادت مصادر أمنية عراقية بأن قاعدة عين الأسد الجوية تعرضت صباح الإثنين لهجوم جديد بطائرتين مسيرتين، من دون أن تسفر عن خسائر بشرية.
وهذا هو الهجوم الثاني على القاعدة خلال ثلاثة أيام، بعد الهجوم الصاروخي الذي استهدفها مساء السبت.
"""
