"""The labelled corpus of the shipped rule sets, and precision/recall of the rules on it.

``tests/data/labelled/<tag>.jsonl`` holds one article per line: ``id``, ``lang`` (ar|en), ``split``
(tune|holdout|holdout2), ``title``, ``content``, ``label`` (does the article carry the tag?) and ``note``
(why, which trap). The holdout split was written before any rule existed; holdout2 was written later,
after a first look at holdout, and committed before the rules were run on it. Neither is for tuning.

Run ``python -m tests.shipped.corpus`` for the figures per tag, language and split, and the tune-split
errors (``--show-holdout`` lists holdout errors too: only once tuning is over).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from monitor.models import Article

ROOT = Path(__file__).resolve().parents[2]
LABELLED = ROOT / "tests" / "data" / "labelled"
RULES = ROOT / "rules"
SEEDS = ROOT / "seeds"
MAIN_TAGS = ("attack-on-base", "negotiation-round")
EXTRA_TAGS = ("coalition-withdrawal", "ceasefire", "strike-on-armed-groups")
BLIND3 = "blind3-"  # file prefix of the third blind set (main tags only)


@dataclass(frozen=True)
class Item:
    id: str
    lang: str
    split: str
    title: str
    content: str
    label: bool
    note: str

    def article(self) -> Article:
        return Article(id=self.id, title=self.title, content=self.content, lang=self.lang)


def load(tag: str, prefix: str = "") -> list[Item]:
    """The labelled items of ``tag``; ``prefix="blind3-"`` reads the separate blind set
    (``blind3-<tag>.jsonl``, split ``blind3``: written and committed before any rule was run on it)."""
    path = LABELLED / f"{prefix}{tag}.jsonl"
    items = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            d = json.loads(line)
            items.append(Item(d["id"], d["lang"], d["split"], d["title"], d["content"], d["label"], d["note"]))
    return items


def seed_article(path: Path) -> Article:
    """A seed page as the seed feed delivers it (``seeds/build_feed.py``): the first real line as title,
    the first paragraph as summary, the whole page as content."""
    text = path.read_text(encoding="utf-8")
    lines = [ln.replace("[ad_1]", "").strip() for ln in text.splitlines()]
    title = next((ln for ln in lines if len(ln) > 20), "")
    summary = next((ln for ln in lines if len(ln) > 40), "")[:400]
    return Article(id=f"seed:{path.stem}", title=title[:160], summary=summary, content=text)


@dataclass(frozen=True)
class Score:
    tp: int
    fp: int
    fn: int
    tn: int

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 1.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 1.0

    def __str__(self) -> str:
        n = self.tp + self.fp + self.fn + self.tn
        return f"P={self.precision:.3f} R={self.recall:.3f} (tp={self.tp} fp={self.fp} fn={self.fn} tn={self.tn}, n={n})"


def tags_of(ruleset, article: Article) -> set[str]:  # type: ignore[no-untyped-def]
    return {t for m in ruleset.match(article) for t in m.tags}


def predictions(ruleset, tag: str, items: Iterable[Item]) -> Iterator[tuple[Item, bool]]:  # type: ignore[no-untyped-def]
    for it in items:
        yield it, tag in tags_of(ruleset, it.article())


def score(pairs: Iterable[tuple[Item, bool]]) -> Score:
    tp = fp = fn = tn = 0
    for it, pred in pairs:
        if pred and it.label:
            tp += 1
        elif pred:
            fp += 1
        elif it.label:
            fn += 1
        else:
            tn += 1
    return Score(tp, fp, fn, tn)


def main(argv: list[str]) -> int:
    from monitor.rules import load_rules

    show_holdout = "--show-holdout" in argv
    rs = load_rules(RULES)
    for tag in (*MAIN_TAGS, *EXTRA_TAGS):
        pairs = list(predictions(rs, tag, load(tag)))
        if show_holdout:
            print(f"== {tag}: all {score(pairs)}")
        else:
            print(f"== {tag}")
        for split in ("tune", "holdout", "holdout2") if show_holdout else ("tune",):
            for lang in ("ar", "en"):
                sub = [(i, p) for i, p in pairs if i.split == split and i.lang == lang]
                print(f"   {split:7} {lang}: {score(sub)}")
            print(f"   {split:7} ..: {score([(i, p) for i, p in pairs if i.split == split])}")
        for it, pred in pairs:
            if pred != it.label and (it.split == "tune" or show_holdout):
                kind = "FP" if pred else "FN"
                print(f"   {kind} {it.split} {it.id}: {it.title}  [{it.note}]")
    for tag in MAIN_TAGS:
        pairs = list(predictions(rs, tag, load(tag, BLIND3)))
        print(f"== {tag} blind3: {score(pairs)}")
        for lang in ("ar", "en"):
            print(f"   blind3  {lang}: {score([(i, p) for i, p in pairs if i.lang == lang])}")
        if show_holdout:
            for it, pred in pairs:
                if pred != it.label:
                    print(f"   {'FP' if pred else 'FN'} blind3 {it.id}: {it.title}  [{it.note}]")
    for path in sorted(SEEDS.glob("*.txt")):
        found = tags_of(rs, seed_article(path)) & set(MAIN_TAGS)
        print(f"seed {path.stem}: {sorted(found)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
