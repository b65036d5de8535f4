"""Which modules of the rule evaluator run compiled, and a guard against stale builds.

``setup.py`` compiles ``expr``, ``positional`` and ``engine`` with Cython (plain Python, typed by the
``.pxd`` files beside them): the extension module then shadows the ``.py`` of the same name. To keep an edited source
from being shadowed by an older build, the build records each source's SHA-256 in ``_built.py``;
``load_fresh()`` (run by ``monitor.rules`` before it imports them) imports the ``.py`` instead of the
extension for all of them once one source (or the ``.pxd`` beside it) no longer has the recorded hash —
they share extension types — with a warning saying how to rebuild, and under ``MONITOR_PURE_PYTHON=1``.
Where nothing was compiled (no C compiler at install), the normal import finds only the ``.py`` and none of
this matters.
"""

from __future__ import annotations

import hashlib
import importlib.machinery
import importlib.util
import logging
import sys
from pathlib import Path

#: in import order (each imports the ones before it)
MODULES = ("expr", "positional", "engine")
HERE = Path(__file__).resolve().parent
log = logging.getLogger("monitor.rules")


def _recorded() -> dict[str, str]:
    try:
        from monitor.rules._built import SOURCES  # type: ignore[import-not-found]
    except ImportError:
        return {}
    return dict(SOURCES)


def source_hash(py: Path) -> str:
    """SHA-256 of a compiled module's source and of the ``.pxd`` declaring its types, if any (``setup.py``
    records the same)."""
    pxd = py.with_suffix(".pxd")
    return hashlib.sha256(py.read_bytes() + (pxd.read_bytes() if pxd.exists() else b"")).hexdigest()


def _fresh(name: str, py: Path, recorded: dict[str, str]) -> bool:
    try:
        return recorded.get(name) == source_hash(py)
    except OSError:  # no source next to the extension: nothing to be stale against
        return True


def load_fresh() -> list[str]:
    """Import from source every evaluator module whose compiled build is stale (or all of them under
    ``MONITOR_PURE_PYTHON``); returns the stale ones. The compiled modules share their extension types
    (``expr.pxd``, ``positional.pxd``), so one stale module sends all of them to their sources."""
    from monitor.text.folding import PURE_PYTHON as pure
    recorded = _recorded()
    package = sys.modules[__package__ or "monitor.rules"]
    compiled = []
    for short in MODULES:
        name = f"monitor.rules.{short}"
        spec = importlib.util.find_spec(name)
        if name not in sys.modules and spec is not None and isinstance(spec.loader,
                                                                       importlib.machinery.ExtensionFileLoader):
            compiled.append(short)
    stale = [short for short in compiled if not _fresh(f"monitor.rules.{short}", HERE / f"{short}.py", recorded)]
    if pure or stale:
        for short in compiled:
            name = f"monitor.rules.{short}"
            source = importlib.util.spec_from_file_location(name, HERE / f"{short}.py")
            assert source is not None and source.loader is not None
            module = importlib.util.module_from_spec(source)
            sys.modules[name] = module
            try:
                source.loader.exec_module(module)
            except BaseException:
                del sys.modules[name]
                raise
            setattr(package, short, module)
    if stale:
        log.warning("monitor.rules: the compiled build of %s does not match the source (edited since): "
                    "running the sources of the rule evaluator, slower; rebuild with `pip install -e .` "
                    "(make does it)", ", ".join(stale))
    return stale


def evaluator_compiled() -> bool:
    """True when every evaluator module in use is the compiled one."""
    mods = [sys.modules.get(f"monitor.rules.{m}") for m in MODULES]
    return all(m is not None and str(getattr(m, "__file__", "")).endswith((".so", ".pyd")) for m in mods)


#: evaluator modules whose compiled build was stale when ``monitor.rules`` was first imported
STALE: list[str] = load_fresh()
