"""Updating the learned check with new labelled articles, without its training texts (``monitor rules update``).

Contract: ``update(model, ruleset, items, anchors, ...)`` reads every labelled item through the rule set (its
normalised text, and the rules' own calls and rescue needs), weighs it with the *model's own* features and idf
(a feature the model does not know is dropped: the vocabulary stays as it is), and refits each tag's weights
and bias by minimising the balanced log-loss on the items plus ``anchor / 2 · ‖θ − θ_model‖²`` — an L2 pull
toward the model's numbers instead of toward zero. A large anchor leaves the model as it is; a small one lets
the new items move it. The veto and rescue thresholds are kept (they were chosen on many more articles than
an update brings). The anchor is chosen by cross-validation on the items: for each candidate, out-of-fold
probabilities of the updated model give the combined call's F1 per tag (the model's thresholds, the rules'
calls, the rescue needs, as when the check runs); the strongest anchor whose mean per-tag F1 is within
``tolerance`` of the best wins, and the model's own out-of-fold figures (no update) are reported beside it.

Why not train again: the model's training texts may not be at hand (they are not ours to keep in the
repository; only their addresses and labels are), and a few hundred fresh articles alone make a weaker model
than thousands. The pull keeps what the old texts taught where the new ones say nothing: a weight whose
feature no new item carries stays exactly where it was.

Needs numpy and scipy (``pip install -e '.[train]'``); imported here only.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from monitor.rules.engine import RuleSet
from monitor.rules.evaluate import Counts, LabelledItem
from monitor.rules.learn import NEVER, figures, mean_f1
from monitor.rules.learned import LearnedModel

#: the anchors tried by default, strongest first (``inf``: the model as it is)
ANCHORS = (256.0, 64.0, 16.0, 4.0, 1.0)


@dataclass(frozen=True)
class Updated:
    anchor: float
    bias: tuple[float, ...]
    table: dict[str, tuple[float, ...]]  # feature -> (idf, weight per tag), as the model file holds it
    #: anchor -> tag -> {"rules", "veto", "both"} Counts on out-of-fold probabilities; the key ``inf`` is the
    #: model as it is (no update)
    cv: dict[float, dict[str, dict[str, Counts]]]
    means: dict[float, float]  # anchor -> mean per-tag F1 of the combined call (the key ``inf`` as above)
    items: int
    moved: int  # features whose weight changed (those some item carries)


def _matrix(model: LearnedModel, texts: Sequence[str]) -> Any:
    """Rows of TF-IDF values over the model's features (its own weighing: the scorer's numbers)."""
    import numpy as np
    from scipy.sparse import csr_matrix

    indptr, cols, vals = [0], [], []
    for text in texts:
        _, rows, values = model._weigh_python(text)
        cols.extend(rows.tolist())
        vals.extend(values.tolist())
        indptr.append(len(cols))
    return csr_matrix((np.asarray(vals, dtype=float), np.asarray(cols, dtype=np.int64), np.asarray(indptr)),
                      shape=(len(texts), len(model.table)))


def _fit(x: Any, y: Sequence[bool], w0: Any, b0: float, anchor: float) -> tuple[Any, float]:
    """One tag's weights and bias: balanced log-loss on ``x``/``y`` plus the pull toward ``w0``/``b0``. Only the
    columns some row carries are free (the others' loss gradient is zero: they stay at ``w0``)."""
    import numpy as np
    from scipy.optimize import minimize

    w = w0.copy()
    yv = np.asarray(y, dtype=float)
    n, pos = len(yv), float(yv.sum())
    if n == 0 or anchor == float("inf"):
        return w, b0
    # sklearn's "balanced" class weights: n / (2 · count of the class)
    sw = np.where(yv > 0, n / (2 * pos) if pos else 0.0, n / (2 * (n - pos)) if n - pos else 0.0)
    cols = np.unique(x.indices)
    xs = x[:, cols]
    start = np.concatenate([w0[cols], [b0]])

    def loss(theta: Any) -> tuple[float, Any]:
        z = xs @ theta[:-1] + theta[-1]
        # log(1 + e^-z) for y=1, log(1 + e^z) for y=0, stably; its derivative is sigmoid(z) - y
        s = np.where(yv > 0, -z, z)
        value = float(sw @ np.logaddexp(0.0, s))
        p = 1.0 / (1.0 + np.exp(-z))
        r = sw * (p - yv)
        d = theta - start
        grad = np.concatenate([xs.T @ r, [r.sum()]]) + anchor * d
        return value + 0.5 * anchor * float(d @ d), grad

    res = minimize(loss, start, jac=True, method="L-BFGS-B", options={"maxiter": 500})
    w[cols] = res.x[:-1]
    return w, float(res.x[-1])


def _probs(x: Any, w: Any, b: float) -> list[float]:
    import numpy as np

    return (1.0 / (1.0 + np.exp(-(x @ w + b)))).tolist()  # type: ignore[no-any-return]


def update(model: LearnedModel, ruleset: RuleSet, items: Sequence[LabelledItem], *,
           anchors: Sequence[float] = ANCHORS, folds: int = 5, seed: int = 0,
           tolerance: float = 0.001) -> Updated:
    """The model moved by ``items`` with the anchor chosen by ``folds``-fold cross-validation (see the module
    docstring). The rule set gives the normalised texts, the rules' calls and the rescue needs; its own
    learned check is not used."""
    import numpy as np
    from sklearn.model_selection import KFold

    items = [i for i in items if not i.ambiguous]
    tags = model.tags
    analyses = [ruleset.analyse(i.article) for i in items]
    x = _matrix(model, [a.text for a in analyses])
    truth = [[t in i.labels for i in items] for t in tags]
    said = [[any(t in m.tags for m in a.matches) for a in analyses] for t in tags]
    allowed = [[t not in a.unmet for a in analyses] for t in tags]
    w0 = model._weights
    b0 = list(model.bias)
    splits = list(KFold(n_splits=folds, shuffle=True, random_state=seed).split(np.zeros(len(items))))
    cv: dict[float, dict[str, dict[str, Counts]]] = {}
    means: dict[float, float] = {}
    for anchor in (float("inf"), *anchors):
        by_tag: dict[str, dict[str, Counts]] = {}
        for k, tag in enumerate(tags):
            oof = [0.0] * len(items)
            for train, test in splits:
                w, b = _fit(x[train], [truth[k][j] for j in train], w0[:, k], b0[k], anchor)
                for j, p in zip(test, _probs(x[test], w, b), strict=True):
                    oof[j] = p
            v, r = model.veto[k], model.rescue[k]
            by_tag[tag] = {"rules": figures(truth[k], said[k], oof, 0.0, NEVER),
                           "veto": figures(truth[k], said[k], oof, v, NEVER),
                           "both": figures(truth[k], said[k], oof, v, r, allowed[k])}
        cv[anchor] = by_tag
        means[anchor] = mean_f1(by_tag, "both")
    best = max(means.values())
    chosen = max(a for a, m in means.items() if m >= best - tolerance)
    weights = w0.copy()
    bias = list(b0)
    for k in range(len(tags)):
        weights[:, k], bias[k] = _fit(x, truth[k], w0[:, k], b0[k], chosen)
    moved = int(np.any(weights != w0, axis=1).sum())
    table = {f: (float(model._idf[i]), *(float(v) for v in weights[i])) for i, f in enumerate(model._names)}
    return Updated(anchor=chosen, bias=tuple(bias), table=table, cv=cv, means=means, items=len(items),
                   moved=moved)
