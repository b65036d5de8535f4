# cython: language_level=3
"""Compiled core of ``monitor.rules.learned``: an article's features, counted, looked up and weighed, in C.

``Scorer(...).weigh(text)`` returns what ``LearnedModel._weigh_python`` returns for the same model and
text — the tags' decision values, the rows of the known features in the order of their first occurrence
(words, then word pairs, then headline words, then prefix-free Arabic words), and their l2-normalised
TF-IDF values — without making a string per feature: the words are found in the text and looked up where
they stand, in one open-addressing table of every string the model knows (a word, a headline word, a
prefix-free word or a part of a word pair), keyed by a 64-bit FNV-1a hash of the code points and confirmed
char by char; a pair is looked up by its two words' ids in a second table. The counts, the logarithms, the
norm and the dot products are C loops.

The layout is for a cold cache (the scorer runs between the rule matcher's passes, which evict it): each
known string is one 64-byte record on its own cache line — its hash, its chars (inline when they are at
most ten, all in the BMP), its rows as each kind of feature, its id in pairs, and the article's counting
state of those rows — so a look-up and the counting read one line after the slot; a pair is one 16-byte
slot (key, row, state); a feature's idf and weights share one line.
``tests/rules/test_learned_compiled.py`` checks it against the Python twin.

The constructor takes the tables ``LearnedModel`` builds from its feature table (``learned._core_tables``):
``words``, ``heads`` (headline words), ``stems`` (prefix-free words): string -> row; ``ids``: each word
of a pair feature -> its id; ``pairs``: ``id_a * len(ids) + id_b`` -> row; and ``prefixes``, the clitic
prefixes longest first (``learned._PREFIXES``): a word's prefix-free form is the word without the first
of them it opens with that leaves at least three letters (the regex ``learned._STEM``).
"""

from libc.math cimport log, sqrt
from libc.stdlib cimport free, malloc
from libc.string cimport memset
from libc.stdint cimport int32_t, int64_t, uint8_t, uint16_t, uint32_t, uint64_t

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


cdef enum:
    WORD = 0  # an entry's numbers: its rows as a word, a headline word, a prefix-free word; its id in pairs
    HEAD = 1
    STEM = 2
    PART = 3
    INLINE = 10  # an entry's chars kept in its record when they are at most this many, all in the BMP
    LINE = 64  # bytes of a cache line: each record and each feature's numbers start on one


# Every string the model knows, one 64-byte record (one cache line read per look-up, and the article's
# counting state in the same line): its hash and length, its chars (inline, or where they are in the pool),
# its four numbers, and per article where each of its rows is in the list of found features (-1: not found;
# reset after each article — ``weigh`` holds the GIL throughout and calls no Python code, so one state per
# scorer suffices).
cdef struct Entry:
    uint64_t hash
    int32_t length
    int32_t start  # where its chars are in the pool, or -1 when they are inline
    int32_t num[4]
    int32_t at[3]
    uint16_t chars[INLINE]


cdef struct Pair:  # a pair of words: its key (id_a + 1) << 32 | (id_b + 1) (0: an empty slot), row, state
    uint64_t key
    int32_t row
    int32_t at


cdef extern from "stdlib.h":
    int posix_memalign(void **memptr, size_t alignment, size_t size) nogil


cdef void *_lines(size_t size) except NULL:
    """``size`` bytes (at least one line) starting on a cache line, zeroed."""
    cdef void *p = NULL
    if size < LINE:
        size = LINE
    if posix_memalign(&p, LINE, size) != 0:
        raise MemoryError()
    memset(p, 0, size)
    return p


assert sizeof(Entry) == LINE


cdef inline uint64_t _fnv(int kind, void *data, Py_ssize_t s, Py_ssize_t e) noexcept nogil:
    cdef uint64_t h = FNV_OFFSET
    cdef Py_ssize_t i
    for i in range(s, e):
        h = (h ^ PyUnicode_READ(kind, data, i)) * FNV_PRIME
    return h


def _spills(str text):
    """Whether a string's chars go to the pool: more than ``INLINE`` of them, or one beyond the BMP."""
    return len(text) > INLINE or any(ord(c) > 0xFFFF for c in text)


cdef inline Py_ssize_t _capacity(Py_ssize_t n):
    """A power of two at least twice ``n`` (at most half the slots filled)."""
    cdef Py_ssize_t cap = 16
    while cap < 2 * n:
        cap *= 2
    return cap


cdef class Scorer:
    cdef Entry *entries
    cdef int32_t *pool  # the chars of the entries that do not keep them inline
    cdef int32_t *slots  # open addressing over the entries: an entry's index or -1
    cdef uint64_t mask
    cdef Pair *pairs  # open addressing by the key
    cdef uint64_t pair_mask
    cdef int pair_shift
    # the model's table, a feature per line: its idf, then its weight for each tag (``width`` doubles a row)
    cdef double *table
    cdef Py_ssize_t width
    cdef Py_ssize_t n_tags
    cdef double[::1] bias
    cdef Py_ssize_t limit
    cdef bint use_pairs
    cdef bint use_heads
    cdef bint use_stems
    cdef int32_t[:, ::1] prefix_chars  # the prefixes' code points, longest first, 0-padded
    cdef int32_t[::1] prefix_len

    def __init__(self, dict words, dict heads, dict stems, dict ids, dict pairs, double[::1] idf,
                 double[:, ::1] weights, double[::1] bias, Py_ssize_t limit, bint use_pairs, bint use_heads,
                 bint use_stems, tuple prefixes):
        self.bias = bias
        self.limit = limit
        self.use_pairs = use_pairs
        self.use_heads = use_heads
        self.use_stems = use_stems
        longest = max((len(p) for p in prefixes), default=1)
        self.prefix_chars = np.array([[ord(c) for c in p] + [0] * (longest - len(p)) for p in prefixes] or [[0]],
                                     dtype=np.int32)
        self.prefix_len = np.array([len(p) for p in prefixes] or [0], dtype=np.int32)[:len(prefixes)]
        self._build_table(idf, weights)
        self._build_strings(words, heads, stems, ids)
        self._build_pairs(pairs, len(ids))

    def __dealloc__(self):
        free(self.entries)
        free(self.pool)
        free(self.slots)
        free(self.pairs)
        free(self.table)

    def _build_table(self, double[::1] idf, double[:, ::1] weights):
        cdef Py_ssize_t r, k, n = weights.shape[0]
        self.n_tags = weights.shape[1]
        self.width = self.n_tags + 1
        if self.width * sizeof(double) <= LINE:
            self.width = LINE // sizeof(double)  # a row per line
        self.table = <double *>_lines(n * self.width * sizeof(double))
        for r in range(n):
            self.table[r * self.width] = idf[r]
            for k in range(self.n_tags):
                self.table[r * self.width + 1 + k] = weights[r, k]

    def _build_strings(self, dict words, dict heads, dict stems, dict ids):
        numbers: dict = {}
        for which, table in ((WORD, words), (HEAD, heads), (STEM, stems), (PART, ids)):
            for text, value in table.items():
                numbers.setdefault(text, [-1, -1, -1, -1])[which] = value
        cdef Py_ssize_t n = len(numbers), e = 0, cap = _capacity(n), at = 0, j
        cdef uint64_t i
        cdef Entry *x
        spills = [_spills(text) for text in numbers]
        self.pool = <int32_t *>_lines(sum(len(t) for t, out in zip(numbers, spills) if out) * sizeof(int32_t))
        self.entries = <Entry *>_lines(n * sizeof(Entry))
        self.slots = <int32_t *>_lines(cap * sizeof(int32_t))
        memset(self.slots, 0xFF, cap * sizeof(int32_t))  # -1 everywhere
        self.mask = cap - 1
        for (text, nums), out in zip(numbers.items(), spills):
            PyUnicode_READY(text)
            x = &self.entries[e]
            x.hash = _fnv(PyUnicode_KIND(text), PyUnicode_DATA(text), 0, PyUnicode_GET_LENGTH(text))
            x.length = len(text)
            for j in range(4):
                x.num[j] = nums[j]
            for j in range(3):
                x.at[j] = -1
            if out:
                x.start = at
                for j, c in enumerate(text):
                    self.pool[at + j] = ord(c)
                at += len(text)
            else:
                x.start = -1
                for j, c in enumerate(text):
                    x.chars[j] = ord(c)
            i = x.hash & self.mask
            while self.slots[i] >= 0:
                i = (i + 1) & self.mask
            self.slots[i] = e
            e += 1

    def _build_pairs(self, dict pairs, Py_ssize_t n_ids):
        cdef Py_ssize_t cap = _capacity(len(pairs))
        cdef uint64_t key, i
        self.pairs = <Pair *>_lines(cap * sizeof(Pair))
        self.pair_mask = cap - 1
        self.pair_shift = 64 - (cap.bit_length() - 1)
        for joined, row in pairs.items():
            a, b = divmod(joined, n_ids)
            key = ((<uint64_t>a + 1) << 32) | (<uint64_t>b + 1)
            i = (key * MIX) >> self.pair_shift
            while self.pairs[i].key != 0:
                i = (i + 1) & self.pair_mask
            self.pairs[i].key = key
            self.pairs[i].row = row
            self.pairs[i].at = -1

    cdef inline Entry *_find(self, int kind, void *data, Py_ssize_t s, Py_ssize_t e) noexcept:
        """The entry of the string ``text[s:e]``, or NULL when the model does not know it."""
        cdef uint64_t h = _fnv(kind, data, s, e), i = h & self.mask
        cdef int32_t k
        cdef Entry *x
        cdef Py_ssize_t j, n = e - s
        while True:
            k = self.slots[i]
            if k < 0:
                return NULL
            x = &self.entries[k]
            if x.hash == h and x.length == n:
                if x.start < 0:
                    for j in range(n):
                        if x.chars[j] != PyUnicode_READ(kind, data, s + j):
                            break
                    else:
                        return x
                else:
                    for j in range(n):
                        if <uint32_t>self.pool[x.start + j] != PyUnicode_READ(kind, data, s + j):
                            break
                    else:
                        return x
            i = (i + 1) & self.mask

    cdef inline Pair *_pair(self, int32_t a, int32_t b) noexcept:
        """The pair of the words with ids ``a`` and ``b``, or NULL."""
        cdef uint64_t key = ((<uint64_t>a + 1) << 32) | (<uint64_t>b + 1)
        cdef uint64_t i = (key * MIX) >> self.pair_shift
        while self.pairs[i].key != 0:
            if self.pairs[i].key == key:
                return &self.pairs[i]
            i = (i + 1) & self.pair_mask
        return NULL

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

    def weigh(self, str text):
        """``(decision values, rows, values)`` as ``LearnedModel._weigh_python`` (numpy arrays)."""
        PyUnicode_READY(text)
        cdef int kind = PyUnicode_KIND(text)
        cdef void *data = PyUnicode_DATA(text)
        cdef Py_ssize_t end = min(PyUnicode_GET_LENGTH(text), self.limit)
        cdef Py_ssize_t i = 0, s, head_end = end, k, n_words = 0, j, start, room = end // 2 + 2
        cdef Py_ssize_t n = 0  # features found so far
        cdef int32_t prev_id, part
        cdef uint32_t ch
        cdef Entry *x
        cdef Pair *pair
        # at most one word per two chars (a word and a separator), and four features per word
        # scratch, one block: each word's start, end and entry; the found features' rows, counts, and where
        # their state is (to reset it)
        cdef int64_t *block = <int64_t *>malloc(15 * room * sizeof(int64_t))
        if block == NULL:
            raise MemoryError()
        cdef int64_t *starts = block
        cdef int64_t *ends = block + room
        cdef Entry **ents = <Entry **>(block + 2 * room)
        cdef int64_t *found = block + 3 * room
        cdef double *counts = <double *>(block + 7 * room)
        cdef int32_t **where = <int32_t **>(block + 11 * room)
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
                x = ents[k]
                if x != NULL and x.num[WORD] >= 0:
                    _count(x.num[WORD], &x.at[WORD], found, counts, where, &n)
            if self.use_pairs:
                prev_id = -1
                for k in range(n_words):
                    x = ents[k]
                    part = x.num[PART] if x != NULL else -1
                    if prev_id >= 0 and part >= 0:
                        pair = self._pair(prev_id, part)
                        if pair != NULL:
                            _count(pair.row, &pair.at, found, counts, where, &n)
                    prev_id = part
            if self.use_heads:
                for k in range(n_words):
                    if starts[k] >= head_end:
                        break
                    x = ents[k]
                    if x != NULL and x.num[HEAD] >= 0:
                        _count(x.num[HEAD], &x.at[HEAD], found, counts, where, &n)
            if self.use_stems:
                for k in range(n_words):
                    start = self._stem_start(kind, data, starts[k], ends[k])
                    if start >= 0:
                        x = self._find(kind, data, start, ends[k])
                        if x != NULL and x.num[STEM] >= 0:
                            _count(x.num[STEM], &x.at[STEM], found, counts, where, &n)
            rows_arr = np.empty(n, dtype=np.int64)
            values_arr = np.empty(n, dtype=np.float64)
            decision_arr = np.array(self.bias, dtype=np.float64)
            self._fill(found, counts, n, rows_arr, values_arr, decision_arr)
            return decision_arr, rows_arr, values_arr
        finally:
            for j in range(n):
                where[j][0] = -1
            free(block)

    cdef int _fill(self, int64_t *found, double *counts, Py_ssize_t n, int64_t[::1] rows,
                   double[::1] values, double[::1] decision) except -1:
        cdef Py_ssize_t j, k
        cdef double norm = 0.0, v
        cdef double *row
        for j in range(n):
            rows[j] = found[j]
            v = (1.0 + log(counts[j])) * self.table[found[j] * self.width]
            values[j] = v
            norm += v * v
        norm = sqrt(norm)
        if norm == 0.0:
            norm = 1.0
        for j in range(n):
            values[j] /= norm
            row = self.table + found[j] * self.width + 1
            for k in range(self.n_tags):
                decision[k] += values[j] * row[k]
        return 0


cdef inline void _count(int32_t r, int32_t *at, int64_t *found, double *counts, int32_t **where,
                        Py_ssize_t *n) noexcept:
    """Count the feature of row ``r`` whose state is ``at``: a new one joins the list of found features."""
    if at[0] < 0:
        at[0] = <int32_t>n[0]
        found[n[0]] = r
        counts[n[0]] = 1.0
        where[n[0]] = at
        n[0] += 1
    else:
        counts[at[0]] += 1.0
