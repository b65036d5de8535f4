"""``settle_heap``: what is alive at the call leaves the collector's generations; a later call frees
cycles that became garbage in between (a replaced rule set)."""

from __future__ import annotations

import gc
import weakref

from monitor.heap import settle_heap


class _Node:
    def __init__(self) -> None:
        self.me = self  # a cycle: only the collector frees it


def test_settle_heap_freezes_the_live_heap_and_a_later_call_frees_dropped_cycles() -> None:
    try:
        node = _Node()
        gone = weakref.ref(node)
        settle_heap()
        assert gc.get_freeze_count() > 0
        assert not gc.is_tracked(node) or all(o is not node for o in gc.get_objects())
        del node
        gc.collect()
        assert gone() is not None  # frozen: a full collection does not walk it
        settle_heap()  # as after a rules reload
        assert gone() is None
    finally:
        gc.unfreeze()
