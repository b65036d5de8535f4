"""The learned check: a second reader beside the rules, trained on labelled real news.

Contract. A model file (written by ``monitor rules learn``; JSON, gzip-compressed when its name ends in
``.gz``) holds, for each tag it knows, a logistic regression over TF-IDF features of an article's
normalised text (``Analysis.text``: the words of its first ``limit`` characters, their word pairs, the
headline's words, and the Arabic words without their clitic prefixes), and two probability thresholds
chosen by cross-validation against the rules' own decisions:

- ``veto``: a rule's match whose tags are all below their ``veto`` threshold is withdrawn (kept in
  ``Analysis.vetoed`` with the probabilities, so ``--explain`` and ``monitor rules eval`` can show it) —
  only when the model read the whole text (no longer than its ``limit``): on a longer page it saw only
  the start, which may be mastheads and menus, and the rule's call may rest on what it did not read;
- ``rescue``: a tag that no remaining match carries is added, as a match of the rule ``<tag>.learned``,
  when its probability reaches ``rescue`` — and, for a tag the rules folder gives ``rescue_needs``, only
  where that expression holds (the engine says where not); its evidence is the words that weighed most.

``mode`` says which of the two run: ``off``, ``veto`` or ``both``; ``tag_modes`` may name another mode
for single tags (a tag set to ``off`` is neither withdrawn nor added; a match is withdrawn only when every
tag it carries is below its threshold and set to ``veto`` or ``both``). Matches whose tags the model does
not know are never touched. Pure: no I/O after ``LearnedModel.load``; the features are defined here once, for
training and for scoring alike, so the scorer equals the trainer's model (``tests/rules/test_learned.py``).

Compiled core: where the optional extension ``monitor.rules._learned`` is built (Cython, ``setup.py``), the
scoring (``_weigh``) runs there — the same features and numbers without a string per feature, several
times faster; ``_weigh_python`` below is its reference and the fallback (no C compiler at install, or
``MONITOR_PURE_PYTHON=1``), checked against it in ``tests/rules/test_learned_compiled.py``.
"""

from __future__ import annotations

import gzip
import hashlib
import importlib
import itertools
import math
import re
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
import orjson

from monitor.models import Match
from monitor.text.folding import PURE_PYTHON

Mode = Literal["off", "veto", "both"]
MODES: tuple[Mode, ...] = ("off", "veto", "both")
FORMAT = 1
#: how many of the words that weighed most become a rescued match's evidence
EVIDENCE_WORDS = 6

_WORD = re.compile(r"[^\W_]+")
#: Arabic clitics read off the front of a word for its ``s:`` feature (longest first): the conjunctions
#: wa/fa, the prepositions bi/li/ka, and the article al, alone or combined
_PREFIXES = ("وبال", "فبال", "وال", "فال", "بال", "كال", "لل", "ال", "و", "ف", "ب", "ل")
#: a word that opens with one of them and keeps at least three letters after it (the alternation is tried
#: longest first, and falls back to a shorter prefix when the longer would leave too few letters)
_STEM = re.compile("(?:" + "|".join(_PREFIXES) + r")(.{3,})\Z", re.DOTALL)


def _compiled_core() -> ModuleType | None:
    """``monitor.rules._learned`` when it is built (and not a stale build), else None."""
    try:
        core = importlib.import_module("monitor.rules._learned")
    except ImportError:  # the extension is not built (no C compiler): pure Python
        return None
    return core if hasattr(core, "Scorer") else None


_core = _compiled_core()

#: True when ``LearnedModel`` scores with the compiled core (``monitor.rules._learned``).
COMPILED: bool = _core is not None and not PURE_PYTHON


class ModelInvalid(ValueError):
    """A model file that cannot be read or does not have the expected shape (not worth retrying)."""


class UnknownTag(ModelInvalid):
    """A mode named for a tag the model does not know."""


@dataclass(frozen=True)
class Options:
    """How the features are read from the text (stored in the model file)."""

    limit: int = 1500
    pairs: bool = True
    headline: bool = True
    stems: bool = True


DEFAULT_OPTIONS = Options()


def features(text: str, options: Options | None = None) -> list[str]:
    """The features of a normalised text, one string per occurrence: ``w`` a word, ``w w`` a pair of
    neighbouring words, ``h:w`` a word of the first line (the headline), ``s:w`` an Arabic word without its
    clitic prefixes."""
    options = options or DEFAULT_OPTIONS
    head, _, _ = text.partition("\n")
    words = _WORD.findall(text[: options.limit])
    out = list(words)
    if options.pairs:
        out.extend(map(" ".join, itertools.pairwise(words)))
    if options.headline:
        out.extend(["h:" + w for w in _WORD.findall(head[: options.limit])])
    if options.stems:
        stem = _STEM.match
        out.extend(["s:" + m[1] for m in map(stem, words) if m is not None])
    return out


@dataclass(frozen=True)
class Verdict:
    """What the learned check did to one article's matches."""

    matches: list[Match]
    vetoed: tuple[Match, ...] = ()
    probabilities: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True, eq=False)
class LearnedModel:
    tags: tuple[str, ...]
    bias: tuple[float, ...]
    veto: tuple[float, ...]
    rescue: tuple[float, ...]
    #: feature -> (idf, weight for each tag)
    table: dict[str, tuple[float, tuple[float, ...]]]
    options: Options = field(default_factory=Options)
    mode: Mode = "both"
    #: a mode for single tags instead of ``mode`` (the learned file's ``tags``)
    tag_modes: dict[str, Mode] = field(default_factory=dict)
    version: str = ""
    about: dict[str, Any] = field(default_factory=dict)
    # the table as arrays (built once): feature -> row and back, each row's idf, its weights (rows x tags)
    _index: dict[str, int] = field(init=False, repr=False)
    _names: tuple[str, ...] = field(init=False, repr=False)
    _idf: npt.NDArray[np.float64] = field(init=False, repr=False)
    _weights: npt.NDArray[np.float64] = field(init=False, repr=False)
    # each tag's mode (``tag_modes`` over ``mode``), and whether any is not off (read per article)
    _modes: dict[str, Mode] = field(init=False, repr=False)
    _active: bool = field(init=False, repr=False)
    # the compiled scorer (None: the Python one runs), see the module docstring
    _scorer: Any = field(init=False, repr=False)

    def __post_init__(self) -> None:
        k = len(self.tags)
        unknown = sorted(set(self.tag_modes) - set(self.tags))
        if unknown:
            raise UnknownTag(f"the model knows no tag {', '.join(unknown)} (it knows {', '.join(self.tags)})")
        modes = {t: self.tag_modes.get(t, self.mode) for t in self.tags}
        object.__setattr__(self, "_modes", modes)
        object.__setattr__(self, "_active", any(m != "off" for m in modes.values()))
        object.__setattr__(self, "_index", {f: i for i, f in enumerate(self.table)})
        object.__setattr__(self, "_names", tuple(self.table))
        object.__setattr__(self, "_idf", np.fromiter((r[0] for r in self.table.values()), float, len(self.table)))
        weights = np.array([r[1] for r in self.table.values()], dtype=float).reshape(len(self.table), k)
        object.__setattr__(self, "_weights", weights)
        # built only when the check runs (a folder loaded with every mode off reads no article with it;
        # ``probabilities``/``reasons`` then use the Python scorer, with the same results)
        object.__setattr__(self, "_scorer", self.scorer(compiled=True) if COMPILED and self._active else None)

    def scorer(self, *, compiled: bool) -> Any:
        """The compiled core's scorer for this model (``compiled``; None when the core is not built), or
        None for the Python one."""
        if not compiled or _core is None:
            return None
        o = self.options
        return _core.Scorer(*_core_tables(self._names), self._idf, self._weights, np.asarray(self.bias, dtype=float),
                            o.limit, o.pairs, o.headline, o.stems, _PREFIXES)

    # --- reading and writing ------------------------------------------------------------------
    @classmethod
    def from_json(cls, data: Any, *, mode: Mode = "both", tag_modes: Mapping[str, Mode] | None = None,
                  version: str = "") -> LearnedModel:
        try:
            if data.get("format") != FORMAT:
                raise ModelInvalid(f"unknown model format {data.get('format')!r} (this monitor reads {FORMAT})")
            tags = tuple(str(t) for t in data["tags"])
            k = len(tags)
            bias, veto, rescue = (tuple(float(x) for x in data[key]) for key in ("bias", "veto", "rescue"))
            if not tags or any(len(v) != k for v in (bias, veto, rescue)):
                raise ModelInvalid("tags, bias, veto and rescue must be lists of the same, non-zero length")
            table: dict[str, tuple[float, tuple[float, ...]]] = {}
            for feat, row in data["features"].items():
                if len(row) != k + 1:
                    raise ModelInvalid(f"feature {feat!r} has {len(row)} numbers, expected {k + 1}")
                table[feat] = (float(row[0]), tuple(float(x) for x in row[1:]))
            opts = Options(**data.get("options", {}))
            if type(opts.limit) is not int or opts.limit < 1 or not all(
                    type(x) is bool for x in (opts.pairs, opts.headline, opts.stems)):
                raise ModelInvalid(f"options must be a positive limit and three flags, not {data['options']!r}")
        except ModelInvalid:
            raise
        except (AttributeError, KeyError, TypeError, ValueError) as exc:
            raise ModelInvalid(f"not a model file of monitor's learned check: {exc!r}") from exc
        return cls(tags=tags, bias=bias, veto=veto, rescue=rescue, table=table, options=opts, mode=mode,
                   tag_modes=dict(tag_modes or {}), version=version, about=dict(data.get("about", {})))

    @classmethod
    def load(cls, path: Path, *, mode: Mode = "both", tag_modes: Mapping[str, Mode] | None = None) -> LearnedModel:
        try:
            raw = path.read_bytes()
            if path.suffix == ".gz":
                raw = gzip.decompress(raw)
            data = orjson.loads(raw)
        except (OSError, EOFError, orjson.JSONDecodeError) as exc:
            raise ModelInvalid(f"cannot read the model {path}: {exc}") from exc
        return cls.from_json(data, mode=mode, tag_modes=tag_modes, version=hashlib.sha256(raw).hexdigest()[:10])

    # --- modes ---------------------------------------------------------------------------------
    def mode_of(self, tag: str) -> Mode:
        return self._modes.get(tag, self.mode)

    @property
    def active(self) -> bool:
        """Whether the check runs at all (some tag's mode is not ``off``)."""
        return self._active

    def describe(self) -> str:
        """The modes in words: ``both``, or ``off (negotiation-round: both)`` when single tags differ."""
        own = {t: m for t, m in self.tag_modes.items() if m != self.mode}
        return self.mode + (f" ({', '.join(f'{t}: {m}' for t, m in sorted(own.items()))})" if own else "")

    # --- scoring -------------------------------------------------------------------------------
    def _weigh(self, text: str) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.int64], npt.NDArray[np.float64]]:
        """The tags' decision values, and the known features' rows (first occurrence first) and TF-IDF
        values (l2-normalised)."""
        if self._scorer is not None:
            return self._scorer.weigh(text)  # type: ignore[no-any-return]
        return self._weigh_python(text)

    def _weigh_python(self, text: str) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.int64],
                                                 npt.NDArray[np.float64]]:
        """``_weigh`` in Python: the reference of the compiled core."""
        counts = Counter(features(text, self.options))
        rows = np.fromiter(map(self._index.get, counts, itertools.repeat(-1)), dtype=np.int64, count=len(counts))
        known = rows >= 0
        rows = rows[known]
        n = np.fromiter(counts.values(), dtype=float, count=len(counts))[known]
        values = (1.0 + np.log(n)) * self._idf[rows]
        norm = math.sqrt(float(values @ values)) or 1.0
        values /= norm
        return np.asarray(self.bias) + values @ self._weights[rows], rows, values

    def _probabilities(self, decision: npt.NDArray[np.float64]) -> dict[str, float]:
        return {t: _sigmoid(d) for t, d in zip(self.tags, decision.tolist(), strict=True)}

    def probabilities(self, text: str) -> dict[str, float]:
        """Each tag's probability for a normalised text (``Analysis.text``)."""
        return self._probabilities(self._weigh(text)[0])

    def reasons(self, text: str, tag: str, n: int = EVIDENCE_WORDS) -> list[str]:
        """The words and word pairs of ``text`` that weighed most for ``tag`` (headline and prefix-free
        forms read as their words)."""
        _, rows, values = self._weigh(text)
        return self._reasons(rows, values, self.tags.index(tag), n)

    def _reasons(self, rows: npt.NDArray[np.int64], values: npt.NDArray[np.float64], i: int, n: int) -> list[str]:
        names = self._names
        best: dict[str, float] = {}
        for row, gain in zip(rows.tolist(), (values * self._weights[rows, i]).tolist(), strict=True):
            if gain <= 0:
                continue
            feat = names[row]
            word = feat.split(":", 1)[1] if feat[:2] in ("h:", "s:") else feat
            best[word] = best.get(word, 0.0) + gain
        return [w for w, _ in sorted(best.items(), key=lambda kv: (-kv[1], kv[0]))[:n]]

    # --- deciding ------------------------------------------------------------------------------
    def would_add(self, tag: str, p: float) -> bool:
        """Whether a tag no match carries would be added at probability ``p`` (mode ``both``, at or over its
        rescue threshold), were nothing else in the way."""
        return tag in self.tags and self.mode_of(tag) == "both" and p >= self.rescue[self.tags.index(tag)]

    def apply(self, text: str, matches: list[Match],
              rescued: Callable[[str, float, list[str]], Match], unmet: frozenset[str] = frozenset()) -> Verdict:
        """Veto and (mode ``both``) rescue, as the module docstring says. ``rescued(tag, p, words)``
        builds the match for a rescued tag (the rule set knows its severity and where the words are);
        the tags in ``unmet`` are never added (their ``rescue_needs`` did not hold)."""
        if not self.active:
            return Verdict(matches)
        decision, rows, values = self._weigh(text)  # once: the probabilities and any rescue's words
        probs = self._probabilities(decision)
        index = {t: i for i, t in enumerate(self.tags)}
        mode = self._modes
        kept: list[Match] = []
        vetoed: list[Match] = []
        whole = len(text) <= self.options.limit  # the veto judges only a text it read whole
        for m in matches:
            known = [t for t in m.tags if t in index]
            if whole and known and len(known) == len(m.tags) and all(
                    mode[t] != "off" and probs[t] < self.veto[index[t]] for t in known):
                vetoed.append(m)
            else:
                kept.append(m)
        carried = {t for m in kept for t in m.tags} | {t for m in vetoed for t in m.tags}
        for t, i in index.items():
            if mode[t] == "both" and t not in carried and t not in unmet and probs[t] >= self.rescue[i]:
                kept.append(rescued(t, probs[t], self._reasons(rows, values, i, EVIDENCE_WORDS)))
        return Verdict(kept, tuple(vetoed), probs)


def _core_tables(names: Sequence[str]) -> tuple[dict[str, int], dict[str, int], dict[str, int], dict[str, int],
                                                dict[int, int]]:
    """The compiled scorer's look-up tables (see ``monitor.rules._learned``) from the features' names, in
    row order: words, headline words, prefix-free words, the ids of the words in pairs, and the pairs by
    ``id_a * len(ids) + id_b``."""
    words: dict[str, int] = {}
    heads: dict[str, int] = {}
    stems: dict[str, int] = {}
    split: list[tuple[str, str, int]] = []
    for row, feat in enumerate(names):
        if feat.startswith("h:"):
            heads[feat[2:]] = row
        elif feat.startswith("s:"):
            stems[feat[2:]] = row
        elif " " in feat:
            pair = feat.split(" ")
            if len(pair) == 2:  # (a feature of more words is never read off a text: ``features`` makes none)
                split.append((pair[0], pair[1], row))
        else:
            words[feat] = row
    ids: dict[str, int] = {}
    for a, b, _ in split:
        ids.setdefault(a, len(ids))
        ids.setdefault(b, len(ids))
    pairs = {ids[a] * len(ids) + ids[b]: row for a, b, row in split}
    return words, heads, stems, ids, pairs


def _sigmoid(x: float) -> float:
    if x >= 0:
        return 1.0 / (1.0 + math.exp(-x))
    e = math.exp(x)
    return e / (1.0 + e)


def write_model(path: Path, *, tags: Sequence[str], bias: Iterable[float], veto: Iterable[float],
                rescue: Iterable[float], table: Mapping[str, Sequence[float]], options: Options,
                about: dict[str, Any], digits: int = 8) -> None:
    """Write a model file (gzip when ``path`` ends in ``.gz``); numbers rounded to ``digits`` significant
    digits, features sorted, so the same training writes the same bytes."""
    def r(x: float) -> float:
        return float(f"{x:.{digits}g}")

    data = {
        "format": FORMAT, "tags": list(tags), "bias": [r(x) for x in bias], "veto": [r(x) for x in veto],
        "rescue": [r(x) for x in rescue], "options": options.__dict__, "about": about,
        "features": {f: [r(x) for x in table[f]] for f in sorted(table)},
    }
    raw = orjson.dumps(data)
    path.write_bytes(gzip.compress(raw, mtime=0) if path.suffix == ".gz" else raw)
