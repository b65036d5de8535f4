# cython: language_level=3
"""Compiled core of ``monitor.rules.terms``: the term automaton as a dense DFA, and the affix checks, in C.

``Scanner(entries, affixes, max_prefix, max_suffix)`` is built once per ``TermTable`` from the same
``(key, patterns)`` pairs that the pure-Python path feeds to pyahocorasick, and its ``scan_into`` has the
signature and the results of ``TermTable.scan_into`` (same hits, in the same order).

Layout:

- alphabet: every code point that occurs in a key gets a symbol ``1..m``; every other char is symbol 0
  (it never continues a key, so it always leads back to the root). BMP chars are looked up in a
  65,536-entry ``uint16`` array, astral chars (rare) in a dict;
- ``delta``: one ``int32`` row of ``m + 2`` cells per trie node. Cells ``0..m`` are the DFA transitions
  (fail links folded in, computed by a BFS), stored as the *row offset* of the target so the hot loop
  does no multiplication; cell ``m + 1`` is ``1 +`` the id of the first node on the node's fail chain
  (itself included) where a key ends, or 0 when none does;
- outputs in CSR form per node (``out_start``): key length, term id and flags, in the order of the
  patterns; ``out_link`` goes on to the next node down the fail chain that has outputs. So at one end
  position outputs come longest key first, as pyahocorasick yields them;
- affixes: every affix char gets a 5-bit index, a short string is packed into a ``uint64``; one sorted
  array of the packed strings of all affix sets, with a bit per set, answers "is ``text[a:b]`` in set X".
"""

from cpython.dict cimport PyDict_GetItem
from cpython.list cimport PyList_Append
from cpython.ref cimport PyObject
from libc.stdlib cimport free, malloc
from libc.stdint cimport int32_t, uint8_t, uint16_t, uint32_t, uint64_t

import numpy as np

cdef extern from "Python.h":
    int PyUnicode_KIND(object o)
    void *PyUnicode_DATA(object o)
    Py_ssize_t PyUnicode_GET_LENGTH(object o)
    int PyUnicode_READY(object o) except -1
    Py_UCS4 PyUnicode_READ(int kind, void *data, Py_ssize_t index) nogil
    char *PyBytes_AS_STRING(object o)
    bint Py_UNICODE_ISALNUM(Py_UCS4 ch)
    Py_ssize_t PyBytes_GET_SIZE(object o)

# pattern flags (terms.NORMAL / TEH / PLURAL are kinds 0 / 1 / 2)
DEF F_SIMPLE = 1
DEF F_ARTICLE = 8
DEF F_PREFIX = 16
DEF F_ARABIC = 32
DEF KIND_SHIFT = 1
DEF KIND_MASK = 3
DEF TEH = 1
DEF PLURAL = 2

# affix sets (bits of ``affix_bits``), in the order of the ``affixes`` argument
DEF S_PROCLITICS = 1
DEF S_ARTICLE = 2
DEF S_LAM = 4
DEF S_SUFFIXES = 8
DEF S_TEH = 16
DEF S_PRONOUNS_OR_NONE = 32
DEF S_EN = 64
DEF MAX_AFFIX_LEN = 12
DEF LANES = 4  # segments of a long text walked side by side
DEF MIN_LANE = 128  # shorter texts: one walk  # 12 chars * 5 bits fit a uint64

AFFIX_SETS = ("proclitics", "article_proclitics", "lam_prefixes", "suffixes", "teh_suffixes",
              "pronouns_or_none", "en_suffixes")


cdef class Scanner:
    cdef int32_t stride  # cells per row: symbols + 1 output cell
    cdef int32_t out_cell  # index of the output cell inside a row
    cdef int32_t nstates
    cdef int32_t max_prefix
    cdef int32_t max_suffix
    cdef int32_t max_depth  # longest key
    cdef int32_t[::1] node_depth  # per trie node: the length of the key prefix it stands for
    cdef uint16_t[::1] bmp_sym
    cdef dict astral_sym
    cdef int32_t[::1] delta
    cdef int32_t[::1] out_start
    cdef int32_t[::1] out_link
    cdef int32_t[::1] out_len
    cdef int32_t[::1] out_tid
    cdef uint8_t[::1] out_flags
    cdef list tid_objs  # term id -> int object (no allocation per hit)
    cdef uint8_t[::1] affix_idx  # code point -> 1..31 for affix chars, 0 otherwise
    cdef uint64_t[::1] affix_codes  # sorted packed affix strings
    cdef uint8_t[::1] affix_bits  # the sets each of them belongs to

    def __init__(self, entries, affixes, int max_prefix, int max_suffix):
        """``entries``: ``[(key, [(key length, term id, simple, (kind, article, prefix, arabic)), ...]), ...]``;
        ``affixes``: the sets named in ``AFFIX_SETS``, in that order (iterables of str)."""
        self.max_prefix = max_prefix
        self.max_suffix = max_suffix
        self._build_affixes(affixes)
        self._build_automaton(entries)

    # --- building ---------------------------------------------------------------------------------
    cdef _build_affixes(self, affixes):
        chars = sorted({c for group in affixes for s in group for c in s})
        if len(chars) > 31:
            raise ValueError("more than 31 distinct affix chars")
        top = max((ord(c) for c in chars), default=0)
        idx = np.zeros(top + 1, dtype=np.uint8)
        for i, c in enumerate(chars):
            idx[ord(c)] = i + 1
        self.affix_idx = idx
        bits: dict = {}
        for b, group in enumerate(affixes):
            for s in group:
                if len(s) > MAX_AFFIX_LEN:
                    raise ValueError(f"affix longer than {MAX_AFFIX_LEN} chars: {s!r}")
                code = 0
                for c in s:
                    code = (code << 5) | int(idx[ord(c)])
                bits[code] = bits.get(code, 0) | (1 << b)
        codes = sorted(bits)
        self.affix_codes = np.array(codes, dtype=np.uint64)
        self.affix_bits = np.array([bits[c] for c in codes], dtype=np.uint8)

    cdef _build_automaton(self, entries):
        cdef Py_ssize_t i, j, n, lcp, nkeys = len(entries)
        cdef int32_t nsym, stride, row, nxt, nrows, sym, u, v, s, head, tail, fu, st, t
        cdef int kind_a, kind_b
        cdef uint32_t c
        cdef void *da
        cdef void *db
        keys = [k for k, _ in entries]
        alphabet = sorted({ch for k in keys for ch in k})
        bmp = np.zeros(0x10000, dtype=np.uint16)
        astral: dict = {}
        for i, ch in enumerate(alphabet):
            if ord(ch) < 0x10000:
                bmp[ord(ch)] = i + 1
            else:
                astral[ord(ch)] = i + 1
        self.bmp_sym = bmp
        cdef uint16_t[::1] bs = bmp
        self.astral_sym = astral
        nsym = len(alphabet) + 1
        stride = nsym + 1
        self.stride = stride
        self.out_cell = nsym

        # number of trie nodes: 1 + sum over the sorted keys of (length - common prefix with the previous)
        order = sorted(range(nkeys), key=keys.__getitem__)
        cdef Py_ssize_t nnodes = 1
        prev = ""
        for i in order:
            k = keys[i]
            n = min(len(k), len(prev))
            da = PyUnicode_DATA(k)
            db = PyUnicode_DATA(prev)
            kind_a = PyUnicode_KIND(k)
            kind_b = PyUnicode_KIND(prev)
            lcp = 0
            while lcp < n and PyUnicode_READ(kind_a, da, lcp) == PyUnicode_READ(kind_b, db, lcp):
                lcp += 1
            nnodes += len(k) - lcp
            prev = k
        if nnodes * stride >= 2 ** 30:
            raise ValueError("automaton too large")
        self.nstates = nnodes
        self.max_depth = max((len(k) for k in keys), default=0)

        delta_a = np.full(nnodes * stride, -1, dtype=np.int32)
        cdef int32_t[::1] delta = delta_a
        key_state = np.zeros(nkeys, dtype=np.int32)
        cdef int32_t[::1] ks = key_state
        depth_a = np.zeros(nnodes, dtype=np.int32)
        cdef int32_t[::1] depth = depth_a
        nrows = 1
        for i in range(nkeys):
            k = keys[i]
            da = PyUnicode_DATA(k)
            kind_a = PyUnicode_KIND(k)
            row = 0
            for j in range(len(k)):
                c = PyUnicode_READ(kind_a, da, j)
                sym = bs[c] if c < 0x10000 else astral[c]
                nxt = delta[row + sym]
                if nxt < 0:
                    nxt = nrows * stride
                    depth[nrows] = j + 1
                    nrows += 1
                    delta[row + sym] = nxt
                row = nxt
            ks[i] = row // stride

        # outputs in CSR form, per state, in the order of ``entries``
        counts = np.zeros(nnodes + 1, dtype=np.int32)
        for i in range(nkeys):
            counts[key_state[i] + 1] = len(entries[i][1])
        out_start = np.cumsum(counts, dtype=np.int32)
        total = int(out_start[nnodes])
        out_len = np.zeros(total, dtype=np.int32)
        out_tid = np.zeros(total, dtype=np.int32)
        out_flags = np.zeros(total, dtype=np.uint8)
        max_tid = -1
        for i in range(nkeys):
            j = out_start[key_state[i]]
            for klen, tid, simple, (kind, article, prefix, arabic) in entries[i][1]:
                out_len[j] = klen
                out_tid[j] = tid
                out_flags[j] = ((F_SIMPLE if simple else 0) | (kind << KIND_SHIFT) | (F_ARTICLE if article else 0)
                                | (F_PREFIX if prefix else 0) | (F_ARABIC if arabic else 0))
                max_tid = max(max_tid, tid)
                j += 1
        self.out_start = out_start
        self.out_len = out_len
        self.out_tid = out_tid
        self.out_flags = out_flags
        self.tid_objs = list(range(max_tid + 1))
        cdef int32_t[::1] os_ = out_start

        # BFS: fail links folded into the transitions; output links down the fail chain
        fail_a = np.zeros(nnodes, dtype=np.int32)  # row offsets
        link_a = np.full(nnodes, -1, dtype=np.int32)  # state ids
        queue_a = np.zeros(nnodes, dtype=np.int32)  # row offsets
        cdef int32_t[::1] fail = fail_a
        cdef int32_t[::1] link = link_a
        cdef int32_t[::1] queue = queue_a
        head = 0
        tail = 0
        for s in range(nsym):
            v = delta[s]
            if v < 0:
                delta[s] = 0
            else:
                fail[v // stride] = 0
                queue[tail] = v
                tail += 1
        delta[nsym] = 0  # the root is no key
        while head < tail:
            u = queue[head]
            head += 1
            fu = fail[u // stride]
            for s in range(nsym):
                v = delta[u + s]
                if v < 0:
                    delta[u + s] = delta[fu + s]
                else:
                    fail[v // stride] = delta[fu + s]
                    queue[tail] = v
                    tail += 1
            # u's fail state is shallower, so its output cell is already set
            st = u // stride
            t = delta[fu + nsym] - 1  # first node with outputs on the chain of fail(u)
            link[st] = t
            delta[u + nsym] = st + 1 if os_[st + 1] > os_[st] else t + 1
        self.out_link = link_a

        # renumber the rows in BFS order (the shallow states, where a scan spends most of its steps, share
        # the cache); a transition is stored as 2 * (target row offset) + (1 if the target has outputs)
        rank_a = np.zeros(nnodes, dtype=np.int32)  # old state id -> new row offset
        cdef int32_t[::1] rank = rank_a
        for i in range(tail):
            rank[queue[i] // stride] = (i + 1) * stride
        packed_a = np.empty(nnodes * stride, dtype=np.int32)
        cdef int32_t[::1] packed = packed_a
        for i in range(nnodes):
            u = 0 if i == 0 else queue[i - 1]
            row = rank[u // stride]
            for s in range(nsym):
                v = delta[u + s]
                packed[row + s] = 2 * rank[v // stride] + (1 if delta[v + nsym] else 0)
            packed[row + nsym] = delta[u + nsym]
        del delta_a, delta
        self.delta = packed_a
        node_depth = np.zeros(nnodes, dtype=np.int32)  # in the new numbering
        for i in range(nnodes):
            node_depth[rank[i] // stride] = depth[i]
        self.node_depth = node_depth

    def stats(self) -> dict:
        return {"states": self.nstates, "symbols": self.out_cell, "outputs": len(self.out_tid),
                "delta_mb": round(self.nstates * self.stride * 4 / 1e6, 1)}

    # --- scanning ---------------------------------------------------------------------------------
    cdef inline int _in_set(self, int kind, void *data, Py_ssize_t a, Py_ssize_t b, int which) noexcept:
        """Whether ``text[a:b]`` is in the affix set(s) ``which``."""
        cdef uint64_t code = 0
        cdef Py_ssize_t i, lo, hi, mid
        cdef uint32_t c
        cdef Py_ssize_t top = self.affix_idx.shape[0]
        cdef uint8_t x
        if b - a > MAX_AFFIX_LEN:
            return 0
        for i in range(a, b):
            c = PyUnicode_READ(kind, data, i)
            if c >= <uint32_t>top:
                return 0
            x = self.affix_idx[c]
            if x == 0:
                return 0
            code = (code << 5) | x
        lo = 0
        hi = self.affix_codes.shape[0]
        while lo < hi:
            mid = (lo + hi) >> 1
            if self.affix_codes[mid] < code:
                lo = mid + 1
            else:
                hi = mid
        return lo < self.affix_codes.shape[0] and self.affix_codes[lo] == code and (self.affix_bits[lo] & which) != 0

    cdef inline Py_ssize_t _check(self, const unsigned char *mask, Py_ssize_t n, int kind, void *data,
                                  Py_ssize_t start, Py_ssize_t end, int flags, int left_word, int right_word,
                                  Py_ssize_t *span_start) noexcept:
        """``terms._check``: the end of the accepted span (its start in ``span_start``), or -1."""
        cdef Py_ssize_t k, low, high, word_start = start
        cdef int article = flags & F_ARTICLE
        cdef int arabic = flags & F_ARABIC
        cdef int tkind = (flags >> KIND_SHIFT) & KIND_MASK
        cdef int allowed
        if left_word:
            if not arabic:
                return -1
            k = start - 1
            low = start - self.max_prefix - 1
            if low < 0:
                low = 0
            while k >= low and mask[k]:
                k -= 1
            if k >= 0 and mask[k]:
                return -1
            if not self._in_set(kind, data, k + 1, start, S_ARTICLE if article else S_PROCLITICS):
                # ل + ال + a word starting with ل is written with two lams: للجنة = ل + (ا)ل + لجنة
                if not (article and PyUnicode_READ(kind, data, start) == 0x0644
                        and self._in_set(kind, data, k + 1, start, S_LAM)):
                    return -1
            word_start = k + 1
        elif article:
            return -1
        span_start[0] = word_start
        if not right_word:
            return -1 if tkind == TEH else end
        k = end
        high = end + self.max_suffix + 1
        if high > n:
            high = n
        while k < high and mask[k]:
            k += 1
        if flags & F_PREFIX:
            while k < n and mask[k]:
                k += 1
            return k
        if k < n and mask[k]:
            return -1
        if not arabic:
            allowed = S_EN
        elif tkind == TEH:
            allowed = S_TEH
        elif tkind == PLURAL:
            allowed = S_PRONOUNS_OR_NONE
        else:
            allowed = S_SUFFIXES
        return k if self._in_set(kind, data, end, k, allowed) else -1

    def scan_into(self, str text not None, mask, f, dict hits not None):
        """Add the hits of field ``f`` to ``hits`` as ``term id -> [(f, start, end), ...]`` (see ``terms``).

        A long text is cut into ``LANES`` segments walked side by side (independent chains of loads, so
        the CPU overlaps their latencies); each lane starts ``max depth`` chars before its segment, from
        the root, so it is in the true state when its segment begins. The lanes' output positions are
        buffered and handled in text order, so the hits come in the same order as one sequential walk.
        """
        PyUnicode_READY(text)
        cdef Py_ssize_t n = PyUnicode_GET_LENGTH(text)
        if n == 0:
            return
        if type(mask) is not bytes:
            mask = bytes(mask)
        if PyBytes_GET_SIZE(mask) < n:
            raise ValueError("mask shorter than text")
        cdef int kind = PyUnicode_KIND(text)
        cdef void *data = PyUnicode_DATA(text)
        cdef const unsigned char *m = <const unsigned char *>PyBytes_AS_STRING(mask)
        self._walk(m, n, kind, data, f, hits, NULL, NULL)

    cdef int _walk(self, const unsigned char *m, Py_ssize_t n, int kind, void *data, f, dict hits,
                   const Py_ssize_t *vpos, const Py_ssize_t *mods) except -1:
        """The automaton's walk over ``data`` (lanes for a long text), emitting its hits: ``_emit``, or
        ``_emit_quoted`` with ``vpos`` and ``mods`` (the view of ``scan_quoted``)."""
        cdef const int32_t *delta = &self.delta[0]
        cdef const uint16_t *bmp = &self.bmp_sym[0]
        cdef int32_t out_cell = self.out_cell
        cdef Py_ssize_t i, j, e, steps
        cdef int32_t x = 0  # 2 * row offset + 1 if the state has outputs
        cdef uint32_t c
        if n < MIN_LANE * LANES:
            for i in range(n):
                c = PyUnicode_READ(kind, data, i)
                x = delta[(x >> 1) + (bmp[c] if c < 0x10000 else self._astral(c))]
                if x & 1:
                    self._out(m, n, kind, data, i + 1, delta[(x >> 1) + out_cell] - 1, f, hits, vpos, mods)
            return 0

        cdef int32_t xs[LANES]
        cdef Py_ssize_t pos[LANES]
        cdef Py_ssize_t begin[LANES]
        cdef Py_ssize_t stop[LANES]
        cdef Py_ssize_t count[LANES]
        cdef Py_ssize_t seg = n // LANES
        cdef int32_t *ev_x = <int32_t *>malloc(n * sizeof(int32_t))
        cdef Py_ssize_t *ev_end = <Py_ssize_t *>malloc(n * sizeof(Py_ssize_t))
        if ev_x == NULL or ev_end == NULL:
            free(ev_x)
            free(ev_end)
            raise MemoryError()
        try:
            steps = n
            for j in range(LANES):
                begin[j] = j * seg
                stop[j] = n if j == LANES - 1 else (j + 1) * seg
                pos[j] = begin[j] - self.max_depth
                if pos[j] < 0:
                    pos[j] = 0
                xs[j] = 0
                count[j] = 0
                if stop[j] - pos[j] < steps:
                    steps = stop[j] - pos[j]
            for e in range(steps):
                for j in range(LANES):
                    i = pos[j] + e
                    c = PyUnicode_READ(kind, data, i)
                    x = delta[(xs[j] >> 1) + (bmp[c] if c < 0x10000 else self._astral(c))]
                    xs[j] = x
                    if x & 1 and i >= begin[j]:
                        ev_x[begin[j] + count[j]] = x
                        ev_end[begin[j] + count[j]] = i + 1
                        count[j] += 1
            for j in range(LANES):
                x = xs[j]
                for i in range(pos[j] + steps, stop[j]):
                    c = PyUnicode_READ(kind, data, i)
                    x = delta[(x >> 1) + (bmp[c] if c < 0x10000 else self._astral(c))]
                    if x & 1 and i >= begin[j]:
                        ev_x[begin[j] + count[j]] = x
                        ev_end[begin[j] + count[j]] = i + 1
                        count[j] += 1
            for j in range(LANES):
                for e in range(begin[j], begin[j] + count[j]):
                    self._out(m, n, kind, data, ev_end[e], delta[(ev_x[e] >> 1) + out_cell] - 1, f, hits,
                              vpos, mods)
        finally:
            free(ev_x)
            free(ev_end)
        return 0

    cdef inline int _out(self, const unsigned char *m, Py_ssize_t n, int kind, void *data, Py_ssize_t end,
                         int32_t state, f, dict hits, const Py_ssize_t *vpos, const Py_ssize_t *mods) except -1:
        if vpos == NULL:
            return self._emit(m, n, kind, data, end, state, f, hits)
        return self._emit_quoted(m, n, <uint32_t *>data, end, state, f, hits, vpos, mods)

    def scan_field(self, str text not None, mask, f, dict hits not None):
        """``scan_into``, then ``scan_quoted`` when the text holds a quote mark (``TermTable.scan_field``)."""
        self.scan_into(text, mask, f, hits)
        PyUnicode_READY(text)
        cdef Py_ssize_t n = PyUnicode_GET_LENGTH(text), i
        cdef int kind = PyUnicode_KIND(text)
        cdef void *data = PyUnicode_DATA(text)
        cdef uint32_t c
        for i in range(n):
            c = PyUnicode_READ(kind, data, i)
            if c == 34 or (c == 39 and not (0 < i < n - 1 and Py_UNICODE_ISALNUM(PyUnicode_READ(kind, data, i - 1))
                                             and Py_UNICODE_ISALNUM(PyUnicode_READ(kind, data, i + 1)))):
                self.scan_quoted(text, f, hits)  # a quote mark, or an apostrophe not inside a word
                return

    def scan_quoted(self, str text not None, f, dict hits not None):
        """Add to ``hits`` the terms that quote marks between their words hide (``terms.quote_view``): the
        text is walked without those quote marks, and a hit whose span holds one is added with the text's
        offsets (every other hit of that walk is one the plain scan already found)."""
        PyUnicode_READY(text)
        cdef Py_ssize_t n = PyUnicode_GET_LENGTH(text)
        if n == 0:
            return
        cdef int kind = PyUnicode_KIND(text)
        cdef void *data = PyUnicode_DATA(text)
        cdef uint32_t *view = <uint32_t *>malloc(n * sizeof(uint32_t))
        cdef unsigned char *vmask = <unsigned char *>malloc(n)
        cdef Py_ssize_t *pos = <Py_ssize_t *>malloc(n * sizeof(Py_ssize_t))
        cdef Py_ssize_t *mods = <Py_ssize_t *>malloc((n + 1) * sizeof(Py_ssize_t))
        cdef Py_ssize_t *marks = <Py_ssize_t *>malloc(n * sizeof(Py_ssize_t))  # view offsets of the changes
        cdef Py_ssize_t i, v = 0, nmod = 0
        cdef uint32_t c
        cdef int prev_word, next_word
        if view == NULL or vmask == NULL or pos == NULL or mods == NULL or marks == NULL:
            free(view)
            free(vmask)
            free(pos)
            free(mods)
            free(marks)
            raise MemoryError()
        try:
            for i in range(n):
                mods[i] = nmod
                c = PyUnicode_READ(kind, data, i)
                if c == 34 or c == 39:  # a double quote, an apostrophe
                    prev_word = i > 0 and Py_UNICODE_ISALNUM(PyUnicode_READ(kind, data, i - 1))
                    next_word = i + 1 < n and Py_UNICODE_ISALNUM(PyUnicode_READ(kind, data, i + 1))
                    if c == 39 and prev_word and next_word:  # inside a word (iran's): kept
                        view[v] = c
                        vmask[v] = 0
                        pos[v] = i
                        v += 1
                        continue
                    marks[nmod] = v
                    nmod += 1
                    if not (next_word and v and Py_UNICODE_ISALNUM(view[v - 1])):
                        continue  # dropped
                    c = 32  # it would join two words: a space
                elif c == 32 and v and view[v - 1] == 32:  # the second of two spaces a dropped mark left
                    marks[nmod] = v
                    nmod += 1
                    continue
                view[v] = c
                vmask[v] = Py_UNICODE_ISALNUM(c)
                pos[v] = i
                v += 1
            mods[n] = nmod
            if nmod:
                self._walk_marks(vmask, v, view, marks, nmod, f, hits, pos, mods)
        finally:
            free(view)
            free(vmask)
            free(pos)
            free(mods)
            free(marks)

    cdef int _walk_marks(self, const unsigned char *m, Py_ssize_t n, uint32_t *view, const Py_ssize_t *marks,
                         Py_ssize_t nmarks, f, dict hits, const Py_ssize_t *vpos, const Py_ssize_t *mods) except -1:
        """The automaton's walk over the view of ``scan_quoted``, near its changes only: a hit holding a
        change at view offset ``q`` starts at most ``max_depth`` chars before it, so the walk (re)starts
        from the root there; it stops once the longest key prefix in progress starts after the last
        change passed (no hit can hold one any more), until the next change's reach."""
        cdef const int32_t *delta = &self.delta[0]
        cdef const uint16_t *bmp = &self.bmp_sym[0]
        cdef const int32_t *depth = &self.node_depth[0]
        cdef int32_t out_cell = self.out_cell, stride = self.stride, x = 0
        cdef Py_ssize_t i = 0, k = 0, lo, last
        cdef uint32_t c
        while k < nmarks:
            lo = marks[k] - self.max_depth
            if lo > i:  # out of reach of the walk so far: from the root
                i = lo
                x = 0
            last = marks[k]
            while i < n:
                while k < nmarks and marks[k] <= i:
                    last = marks[k]
                    k += 1
                c = view[i]
                x = delta[(x >> 1) + (bmp[c] if c < 0x10000 else self._astral(c))]
                i += 1
                if x & 1:
                    self._emit_quoted(m, n, view, i, delta[(x >> 1) + out_cell] - 1, f, hits, vpos, mods)
                if k < nmarks and marks[k] - self.max_depth <= i:
                    continue  # the next change is within reach: go on
                if i - depth[(x >> 1) // stride] > last:
                    break
            if i >= n:
                break
        return 0

    cdef int _emit_quoted(self, const unsigned char *m, Py_ssize_t n, uint32_t *view, Py_ssize_t end,
                          int32_t state, f, dict hits, const Py_ssize_t *pos, const Py_ssize_t *mods) except -1:
        """``_emit`` on the view of ``scan_quoted``: only the hits whose span holds a dropped or replaced
        quote mark, with the text's offsets."""
        cdef int right_word = end < n and m[end] != 0
        cdef Py_ssize_t j, start, span_end, span_start, ts, te
        cdef Py_ssize_t last = mods[pos[end - 1] + 1]
        while state >= 0:
            for j in range(self.out_start[state], self.out_start[state + 1]):
                start = end - self.out_len[j]
                # no mark inside the key: the field's own hit (an affix never reaches past a mark, which
                # leaves a space or a non-word char next to the words)
                if mods[pos[start]] == last:
                    continue
                span_end = self._span(m, n, 4, <void *>view, j, start, end, right_word, &span_start)
                if span_end < 0:
                    continue
                ts = pos[span_start]
                te = pos[span_end - 1] + 1
                if mods[te] == mods[ts]:
                    continue
                self._add_hit(hits, j, f, ts, te)
            state = self.out_link[state]
        return 0

    cdef uint32_t _astral(self, uint32_t c) noexcept:
        """The symbol of an astral char (0 unless a key holds it)."""
        if not self.astral_sym:
            return 0
        cdef PyObject *got = PyDict_GetItem(self.astral_sym, c)
        return 0 if got == NULL else <uint32_t><object>got

    cdef int _emit(self, const unsigned char *m, Py_ssize_t n, int kind, void *data, Py_ssize_t end,
                   int32_t state, f, dict hits) except -1:
        cdef int right_word = end < n and m[end] != 0
        cdef Py_ssize_t j, start, span_end, span_start
        while state >= 0:
            for j in range(self.out_start[state], self.out_start[state + 1]):
                start = end - self.out_len[j]
                span_end = self._span(m, n, kind, data, j, start, end, right_word, &span_start)
                if span_end >= 0:
                    self._add_hit(hits, j, f, span_start, span_end)
            state = self.out_link[state]
        return 0

    cdef inline Py_ssize_t _span(self, const unsigned char *m, Py_ssize_t n, int kind, void *data, Py_ssize_t j,
                                 Py_ssize_t start, Py_ssize_t end, int right_word, Py_ssize_t *span_start) noexcept:
        """The span of output ``j`` of a key ending at ``end`` (its affixes taken in; ``_check``), or -1
        when the key does not stand as a word there."""
        cdef int left_word = start > 0 and m[start - 1] != 0
        cdef int flags = self.out_flags[j]
        if flags & F_SIMPLE and not left_word and not right_word:
            span_start[0] = start
            return end
        return self._check(m, n, kind, data, start, end, flags, left_word, right_word, span_start)

    cdef inline int _add_hit(self, dict hits, Py_ssize_t j, f, Py_ssize_t start, Py_ssize_t end) except -1:
        """Append ``(f, start, end)`` to the hits of output ``j``'s term."""
        tid = self.tid_objs[self.out_tid[j]]
        cdef PyObject *bucket = PyDict_GetItem(hits, tid)
        if bucket == NULL:
            hits[tid] = [(f, start, end)]
        else:
            PyList_Append(<object>bucket, (f, start, end))
        return 0
