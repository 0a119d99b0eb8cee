"""Conversation state: turning a follow-up ("Who developed it?") into a standalone question. Pure."""

from __future__ import annotations

import re
from collections import Counter

from ..text import STOPWORDS, GENERIC, words

_PRONOUN = re.compile(r"\b(it|its|it's|this|that|they|them|their|these|those)\b", re.IGNORECASE)
_WHAT_ABOUT = re.compile(r"^\s*(?:and\s+)?(?:what|how)\s+about\s+(.+?)\s*\??\s*$|^\s*and\s+(.+?)\s*\?\s*$", re.IGNORECASE)


def phrase_counts(texts: list[str], max_n: int = 3) -> Counter:
    """How often each 1–3 word phrase of content words occurs in the corpus (for spotting subjects)."""
    counts: Counter = Counter()
    for t in texts:
        ws = words(t)
        for n in range(1, max_n + 1):
            for i in range(len(ws) - n + 1):
                gram = ws[i:i + n]
                if gram[0] in STOPWORDS or gram[-1] in STOPWORDS:
                    continue
                counts[" ".join(gram)] += 1
    return counts


def subject(question: str, counts: Counter) -> str | None:
    """The topic phrase of a question: the longest, earliest corpus phrase (seen at least twice) in it."""
    ws = words(question)
    best: tuple[int, int, str] | None = None
    for n in (3, 2, 1):
        for i in range(len(ws) - n + 1):
            gram = " ".join(ws[i:i + n])
            if ws[i] in STOPWORDS or ws[i] in GENERIC or ws[i + n - 1] in STOPWORDS or ws[i + n - 1] in GENERIC:
                continue
            if counts.get(gram, 0) >= 2 and (best is None or (n, -i) > (best[0], -best[1])):
                best = (n, i, gram)
    return best[2] if best else None


def standalone(question: str, history: list[str], counts: Counter) -> str:
    """Rewrite a follow-up so it can be answered on its own; other questions come back unchanged.

    ``history`` holds the previous questions (already standalone), oldest first.
    """
    if not history:
        return question
    previous = history[-1]
    prev_subject = subject(previous, counts)
    m = _WHAT_ABOUT.match(question)
    if m:
        new_subject = (m.group(1) or m.group(2)).strip()
        if prev_subject:
            return re.sub(re.escape(prev_subject), new_subject, previous, count=1, flags=re.IGNORECASE)
        return f"{previous} ({new_subject})"
    if subject(question, counts) or not prev_subject:
        return question
    if _PRONOUN.search(question):
        def repl(mt: re.Match) -> str:
            w = mt.group(1).lower()
            return prev_subject + ("'s" if w in ("its", "their") else " is" if w == "it's" else "")

        return _PRONOUN.sub(repl, question, count=1)
    return f"{question.rstrip(' ?')} ({prev_subject})?"

