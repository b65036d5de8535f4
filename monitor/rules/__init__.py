"""Rules: the YAML rule language, its loader and the compiled matcher.

``load_rules(folder)`` reads and checks a rules folder (raising ``RulesInvalid`` with every error as
``file:line: message``) and compiles it into a ``RuleSet``; ``RuleSet.analyse(article)`` returns the
article's language, its ``Match`` list and its normalised, boilerplate-trimmed text; ``RuleWatcher``
reloads a folder when it changes. The format is documented in ``docs/rules.md``.
"""

from monitor.rules.engine import Analysis, Entity, Rule, RuleSet, TermList, article_from
from monitor.rules.errors import RuleError, RulesInvalid
from monitor.rules.loader import load_rules
from monitor.rules.watcher import RuleWatcher

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
]
