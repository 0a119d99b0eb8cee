"""Word-level helpers shared by keyword search, abstention and follow-up rewriting. Pure functions."""

from __future__ import annotations

import re

# The one tokenizer, at two grains over lower-cased text. A word keeps a contraction whole and splits a
# hyphenated compound ("don't", "dry-needling" -> "dry", "needling"), which keyword search and topic matching
# want; a compound keeps hyphen and apostrophe chains whole ("side-effect-free"), the grain the claim
# classifier's n-gram vocabulary was trained on.
_WORD = re.compile(r"[a-z0-9]+(?:['’][a-z]+)?")
_COMPOUND = re.compile(r"[a-z0-9]+(?:['’-][a-z0-9]+)*")

STOPWORDS = frozenset(
    """a about above after again against all also am an and any are as at be because been before being below
    between both but by can could did do does doing down during each few for from further had has have having he
    her here hers herself him himself his how i if in into is it its itself just let me more most my myself no
    nor not of off on once only or other our ours ourselves out over own same she should so some such than that
    the their theirs them themselves then there these they this those through to too under until up very was we
    were what when where which while who whom why will with would you your yours yourself yourselves may might
    must shall us s t don isn aren wasn weren doesn didn say says said tell told according sources source article
    articles text please know think one ones way ways thing things really much many get got also does""".split()
)

# Question words that carry no topic: a question made only of these and stopwords asks about nothing specific.
GENERIC = frozenset(
    """work works working help helps helpful good bad better best use used using usage need needed needs different
    difference differences same similar compare compared comparison versus vs kind type types main mean means
    meaning describe explain give make makes made take takes go goes come comes effect effects benefit benefits
    safe safer safety risk risks happen happens mean right wrong true false like""".split()
)


def stem(word: str) -> str:
    """A light English stemmer: 'needles' -> 'needl', 'needling' -> 'needl', 'treats' -> 'treat'."""
    w = word.replace("’", "'").split("'")[0]
    for suffix in ("ations", "ation", "ings", "ing", "ies", "ied", "edly", "ed", "es", "s", "e", "ly"):
        if len(w) - len(suffix) >= 3 and w.endswith(suffix):
            return w[: -len(suffix)] + ("y" if suffix in ("ies", "ied") else "")
    return w


def words(text: str, *, compounds: bool = False) -> list[str]:
    """Lower-cased word tokens; with ``compounds``, hyphenated compounds stay one token."""
    return (_COMPOUND if compounds else _WORD).findall(text.lower())


def word_spans(text: str, *, compounds: bool = False) -> list[tuple[str, int]]:
    """``words`` with the offset of each in ``text.lower()``."""
    return [(m.group(0), m.start()) for m in (_COMPOUND if compounds else _WORD).finditer(text.lower())]


def tokens(text: str) -> list[str]:
    """Stemmed content tokens for keyword search (stopwords removed)."""
    return [stem(w) for w in words(text) if w not in STOPWORDS]


def content_words(text: str) -> list[tuple[str, str]]:
    """(word, stem) of the topic words of a question: not stopwords, not generic question words, not numbers."""
    return [(w, stem(w)) for w in words(text) if w not in STOPWORDS and w not in GENERIC and not w.isdigit() and len(w) > 2]


def size_text(n: int) -> str:
    """A size as people read it, decimal units: 5_000_000 -> "5 MB", 4_800_000 -> "4.8 MB", 240 -> "240 bytes"."""
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n >= scale:
            return f"{round(n / scale, 1):g} {unit}"
    return f"{n} bytes"
