"""Rules: the YAML rule language, its loader and the compiled matcher.

``load_rules(folder)`` reads and checks a rules folder (raising ``RulesInvalid`` with every error as
``file:line: message``) and compiles it into a ``RuleSet``; ``RuleSet.analyse(article)`` returns the
article's language, its ``Match`` list and its normalised, boilerplate-trimmed text; ``RuleWatcher``
reloads a folder when it changes. The format is documented in ``docs/rules.md``. ``matcher_core()``
says whether the compiled cores (normalisation, term scan; see ``setup.py``) are in use.
"""

from monitor.rules.engine import Analysis, Entity, Rule, RuleSet, TermList, article_from
from monitor.rules.errors import RuleError, RulesInvalid
from monitor.rules.loader import load_rules
from monitor.rules.watcher import RuleWatcher

PURE_PYTHON_HINT = ("the compiled matcher cores are not built (no C compiler when monitor was installed): "
                    "matching runs the pure-Python fallback, a few times slower; install gcc and "
                    "`pip install -e .` again")


def matcher_core() -> str:
    """``compiled`` when normalisation and the term scan run their Cython cores, ``python`` when both run
    the pure-Python fallback (no C compiler at install, or ``MONITOR_PURE_PYTHON=1``), else ``partial``."""
    from monitor.rules.terms import COMPILED as scan_compiled
    from monitor.text.normalize import COMPILED as fold_compiled

    flags = (fold_compiled, scan_compiled)
    return "compiled" if all(flags) else "partial" if any(flags) else "python"

__all__ = [
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
]
