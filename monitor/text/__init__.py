"""The text pipeline: what every article field goes through before rules see it.

Order: ``trim_boilerplate`` (same offsets as the input) → ``normalize`` (folded text + map back to the
original) → ``tokens`` / ``sentences`` on the normalised text. ``detect_language`` reads raw text.
All of it is pure and stdlib/numpy only; see ``docs/rules.md`` for what each step folds.
"""

from monitor.text.boilerplate import trim_boilerplate
from monitor.text.folding import Normalized, fold, normalize
from monitor.text.folding import warm as _warm_normalize
from monitor.text.lang import detect_language
from monitor.text.segment import Span, sentence_starts, sentences, tokens


def warm() -> None:
    """Build every table and regex of the pipeline now (about a second), not on the first article."""
    from monitor.text.boilerplate import _marker_re

    _warm_normalize()
    _marker_re()


__all__ = [
    "Normalized",
    "Span",
    "detect_language",
    "fold",
    "normalize",
    "sentence_starts",
    "sentences",
    "tokens",
    "trim_boilerplate",
    "warm",
]
