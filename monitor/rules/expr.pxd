# Cython declarations augmenting expr.py (pure-Python mode): the nodes and the per-article context as
# extension types, so node calls go through C vtables and attributes are struct fields. expr.py stays
# the reference (it runs as is under MONITOR_PURE_PYTHON=1); keep the two in step.
cimport cython


cdef class Ctx:
    cdef public list texts
    cdef public dict hits
    cdef public frozenset hit_ids
    cdef public object hit_mask
    cdef public bytearray hit_bits
    cdef public dict extra
    cdef public bytearray flags
    cdef public str source
    cdef public frozenset tags
    cdef public str lang
    cdef public list numbers
    cdef public dict _sent
    cdef public dict _gaps
    cdef public dict runs
    cdef public dict memo
    cdef public dict regex_cache
    cdef public Py_ssize_t timeouts
    cdef public dict truths
    cdef public dict places
    cdef public dict tsents
    cdef public dict scope_bits
    cdef object _runs_scope
    cdef dict _runs_last
    cdef object _known_scope
    cdef dict _known_last
    cdef object _placed_scope
    cdef dict _placed_last

    @cython.locals(got=dict)
    cpdef dict results(self, frozenset fields)
    cpdef list sentences(self, Py_ssize_t f)
    @cython.locals(got=dict)
    cpdef dict known(self, frozenset fields)
    @cython.locals(got=dict)
    cpdef dict placed(self, frozenset fields)
    @cython.locals(f=Py_ssize_t, hf=Py_ssize_t, a=Py_ssize_t, n=Py_ssize_t, lo=Py_ssize_t, hi=Py_ssize_t,
                   idx=Py_ssize_t, base=Py_ssize_t, starts=list, hit=tuple)
    cpdef object term_sentences(self, Py_ssize_t tid)
    @cython.locals(base=Py_ssize_t, g=Py_ssize_t)
    cpdef Py_ssize_t sentence_base(self, Py_ssize_t f) except -1
    cpdef object fields_mask(self, frozenset fields)
    @cython.locals(out=list, base=Py_ssize_t, f=Py_ssize_t, n=Py_ssize_t)
    cpdef list sentence_keys(self, object mask)
    cpdef object gaps(self, Py_ssize_t f)
    cpdef regex_timeouts(self)



cdef Py_ssize_t FEW_IDS


cdef class Node:
    cpdef object eval(self, Ctx ctx, frozenset fields)
    @cython.locals(memo=dict)
    cpdef object run(self, Ctx ctx, frozenset fields)
    cpdef bint holds(self, Ctx ctx, frozenset fields) except -1
    cpdef object where(self, Ctx ctx, frozenset fields)


cdef class TermNode(Node):
    @cython.locals(out=list, hits=dict, info=dict, every_field=bint, hit_ids=frozenset)
    cpdef object eval(self, Ctx ctx, frozenset fields)
    @cython.locals(hits=dict, hit_ids=frozenset, code=bytes, bits=bytearray, n=Py_ssize_t, m=Py_ssize_t,
                   p=Py_ssize_t, j=Py_ssize_t, both=Py_ssize_t, k=Py_ssize_t, hit=tuple)
    cpdef bint holds(self, Ctx ctx, frozenset fields) except -1
    @cython.locals(places=dict, code=bytes, bits=bytearray, n=Py_ssize_t, m=Py_ssize_t, p=Py_ssize_t, j=Py_ssize_t,
                   both=Py_ssize_t, k=Py_ssize_t)
    cpdef object where(self, Ctx ctx, frozenset fields)

    cdef public str label
    cdef public dict info
    cdef public frozenset ids
    cdef public object mask
    cdef public bytes code
    cdef public object _key

    cpdef bint absent(self, Ctx ctx) except -1


cdef class FieldNode


cdef class AnyNode(Node):
    @cython.locals(child=Node, shared=bint, sub=AnyNode, scoped=FieldNode)
    cpdef object eval(self, Ctx ctx, frozenset fields)
    @cython.locals(child=Node)
    cpdef bint holds(self, Ctx ctx, frozenset fields) except -1
    @cython.locals(child=Node, places=dict)
    cpdef object where(self, Ctx ctx, frozenset fields)

    cdef public list children
    cdef public list _alts
    cdef public object _has_quantity


cdef class AllNode(AnyNode):
    @cython.locals(child=Node, guard=Node, out=list)
    cpdef object eval(self, Ctx ctx, frozenset fields)
    @cython.locals(known=dict)
    cpdef bint holds(self, Ctx ctx, frozenset fields) except -1
    @cython.locals(child=Node, guard=Node)
    cdef bint _holds(self, Ctx ctx, frozenset fields) except -1
    @cython.locals(child=Node, guard=Node, places=dict)
    cpdef object where(self, Ctx ctx, frozenset fields)

    cdef public tuple needs
    cdef public tuple codes
    cdef public tuple guards


cdef class NoneNode(AnyNode):
    @cython.locals(child=Node)
    cpdef object eval(self, Ctx ctx, frozenset fields)


cdef class FieldNode(Node):
    cdef public frozenset fields
    cdef public Node child
    cdef public object _has_quantity


cdef class SourceNode(Node):
    cdef public frozenset names
    cdef public frozenset tags


cdef class LanguageNode(Node):
    cdef public frozenset langs


@cython.locals(buf=bytearray, i=Py_ssize_t, top=Py_ssize_t)
cpdef bytearray id_bits(list ids)


@cython.locals(lo=Py_ssize_t, hi=Py_ssize_t, mid=Py_ssize_t, at=Py_ssize_t)
cdef Py_ssize_t _sentence_index(list starts, Py_ssize_t a) except? -2


@cython.locals(f=Py_ssize_t, base=Py_ssize_t, starts=list, ev=tuple)
cdef object _bits(Ctx ctx, list evs)


@cython.locals(s=frozenset, hit_ids=frozenset, extra=dict, flags=bytearray, n=Py_ssize_t, big=Py_ssize_t,
               i=Py_ssize_t, j=Py_ssize_t, hit=bint, code=bytes, m=Py_ssize_t, p=Py_ssize_t)
cpdef bint missing(tuple sets, Ctx ctx, tuple codes=*) except -1
