"""Arabic and English affixes a term tolerates without the rule author spelling them out.

All strings are in normalised form (``monitor.text.folding``: ة → ه, alef forms → ا).

- ``PROCLITICS``: what may stand before an Arabic term inside the same token: و ف, then ب ك ل س,
  then ال, and ل + ال written لل (وال، بال، فال، ولل، وبال، فلل …).
- ``SUFFIXES``: what may follow an Arabic term inside the same token: pronouns (ه ها هم هما هن نا كم
  كما كن ي ني), duals (ان ين, construct ا), plurals (ون ات), tanween alef (ا), nisba (ي يه يا يين يون
  يات), plural/dual + pronoun (اتها، انه، يهم …) and past-tense verb endings (استهدفت، استهدفوه).
- ``TEH_SUFFIXES``: suffixes allowed after a ة-final stem written with ت (قاعدتين، جولتها، قاعدتا).
- ``EN_SUFFIXES``: English plural -s/-es (the possessive 's is a separate token after normalisation).
"""

from __future__ import annotations

_C1 = ("", "و", "ف")
_C2 = ("", "ب", "ك", "ل", "س")
_ART = ("", "ال")

PROCLITICS: frozenset[str] = frozenset(
    {a + b + c for a in _C1 for b in _C2 for c in _ART if not (b in ("س", "ل") and c)}
    | {a + "لل" for a in _C1}
) - {""}

#: Proclitic strings that carry the article: a term written with ال also matches after them.
ARTICLE_PROCLITICS: frozenset[str] = frozenset(p for p in PROCLITICS if p.endswith(("ال", "لل")))

_PRONOUNS = ("ه", "ها", "هم", "هما", "هن", "نا", "كم", "كما", "كن", "ي", "ني")
_NUMBER = ("ان", "ين", "ون", "ات", "ا", "ي", "يه", "يا", "يين", "يون", "يات", "وا")

SUFFIXES: frozenset[str] = frozenset(
    {*_PRONOUNS, *_NUMBER}
    | {n + p for n in ("ات", "ا", "ي", "و") for p in _PRONOUNS}
    | {"اه", "اها", "اهم"}
    | {"ت", "تا", "تم", "تن", "ته", "تها", "تهم", "تنا", "وه", "وها", "وهم"}  # past-tense verb endings
)
TEH_SUFFIXES: frozenset[str] = frozenset({*_PRONOUNS, "ين", "ان", "ا", "ي"} | {"ا" + p for p in _PRONOUNS})

EN_SUFFIXES: frozenset[str] = frozenset({"s", "es"})

MAX_PREFIX = max(len(p) for p in PROCLITICS)
MAX_SUFFIX = max(len(s) for s in SUFFIXES | TEH_SUFFIXES | EN_SUFFIXES)

#: Duals: a singular term followed by one of these counts two of the thing (صاروخين → 2).
DUAL_SUFFIXES: frozenset[str] = frozenset({"ان", "ين"})


def is_arabic(s: str) -> bool:
    """True when ``s`` starts with an Arabic-script letter."""
    return bool(s) and "\u0600" <= s[0] <= "\u06ff"
