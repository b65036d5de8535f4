"""Fingerprints: the MinHash estimate tracks the true shingle Jaccard, and fingerprints are stable."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from datasketch import MinHash

from monitor.cluster.signature import (
    NUM_BINS,
    band_shape,
    fingerprint,
    shingle_hashes,
    similarity,
    word_hashes,
)
from tests.cluster.texts import NEAR_COPIES


def jaccard(a: str, b: str) -> float:
    x, y = set(shingle_hashes(a).tolist()), set(shingle_hashes(b).tolist())
    return len(x & y) / len(x | y)


def fp(text: str):
    return fingerprint(text, bands=14, rows=9)


@pytest.mark.parametrize("edit", sorted(NEAR_COPIES))
def test_estimate_tracks_exact_jaccard_on_seed_copies(seeds, norm, edit):
    for name, text in seeds.items():
        a, b = norm(text), norm(NEAR_COPIES[edit](text))
        exact = jaccard(a, b)
        est = similarity(fp(a).signature, fp(b).signature)
        assert abs(est - exact) < 0.1, (name, edit, exact, est)


def test_estimate_matches_classic_minhash(seeds, norm):
    """Against datasketch's k-permutation MinHash on the same shingles: same answer within noise."""
    texts = [norm(t) for t in seeds.values()]
    half = texts[0][: len(texts[0]) // 2]
    for a, b in [(texts[0], half), (texts[0], texts[1]), (texts[2], norm(NEAR_COPIES["all-three"](seeds["002"])))]:
        m1, m2 = MinHash(num_perm=NUM_BINS), MinHash(num_perm=NUM_BINS)
        m1.update_batch([int(h).to_bytes(8, "little") for h in shingle_hashes(a)])
        m2.update_batch([int(h).to_bytes(8, "little") for h in shingle_hashes(b)])
        ours = similarity(fp(a).signature, fp(b).signature)
        assert abs(ours - m1.jaccard(m2)) < 0.15
        assert abs(ours - jaccard(a, b)) < 0.1


def test_reordered_paragraphs_have_the_same_shingles(seeds, norm):
    text = norm(seeds["001"])
    assert jaccard(text, norm(NEAR_COPIES["reordered-paragraphs"](seeds["001"]))) == 1.0


def test_words_ignore_punctuation_and_case():
    a, _ = word_hashes("Rockets hit «Ain al-Asad», officials said.")
    b, _ = word_hashes("rockets HIT Ain al-Asad officials said")
    assert np.array_equal(a, b)
    assert fp("Rockets hit, Ain al-Asad!").digest == fp("rockets hit ain al-asad").digest


def test_empty_text_has_no_fingerprint():
    assert fp("").digest == b""
    assert fp(" ... ،، \n").digest == b""


def test_fingerprints_are_the_same_in_another_process(seeds):
    """Signatures are persisted in Redis: they must not depend on the process (no hash() seed)."""
    text = seeds["004"]
    code = (
        "import sys; from monitor.cluster.signature import fingerprint;"
        "f = fingerprint(sys.stdin.read(), bands=14, rows=9); print(f.digest.hex(), f.signature.hex())"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], input=text, capture_output=True, text=True, check=True,
        env={"PYTHONHASHSEED": "12345", "PATH": ""}, cwd=str(__import__("pathlib").Path(__file__).parents[2]),
    ).stdout.split()
    here = fp(text)
    assert out == [here.digest.hex(), here.signature.hex()]


def test_band_shape_favours_recall_at_the_threshold():
    b, r = band_shape(0.8)
    assert b * r <= NUM_BINS
    assert 1 - (1 - 0.8**r) ** b > 0.8  # most pairs at the threshold become candidates
    assert 1 - (1 - 0.4**r) ** b < 0.01  # dissimilar pairs almost never do
