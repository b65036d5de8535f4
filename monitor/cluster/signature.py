"""Text fingerprints for near-duplicate detection: word shingles -> MinHash signature -> LSH band keys.

In: normalised article text (``monitor.text`` output or anything similar). Out: a ``Fingerprint`` with
an exact-duplicate ``digest`` (over the word sequence, so spacing and punctuation do not matter), a
``signature`` of ``NUM_BINS`` 32-bit MinHash values and the LSH ``bands`` (64-bit keys) to index it by.

Why it looks like this:
- Shingles are ``k`` consecutive words *inside one paragraph* (a line), so reordered paragraphs give the
  same shingle set and only a changed headline or added boilerplate lines count as differences.
- Words are whitespace-separated, stripped of ASCII/Arabic/typographic punctuation at their ends and
  case-folded; each word hashes with blake2b (a bounded cache makes that mostly a dict lookup), shingles
  and signatures are then numpy over those hashes with fixed constants, so fingerprints are identical in
  every process and numpy version (they are persisted in Redis).
- The signature is one-permutation MinHash with rotation densification (Li, Owen & Zhang 2012;
  Shrivastava & Li 2014): each shingle hash falls in one of ``NUM_BINS`` bins, the bin keeps its
  minimum; the fraction of equal bins estimates Jaccard similarity exactly like classic ``k``-permutation
  MinHash (``datasketch.MinHash``) but costs O(shingles) instead of O(shingles x permutations).
- Bands are chosen for recall at the threshold (candidates are verified on the full signature anyway).

Compiled core: where the optional extension ``monitor.cluster._sig`` is built (Cython, ``setup.py``),
``fingerprint`` runs it: the same steps in C loops instead of a dozen numpy calls on arrays of a few
hundred words, with the same bytes (property-tested against the code here, which stays the reference
and the fallback; ``COMPILED`` tells which runs, ``MONITOR_PURE_PYTHON=1`` at import forces this code).
"""

from __future__ import annotations

import hashlib
import importlib
import os
import sys
from array import array
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np

NUM_BINS = 128
_BIN_SHIFT = np.uint64(64 - 7)  # top 7 bits of a shingle hash pick its bin (2**7 == NUM_BINS)
_LOW32 = np.uint64(0xFFFFFFFF)
_EMPTY32 = np.uint32(0xFFFFFFFF)  # an empty bin (a real minimum of 2**32-1 counts as empty: harmless)


def _constants(label: str, n: int) -> np.ndarray:
    """``n`` odd 64-bit constants derived from a label (stable everywhere, unlike numpy's RNG streams)."""
    raw = hashlib.shake_256(f"monitor.cluster.v1.{label}".encode()).digest(8 * n)
    return np.frombuffer(raw, dtype="<u8").astype(np.uint64) | np.uint64(1)


_SHINGLE_MIX = _constants("shingle", 16)
_BAND_MIX = _constants("band", NUM_BINS)
_BAND_SALT = _constants("band-salt", NUM_BINS)

def _fmix64(x: np.ndarray) -> np.ndarray:
    """MurmurHash3's 64-bit finaliser: spreads a linear combination of hashes over all bits."""
    x = x ^ (x >> np.uint64(33))
    x = x * np.uint64(0xFF51AFD7ED558CCD)
    x = x ^ (x >> np.uint64(33))
    x = x * np.uint64(0xC4CEB9FE1A85EC53)
    out: np.ndarray = x ^ (x >> np.uint64(33))
    return out


# Characters stripped from both ends of a word: ASCII and Unicode punctuation, quotes, zero-width marks.
_STRIP = "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~،؛؟«»“”„‘’‹›—–…·•٪٫٬\u200b\u200c\u200d\u200e\u200f\ufeff"
_CACHE_MAX = 200_000
_LINE = "\x00"  # stands for a line break among the words
_LINE_HASH = 1
_cache: dict[str, int] = {_LINE: _LINE_HASH}


def _word_hash(raw: str) -> int:
    """64-bit hash of a word without its surrounding punctuation, case-folded; 0 = punctuation only."""
    w = raw.strip(_STRIP).lower()
    h = int.from_bytes(hashlib.blake2b(w.encode("utf-8"), digest_size=8).digest(), "little") if w else 0
    h = max(h, 2) if w else 0  # 0 and 1 are reserved
    if len(_cache) >= _CACHE_MAX:  # bounded; the values never depend on the cache
        _cache.clear()
        _cache[_LINE] = _LINE_HASH
    _cache[raw] = h
    return h


def word_hashes(text: str) -> tuple[np.ndarray, np.ndarray]:
    """(64-bit hash of each word, paragraph number of each word); paragraphs are lines.

    Words are split on whitespace and stripped of punctuation at their ends; a per-process cache of
    word -> hash makes this mostly dictionary lookups (the hash itself is blake2b, so stable everywhere).
    """
    words = text.replace("\n", f" {_LINE} ").split()
    hashes: list[Any] = list(map(_cache.get, words))
    try:
        packed = array("Q", hashes)
    except TypeError:  # some words not cached yet (None)
        packed = array("Q", [h if h is not None else _word_hash(w) for h, w in zip(hashes, words, strict=True)])
    h = np.frombuffer(packed, dtype=np.uint64)
    para = np.cumsum(h == _LINE_HASH)
    keep = h > _LINE_HASH  # drops line marks (1) and punctuation-only words (0)
    return h[keep], para[keep]


def shingle_hashes(text: str, k: int = 5) -> np.ndarray:
    """The set of shingle hashes of a text, sorted (for exact Jaccard; see ``_shingles``)."""
    return np.unique(_shingles(*word_hashes(text), k))


def _shingles(words: np.ndarray, para: np.ndarray, k: int) -> np.ndarray:
    """64-bit hashes (with repeats) of the ``k``-word shingles that lie within one paragraph.

    A text with no paragraph of ``k`` words falls back to shingles across lines, and a text shorter than
    ``k`` words to one shingle of all its words; an empty text has no shingles.
    """
    if not 1 <= k <= len(_SHINGLE_MIX):
        raise ValueError(f"shingle size must be 1..{len(_SHINGLE_MIX)}, not {k}")
    n = len(words)
    if n == 0:
        return np.empty(0, np.uint64)
    if n < k:
        return _fmix64(np.array([(words * _SHINGLE_MIX[:n]).sum()], dtype=np.uint64))
    m = n - k + 1
    acc = words[:m] * _SHINGLE_MIX[0]
    for j in range(1, k):
        acc = acc + words[j : j + m] * _SHINGLE_MIX[j]
    inside = para[: m] == para[k - 1 :]
    if inside.any():
        acc = acc[inside]
    return _fmix64(acc)


def minhash(shingles: np.ndarray) -> np.ndarray:
    """A ``NUM_BINS`` uint32 one-permutation MinHash signature of a set of 64-bit shingle hashes."""
    sig = np.full(NUM_BINS, _EMPTY32, dtype=np.uint32)
    if len(shingles) == 0:
        return sig
    bins = (shingles >> _BIN_SHIFT).astype(np.intp)
    np.minimum.at(sig, bins, (shingles & _LOW32).astype(np.uint32))
    empty = sig == _EMPTY32
    if empty.any():  # rotation: an empty bin borrows the next non-empty bin's value, offset by distance
        full = np.flatnonzero(~empty)
        holes = np.flatnonzero(empty)
        src = full[np.searchsorted(full, holes) % len(full)]
        dist = ((src - holes) % NUM_BINS).astype(np.uint64)
        sig[holes] = ((sig[src].astype(np.uint64) + dist * np.uint64(0x9E3779B1)) & _LOW32).astype(np.uint32)
    return sig


def similarity(a: bytes, b: bytes) -> float:
    """Estimated Jaccard similarity of two signatures (as bytes): the fraction of equal bins."""
    x = np.frombuffer(a, dtype=np.uint32)
    y = np.frombuffer(b, dtype=np.uint32)
    return float(np.count_nonzero(x == y)) / NUM_BINS


@lru_cache(maxsize=32)
def band_shape(threshold: float, fn_weight: float = 0.9) -> tuple[int, int]:
    """(bands, rows) minimising weighted false-positive and false-negative area at ``threshold``.

    Weighted towards recall: a candidate costs one signature comparison, a missed copy a duplicate alert.
    """
    if not 0.0 < threshold < 1.0:
        raise ValueError(f"threshold must be in (0, 1), not {threshold}")
    best: tuple[float, int, int] | None = None
    lo = np.linspace(0.0, threshold, 200)
    hi = np.linspace(threshold, 1.0, 200)
    for b in range(1, NUM_BINS + 1):
        for r in range(1, NUM_BINS // b + 1):
            fp = np.trapezoid(1 - (1 - lo**r) ** b, lo)
            fn = np.trapezoid((1 - hi**r) ** b, hi)
            cost = (1 - fn_weight) * fp + fn_weight * fn
            if best is None or cost < best[0]:
                best = (float(cost), b, r)
    assert best is not None
    return best[1], best[2]


def band_keys(sig: np.ndarray, bands: int, rows: int) -> list[int]:
    """The LSH keys of a signature: one 64-bit key per band, the band number mixed in."""
    used = sig[: bands * rows].astype(np.uint64).reshape(bands, rows)
    keys = (used * _BAND_MIX[:rows]).sum(axis=1) ^ _BAND_SALT[:bands]
    return _fmix64(keys).tolist()  # type: ignore[no-any-return]


@dataclass(frozen=True, slots=True)
class Fingerprint:
    """What the copy detector needs of one text."""

    digest: bytes  # exact-duplicate key: 16 bytes over the word sequence; b"" for a text with no words
    signature: bytes  # NUM_BINS uint32, little-endian
    bands: tuple[int, ...]
    shingles: int


def fingerprint(text: str, *, k: int = 5, bands: int, rows: int) -> Fingerprint:
    """Fingerprint a normalised text (see the module doc for what counts as a word and a paragraph)."""
    words, para = word_hashes(text)
    if len(words) == 0:
        return Fingerprint(b"", b"", (), 0)
    digest = hashlib.blake2b(words.astype("<u8").tobytes(), digest_size=16).digest()
    sh = _shingles(words, para, k)
    sig = minhash(sh)
    return Fingerprint(digest, sig.astype("<u4").tobytes(), tuple(band_keys(sig, bands, rows)), len(sh))


def _compiled_core() -> Any:
    """The compiled fingerprint core, set up with this module's constants; None when it is missing or
    turned off (``MONITOR_PURE_PYTHON``), or on a big-endian machine (the persisted bytes are little-endian)."""
    if os.environ.get("MONITOR_PURE_PYTHON", "") not in ("", "0") or sys.byteorder != "little":
        return None
    try:
        core = importlib.import_module("monitor.cluster._sig")
    except ImportError:
        return None
    core.init(_SHINGLE_MIX.tolist(), _BAND_MIX.tolist(), _BAND_SALT.tolist())
    return core


_CORE = _compiled_core()
#: True when ``fingerprint`` runs the compiled core (``monitor.cluster._sig``).
COMPILED: bool = _CORE is not None
_py_fingerprint = fingerprint


if _CORE is not None:
    _core_fingerprint = _CORE.fingerprint

    def fingerprint(text: str, *, k: int = 5, bands: int, rows: int) -> Fingerprint:
        """Fingerprint a normalised text (the compiled core; ``_py_fingerprint`` is the reference)."""
        out = _core_fingerprint(text, k, bands, rows, _cache, _word_hash)
        if out is None:
            return Fingerprint(b"", b"", (), 0)
        return Fingerprint(*out)
