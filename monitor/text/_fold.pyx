# cython: language_level=3
"""Compiled core of ``monitor.text.folding``: both normalisation stages in one pass over the code points.

``Folder(one, cls, letter, digit, table, bits)`` takes the lookup arrays of ``normalize._luts()`` and the
stage-1 table ``normalize._table()``; this module holds no folding rule of its own, only the order of the
stages (``normalize``'s docstring). ``Folder.run(text)`` returns ``(text, pos, mask)``: exactly
``normalize._run(text)`` plus ``Normalized.mask``, with ``pos`` an ``array('q')``. Each input char goes
through stage 1 (drop, one-char image from ``one``, or — rare — its multi-char image from ``table``) and
each char of its image is emitted straight into stage 2: a space or line break right after another one is
folded into it (a line break turns the run's first char into a line break), and a space is put between a
letter and a digit. Astral chars are their own image (the table covers the BMP).

``gaps(text)``: for a normalised string, the number of spaces and line breaks before each position.
``ClassCounter(lut, n).counts(text, limit)``: the script census of ``monitor.text.lang``.

The scratch buffers are module-level and reused: every call runs to its end holding the GIL (nothing in
the loop can run Python code), so calls never interleave; the results are copied out of the scratch into
str and bytes objects (which allocate without running the garbage collector, hence no finalizer and no
thread switch) before anything else is allocated.
"""

from cpython.array cimport array, clone
from libc.stdint cimport int64_t, uint8_t, uint32_t
from libc.stdlib cimport free, realloc
from libc.string cimport memcpy

cdef extern from "Python.h":
    int PyUnicode_KIND(object o)
    void* PyUnicode_DATA(object o)
    int PyUnicode_1BYTE_KIND
    int PyUnicode_2BYTE_KIND
    object PyUnicode_FromKindAndData(int kind, const void* buffer, Py_ssize_t size)
    object PyBytes_FromStringAndSize(const char* v, Py_ssize_t size)
    bint Py_UNICODE_ISALNUM(Py_UCS4 ch)
    bint Py_UNICODE_ISDECIMAL(Py_UCS4 ch)

ctypedef fused char_t:
    uint8_t
    unsigned short
    uint32_t

cdef enum:
    BMP = 0x10000

cdef array _Q = array("q")

# scratch buffers, grown on demand, never freed (see the module docstring)
cdef uint32_t* _out = NULL
cdef int64_t* _pos = NULL
cdef uint8_t* _msk = NULL
cdef Py_ssize_t _cap = 0
#: Scratch above this many chars (13 bytes each) is given back after the call that needed it.
cdef Py_ssize_t KEEP = 1 << 20


cdef int _reserve(Py_ssize_t need) except -1:
    global _out, _pos, _msk, _cap
    if need <= _cap:
        return 0
    need = max(need, 2 * _cap, 4096)
    cdef uint32_t* o = <uint32_t*>realloc(_out, need * sizeof(uint32_t))
    if o == NULL:
        raise MemoryError()
    _out = o
    cdef int64_t* p = <int64_t*>realloc(_pos, need * sizeof(int64_t))
    if p == NULL:
        raise MemoryError()
    _pos = p
    cdef uint8_t* m = <uint8_t*>realloc(_msk, need)
    if m == NULL:
        raise MemoryError()
    _msk = m
    _cap = need
    return 0


cdef enum:
    # class bits of ``normalize._luts().cls`` (checked against the ones passed in)
    DROP = 1
    EXPAND = 2
    SP = 4
    NL = 8
    DIG = 16
    LET = 32
    WS = SP | NL
    LETDIG = LET | DIG


cdef void _trim_scratch() noexcept:
    global _out, _pos, _msk, _cap
    if _cap > KEEP:
        free(_out)
        free(_pos)
        free(_msk)
        _out = NULL
        _pos = NULL
        _msk = NULL
        _cap = 0


cdef struct State:
    Py_ssize_t j  # chars emitted
    uint32_t prev  # class of the last emitted char: 0, WS, LET or DIG


cdef inline State _put(State s, uint32_t* out, int64_t* pos, uint8_t* msk, uint32_t o, uint32_t oc,
                       int64_t i) noexcept nogil:
    """Stage 2 for one char ``o`` (class ``oc``) of the image of original char ``i``."""
    if oc & WS:
        if s.prev == WS:  # inside a run: the run's first char becomes a line break when it holds one
            if oc & NL:
                out[s.j - 1] = 10
            return s
        out[s.j] = o
        pos[s.j] = i
        msk[s.j] = 0
        s.j += 1
        s.prev = WS
        return s
    if (oc | s.prev) == LETDIG:  # a letter after a digit or a digit after a letter
        out[s.j] = 32
        pos[s.j] = i
        msk[s.j] = 0
        s.j += 1
    out[s.j] = o
    pos[s.j] = i
    msk[s.j] = oc != 0
    s.j += 1
    s.prev = oc
    return s


cdef class Folder:
    """Stage 1 and 2 of ``monitor.text.folding`` over the tables it is given (built once, at first use)."""

    cdef object _keep  # the arrays behind the pointers below
    cdef const uint32_t* one
    cdef const uint8_t* cls
    cdef const uint8_t* letter
    cdef const uint8_t* digit
    cdef dict table

    def __init__(self, const uint32_t[::1] one, const uint8_t[::1] cls, const uint8_t[::1] letter,
                 const uint8_t[::1] digit, dict table, tuple bits):
        if not (one.shape[0] == cls.shape[0] == letter.shape[0] == digit.shape[0] == BMP):
            raise ValueError("lookup arrays must cover the BMP")
        if bits != (DROP, EXPAND, SP, NL, DIG, LET):
            raise ValueError(f"class bits {bits} differ from the compiled ones; rebuild monitor.text._fold")
        self._keep = (one, cls, letter, digit)
        self.one = &one[0]
        self.cls = &cls[0]
        self.letter = &letter[0]
        self.digit = &digit[0]
        self.table = table

    cdef inline uint32_t _class(self, uint32_t o) noexcept:
        """Class of an output char that did not come from ``cls`` (multi-char images, astral chars)."""
        if o == 32:
            return SP
        if o == 10:
            return NL
        if o < BMP:
            return (LET if self.letter[o] else 0) | (DIG if self.digit[o] else 0)
        if Py_UNICODE_ISDECIMAL(o):
            return DIG
        if Py_UNICODE_ISALNUM(o):
            return LET
        return 0

    cdef State _expand(self, State s, uint32_t c, Py_ssize_t i, Py_ssize_t n) except *:
        """Stage 2 for the chars of a multi-char image (ligatures, ﷺ, …: rare)."""
        cdef str img = self.table[c]
        cdef Py_UCS4 ch
        _reserve(s.j + 2 * len(img) + 2 * (n - i))
        for ch in img:
            s = _put(s, _out, _pos, _msk, ch, self._class(ch), i)
        return s

    cdef Py_ssize_t _scan(self, const char_t* data, Py_ssize_t n) except -1:
        cdef const uint8_t* cls = self.cls
        cdef const uint32_t* one = self.one
        cdef uint32_t* out = _out
        cdef int64_t* pos = _pos
        cdef uint8_t* msk = _msk
        cdef Py_ssize_t i
        cdef uint32_t c, k, o
        cdef State s
        s.j = 0
        s.prev = 0
        for i in range(n):
            c = data[i]
            if c < BMP:
                k = cls[c]
                if k & (DROP | EXPAND):
                    if k & DROP:
                        continue
                    s = self._expand(s, c, i, n)
                    out = _out
                    pos = _pos
                    msk = _msk
                    continue
                o = one[c]
                s = _put(s, out, pos, msk, o, (k & (WS | LETDIG)) if o < BMP else self._class(o), i)
            else:
                s = _put(s, out, pos, msk, c, self._class(c), i)
        return s.j

    cdef Py_ssize_t _fold(self, str text) except -1:
        cdef Py_ssize_t n = len(text)
        cdef int kind = PyUnicode_KIND(text)
        _reserve(2 * n + 2)
        if kind == PyUnicode_1BYTE_KIND:
            return self._scan(<const uint8_t*>PyUnicode_DATA(text), n)
        if kind == PyUnicode_2BYTE_KIND:
            return self._scan(<const unsigned short*>PyUnicode_DATA(text), n)
        return self._scan(<const uint32_t*>PyUnicode_DATA(text), n)

    def run(self, str text):
        """``(normalised text, pos, mask)``: ``pos[j]`` the original position of char ``j`` (``array('q')``),
        ``mask[j]`` 1 when char ``j`` is a letter or digit."""
        cdef Py_ssize_t m = self._fold(text)
        # copy the scratch out into objects the garbage collector does not track (str, bytes) first: an
        # array allocation may run a collection, whose finalizers may let another thread reuse the scratch
        folded = PyUnicode_FromKindAndData(4, _out, m)
        mask = PyBytes_FromStringAndSize(<const char*>_msk, m)
        cdef bytes raw_pos = PyBytes_FromStringAndSize(<const char*>_pos, m * sizeof(int64_t))
        _trim_scratch()
        cdef array pos = clone(_Q, m, False)
        if m:
            memcpy(pos.data.as_voidptr, <const char*>raw_pos, m * sizeof(int64_t))
        return folded, pos, mask

    def fold(self, str text):
        """Only the normalised text."""
        out = PyUnicode_FromKindAndData(4, _out, self._fold(text))
        _trim_scratch()
        return out


def gaps(str text):
    """``g[p]``: spaces and line breaks in ``text[:p]``, for ``p`` in ``0..len(text)`` (``array('q')``)."""
    cdef Py_ssize_t n = len(text), i
    cdef array g = clone(_Q, n + 1, False)
    cdef long long* p = g.data.as_longlongs
    cdef long long acc = 0
    cdef Py_UCS4 c
    p[0] = 0
    i = 0
    for c in text:
        acc += (c == 32) | (c == 10)
        i += 1
        p[i] = acc
    return g


cdef class ClassCounter:
    """``counts(text, limit)``: how many of the first ``limit`` chars of ``text`` fall in each class of a
    per-code-point class array (``lut[min(c, len(lut) - 1)]``): the script census of ``lang``."""

    cdef object _keep
    cdef const uint8_t* lut
    cdef Py_ssize_t size
    cdef Py_ssize_t n_classes

    def __init__(self, const uint8_t[::1] lut, Py_ssize_t n_classes):
        if lut.shape[0] == 0 or not 0 < n_classes <= 256:
            raise ValueError("empty class array or bad class count")
        for i in range(lut.shape[0]):
            if lut[i] >= n_classes:
                raise ValueError(f"class {lut[i]} at {i} is not below {n_classes}")
        self._keep = lut
        self.lut = &lut[0]
        self.size = lut.shape[0]
        self.n_classes = n_classes

    cdef void _count(self, const char_t* data, Py_ssize_t n, Py_ssize_t* counts) noexcept:
        cdef Py_ssize_t i
        cdef uint32_t c
        cdef uint32_t top = <uint32_t>(self.size - 1)
        for i in range(n):
            c = data[i]
            counts[self.lut[c if c < top else top]] += 1

    def counts(self, str text, Py_ssize_t limit):
        cdef Py_ssize_t counts[256]
        cdef Py_ssize_t n = min(len(text), max(limit, 0))
        cdef int kind = PyUnicode_KIND(text)
        cdef Py_ssize_t k
        for k in range(self.n_classes):
            counts[k] = 0
        if kind == PyUnicode_1BYTE_KIND:
            self._count(<const uint8_t*>PyUnicode_DATA(text), n, counts)
        elif kind == PyUnicode_2BYTE_KIND:
            self._count(<const unsigned short*>PyUnicode_DATA(text), n, counts)
        else:
            self._count(<const uint32_t*>PyUnicode_DATA(text), n, counts)
        return [counts[k] for k in range(self.n_classes)]


cdef inline bint _closer(Py_UCS4 c) noexcept:
    return c == 46 or c == 33 or c == 63 or c == 59 or c == 34 or c == 39 or c == 41 or c == 93


cdef inline bint _word(Py_UCS4 c) noexcept:
    return c == 95 or Py_UNICODE_ISALNUM(c)


cdef Py_ssize_t _end_after(const char_t* d, Py_ssize_t n, Py_ssize_t i) noexcept:
    """The end of ``segment._END``'s match at ``i`` (``d[i]`` is one of ``. ! ? ;``), or -1."""
    cdef Py_ssize_t j = i + 1
    while j < n and _closer(d[j]):
        j += 1
    if j < n and d[j] == 32:
        return j + 1
    if j == n:
        return n
    if j == n - 1 and d[j] == 10:  # `$` also matches before a final line break
        return j
    return -1


cdef inline bint _letter(Py_UCS4 c) noexcept:
    return Py_UNICODE_ISALNUM(c) and not Py_UNICODE_ISDECIMAL(c)


cdef Py_ssize_t _next(const char_t* d, Py_ssize_t n, Py_ssize_t i, Py_ssize_t* end) noexcept:
    """The next match of ``segment._END`` from ``i``: its start (``end[0]``: its end), or -1."""
    cdef char_t c
    cdef Py_ssize_t e
    while i < n:
        c = d[i]
        if c == 10:
            end[0] = i + 1
            return i
        if c == 46 or c == 33 or c == 63 or c == 59:
            e = _end_after(d, n, i)
            if e < 0 and i + 1 < n and _letter(d[i + 1]):  # glued to a letter
                e = i + 1
            if e >= 0:
                end[0] = e
                return i
        i += 1
    return -1


def glued_end(str text, Py_ssize_t i, abbreviations, domains):
    """``monitor.text.segment.glued_end``: whether the stop ``text[i]``, followed by a letter, ends a
    sentence (``abbreviations`` and top-level ``domains`` as there)."""
    cdef Py_ssize_t n = len(text), e = i, j, k = i + 1, x
    if i and text[i - 1] == " ":  # a stop typed after the space
        e = i - 1
    j = e
    while j and _word(text[j - 1]):
        j -= 1
    while k < n and _word(text[k]):
        k += 1
    if e - j < 2 or k - i - 1 < 2:
        return False
    for x in range(j, k):
        if (x < e or x > i) and not _letter(text[x]):
            return False
    cdef Py_UCS4 before = text[j - 1] if j else 0
    cdef Py_UCS4 after = text[k] if k < n else 0
    if before == 47 or before == 64 or after == 47 or after == 64:  # `/` or `@`: a web address, an e-mail
        return False
    if text[i] == ".":
        if text[j:e] in abbreviations or text[i + 1:k] in domains:
            return False
        if before == 46 and j >= 2 and _word(text[j - 2]):
            return False
        if after == 46 and k + 1 < n and _word(text[k + 1]):
            return False
    return True


def sentence_starts(str text, abbreviations, Py_ssize_t abbr_max, domains):
    """``monitor.text.segment.sentence_starts``: the ends of ``segment._END``'s matches (found as
    ``finditer`` does), less the periods after a single letter or one of ``abbreviations``, and the
    stops glued to a letter that ``glued_end`` does not take as an end."""
    cdef Py_ssize_t n = len(text), i = 0, k, end = 0, run
    cdef int kind = PyUnicode_KIND(text)
    cdef void* data = PyUnicode_DATA(text)
    cdef list out = [0]
    cdef str word
    while True:
        if kind == PyUnicode_1BYTE_KIND:
            i = _next(<const uint8_t*>data, n, i, &end)
        elif kind == PyUnicode_2BYTE_KIND:
            i = _next(<const unsigned short*>data, n, i, &end)
        else:
            i = _next(<const uint32_t*>data, n, i, &end)
        if i < 0:
            return out
        if end == i + 1 < n and text[i] != "\n" and _letter(text[i + 1]):  # glued to a letter
            if glued_end(text, i, abbreviations, domains):
                out.append(end)
            i = end
            continue
        if i and text[i] == "." and _word(text[i - 1]):
            # a period after a single letter or an abbreviation does not end a sentence
            k = i
            while k and i - k <= abbr_max and _word(text[k - 1]):
                k -= 1
            run = i - k
            if run <= abbr_max:
                word = text[k:i]
                if (run == 1 and not word.isdigit()) or word in abbreviations:
                    i = end
                    continue
        out.append(end)
        i = end
