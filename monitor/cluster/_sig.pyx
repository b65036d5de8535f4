# cython: language_level=3
"""Compiled core of ``monitor.cluster.signature.fingerprint`` (the pure-Python module is the reference).

The same computation in one C pass per stage instead of a dozen numpy calls on arrays of a few hundred
words: the word hashes (looked up in the same per-process cache, computed by the same ``_word_hash`` on a
miss), the paragraph numbers, the exact-duplicate digest (blake2b over the same little-endian bytes), the
``k``-word shingles (the same fall-backs), the one-permutation MinHash with rotation densification and the
LSH band keys, all in wrapping 64-bit arithmetic like numpy's ``uint64``. Property-tested against the
reference in ``tests/cluster/test_signature_core.py``.
"""

from libc.stdint cimport uint32_t, uint64_t
from libc.stdlib cimport free, malloc
from cpython.bytes cimport PyBytes_FromStringAndSize

import hashlib

DEF NUM_BINS = 128
DEF MAX_K = 16

cdef uint64_t SHINGLE_MIX[MAX_K]
cdef uint64_t BAND_MIX[NUM_BINS]
cdef uint64_t BAND_SALT[NUM_BINS]
cdef bint _READY = False
cdef object _blake2b = hashlib.blake2b


def init(shingle_mix, band_mix, band_salt):
    """Set the constants (``signature._SHINGLE_MIX``, ``_BAND_MIX``, ``_BAND_SALT``, as Python ints)."""
    global _READY
    if len(shingle_mix) != MAX_K or len(band_mix) != NUM_BINS or len(band_salt) != NUM_BINS:
        raise ValueError("constants of the wrong size")
    cdef int i
    for i in range(MAX_K):
        SHINGLE_MIX[i] = shingle_mix[i]
    for i in range(NUM_BINS):
        BAND_MIX[i] = band_mix[i]
        BAND_SALT[i] = band_salt[i]
    _READY = True


cdef inline uint64_t fmix64(uint64_t x) nogil:
    x = x ^ (x >> 33)
    x = x * <uint64_t>0xFF51AFD7ED558CCDULL
    x = x ^ (x >> 33)
    x = x * <uint64_t>0xC4CEB9FE1A85EC53ULL
    return x ^ (x >> 33)


def fingerprint(str text, int k, int bands, int rows, dict cache, word_hash):
    """``(digest, signature, band keys, shingles)`` of ``text``, or None for a text with no words
    (``signature.fingerprint`` makes the ``Fingerprint``; ``cache``/``word_hash``: its word cache)."""
    if not _READY:
        raise RuntimeError("monitor.cluster._sig.init was not called")
    cdef list words = text.replace("\n", " \x00 ").split()
    cdef Py_ssize_t nw = len(words), n = 0, i, j, m, ns
    cdef uint64_t h, acc, para_count = 0
    cdef uint64_t *hs = NULL
    cdef uint64_t *para = NULL
    cdef uint64_t *sh = NULL
    cdef uint32_t sig[NUM_BINS]
    cdef uint32_t low
    cdef uint32_t filled[NUM_BINS]
    cdef int b, s, src, nfull, first_full
    cdef bint any_inside
    cdef object v
    if nw == 0:
        return None
    hs = <uint64_t *> malloc(nw * sizeof(uint64_t))
    para = <uint64_t *> malloc(nw * sizeof(uint64_t))
    if hs == NULL or para == NULL:
        free(hs)
        free(para)
        raise MemoryError()
    try:
        for w in words:
            v = cache.get(w)
            if v is None:
                v = word_hash(w)
            h = v
            if h == 1:
                para_count += 1
            elif h > 1:
                hs[n] = h
                para[n] = para_count
                n += 1
        if n == 0:
            return None
        digest = _blake2b(PyBytes_FromStringAndSize(<char *> hs, n * 8), digest_size=16).digest()
        if not 1 <= k <= MAX_K:
            raise ValueError(f"shingle size must be 1..{MAX_K}, not {k}")
        # shingles: k consecutive words inside one paragraph; none such: across lines; fewer than k words:
        # one shingle of them all
        if n < k:
            acc = 0
            for j in range(n):
                acc += hs[j] * SHINGLE_MIX[j]
            sh = <uint64_t *> malloc(sizeof(uint64_t))
            if sh == NULL:
                raise MemoryError()
            sh[0] = fmix64(acc)
            ns = 1
        else:
            m = n - k + 1
            sh = <uint64_t *> malloc(m * sizeof(uint64_t))
            if sh == NULL:
                raise MemoryError()
            any_inside = False
            for i in range(m):
                if para[i] == para[i + k - 1]:
                    any_inside = True
                    break
            ns = 0
            for i in range(m):
                if any_inside and para[i] != para[i + k - 1]:
                    continue
                acc = 0
                for j in range(k):
                    acc += hs[i + j] * SHINGLE_MIX[j]
                sh[ns] = fmix64(acc)
                ns += 1
        # one-permutation MinHash: the top 7 bits pick the bin, the bin keeps its lowest 32 bits' minimum
        for b in range(NUM_BINS):
            sig[b] = 0xFFFFFFFFU
        for i in range(ns):
            b = <int> (sh[i] >> 57)
            low = <uint32_t> (sh[i] & 0xFFFFFFFFULL)
            if low < sig[b]:
                sig[b] = low
        # rotation: an empty bin borrows the next non-empty bin's value (wrapping), offset by the distance
        nfull = 0
        first_full = -1
        for b in range(NUM_BINS):
            if sig[b] != 0xFFFFFFFFU:
                nfull += 1
                if first_full < 0:
                    first_full = b
        if nfull < NUM_BINS:
            if nfull == 0:
                raise IndexError("no non-empty bin")  # as the reference's indexing of an empty array
            for b in range(NUM_BINS):
                filled[b] = sig[b]
            src = -1
            for b in range(NUM_BINS - 1, -1, -1):  # src: the next full bin after b, wrapping
                if sig[b] != 0xFFFFFFFFU:
                    src = b
                else:
                    s = src if src >= 0 else first_full
                    filled[b] = <uint32_t> ((<uint64_t> sig[s] + <uint64_t> ((s - b + NUM_BINS) % NUM_BINS)
                                             * <uint64_t> 0x9E3779B1ULL) & 0xFFFFFFFFULL)
            for b in range(NUM_BINS):
                sig[b] = filled[b]
        signature = PyBytes_FromStringAndSize(<char *> sig, NUM_BINS * 4)
        if bands < 0 or rows < 0 or bands * rows > NUM_BINS:
            raise ValueError(f"{bands} bands of {rows} rows do not fit a signature of {NUM_BINS} bins")
        keys = []
        for b in range(bands):
            acc = 0
            for j in range(rows):
                acc += <uint64_t> sig[b * rows + j] * BAND_MIX[j]
            keys.append(fmix64(acc ^ BAND_SALT[b]))
        return digest, signature, tuple(keys), ns
    finally:
        free(hs)
        free(para)
        free(sh)
