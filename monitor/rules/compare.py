"""Comparing two rule sets on the same labelled articles: the F1 gain, and how sure one can be of it.

``compare(items, tags, current, baseline)`` takes the scored (not ambiguous) items and, for each set, the
tags it gave each article (``Evaluation.calls``), and returns a ``Comparison``: the micro F1 over every tag
scored of each set, the gain, a 90 % paired bootstrap interval for the gain, the same per tag, both again
for each language's articles, and every call that differs (article, tag, what each set said, the label). The interval resamples the articles with
replacement, the same draws for both sets (so it is the interval of the difference itself, not of two
separate scores), ``resamples`` times from a fixed seed, so the same input prints the same interval. On a
few hundred articles a gain of one or two points is often inside the noise: the interval says so.
Pure: no I/O (``monitor rules eval --baseline`` prints it).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from monitor.rules.evaluate import LabelledItem

RESAMPLES = 2000
LEVEL = 0.90  # the interval's coverage
SEED = 20


@dataclass(frozen=True)
class Gain:
    """One figure's F1 for the baseline and the current set, the gain and its interval."""

    baseline: float | None  # None: nothing to count (no label and no call) in either set
    current: float | None
    gain: float
    low: float
    high: float


@dataclass(frozen=True)
class Change:
    """A call the two sets make differently: ``current`` is whether the current set gives ``tag``."""

    item: LabelledItem
    lang: str
    tag: str
    current: bool
    label: bool

    @property
    def now_right(self) -> bool:
        return self.current == self.label


ALL = "all"  # the key of every tag together, and of every language together


@dataclass(frozen=True)
class Comparison:
    articles: int
    resamples: int
    #: language (``all`` first, then each by name) -> ``all`` (every tag) or a tag -> its gain
    gains: dict[str, dict[str, Gain]]
    changes: tuple[Change, ...]

    @property
    def overall(self) -> Gain:
        """Every tag, every language."""
        return self.gains[ALL][ALL]

    @property
    def tags(self) -> dict[str, Gain]:
        """Each tag over every language."""
        return {t: g for t, g in self.gains[ALL].items() if t != ALL}


def _f1(tp: npt.NDArray[np.float64], fp: npt.NDArray[np.float64],
        fn: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """2tp / (2tp + fp + fn), elementwise; 1.0 where nothing is counted (no labels, no calls)."""
    den = 2 * tp + fp + fn
    return np.where(den > 0, 2 * tp / np.maximum(den, 1), 1.0)


def _counts(truth: npt.NDArray[np.bool_], said: npt.NDArray[np.bool_]) -> npt.NDArray[np.float64]:
    """Each article's tp, fp and fn for each tag: shape (articles, tags, 3)."""
    return np.stack([truth & said, ~truth & said, truth & ~said], -1).astype(np.float64)


def _resampled(rng: np.random.Generator, cur: npt.NDArray[np.float64], base: npt.NDArray[np.float64],
               resamples: int, groups: Sequence[npt.NDArray[np.bool_]]) -> npt.NDArray[np.float64]:
    """The F1 gain of each resample, for each group of articles (a mask), per tag (columns 0..T-1) and over
    every tag (column T): shape (resamples, groups, T + 1). Each resample draws the articles with
    replacement — the same draw for every group, so a language's interval is that of its own articles in
    the same resamples; the draws are weights (how often each article was drawn), a block at a time, so
    memory stays small on large files."""
    n = len(cur)
    out = []
    for start in range(0, resamples, 250):
        k = min(250, resamples - start)
        weights = np.stack([np.bincount(rng.integers(0, n, n), minlength=n) for _ in range(k)]).astype(np.float64)
        block = []
        for mask in groups:
            s_cur = np.einsum("kn,ntc->ktc", weights * mask, cur)
            s_base = np.einsum("kn,ntc->ktc", weights * mask, base)
            per_tag = _f1(*np.moveaxis(s_cur, -1, 0)) - _f1(*np.moveaxis(s_base, -1, 0))
            overall = _f1(*s_cur.sum(1).T) - _f1(*s_base.sum(1).T)
            block.append(np.column_stack([per_tag, overall]))
        out.append(np.stack(block, 1))
    return np.concatenate(out) if out else np.zeros((0, len(groups), cur.shape[1] + 1))


def _gain(truth: npt.NDArray[np.bool_], cur: npt.NDArray[np.float64], base: npt.NDArray[np.float64],
          boot: npt.NDArray[np.float64]) -> Gain:
    """The gain of the counts summed over articles and the tags in the middle axis; ``boot`` its resamples."""
    f_cur, f_base = (float(_f1(*x.sum((0, 1)))) for x in (cur, base))
    low, high = ((float(x) for x in np.quantile(boot, [(1 - LEVEL) / 2, (1 + LEVEL) / 2])) if len(boot)
                 else (0.0, 0.0))
    counted = bool(truth.any() or cur[..., :2].any() or base[..., :2].any())
    return Gain(f_base if counted else None, f_cur if counted else None, f_cur - f_base, low, high)


def compare(items: Sequence[LabelledItem], tags: Sequence[str], current: Mapping[str, frozenset[str]],
            baseline: Mapping[str, frozenset[str]], *, langs: Mapping[str, str] | None = None,
            resamples: int = RESAMPLES, seed: int = SEED) -> Comparison:
    """See the module docstring. ``current`` and ``baseline`` map an article id to the tags the set gave it
    (an id missing is an article with no tag); ``langs`` the language each article was scored under."""
    items = [i for i in items if not i.ambiguous]
    ids = [i.article.id for i in items]
    shape = (len(items), len(tags))
    truth, cur, base = (np.zeros(shape, dtype=bool) for _ in range(3))
    for r, item in enumerate(items):
        for c, tag in enumerate(tags):
            truth[r, c] = tag in item.labels
            cur[r, c] = tag in current.get(ids[r], frozenset())
            base[r, c] = tag in baseline.get(ids[r], frozenset())
    lang_of = [(langs or {}).get(i, item.article.lang or "?") for i, item in zip(ids, items, strict=True)]
    names = [ALL, *sorted(set(lang_of))]
    masks = [np.ones(len(items), dtype=bool), *(np.array([x == n for x in lang_of], dtype=bool) for n in names[1:])]
    c_cur, c_base = _counts(truth, cur), _counts(truth, base)
    boot = _resampled(np.random.default_rng(seed), c_cur, c_base, resamples if items else 0, masks)
    gains: dict[str, dict[str, Gain]] = {}
    for g, (name, m) in enumerate(zip(names, masks, strict=True)):
        gains[name] = {ALL: _gain(truth[m], c_cur[m], c_base[m], boot[:, g, -1])}
        for c, tag in enumerate(tags):
            gains[name][tag] = _gain(truth[m, c], c_cur[m, c:c + 1], c_base[m, c:c + 1], boot[:, g, c])
    changes = tuple(Change(item, lang_of[r], tags[c], bool(cur[r, c]), bool(truth[r, c]))
                    for r, item in enumerate(items) for c in range(len(tags)) if cur[r, c] != base[r, c])
    return Comparison(len(items), resamples if items else 0, gains, changes)
