"""Build script for monitor's compiled cores; everything else about the package is in pyproject.toml.

Two hot loops of the matcher are written in Cython (``monitor/text/_fold.pyx``: normalisation;
``monitor/rules/_scan.pyx``: the term automaton and its affix checks). They are *optional* extensions:
where no C compiler is installed the build goes on without them and monitor runs the pure-Python
implementations of the same functions (same results, a few times slower; ``monitor rules check`` and the
start-up summary say which one runs). ``MONITOR_NO_EXTENSIONS=1`` skips them on purpose.
"""

from __future__ import annotations

import os

from setuptools import Extension, setup

EXTENSIONS = {
    "monitor.text._fold": "monitor/text/_fold.pyx",
    "monitor.rules._scan": "monitor/rules/_scan.pyx",
}


def _extensions() -> list[Extension]:
    if os.environ.get("MONITOR_NO_EXTENSIONS"):
        return []
    try:
        from Cython.Build import cythonize
    except ImportError:  # building without Cython (it is in build-system.requires): pure Python
        return []
    exts = [Extension(name, [path], optional=True, extra_compile_args=["-O3"])
            for name, path in EXTENSIONS.items()]
    return cythonize(exts, quiet=True, compiler_directives={
        "language_level": 3, "boundscheck": False, "wraparound": False, "cdivision": True,
        "initializedcheck": False,
    })


setup(ext_modules=_extensions())
