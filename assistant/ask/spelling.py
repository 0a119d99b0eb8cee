"""Matching a question's misspelt or shortened words against the corpus vocabulary. Pure.

"acupunture", "chenodeosycholic", "foxo3a", "whats" and "diff" are not corpus words, but each is one edit
(or an abbreviation) away from a word the corpus uses often; such a word counts as covered, and the retrieval
query is corrected with it. No word list: the corpus's own words and counts are the dictionary.
"""

from __future__ import annotations

import bisect
import re
from collections import Counter, defaultdict
from dataclasses import dataclass, field

from ..text import GENERIC, STOPWORDS, content_words, stem


def edit_distance(a: str, b: str, limit: int) -> int:
    """Optimal-string-alignment distance (insert, delete, substitute, swap neighbours), or ``limit + 1``
    as soon as it must exceed ``limit``.

    >>> edit_distance("acupunture", "acupuncture", 2), edit_distance("teh", "the", 2), edit_distance("abc", "xyz", 1)
    (1, 1, 2)
    """
    if abs(len(a) - len(b)) > limit:
        return limit + 1
    prev2: list[int] = []
    prev = list(range(len(b) + 1))
    for i in range(1, len(a) + 1):
        cur = [i] + [0] * len(b)
        for j in range(1, len(b) + 1):
            cost = a[i - 1] != b[j - 1]
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost)
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                cur[j] = min(cur[j], prev2[j - 2] + 1)
        if min(cur) > limit:
            return limit + 1
        prev2, prev = prev, cur
    return prev[-1] if prev[-1] <= limit else limit + 1


def allowed_edits(word: str) -> int:
    """Edits a word of this length may be away from its corpus form: none under 5 letters (a short word is one
    edit from many real words: "dose"/"does"), 1 up to 8 letters, 2 from 9 ("chenodeosycholic")."""
    return 0 if len(word) < 5 else 1 if len(word) < 9 else 2


@dataclass(frozen=True)
class Reading:
    """How a question's words met the corpus: the corrected query, what was corrected, what is not covered."""

    query: str
    corrected: dict[str, str] = field(default_factory=dict)
    uncovered: list[str] = field(default_factory=list)


class Vocabulary:
    """The corpus's words with their counts; finds the frequent corpus word a question word is a variant of."""

    def __init__(self, counts: Counter | dict[str, int], stems: set[str], min_count: int = 2):
        # A correction target is a word the corpus uses at least ``min_count`` times, or a question word.
        self.stems = stems
        self.counts = {w: n for w, n in counts.items() if n >= min_count and " " not in w}
        for w in STOPWORDS | GENERIC:
            self.counts.setdefault(w, 0)
        self.by_start: dict[str, list[str]] = defaultdict(list)
        for w in self.counts:
            self.by_start[w[0]].append(w)
        self.sorted = sorted(self.counts)

    def known(self, word: str) -> bool:
        """Whether the corpus (or the stopword and question-word lists) has this word, up to its stem."""
        st = stem(word)
        return st in self.stems or word in self.counts or st in STOPWORDS or st in GENERIC

    def variant(self, word: str) -> str | None:
        """The corpus word ``word`` misspells (fewest edits, then most frequent; same first letter, as typos
        rarely touch it) or abbreviates (a prefix of 4+ letters of a word at least twice as long: "diff"),
        or None."""
        limit = allowed_edits(word)
        best: tuple[int, int, str] | None = None
        for w in self.by_start.get(word[0], ()) if limit else ():
            d = edit_distance(word, w, limit)
            if d <= limit and (best is None or (d, -self.counts[w]) < best[:2]):
                best = (d, -self.counts[w], w)
        return best[2] if best else self._expansion(word)

    def _expansion(self, word: str) -> str | None:
        if len(word) < 4:
            return None
        i = bisect.bisect_left(self.sorted, word)
        longer = []
        while i < len(self.sorted) and self.sorted[i].startswith(word):
            if len(self.sorted[i]) >= 2 * len(word):
                longer.append(self.sorted[i])
            i += 1
        return max(longer, key=lambda w: (self.counts[w], w)) if longer else None

    def read(self, question: str) -> Reading:
        """The question's uncovered topic words, each replaced in the query by its corpus variant when it has one."""
        corrected: dict[str, str] = {}
        uncovered: list[str] = []
        for w, _ in content_words(question):
            if w in corrected or w in uncovered or self.known(w):
                continue
            v = self.variant(w)
            if v is None:
                uncovered.append(w)
            else:
                corrected[w] = v
        query = question
        for w, v in corrected.items():
            query = re.sub(rf"(?<![\w'’]){re.escape(w)}(?![\w'’])", v, query, flags=re.IGNORECASE)
        return Reading(query, corrected, uncovered)
