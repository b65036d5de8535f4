# Cython declarations augmenting expr.py (pure-Python mode): the nodes and the per-article context as
# extension types, so node calls go through C vtables and attributes are struct fields. expr.py stays
# the reference (it runs as is under MONITOR_PURE_PYTHON=1); keep the two in step.
cimport cython


cdef class Ctx:
    cdef public list texts
    cdef public dict hits
    cdef public frozenset hit_ids
    cdef public object hit_mask
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

    @cython.locals(got=dict)
    cpdef dict results(self, frozenset fields)
    cpdef list sentences(self, Py_ssize_t f)
    cpdef object gaps(self, Py_ssize_t f)
    cpdef regex_timeouts(self)



cdef Py_ssize_t FEW_IDS


cdef class Node:
    cpdef object eval(self, Ctx ctx, frozenset fields)
    @cython.locals(memo=dict)
    cpdef object run(self, Ctx ctx, frozenset fields)
    cpdef bint holds(self, Ctx ctx, frozenset fields) except -1


cdef class TermNode(Node):
    @cython.locals(out=list, hits=dict, info=dict, every_field=bint, hit_ids=frozenset)
    cpdef object eval(self, Ctx ctx, frozenset fields)
    @cython.locals(hits=dict, hit_ids=frozenset)
    cpdef bint holds(self, Ctx ctx, frozenset fields) except -1

    cdef public str label
    cdef public dict info
    cdef public frozenset ids
    cdef public object mask
    cdef public object _key

    cpdef bint absent(self, Ctx ctx) except -1


cdef class AnyNode(Node):
    @cython.locals(child=Node, shared=bint)
    cpdef object eval(self, Ctx ctx, frozenset fields)
    @cython.locals(child=Node)
    cpdef bint holds(self, Ctx ctx, frozenset fields) except -1

    cdef public list children
    cdef public list _alts
    cdef public object _has_quantity


cdef class AllNode(AnyNode):
    @cython.locals(child=Node, guard=Node, out=list)
    cpdef object eval(self, Ctx ctx, frozenset fields)

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


@cython.locals(buf=bytearray, i=Py_ssize_t)
cpdef bytearray id_bits(list ids)


@cython.locals(s=frozenset, hit_ids=frozenset, extra=dict, flags=bytearray, n=Py_ssize_t, big=Py_ssize_t,
               i=Py_ssize_t, j=Py_ssize_t, hit=bint, code=bytes, m=Py_ssize_t, p=Py_ssize_t)
cpdef bint missing(tuple sets, Ctx ctx, tuple codes=*) except -1
