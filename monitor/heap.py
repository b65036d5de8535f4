"""The garbage collector and a long-lived heap: ``settle_heap()`` and nothing else.

A monitor process holds a large heap that lives as long as the process (imported modules, the compiled
rule set). A full collection walks all of it and stops every thread meanwhile: tens to hundreds of
milliseconds on a loaded machine, a cause of the processor's latency tail (issue 14). ``settle_heap``
collects once and then freezes what is alive (``gc.freeze``) so that later collections skip it.
Objects dropped afterwards are still freed by reference counting; only reference cycles among the
frozen objects wait for the next call. Callers: the process wiring once started (``monitor.runtime``)
and the processor loop after each rules reload (``monitor.process.loop``), which
frees the replaced rule set. No imports from the rest of monitor, so any layer may use it.
"""

from __future__ import annotations

import gc


def settle_heap() -> None:
    """Unfreeze, collect, freeze: everything alive now leaves the collector's generations; cycles that
    became garbage since the previous call (a replaced rule set) are freed first."""
    gc.unfreeze()
    gc.collect()
    gc.freeze()
