# Cython declarations augmenting positional.py (see expr.pxd); positional.py stays the reference.
cimport cython

from monitor.rules.expr cimport AllNode, AnyNode, Ctx, Node

cdef object _MISSING


cdef class NearNode(AllNode):
    cdef public Py_ssize_t within

    cdef object _pair(self, Ctx ctx, frozenset fields, list xs, list ys, bint first=*)


cdef class SentenceNode(AllNode):
    cdef public list items
    cdef public list excluded
    cdef public tuple order

    @cython.locals(items=list, excluded=list, item=Node, child=Node, alt=Node, keyed=list, common=set,
                   bare=bint, placed=bint, i=Py_ssize_t)
    cdef object _sentences(self, Ctx ctx, frozenset fields)
    @cython.locals(item=Node, keyed=list, order=list)
    cpdef object eval(self, Ctx ctx, frozenset fields)
    @cython.locals(places=dict)
    cpdef object where(self, Ctx ctx, frozenset fields)
    @cython.locals(items=list, item=Node, child=Node, alt=Node, bare=bint, placed=bint, i=Py_ssize_t)
    cdef object _where(self, Ctx ctx, frozenset fields)


cdef class QuantityNode(Node):
    cdef public Node of
    cdef public object min
    cdef public object max


cdef class RegexNode(Node):
    cdef public str pattern
    cdef public object compiled
    cdef public double timeout
    cdef public Py_ssize_t limit
    cdef public object prefixes
    cdef public object required
    cdef public object needs
    cdef public object width
    cdef public bint one_line
    cdef public bint bounded
    cdef public bint at_start


@cython.locals(child=Node, per_item=list)
cdef list _all_children(AllNode node, Ctx ctx, frozenset fields)
cdef tuple _by_position(Ctx ctx, list evs, Py_ssize_t f)
@cython.locals(f=Py_ssize_t, starts=list, got=dict, bucket=list, got_bucket=list, ev=tuple, a=Py_ssize_t,
               n=Py_ssize_t, idx=Py_ssize_t, lo=Py_ssize_t, hi=Py_ssize_t)
cdef dict _by_sentence(Ctx ctx, list evs)
@cython.locals(by=list, hits=dict, extra=dict, hit=tuple, more=list, starts=list)
cdef list _field_starts(Ctx ctx, frozenset ids)
@cython.locals(n=Py_ssize_t, k=Py_ssize_t, i=Py_ssize_t)
cdef _sort_unique(list xs)
cdef bint _disjoint(frozenset ids, dict extra) except -1
