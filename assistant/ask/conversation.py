"""Conversation state: turning a follow-up ("Who developed it?") into a standalone question. Pure."""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass

from ..text import STOPWORDS, GENERIC, words

_PRONOUN = re.compile(r"\b(it|its|it's|they|them|their|this|that|these|those)\b", re.IGNORECASE)
_PERSON = re.compile(r"\b(he|him|his|she|her)\b", re.IGNORECASE)
_WHAT_ABOUT = re.compile(r"^\s*(?:and\s+)?(?:what|how)\s+about\s+(.+?)\s*\??\s*$|^\s*and\s+(.+?)\s*\?\s*$", re.IGNORECASE)
_AUX = frozenset("""is are was were be been do does did can could will would should shall may might must has have had
    isn't aren't wasn't doesn't don't didn't can't won't""".split())
_PREPOSITION = frozenset("""for in with without during after before at on by from to among under over against
    within""".split())
_DEMONSTRATIVE = frozenset("this that these those".split())
_PLURAL = frozenset("they them their these those".split())
# A clause boundary between a noun and a pronoun: "Does acupuncture hurt when it is done?" — "it" is acupuncture.
_CLAUSE = re.compile(r"\b(when|if|because|after|before|while|since|unless|until|and|but|so|once|whether)\b|,", re.IGNORECASE)
_JOINED = re.compile(r"\b(and|or|vs\.?|versus|between|compared?|with)\b", re.IGNORECASE)
_NAME = re.compile(r"(?<![\w.])((?:[A-Z][\w'’-]+\s+)+[A-Z][\w'’-]+)")


@dataclass(frozen=True)
class Turn:
    """An earlier turn: its question (already standalone) and the text of its answer ("" when unknown)."""

    question: str
    answer: str = ""


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


def subjects(text: str, counts: Counter) -> list[tuple[int, int, str]]:
    """The corpus phrases (seen at least twice) named in ``text``, longest first where they overlap, in
    reading order, as (first word, word count, phrase)."""
    ws = words(text)
    found: list[tuple[int, int, str]] = []
    taken: set[int] = set()
    for n in (3, 2, 1):
        for i in range(len(ws) - n + 1):
            if taken & set(range(i, i + n)) or _edge_is_weak(ws[i]) or _edge_is_weak(ws[i + n - 1]):
                continue
            gram = " ".join(ws[i:i + n])
            if counts.get(gram, 0) >= 2:
                found.append((i, n, gram))
                taken |= set(range(i, i + n))
    return sorted(found)


def _edge_is_weak(word: str) -> bool:
    return word in STOPWORDS or word in GENERIC or word in _AUX


def subject(question: str, counts: Counter) -> str | None:
    """The topic phrase of a question: the longest, earliest corpus phrase (seen at least twice) in it."""
    found = subjects(question, counts)
    return max(found, key=lambda f: (f[1], -f[0]))[2] if found else None


def _plural_subject(question: str, counts: Counter) -> str | None:
    """"acupuncture and dry needling" when a question names two subjects side by side ("…between A and B")."""
    found = subjects(question, counts)
    if len(found) >= 2 and _JOINED.search(question):
        a, b = sorted(sorted(found, key=lambda f: (-f[1], f[0]))[:2])
        return f"{a[2]} and {b[2]}"
    return None


def _answer_subject(answer: str, counts: Counter) -> str | None:
    """What an answer is about: the subject of its first sentence that names one."""
    for sentence in re.split(r"(?<=[.!?])\s+|\n", answer):
        found = subjects(sentence, counts)
        if found:
            return found[0][2]
    return None


def _person(answer: str) -> str | None:
    """The first full name (two or more capitalised words, a leading "The"/"In" dropped) the answer gives."""
    names = []
    for m in _NAME.finditer(answer):
        ws = m.group(1).split()
        while ws and ws[0].lower() in STOPWORDS:
            ws = ws[1:]
        if len(ws) >= 2:
            names.append(" ".join(ws))
    return names[0] if names else None


def _reference(question: str) -> re.Match | None:
    """The first pronoun of ``question`` that points outside it ("Is it painful?"), or None.

    "this"/"that" count as pronouns only when a verb or the end follows ("Is that safe?" but not "so that"),
    and a pronoun after a clause boundary that follows a noun of the question itself is left alone."""
    for m in _PRONOUN.finditer(question):
        w = m.group(1).lower()
        after = words(question[m.end():])
        if w in _DEMONSTRATIVE and len(after) > 1 and after[0] not in _AUX:
            continue  # "this therapy …": a determiner ("Is this safe?", "How does that work?" are pronouns)
        if w == "that" and re.search(r"\w", question[:m.start()]) and not re.search(
                r"\b(is|was|does|did|about|with|of|for|do|can|will)\s*$", question[:m.start()], re.IGNORECASE):
            continue
        return m
    return None


def _owns_antecedent(question: str, at: int, counts: Counter) -> bool:
    """The question names its own subject before a clause boundary that comes before position ``at``."""
    before = question[:at]
    boundaries = [b.start() for b in _CLAUSE.finditer(before)]
    return bool(boundaries and subjects(before[:boundaries[-1]], counts))


def _demonstrative_noun(question: str, subj: str, texts: list[str]) -> re.Match | None:
    """"this therapy" / "the treatment": a demonstrative (or "the") and a noun the corpus uses to say what the
    subject is ("Cupping is a therapy…"), so it refers to the subject."""
    for m in re.finditer(r"\b(this|that|these|those|the)\s+([a-z][\w-]+)\b", question, re.IGNORECASE):
        noun = m.group(2).lower()
        if noun in STOPWORDS or noun in _AUX:
            continue
        if noun == subj.lower().split()[-1] or (noun not in subj.lower().split() and _describes(subj, noun, texts)):
            return m
    return None


def _describes(subj: str, noun: str, texts: list[str]) -> bool:
    """Some corpus sentence says the subject is a ``noun`` ("X is an ancient therapy", "X, a therapy")."""
    stem = re.escape(noun.rstrip("s"))
    pattern = re.compile(rf"\b{re.escape(subj.lower())}\b(?:\s+(?:is|are|was|were)|,)\s+(?:[\w-]+\s+){{0,3}}?{stem}s?\b")
    return any(noun in t and pattern.search(t) for t in (x.lower() for x in texts))


def _previous_subject(last: Turn, counts: Counter) -> str | None:
    """The subject of the previous turn as written there: its question's, or its answer's when the question
    names none or asks for one ("Which exercise…?" is answered by naming it)."""
    asks_for_one = re.match(r"\s*(which\b|what\s+(?!(?:%s)\b)\w)" % "|".join(sorted(_AUX)), last.question, re.IGNORECASE)
    found = [_answer_subject(last.answer, counts), subject(last.question, counts)]
    if not asks_for_one:
        found.reverse()
    phrase = next((f for f in found if f), None)
    return _surface(phrase, f"{last.question}\n{last.answer}") if phrase else None


def _surface(phrase: str, text: str) -> str:
    """``phrase`` (lower-cased words) as ``text`` writes it ("Kneipp therapy")."""
    found = list(re.finditer(r"\b" + r"\W+".join(map(re.escape, phrase.split())) + r"\b", text, re.IGNORECASE))
    inside = [m for m in found if not re.search(r"(^|[.!?\n])\s*$", text[:m.start()])]
    return (inside or found)[0].group(0) if found else phrase


def _replace(question: str, m: re.Match, subj: str) -> str:
    w = m.group(1).lower()
    new = subj + ("'s" if w in ("its", "their", "his") else " is" if w == "it's" else "")
    return question[:m.start()] + new + question[m.end():]


def standalone(question: str, history: list, counts: Counter, texts: list[str] | None = None) -> str:
    """Rewrite a follow-up so it can be answered on its own; other questions come back unchanged.

    ``history`` holds the earlier turns (``Turn``, or questions as strings), already standalone, oldest
    first; a pronoun refers to the subject of the previous question, or of its answer when the question
    names none ("he"/"she" to the last full name in the answer). ``texts`` (the corpus sentences) let
    "this therapy" refer to a subject the corpus calls a therapy.
    """
    if not history:
        return question
    last = history[-1] if isinstance(history[-1], Turn) else Turn(str(history[-1]))
    prev_subject = _previous_subject(last, counts)
    m = _WHAT_ABOUT.match(question)
    if m:
        new_subject = (m.group(1) or m.group(2)).strip()
        if words(new_subject)[:1] and words(new_subject)[0] in _PREPOSITION:  # "And for children?"
            return f"{last.question.rstrip(' ?.')} {new_subject}?"
        if prev_subject and re.search(re.escape(prev_subject), last.question, re.IGNORECASE):
            return re.sub(re.escape(prev_subject), new_subject, last.question, count=1, flags=re.IGNORECASE)
        return f"{last.question} ({new_subject})"
    person = _PERSON.search(question)
    if person and _person(last.answer):
        return _replace(question, person, _person(last.answer))
    ref = _reference(question)
    if ref and prev_subject and not _owns_antecedent(question, ref.start(), counts):
        plural = _plural_subject(last.question, counts) if ref.group(1).lower() in _PLURAL else None
        return _replace(question, ref, plural or prev_subject)
    definite = _demonstrative_noun(question, prev_subject, texts or []) if prev_subject else None
    if definite:
        return question[:definite.start()] + prev_subject + question[definite.end():]
    if subject(question, counts) or not prev_subject:
        return question
    return f"{question.rstrip(' ?')} ({prev_subject})?"
