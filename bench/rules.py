"""Benchmark of the rule matcher: articles per second at 100, 1,000 and 10,000 rules.

Usage: ``.venv/bin/python bench/rules.py [--sizes 100,1000,10000] [--seconds 3] [--rules DIR]
[--compare DIR] [--compare-checkout DIR] [--repeat N]``

For each size it writes a rules folder (the shipped rules and lists under ``rules/`` plus generated
variants with realistic Arabic and English term lists: places, people, organisations, weapons, verbs),
loads it in a fresh subprocess (so ``rss_mb`` is that process's resident memory after loading), and
pushes a corpus of ~5 KB articles (the seeds with shuffled paragraphs, and articles made of examples of the
shipped rules among ordinary news paragraphs, Arabic and English) through the whole pipeline: trimming, normalisation, language id, the automaton, the presearcher and the rules.
Side by side, at 100 and 1,000 rules, a baseline: one compiled regular expression per rule (the rule's
terms as an alternation) over the normalised text. One JSON line per size on stdout:
``{"rules", "articles", "articles_per_s", "baseline_articles_per_s", "load_s", "rss_mb", "core",
"mean_articles_per_s", "baseline_mean_articles_per_s"}``
(``core``: ``compiled`` or ``python``, see ``monitor.rules.matcher_core``; with ``--pure-python`` also
``pure_python_articles_per_s``, the same size on the pure-Python fallback).
``--rules DIR`` benches another folder in place of the shipped ``rules/`` (the corpus is built from its
examples). ``--compare DIR`` also benches a second folder (an older version of the rules, say) on the
same corpus and generated rules, its runs alternating with the others (``--repeat`` times each, the
fastest kept), and adds ``compare_articles_per_s``, ``compare_mean_articles_per_s`` and ``ratio`` (the
first rate over the second) to each line: a regression is read from the same run on the same machine.
``--compare-checkout DIR`` benches another checkout of monitor the same way: its engine (the child imports
``monitor`` from DIR, and says so in ``monitor_from``; build its compiled cores there first, e.g.
``git worktree add --detach /tmp/old REV`` then ``python setup.py build_ext --inplace`` in it) with its
``rules/``, adding ``checkout_articles_per_s``, ``checkout_mean_articles_per_s``, ``checkout_core`` and
``checkout_ratio``: the matcher as shipped then against the matcher now. Both second sides also add their
fastest ``load_s`` (``compare_load_s``, ``checkout_load_s``: with a checkout, its loader on its own rules).
Every child reads one corpus, written once by the parent.
Rates are articles per CPU second of the measuring process (``time.process_time``), so other load on a
shared machine skews them less than wall time would (it still costs cache and hyper-thread contention):
``articles_per_s`` is the fastest of the rounds (one pass over the corpus each; ``timeit``'s minimum),
``mean_articles_per_s`` the mean over all of them, and the baseline is measured the same way.
``load_s`` is wall time. Not a test: numbers depend on the machine; run it alone on one core.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
# a ``--compare-checkout`` child imports ``monitor`` from the checkout named after ``--import-from``
_FROM = sys.argv[sys.argv.index("--import-from") + 1] if "--import-from" in sys.argv[:-1] else None
sys.path.insert(0, str(Path(_FROM).resolve() if _FROM else ROOT))

from monitor.models import Article  # noqa: E402
from monitor.rules import RulesInvalid, load_rules  # noqa: E402
from monitor.text import fold, trim_boilerplate  # noqa: E402

AR_PLACES = ["بغداد", "الموصل", "البصرة", "أربيل", "كركوك", "الأنبار", "دير الزور", "الحسكة", "الرقة", "حلب",
             "دمشق", "عمان", "الزرقاء", "الكويت", "الدوحة", "المنامة", "صلاح الدين", "ديالى", "نينوى",
             "السليمانية", "الفلوجة", "الرمادي", "تكريت", "سامراء", "القائم", "البوكمال", "الميادين", "منبج"]
EN_PLACES = ["Baghdad", "Mosul", "Basra", "Erbil", "Kirkuk", "Anbar", "Deir ez-Zor", "Hasakah", "Raqqa",
             "Aleppo", "Damascus", "Amman", "Zarqa", "Kuwait", "Doha", "Manama", "Salahuddin", "Diyala",
             "Nineveh", "Sulaymaniyah", "Fallujah", "Ramadi", "Tikrit", "Samarra", "Qaim", "Bukamal"]
AR_TOPICS = ["انتخابات", "موازنة", "نفط", "كهرباء", "فيضانات", "جفاف", "صفقة", "استثمار", "مؤتمر", "زيارة",
             "اتفاقية", "مفاوضات", "هدنة", "انسحاب", "تظاهرات", "اعتقال", "محكمة", "وزير", "برلمان", "سفير",
             "شركة", "مصرف", "عقوبات", "لاجئين", "مستشفى", "جامعة", "مطار", "ميناء", "حدود", "تهريب"]
EN_TOPICS = ["election", "budget", "oil", "electricity", "floods", "drought", "deal", "investment", "summit",
             "visit", "agreement", "talks", "truce", "withdrawal", "protests", "arrest", "court", "minister",
             "parliament", "ambassador", "company", "bank", "sanctions", "refugees", "hospital", "university",
             "airport", "port", "border", "smuggling"]
AR_VERBS = ["استهدف", "يستهدف", "قصف", "هاجم", "أعلن", "كشف", "نفى", "أكد", "وقع", "اتفق", "ناقش", "بحث"]
EN_VERBS = ["attack*", "strike*", "announce*", "reveal*", "deny", "denied", "confirm*", "sign*", "agree*",
            "discuss*"]
AR_SYL = ["كار", "مون", "سال", "دين", "رها", "ليم", "نور", "باس", "طار", "جود", "فهد", "زين", "قاس", "شام"]
EN_SYL = ["kar", "mon", "sal", "din", "rah", "lim", "nor", "bas", "tar", "jud", "fah", "zen", "qas", "sham"]

EN_PARAS = [
    "Three rockets struck near Ain al-Asad air base in western Iraq on Tuesday, officials said, in the latest "
    "of a series of attacks on bases hosting US and coalition forces. No casualties were reported.",
    "The Iraqi prime minister said the first round of talks with the United States on the future of the "
    "coalition would begin next month, and that a joint military committee had been formed.",
    "Oil prices rose on Monday as traders weighed supply concerns in the Middle East against signs of "
    "slowing demand in China, analysts said, while the dollar held steady against major currencies.",
    "The football league's second round ended with a surprise win for the visitors, who scored twice in "
    "the last ten minutes of the match in Basra.",
    "A drone was shot down near the Harir base in Erbil, the Kurdistan region's counter-terrorism service "
    "said in a statement, adding that an investigation had been opened.",
    "Parliament approved the budget after weeks of negotiations between the blocs, the speaker said, "
    "adding that the electricity and water ministries would receive the largest increases.",
]


def _name(rnd: random.Random, syl: list[str]) -> str:
    return "".join(rnd.choice(syl) for _ in range(rnd.randint(2, 3)))


def generate_rules(n: int, folder: Path, seed: int = 7) -> None:
    """``n`` generated rules (in files of 100) and two generated lists under ``folder``."""
    rnd = random.Random(seed)
    lists = folder / "lists"
    lists.mkdir(parents=True, exist_ok=True)
    (lists / "bench_verbs.yaml").write_text(json.dumps({"list": "bench_verbs", "terms": AR_VERBS + EN_VERBS}))
    (lists / "bench_places.yaml").write_text(json.dumps({"list": "bench_places", "entities": {
        f"p{i}": {"terms": [a, e]} for i, (a, e) in enumerate(zip(AR_PLACES, EN_PLACES, strict=False))}}))
    batch: list[dict[str, object]] = []
    for i in range(n):
        ar_name, en_name = _name(rnd, AR_SYL), _name(rnd, EN_SYL).capitalize()
        entity = [ar_name, f"{ar_name} {rnd.choice(AR_SYL)}", en_name, f"{en_name} {rnd.choice(EN_SYL)}*"]
        topics = rnd.sample(AR_TOPICS, 3) + rnd.sample(EN_TOPICS, 3)
        kind = i % 20
        if kind < 14:  # a client watch: a named entity and a topic
            match: object = {"all": [{"any": entity}, {"any": topics}]}
        elif kind < 16:  # an entity with an action verb nearby
            match = {"all": [{"near": [{"any": entity}, "@bench_verbs"], "within": 6}],
                     "none": [rnd.choice(AR_TOPICS)]}
        elif kind < 18:  # weighted: the entity, scored up by topics
            match = {"any": entity}
        elif kind < 19:  # a place watch: a real place, a verb and a topic nearby
            place = rnd.randrange(len(EN_PLACES))
            match = {"all": [{"any": [AR_PLACES[place], EN_PLACES[place]]},
                             {"near": ["@bench_verbs", {"any": topics}], "within": 6}],
                     "none": [rnd.choice(AR_TOPICS)]}
        else:  # entity and topic in one sentence
            match = {"sentence": [{"any": entity}, {"any": topics}]}
        rule: dict[str, object] = {"id": f"bench-{i}", "title": f"Bench rule {i}", "severity": "low",
                                   "tags": ["bench"], "match": match}
        if kind in (16, 17):
            rule["score"] = {"threshold": 3, "terms": [{"term": t, "weight": 2} for t in entity]
                             + [{"term": t, "weight": 1} for t in topics] + [{"term": "مناورات", "weight": -3}]}
        batch.append(rule)
        if len(batch) == 100 or i == n - 1:
            (folder / f"bench_{i // 100:04d}.yaml").write_text(json.dumps({"rules": batch}, ensure_ascii=False))
            batch = []


def build_folder(n: int, tmp: Path, src: Path | None = None, name: str = "rules", check: bool = True) -> Path:
    """The rules of ``src`` plus generated ones up to ``n``. ``check=False`` for another checkout's rules:
    its own engine loads them in the child (this engine's checks may be stricter than that one's)."""
    folder = tmp / f"{name}_{n}"
    folder.mkdir()
    shipped = 0
    src = src or ROOT / "rules"
    try:
        if check:
            load_rules(src)
    except RulesInvalid as exc:  # the shipped rules are being edited: bench the generated ones only
        print(f"bench: shipped rules skipped ({len(exc.errors)} errors)", file=sys.stderr)
        src = folder / "-none-"
    if src.is_dir():
        for p in [*src.rglob("*.y*ml"), *src.rglob("*.json.gz")]:  # rules, lists, the learned check's model
            dest = folder / p.relative_to(src)
            dest.parent.mkdir(parents=True, exist_ok=True)
            dest.write_bytes(p.read_bytes())
            if p.suffix in (".yaml", ".yml") and "lists" not in p.parts and p.name != "learned.yaml" \
                    and not p.name.endswith((".examples.yaml", ".examples.yml")):
                shipped += 1
    generate_rules(max(0, n - shipped), folder / "bench")
    return folder


FILLER_EN = [
    "The central bank kept interest rates unchanged on Thursday, citing easing inflation and a steady labour "
    "market, and said it would review its policy again at the next meeting in six weeks.",
    "Heavy rain caused flooding in several neighbourhoods overnight, the civil defence said, and schools were "
    "closed as a precaution while crews pumped water from the main roads.",
    "The national team named its squad for the regional championship, with three new players called up after "
    "strong seasons with their clubs, the federation said in a statement.",
    "Shares in the telecoms operator rose after it reported higher quarterly profit on the back of strong "
    "demand for mobile data and cost cuts at its fixed-line business.",
    "The health ministry launched a vaccination campaign for children in rural districts, aiming to reach "
    "more than two million children before the end of the year.",
    "Farmers in the south said the wheat harvest would be smaller this year because of a long dry spell, "
    "and called on the government to raise the purchase price.",
    "A new bridge over the river opened to traffic on Sunday after three years of construction, easing "
    "congestion between the two halves of the city.",
    "The university announced scholarships for students in engineering and medicine, funded by a grant "
    "from a group of private companies.",
]
FILLER_AR = [
    "أعلن البنك المركزي إبقاء أسعار الفائدة دون تغيير، مشيرا إلى تراجع التضخم واستقرار سوق العمل، "
    "وقال إنه سيراجع سياسته في اجتماعه المقبل.",
    "تسببت الأمطار الغزيرة في غرق عدد من الأحياء ليلا، وقال الدفاع المدني إن المدارس أغلقت احترازيا "
    "بينما عملت الفرق على سحب المياه من الطرق الرئيسية.",
    "أعلن المنتخب الوطني قائمته للبطولة الإقليمية بمشاركة ثلاثة لاعبين جدد بعد موسم قوي مع أنديتهم.",
    "ارتفعت أسهم شركة الاتصالات بعد إعلانها أرباحا فصلية أعلى بفضل الطلب القوي على بيانات الهاتف المحمول.",
    "أطلقت وزارة الصحة حملة تلقيح للأطفال في المناطق الريفية تهدف إلى الوصول إلى أكثر من مليوني طفل.",
    "قال مزارعون في الجنوب إن محصول القمح سيكون أقل هذا العام بسبب موجة جفاف طويلة، وطالبوا الحكومة "
    "برفع سعر الشراء.",
    "افتتح جسر جديد على النهر أمام حركة المرور يوم الأحد بعد ثلاث سنوات من العمل، ما يخفف الازدحام.",
    "أعلنت الجامعة عن منح دراسية لطلاب الهندسة والطب بتمويل من مجموعة من الشركات الخاصة.",
]


def _example_texts(src: Path | None = None) -> list[str]:
    """The examples of the shipped rules (or of the rules in ``src``), positive and negative, as plain text."""
    try:
        rs = load_rules(src or ROOT / "rules")
    except RulesInvalid:
        return [p for p in EN_PARAS]
    out = []
    for rule in rs.rules:
        if rule.examples is None:
            continue
        for ex in (*rule.examples.positive, *rule.examples.negative):
            out.append(ex if isinstance(ex, str) else f"{ex.title}\n{ex.summary}\n{ex.content}".strip())
    return out or list(EN_PARAS)


def corpus(n: int = 200, seed: int = 3, rules: Path | None = None) -> list[Article]:
    """~5 KB articles: the seeds with their paragraphs shuffled (2 in 3), and articles made of two or
    three examples of the shipped rules (of ``rules``; or the bench's own paragraphs) among ordinary news
    paragraphs."""
    rnd = random.Random(seed)
    seeds = [p.read_text(encoding="utf-8") for p in sorted((ROOT / "seeds").glob("*.txt"))]
    examples = _example_texts(rules) + EN_PARAS
    out = []
    for i in range(n):
        if i % 3 != 2 and seeds:
            base = seeds[i % len(seeds)]
            paras = [p for p in base.split("\n") if p.strip()]
            head, body = paras[0], paras[1:]
            rnd.shuffle(body)
            text = "\n\n".join([head, *body])[:5200]
        else:
            picked = rnd.sample(examples, 3)
            arabic = sum(1 for t in picked if any("\u0600" <= ch <= "\u06ff" for ch in t[:40])) >= 2
            filler = FILLER_AR if arabic else FILLER_EN
            paras = list(picked)
            while sum(len(p) for p in paras) < 5000:
                paras.insert(rnd.randrange(len(paras) + 1), rnd.choice(filler))
            text = "\n\n".join(paras)[:5200]
        title = text.split("\n", 1)[0][:120]
        out.append(Article(id=f"a{i}", title=title, content=text, source="bench"))
    return out


def baseline_regexes(folder: Path) -> list[re.Pattern[str]]:
    """One regex per rule: the alternation of its terms (normalised), on word boundaries."""
    rs = load_rules(folder)
    table = rs._table
    out = []
    for rule in rs.enabled:
        ids: set[int] = set()
        if rule.expr is not None:
            ids |= rule.expr.term_ids()
        for node, _ in rule.score_terms:
            ids |= node.term_ids()
        keys = sorted({re.escape(table.terms[t].key) + (r"\w*" if table.terms[t].prefix else "") for t in ids})
        if keys:
            out.append(re.compile(r"\b(?:" + "|".join(keys) + r")\b"))
    return out


def _rss_mb() -> float:
    try:
        with open("/proc/self/statm") as fh:
            pages = int(fh.read().split()[1])
        return round(pages * os.sysconf("SC_PAGE_SIZE") / 1e6, 1)
    except (OSError, ValueError):
        import resource

        return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e3, 1)


def write_corpus(articles: list[Article], path: Path) -> None:
    """The corpus as JSON Lines, so that every child (and a checkout's) reads the very same articles."""
    path.write_text("".join(json.dumps({"id": a.id, "title": a.title, "content": a.content, "source": a.source},
                                       ensure_ascii=False) + "\n" for a in articles), encoding="utf-8")


def read_corpus(path: Path) -> list[Article]:
    return [Article(**json.loads(line)) for line in path.read_text(encoding="utf-8").splitlines()]


def measure(folder: Path, n_rules: int, seconds: float, with_baseline: bool,
            examples: Path | None = None, articles: list[Article] | None = None) -> dict[str, object]:
    from monitor.text import warm

    warm()
    t0 = time.perf_counter()
    rs = load_rules(folder)
    load_s = time.perf_counter() - t0
    rss = _rss_mb()
    articles = articles if articles is not None else corpus(rules=examples)
    for a in articles[:20]:  # warm caches
        rs.analyse(a)
    done, best, mean = _rounds(lambda: [rs.analyse(a) for a in articles], len(articles), seconds)
    base_rate = base_mean = None
    if with_baseline:
        regexes = baseline_regexes(folder)

        def baseline_round() -> None:
            for a in articles[:5]:
                texts = [fold(a.title), fold(trim_boilerplate(a.summary)), fold(trim_boilerplate(a.content))]
                for rx in regexes:
                    for t in texts:
                        if rx.search(t):
                            break

        _, base_rate, base_mean = _rounds(baseline_round, 5, seconds / 2)
    import monitor
    from monitor.rules import matcher_core

    return {"rules": len(rs.rules), "articles": done, "articles_per_s": best,
            "baseline_articles_per_s": base_rate, "load_s": round(load_s, 3), "rss_mb": rss,
            "core": matcher_core(), "mean_articles_per_s": mean, "baseline_mean_articles_per_s": base_mean,
            "monitor_from": str(Path(monitor.__file__).resolve().parent.parent)}


def _rounds(work: Callable[[], object], per_round: int, seconds: float) -> tuple[int, float, float]:
    """Runs ``work`` (``per_round`` articles) for ``seconds`` of CPU time, at least 3 times; returns the
    articles done, the rate of the fastest round and the mean rate. The fastest round is the figure
    (as ``timeit`` reports the minimum): on a shared machine, slower rounds measure the neighbours."""
    times: list[float] = []
    start = time.process_time()
    while time.process_time() - start < seconds or len(times) < 3:
        t0 = time.process_time()
        work()
        times.append(time.process_time() - t0)
    done = per_round * len(times)
    return done, round(per_round / min(times), 1), round(done / sum(times), 1)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", default="100,1000,10000")
    ap.add_argument("--seconds", type=float, default=3.0)
    ap.add_argument("--pure-python", action="store_true",
                    help="also measure the pure-Python fallback (MONITOR_PURE_PYTHON=1) at each size")
    ap.add_argument("--rules", type=Path, help="the rules folder to bench (default: the shipped rules/)")
    ap.add_argument("--compare", type=Path, help="a second rules folder benched on the same corpus (ratio)")
    ap.add_argument("--compare-checkout", type=Path,
                    help="another checkout of monitor (say a git worktree of an older commit, its compiled cores "
                         "built in place): its engine with its rules/ on the same corpus (checkout_ratio)")
    ap.add_argument("--repeat", type=int, default=1,
                    help="with --compare / --compare-checkout: alternating runs of each, fastest kept")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    ap.add_argument("--examples", help=argparse.SUPPRESS)
    ap.add_argument("--corpus", help=argparse.SUPPRESS)
    ap.add_argument("--import-from", help=argparse.SUPPRESS)
    ap.add_argument("--baseline", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        folder = Path(args.child)
        examples = Path(args.examples) if args.examples else None
        articles = read_corpus(Path(args.corpus)) if args.corpus else None
        print(json.dumps(measure(folder, 0, args.seconds, args.baseline, examples, articles)), flush=True)
        return
    rules = args.rules.resolve() if args.rules else ROOT / "rules"
    checkout = args.compare_checkout.resolve() if args.compare_checkout else None
    if checkout is not None and not (checkout / "monitor" / "__init__.py").is_file():
        ap.error(f"--compare-checkout {checkout}: no monitor package there")
    with tempfile.TemporaryDirectory() as tmp:
        corpus_file = Path(tmp) / "corpus.jsonl"
        write_corpus(corpus(rules=rules), corpus_file)
        for n in (int(x) for x in args.sizes.split(",")):
            folder = build_folder(n, Path(tmp), rules)
            cmd = [sys.executable, __file__, "--child", str(folder), "--seconds", str(args.seconds),
                   "--examples", str(rules), "--corpus", str(corpus_file)]
            sides = {"": [*cmd, "--baseline"] if n <= 1000 else cmd}
            if args.compare:
                sides["compare"] = [*cmd[:3], str(build_folder(n, Path(tmp), args.compare.resolve(), "compare")),
                                    *cmd[4:]]
            if checkout is not None:  # the checkout's engine (its monitor package) and its rules
                other = build_folder(n, Path(tmp), checkout / "rules", "checkout", check=False)
                sides["checkout"] = [*cmd[:3], str(other), *cmd[4:], "--import-from", str(checkout)]
            runs: dict[str, list[dict[str, Any]]] = {side: [] for side in sides}
            for _ in range(max(1, args.repeat) if len(sides) > 1 else 1):  # alternating; the fastest of each
                for side, side_cmd in sides.items():
                    runs[side].append(_child(side_cmd))
            got = max(runs.pop(""), key=lambda r: float(r["articles_per_s"]))
            for side, side_runs in runs.items():
                best = max(side_runs, key=lambda r: float(r["articles_per_s"]))
                if side == "checkout" and best["monitor_from"] != str(checkout):
                    raise SystemExit(f"bench: the checkout child imported monitor from {best['monitor_from']}, "
                                     f"not {checkout}")
                got[f"{side}_articles_per_s"] = best["articles_per_s"]
                got[f"{side}_mean_articles_per_s"] = best["mean_articles_per_s"]
                got[f"{side}_load_s"] = min(float(r["load_s"]) for r in side_runs)  # its loader, its rules
                ratio = round(float(got["articles_per_s"]) / float(best["articles_per_s"]), 3)
                got["ratio" if side == "compare" else f"{side}_ratio"] = ratio
                if side == "checkout":
                    got["checkout_core"] = best["core"]
            if args.pure_python:  # the same run on the pure-Python fallback (no compiled cores)
                env = {**os.environ, "MONITOR_PURE_PYTHON": "1"}
                got["pure_python_articles_per_s"] = _child(cmd, env)["articles_per_s"]
            print(json.dumps(got), flush=True)


def _child(cmd: list[str], env: dict[str, str] | None = None) -> dict[str, Any]:
    out = subprocess.run(cmd, check=True, capture_output=True, text=True, env=env).stdout
    return json.loads(out)  # type: ignore[no-any-return]  # the child prints one JSON object


if __name__ == "__main__":
    main()
