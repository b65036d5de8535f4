# cython: language_level=3
"""Compiled core of ``monitor.text.normalize`` (stub: filled in next)."""

def available() -> bool:
    return True
