"""Benchmark of the learned check's scorer: the compiled core against the Python reference, same run.

Usage: ``.venv/bin/python bench/learned.py [--rules DIR] [--articles 300] [--repeat 7]``

The articles are the corpus of ``bench/rules.py`` (~5 KB, made from the folder's examples among news
paragraphs); each is analysed once for its normalised text (``Analysis.text``, what the check reads). Then
``LearnedModel._weigh`` is timed on all of them with the compiled scorer (``monitor.rules._learned``) and
with the Python one (``_weigh_python``, the reference), alternating, ``--repeat`` rounds each, the fastest
kept (CPU time of this process); and the compiled scorer once more, each article's scoring timed right after
the rules alone (check off) analysed it (``between_rules_us``: its tables as cold as in the pipeline, where
the matcher runs between two articles' scoring). One JSON line: ``{"articles", "features", "compiled_us",
"python_us", "speedup", "between_rules_us"}`` — microseconds per article. Not a test: numbers depend on the
machine.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from monitor.models import Article  # noqa: E402
from monitor.rules import RuleSet, load_rules  # noqa: E402
from rules import corpus  # noqa: E402


def one_pass(fn: Callable[[str], object], texts: list[str]) -> float:
    start = time.process_time()
    for text in texts:
        fn(text)
    return time.process_time() - start


def between_rules(fn: Callable[[str], object], plain: RuleSet, articles: list[Article], texts: list[str]) -> float:
    """``fn`` timed on each text right after the rules (check off) analysed its article: the scorer's tables
    as cold as in the pipeline, where the matcher runs between two articles' scoring."""
    spent = 0.0
    for article, text in zip(articles, texts, strict=True):
        plain.analyse(article)
        start = time.process_time()
        fn(text)
        spent += time.process_time() - start
    return spent


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rules", type=Path, default=ROOT / "rules")
    ap.add_argument("--articles", type=int, default=300)
    ap.add_argument("--repeat", type=int, default=7)
    args = ap.parse_args()
    rules = load_rules(args.rules, learned="both")
    model = rules.learned
    if model is None:
        sys.exit(f"{args.rules} has no learned check (learned.yaml)")
    scorer = model.scorer(compiled=True)
    if scorer is None:
        sys.exit("monitor.rules._learned is not built: install a C compiler (gcc) and `pip install -e .` again")
    articles = corpus(args.articles, rules=args.rules)
    texts = [rules.analyse(a).text for a in articles]
    plain = load_rules(args.rules, learned="off")
    best = {"compiled": float("inf"), "python": float("inf"), "between": float("inf")}
    for _ in range(args.repeat):
        best["compiled"] = min(best["compiled"], one_pass(scorer.weigh, texts))
        best["python"] = min(best["python"], one_pass(model._weigh_python, texts))
        best["between"] = min(best["between"], between_rules(scorer.weigh, plain, articles, texts))
    per = {k: v / len(texts) * 1e6 for k, v in best.items()}
    print(json.dumps({"articles": len(texts), "features": len(model.table), "compiled_us": round(per["compiled"], 1),
                      "python_us": round(per["python"], 1), "speedup": round(per["python"] / per["compiled"], 2),
                      "between_rules_us": round(per["between"], 1)}))


if __name__ == "__main__":
    main()
