"""Training the learned check (``monitor rules learn``): labelled articles in, a model file out.

Contract: ``learn(ruleset, items, tags, options, ...)`` reads every labelled item through the rule set
(its normalised text, which the model reads, and the rules' own tags, against which the thresholds are
chosen), fits one logistic regression per tag on TF-IDF features (``monitor.rules.learned.features``),
and chooses each tag's ``veto`` and ``rescue`` thresholds on out-of-fold probabilities (shuffled folds
of the items) — a rescue counted only where the folder's ``rescue_needs`` for the tag hold, as when the
check runs. It returns the model's numbers and the cross-validated figures of the rules
alone, with the veto and with both. The thresholds are only honest when the rules have not been fitted on
these items: train on fresh labelled articles, not on the ones the rules were tuned on.

Needs scikit-learn (``pip install -e '.[train]'``); imported here only, so the matcher does not.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from monitor.rules.engine import RuleSet
from monitor.rules.evaluate import Counts, LabelledItem
from monitor.rules.learned import Options, features

NEVER = 1.01  # a rescue threshold no probability reaches
VETO_GRID = tuple(round(0.02 * i, 2) for i in range(0, 26))  # 0 (never veto) .. 0.5
RESCUE_GRID = (*(round(0.5 + 0.025 * i, 3) for i in range(0, 20)), NEVER)  # 0.5 .. 0.975, never


@dataclass(frozen=True)
class Trained:
    tags: tuple[str, ...]
    bias: tuple[float, ...]
    veto: tuple[float, ...]
    rescue: tuple[float, ...]
    table: dict[str, tuple[float, ...]]  # feature -> (idf, weight per tag)
    #: tag -> {"rules": Counts, "veto": Counts, "both": Counts} on out-of-fold probabilities
    cv: dict[str, dict[str, Counts]]
    items: int
    folds: str


def figures(truth: Sequence[bool], rules: Sequence[bool], probs: Sequence[float], veto: float,
            rescue: float, allowed: Sequence[bool] | None = None) -> Counts:
    """The combined call's counts: a rules tag kept when its probability reaches ``veto``, a missing one
    added when it reaches ``rescue`` (and, with ``allowed``, only where the item's entry is true)."""
    counts = Counts()
    may = allowed if allowed is not None else [True] * len(truth)
    for t, r, p, a in zip(truth, rules, probs, may, strict=True):
        counts.add(t, (r and p >= veto) or (not r and a and p >= rescue))
    return counts


def f1(c: Counts) -> float:
    p, r = c.precision or 0.0, c.recall or 0.0
    return 2 * p * r / (p + r) if p + r else 0.0


def mean_f1(cv: dict[str, dict[str, Counts]], kind: str) -> float:
    """The mean over tags of the cross-validated F1 of ``kind`` (``rules``, ``veto`` or ``both``): one number to
    compare training runs on the same files (another ``--c`` or ``--min-df``)."""
    return sum(f1(by[kind]) for by in cv.values()) / len(cv) if cv else 0.0


def choose(truth: Sequence[bool], rules: Sequence[bool], probs: Sequence[float],
           allowed: Sequence[bool] | None = None) -> tuple[float, float]:
    """The (veto, rescue) pair of the grids with the best F1; ties go to the pair that changes fewer of the
    rules' decisions (the lower veto, the higher rescue)."""
    best: tuple[float, float, float] | None = None
    for v in VETO_GRID:
        for r in RESCUE_GRID:
            f = f1(figures(truth, rules, probs, v, r, allowed))
            key = (f, -v, r)
            if best is None or key > best:
                best = key
    assert best is not None
    return -best[1], best[2]


def _folds(items: Sequence[LabelledItem], n: int, seed: int) -> tuple[list[Any], str]:
    import numpy as np
    from sklearn.model_selection import KFold

    return list(KFold(n_splits=n, shuffle=True, random_state=seed).split(np.zeros(len(items)))), \
        f"{n} shuffled folds"


def fit(texts: Sequence[str], ys: Sequence[Sequence[bool]], options: Options, c: float,
         min_df: int) -> tuple[Any, list[Any]]:
    import numpy as np
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression

    vec = TfidfVectorizer(analyzer=lambda t: features(t, options), sublinear_tf=True, min_df=min_df,
                          dtype=np.float64)
    x = vec.fit_transform(texts)
    models = []
    for y in ys:
        clf = LogisticRegression(C=c, class_weight="balanced", max_iter=2000, solver="liblinear")
        clf.fit(x, list(y))
        models.append(clf)
    return vec, models


def exported(vec: Any, models: Sequence[Any]) -> tuple[dict[str, tuple[float, ...]], tuple[float, ...]]:
    """A fitted vectoriser's and regressions' numbers as the model file holds them: feature -> (idf,
    weight per model), and each model's bias."""
    idf = vec.idf_
    table = {feat: (float(idf[col]), *(float(m.coef_[0][col]) for m in models))
             for feat, col in vec.vocabulary_.items()}
    return table, tuple(float(m.intercept_[0]) for m in models)


def learn(ruleset: RuleSet, items: Sequence[LabelledItem], tags: Sequence[str], *,
          extra: Sequence[LabelledItem] = (), options: Options | None = None, folds: int = 5,
          c: float = 4.0, min_df: int = 2, seed: int = 0) -> Trained:
    """``extra``: items that only add to every fold's training (for example articles written to test the
    rules, which the rules were fitted on): never scored, never used for the thresholds."""
    options = options or Options()
    items = [i for i in items if not i.ambiguous]
    analyses = [ruleset.analyse(i.article) for i in items]
    texts = [a.text for a in analyses]
    truth = [[t in i.labels for i in items] for t in tags]
    said = [[any(t in m.tags for m in a.matches) for a in analyses] for t in tags]
    allowed = [[t not in a.unmet for a in analyses] for t in tags]
    more = [i for i in extra if not i.ambiguous]
    more_texts = [ruleset.analyse(i.article).text for i in more]
    more_truth = [[t in i.labels for i in more] for t in tags]
    oof = [[0.0] * len(items) for _ in tags]
    splits, how = _folds(items, folds, seed)
    for train, test in splits:
        vec, models = fit([texts[j] for j in train] + more_texts,
                           [[y[j] for j in train] + m for y, m in zip(truth, more_truth, strict=True)],
                           options, c, min_df)
        x = vec.transform([texts[j] for j in test])
        for k, clf in enumerate(models):
            for j, p in zip(test, clf.predict_proba(x)[:, 1], strict=True):
                oof[k][j] = float(p)
    veto, rescue, cv = [], [], {}
    for k, tag in enumerate(tags):
        v, r = choose(truth[k], said[k], oof[k], allowed[k])
        veto.append(v)
        rescue.append(r)
        cv[tag] = {"rules": figures(truth[k], said[k], oof[k], 0.0, NEVER),
                   "veto": figures(truth[k], said[k], oof[k], v, NEVER),
                   "both": figures(truth[k], said[k], oof[k], v, r, allowed[k])}
    vec, models = fit(texts + more_texts, [y + m for y, m in zip(truth, more_truth, strict=True)], options,
                       c, min_df)
    table, bias = exported(vec, models)
    return Trained(tags=tuple(tags), bias=bias, veto=tuple(veto),
                   rescue=tuple(rescue), table=table, cv=cv, items=len(items) + len(more), folds=how)
