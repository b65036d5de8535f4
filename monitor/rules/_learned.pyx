# cython: language_level=3
"""Compiled core of ``monitor.rules.learned``: an article's features, counted, looked up and weighed, in C.

``Scorer(...).weigh(text)`` returns what ``LearnedModel._weigh_python`` returns for the same model and
text — the tags' decision values, the rows of the known features in the order of their first occurrence
(words, then word pairs, then headline words, then prefix-free Arabic words), and their l2-normalised
TF-IDF values — without making a string per feature: the words are found in the text and looked up where
they stand, in one open-addressing table of every string the model knows (a word, a headline word, a
prefix-free word or a part of a word pair: its rows for each, and its id as a part of a pair), keyed by a
64-bit FNV-1a hash of the code points and confirmed char by char; a pair is looked up by its two words'
ids in a second table. The counts, the logarithms, the norm and the dot products are C loops.
``tests/rules/test_learned_compiled.py`` checks it against the Python twin.

The constructor takes the tables ``LearnedModel`` builds from its feature table (``learned._core_tables``):
``words``, ``heads`` (headline words), ``stems`` (prefix-free words): string -> row; ``ids``: each word
of a pair feature -> its id; ``pairs``: ``id_a * len(ids) + id_b`` -> row; and ``prefixes``, the clitic
prefixes longest first (``learned._PREFIXES``): a word's prefix-free form is the word without the first
of them it opens with that leaves at least three letters (the regex ``learned._STEM``).
"""

from libc.math cimport log, sqrt
from libc.stdlib cimport free, malloc
from libc.stdint cimport int32_t, int64_t, uint8_t, uint32_t, uint64_t

import numpy as np

cdef extern from "Python.h":
    int PyUnicode_KIND(object o)
    void *PyUnicode_DATA(object o)
    Py_ssize_t PyUnicode_GET_LENGTH(object o)
    int PyUnicode_READY(object o) except -1
    # code points as plain integers (Cython reads a Py_UCS4 as a one-char string in expressions)
    uint32_t PyUnicode_READ(int kind, void *data, Py_ssize_t index) nogil
    bint Py_UNICODE_ISALNUM(uint32_t ch) nogil

cdef uint64_t FNV_OFFSET = 14695981039346656037ULL
cdef uint64_t FNV_PRIME = 1099511628211ULL
cdef uint64_t MIX = 11400714819323198485ULL  # 2**64 / golden ratio, for the pairs' slots

# a bit per code point of the Basic Multilingual Plane: whether it is a letter or digit (``str.isalnum``, the
# regex ``[^\W_]``), built once at import; other planes ask Python
cdef uint8_t[8192] _ALNUM
for _c in range(65536):
    if chr(_c).isalnum():
        _ALNUM[_c >> 3] |= <uint8_t>(1 << (_c & 7))


cdef inline bint _alnum(uint32_t ch) noexcept nogil:
    if ch < 65536:
        return (_ALNUM[ch >> 3] >> (ch & 7)) & 1
    return Py_UNICODE_ISALNUM(ch)


cdef enum:  # an entry's four numbers: its rows as a word, a headline word, a prefix-free word; its id in pairs
    WORD = 0
    HEAD = 1
    STEM = 2
    PART = 3


cdef inline uint64_t _fnv(int kind, void *data, Py_ssize_t s, Py_ssize_t e) noexcept nogil:
    cdef uint64_t h = FNV_OFFSET
    cdef Py_ssize_t i
    for i in range(s, e):
        h = (h ^ PyUnicode_READ(kind, data, i)) * FNV_PRIME
    return h


cdef inline Py_ssize_t _capacity(Py_ssize_t n):
    """A power of two at least twice ``n`` (at most half the slots filled)."""
    cdef Py_ssize_t cap = 16
    while cap < 2 * n:
        cap *= 2
    return cap


cdef class Scorer:
    # the strings: code points (flat), each entry's start and length in them, its hash, its four numbers
    cdef int32_t[::1] chars
    # one 32-byte record per entry (one cache line read per look-up): the hash's low and high halves, the
    # start and length of its chars, its four numbers
    cdef int32_t[:, ::1] ent
    cdef int32_t[::1] slots  # open addressing: an entry or -1
    cdef uint64_t mask
    # the pairs: key (id_a + 1) << 32 | (id_b + 1), 0 for an empty slot, and the pair's row
    cdef uint64_t[::1] pair_key
    cdef int32_t[::1] pair_row
    cdef uint64_t pair_mask
    cdef int pair_shift
    cdef double[::1] idf
    cdef double[:, ::1] weights
    cdef double[::1] bias
    cdef Py_ssize_t limit
    cdef bint use_pairs
    cdef bint use_heads
    cdef bint use_stems
    cdef int32_t[:, ::1] prefix_chars  # the prefixes' code points, longest first, 0-padded
    cdef int32_t[::1] prefix_len
    # per feature row: where it is in the article's list of found features, -1 when not found (reset after
    # each article; ``weigh`` holds the GIL throughout and calls no Python code, so one per scorer suffices)
    cdef int32_t[::1] slot

    def __init__(self, dict words, dict heads, dict stems, dict ids, dict pairs, double[::1] idf,
                 double[:, ::1] weights, double[::1] bias, Py_ssize_t limit, bint use_pairs, bint use_heads,
                 bint use_stems, tuple prefixes):
        self.idf = idf
        self.weights = weights
        self.bias = bias
        self.limit = limit
        self.use_pairs = use_pairs
        self.use_heads = use_heads
        self.use_stems = use_stems
        self.slot = np.full(weights.shape[0], -1, dtype=np.int32)
        width = max((len(p) for p in prefixes), default=1)
        self.prefix_chars = np.array([[ord(c) for c in p] + [0] * (width - len(p)) for p in prefixes] or [[0]],
                                     dtype=np.int32)
        self.prefix_len = np.array([len(p) for p in prefixes] or [0], dtype=np.int32)[:len(prefixes)]
        self._build_strings(words, heads, stems, ids)
        self._build_pairs(pairs, len(ids))

    def _build_strings(self, dict words, dict heads, dict stems, dict ids):
        numbers: dict = {}
        for which, table in ((WORD, words), (HEAD, heads), (STEM, stems), (PART, ids)):
            for text, value in table.items():
                numbers.setdefault(text, [-1, -1, -1, -1])[which] = value
        cdef Py_ssize_t n = len(numbers), e = 0, cap = _capacity(n), at = 0
        cdef uint64_t h
        self.chars = np.array([ord(c) for text in numbers for c in text] or [0], dtype=np.int32)
        records = np.zeros((max(n, 1), 8), dtype=np.int32)
        if n:
            records[:, 4:] = np.array(list(numbers.values()), dtype=np.int32)
        self.ent = records
        self.slots = np.full(cap, -1, dtype=np.int32)
        self.mask = cap - 1
        for text in numbers:
            PyUnicode_READY(text)
            h = _fnv(PyUnicode_KIND(text), PyUnicode_DATA(text), 0, PyUnicode_GET_LENGTH(text))
            self.ent[e, 0] = <int32_t>(h & 0xFFFFFFFFULL)
            self.ent[e, 1] = <int32_t>(h >> 32)
            self.ent[e, 2] = at
            self.ent[e, 3] = len(text)
            at += len(text)
            i = h & self.mask
            while self.slots[i] >= 0:
                i = (i + 1) & self.mask
            self.slots[i] = e
            e += 1

    def _build_pairs(self, dict pairs, Py_ssize_t n_ids):
        cdef Py_ssize_t cap = _capacity(len(pairs))
        cdef uint64_t key, i
        self.pair_key = np.zeros(cap, dtype=np.uint64)
        self.pair_row = np.full(cap, -1, dtype=np.int32)
        self.pair_mask = cap - 1
        self.pair_shift = 64 - (cap.bit_length() - 1)
        for joined, row in pairs.items():
            a, b = divmod(joined, n_ids)
            key = ((<uint64_t>a + 1) << 32) | (<uint64_t>b + 1)
            i = (key * MIX) >> self.pair_shift
            while self.pair_key[i] != 0:
                i = (i + 1) & self.pair_mask
            self.pair_key[i] = key
            self.pair_row[i] = row

    cdef inline Py_ssize_t _find(self, int kind, void *data, Py_ssize_t s, Py_ssize_t e) noexcept:
        """The entry of the string ``text[s:e]``, or -1 when the model does not know it."""
        cdef uint64_t h = _fnv(kind, data, s, e), i = h & self.mask
        cdef int32_t ent
        cdef Py_ssize_t j, start
        while True:
            ent = self.slots[i]
            if ent < 0:
                return -1
            if (self.ent[ent, 0] == <int32_t>(h & 0xFFFFFFFFULL) and self.ent[ent, 1] == <int32_t>(h >> 32)
                    and self.ent[ent, 3] == e - s):
                start = self.ent[ent, 2]
                for j in range(e - s):
                    if <uint32_t>self.chars[start + j] != PyUnicode_READ(kind, data, s + j):
                        break
                else:
                    return ent
            i = (i + 1) & self.mask

    cdef inline int32_t _pair(self, int32_t a, int32_t b) noexcept:
        """The row of the pair of the words with ids ``a`` and ``b``, or -1."""
        cdef uint64_t key = ((<uint64_t>a + 1) << 32) | (<uint64_t>b + 1)
        cdef uint64_t i = (key * MIX) >> self.pair_shift
        while self.pair_key[i] != 0:
            if self.pair_key[i] == key:
                return self.pair_row[i]
            i = (i + 1) & self.pair_mask
        return -1

    cdef inline Py_ssize_t _stem_start(self, int kind, void *data, Py_ssize_t s, Py_ssize_t e) noexcept:
        """Where the prefix-free form of the word ``text[s:e]`` starts, or -1 when it has none."""
        cdef Py_ssize_t p, i, n
        for p in range(self.prefix_len.shape[0]):
            n = self.prefix_len[p]
            if e - s - n < 3:
                continue
            for i in range(n):
                if PyUnicode_READ(kind, data, s + i) != <uint32_t>self.prefix_chars[p, i]:
                    break
            else:
                return s + n
        return -1

    cdef inline void _count(self, int32_t r, int64_t *found, double *counts, Py_ssize_t *n) noexcept:
        cdef int32_t at = self.slot[r]
        if at < 0:
            self.slot[r] = <int32_t>n[0]
            found[n[0]] = r
            counts[n[0]] = 1.0
            n[0] += 1
        else:
            counts[at] += 1.0

    def weigh(self, str text):
        """``(decision values, rows, values)`` as ``LearnedModel._weigh_python`` (numpy arrays)."""
        PyUnicode_READY(text)
        cdef int kind = PyUnicode_KIND(text)
        cdef void *data = PyUnicode_DATA(text)
        cdef Py_ssize_t end = min(PyUnicode_GET_LENGTH(text), self.limit)
        cdef Py_ssize_t i = 0, s, head_end = end, k, n_words = 0, n = 0, j, start, ent, room = end // 2 + 2
        cdef int32_t r, prev_id, part
        cdef uint32_t ch
        # at most one word per two chars (a word and a separator), and four features per word
        # scratch, one block: each word's start, end and entry; the found features' rows and counts
        cdef int64_t *block = <int64_t *>malloc(11 * room * sizeof(int64_t))
        if block == NULL:
            raise MemoryError()
        cdef int64_t *starts = block
        cdef int64_t *ends = block + room
        cdef int64_t *ents = block + 2 * room
        cdef int64_t *found = block + 3 * room
        cdef double *counts = <double *>(block + 7 * room)
        # the words: maximal runs of letters and digits (the regex [^\W_]+) in the first ``limit`` chars;
        # the headline's are those before the first line break (all of them when the window has none)
        while i < end:
            ch = PyUnicode_READ(kind, data, i)
            if _alnum(ch):
                s = i
                i += 1
                while i < end and _alnum(PyUnicode_READ(kind, data, i)):
                    i += 1
                starts[n_words] = s
                ends[n_words] = i
                ents[n_words] = self._find(kind, data, s, i)
                n_words += 1
            else:
                if ch == 10 and head_end == end:
                    head_end = i
                i += 1
        try:
            for k in range(n_words):
                ent = ents[k]
                if ent >= 0 and self.ent[ent, 4 + WORD] >= 0:
                    self._count(self.ent[ent, 4 + WORD], found, counts, &n)
            if self.use_pairs:
                prev_id = -1
                for k in range(n_words):
                    ent = ents[k]
                    part = self.ent[ent, 4 + PART] if ent >= 0 else -1
                    if prev_id >= 0 and part >= 0:
                        r = self._pair(prev_id, part)
                        if r >= 0:
                            self._count(r, found, counts, &n)
                    prev_id = part
            if self.use_heads:
                for k in range(n_words):
                    if starts[k] >= head_end:
                        break
                    ent = ents[k]
                    if ent >= 0 and self.ent[ent, 4 + HEAD] >= 0:
                        self._count(self.ent[ent, 4 + HEAD], found, counts, &n)
            if self.use_stems:
                for k in range(n_words):
                    start = self._stem_start(kind, data, starts[k], ends[k])
                    if start >= 0:
                        ent = self._find(kind, data, start, ends[k])
                        if ent >= 0 and self.ent[ent, 4 + STEM] >= 0:
                            self._count(self.ent[ent, 4 + STEM], found, counts, &n)
            rows_arr = np.empty(n, dtype=np.int64)
            values_arr = np.empty(n, dtype=np.float64)
            decision_arr = np.array(self.bias, dtype=np.float64)
            self._fill(found, counts, n, rows_arr, values_arr, decision_arr)
            return decision_arr, rows_arr, values_arr
        finally:
            for j in range(n):
                self.slot[found[j]] = -1
            free(block)

    cdef int _fill(self, int64_t *found, double *counts, Py_ssize_t n, int64_t[::1] rows,
                   double[::1] values, double[::1] decision) except -1:
        cdef Py_ssize_t j, k, n_tags = self.weights.shape[1]
        cdef double norm = 0.0, v
        cdef int64_t r
        for j in range(n):
            r = found[j]
            rows[j] = r
            v = (1.0 + log(counts[j])) * self.idf[r]
            values[j] = v
            norm += v * v
        norm = sqrt(norm)
        if norm == 0.0:
            norm = 1.0
        for j in range(n):
            values[j] /= norm
            r = rows[j]
            for k in range(n_tags):
                decision[k] += values[j] * self.weights[r, k]
        return 0
