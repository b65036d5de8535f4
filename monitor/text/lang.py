"""Language identification for news text: ``detect_language(text) -> str``.

Arabic script is told apart by letters only Persian (or Urdu) uses (پ چ ژ گ, and ی ک where Arabic
writes ي ك) against letters only Arabic uses (ة, ي, ك, ى). Arabic pages carry a stray Persian ی or ک
(the seeds do), so the decision is a ratio, not a presence test. Latin-script text is French, Spanish,
German, Italian, Portuguese or Turkish when that language's function words clearly outnumber English
ones (at least 3, and 1.5 times the English count), else English: short headlines full of names are
English far more often than not in this news. Cyrillic → ``ru``, Hebrew → ``he``, Greek → ``el``; anything else → ``""``.
Works on the raw text (before normalisation, which folds the Persian letters away). Never raises.
"""

from __future__ import annotations

import re
from itertools import repeat

import numpy as np

from monitor.text.folding import _CORE

_PERSIAN_CODES = np.array([ord(c) for c in "پچژگیک"], dtype=np.uint32)
_URDU_CODES = np.array([ord(c) for c in "ٹڈڑںےھ"], dtype=np.uint32)
_ARABIC_ONLY_CODES = np.array([ord(c) for c in "ةيكى"], dtype=np.uint32)
_WORD = re.compile(r"[a-zà-ÿ']+")
_ARABIC_ARTICLE = re.compile(r"(?<![\u0600-\u06FF])[وفبكل]?ال[\u0600-\u06FF]")

_STOPWORDS_RAW: dict[str, str] = {
    "en": "the of and to in is that for on was with as by at from are it his has have be an",
    "fr": "le la les de des du et est un une dans que pour pas sur au qui par avec il",
    "es": "el la los las de del y en que un una por con para es se su lo como",
    "de": "der die das und ist den dem nicht ein eine zu mit von auf für sich des im",
    "it": "il lo la gli le di del della e che un una per con non sono nel alla",
    "pt": "o a os as de do da dos das e que um uma para com não em no na por",
    "tr": "ve bir bu da de için ile olarak olan çok daha gibi ama ne",
}
_STOPWORDS: dict[str, frozenset[str]] = {k: frozenset(v.split()) for k, v in _STOPWORDS_RAW.items()}
_LANGS_OF: dict[str, tuple[str, ...]] = {}
for _lang, _words in _STOPWORDS.items():
    for _w in _words:
        _LANGS_OF[_w] = (*_LANGS_OF.get(_w, ()), _lang)

# Counting function words without a Python step per word: each gets a byte code (0: not one), the sample
# becomes a string of codes, and a language's count is the length of that string once the codes of the
# other words are deleted (``bytes.translate``).
_WORD_CODE: dict[str, int] = {w: i for i, w in enumerate(sorted(_LANGS_OF), start=1)}
assert len(_WORD_CODE) < 256
_NOT_IN: dict[str, bytes] = {
    lang: bytes([0, *(c for w, c in _WORD_CODE.items() if w not in words)]) for lang, words in _STOPWORDS.items()
}
#: ``_WORD`` as a byte table over the Latin-1 lower-cased sample: word chars stay, the rest become spaces.
_WORD_BYTES = bytes(b if re.fullmatch(_WORD.pattern, chr(b)) else 0x20 for b in range(256))

SAMPLE = 1500
WORD_SAMPLE = 800


# script classes, disjoint; Arabic script = the first four
_AR, _FA, _AR_ONLY, _UR, _LAT, _RU, _HE, _EL, _OTHER = range(9)


def _classes() -> np.ndarray:
    lut = np.full(0x10000, _OTHER, dtype=np.uint8)
    for lo, hi in ((0x600, 0x6FF), (0x750, 0x77F), (0x8A0, 0x8FF), (0xFB50, 0xFDFF), (0xFE70, 0xFEFF)):
        lut[lo:hi + 1] = _AR
    lut[_PERSIAN_CODES] = _FA
    lut[_ARABIC_ONLY_CODES] = _AR_ONLY
    lut[_URDU_CODES] = _UR
    for lo, hi in ((0x41, 0x5A), (0x61, 0x7A), (0xC0, 0x24F)):
        lut[lo:hi + 1] = _LAT
    lut[0xD7] = lut[0xF7] = _OTHER
    lut[0x400:0x500] = _RU
    lut[0x590:0x600] = _HE
    lut[0x370:0x400] = _EL
    return lut


_CLASS = _classes()
#: The compiled census (``monitor.text._fold.ClassCounter``) when the core is built, else numpy.
_COUNTER = _CORE.ClassCounter(_CLASS, _OTHER + 1) if _CORE is not None and hasattr(_CORE, "ClassCounter") else None


def _script_counts(text: str) -> list[int]:
    """How many of the first ``SAMPLE`` chars of ``text`` fall in each script class."""
    if _COUNTER is not None:
        return _COUNTER.counts(text, SAMPLE)  # type: ignore[no-any-return]
    codes = np.frombuffer(text[:SAMPLE].encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
    return np.bincount(_CLASS.take(np.minimum(codes, 0xFFFF)), minlength=_OTHER + 1).tolist()  # type: ignore[no-any-return]


def _latin_words(sample: str) -> list[str]:
    """``_WORD.findall(sample.lower())`` at C speed: chars beyond Latin-1 are not word chars anyway."""
    return sample.lower().encode("latin-1", "replace").translate(_WORD_BYTES).decode("latin-1").split()


def detect_language(text: str) -> str:
    """``ar``, ``fa``, ``ur``, ``en`` (or another code), or ``""`` when unsure."""
    counts = _script_counts(text)
    arabic = counts[_AR] + counts[_FA] + counts[_AR_ONLY] + counts[_UR]
    latin = counts[_LAT]
    if arabic and arabic >= latin:
        persian = counts[_FA]
        if persian > 3 and persian > counts[_AR_ONLY]:
            # Arabic typed on a Persian keyboard (ی ک throughout) still writes the article ال on about
            # every other word, which Persian almost never does
            if len(_ARABIC_ARTICLE.findall(text[:SAMPLE])) * 4 >= persian:
                return "ar"
            return "ur" if counts[_UR] > persian / 4 else "fa"
        return "ar"
    others = {"ru": counts[_RU], "he": counts[_HE], "el": counts[_EL]}
    top = max(others, key=lambda k: others[k])
    if others[top] > latin:
        return top
    if not latin:
        return ""
    words = _latin_words(text[:SAMPLE][:WORD_SAMPLE])
    if not words:
        return ""
    codes = bytes(map(_WORD_CODE.get, words, repeat(0)))
    per_lang = {lang: len(codes.translate(None, other)) for lang, other in _NOT_IN.items()}
    best = max(per_lang, key=lambda k: per_lang[k])
    hits = per_lang[best]
    if best != "en" and (hits < 3 or hits <= 1.5 * per_lang["en"]):
        best, hits = "en", per_lang["en"]  # short or mixed Latin text (names, headlines): English
    if hits >= max(1, len(words) // 20) or best == "en":
        return best
    return ""
