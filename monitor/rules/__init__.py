"""Rules: the YAML rule language, its loader and the compiled matcher.

``load_rules(folder)`` reads and checks a rules folder (raising ``RulesInvalid`` with every error as
``file:line: message``) and compiles it into a ``RuleSet``; ``RuleSet.analyse(article)`` returns the
article's language, its ``Match`` list and its normalised, boilerplate-trimmed text; ``RuleWatcher``
reloads a folder when it changes. The format is documented in ``docs/rules.md``. ``matcher_core()``
says whether the compiled cores (normalisation, term scan; see ``setup.py``) are in use.
"""

# first: importing it decides, before anything imports them, whether the evaluator's modules come from
# their compiled build or their sources (see monitor.rules.compiled)
from monitor.rules.compiled import STALE, evaluator_compiled
from monitor.rules.engine import Analysis, Entity, Rule, RuleSet, TermList, article_from
from monitor.rules.errors import RuleError, RulesInvalid
from monitor.rules.loader import load_rules
from monitor.rules.watcher import RuleWatcher

PURE_PYTHON_HINT = ("the compiled matcher cores are not built (no C compiler when monitor was installed): "
                    "matching runs the pure-Python fallback, a few times slower; install gcc and "
                    "`pip install -e .` again")
PARTIAL_HINT = ("part of the matcher runs as pure Python, a few times slower (a stale or half-built install: "
                "an edited source, or MONITOR_PURE_PYTHON): `pip install -e .` again")


def matcher_hint(core: str) -> str | None:
    """What to tell the user about a ``matcher_core()`` value (None for ``compiled``)."""
    if core == "compiled":
        return None
    from monitor.text.folding import PURE_PYTHON

    if core == "python" and PURE_PYTHON:
        return "MONITOR_PURE_PYTHON is set: matching runs the pure-Python fallback, a few times slower"
    return PURE_PYTHON_HINT if core == "python" else PARTIAL_HINT


def matcher_core() -> str:
    """``compiled`` when normalisation, the term scan, the rule evaluator and the learned check's scorer all
    run compiled (see ``setup.py``), ``python`` when none does (no C compiler at install, or
    ``MONITOR_PURE_PYTHON=1``), else ``partial`` (a stale or half-built install)."""
    from monitor.rules.learned import COMPILED as learned_compiled
    from monitor.rules.terms import COMPILED as scan_compiled
    from monitor.text.folding import COMPILED as fold_compiled

    flags = (fold_compiled, scan_compiled, evaluator_compiled(), learned_compiled)
    return "compiled" if all(flags) else "partial" if any(flags) else "python"

__all__ = [
    "STALE",
    "Analysis",
    "Entity",
    "Rule",
    "RuleError",
    "RuleSet",
    "RuleWatcher",
    "RulesInvalid",
    "TermList",
    "article_from",
    "load_rules",
    "matcher_core",
    "matcher_hint",
]
