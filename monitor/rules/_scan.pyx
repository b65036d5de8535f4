# cython: language_level=3
"""Compiled core of ``monitor.rules.terms`` (stub: filled in next)."""

def available() -> bool:
    return True
