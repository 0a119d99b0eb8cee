"""Sentence selection, abstention and answer composition with citations and flags. Pure functions."""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

import numpy as np

from .retrieve import ScoredSentence
from ..ingest.segment import needs_context
from ..text import content_words
from ..types import Answer, Citation, Flag, Sentence, Source



@dataclass(frozen=True)
class Abstention:
    """Why a question is not answered from the sources."""

    message: str


def abstention(uncovered: list[str], best_cosine: float, min_cosine: float, uncovered_cosine: float) -> Abstention | None:
    """Decide whether the sources cover the question.

    Abstain when nothing is close (``best_cosine < min_cosine``), or when the question names a term the
    sources never use and nothing is a strong match either (``< uncovered_cosine``): "ibuprofen dose"
    near passages about pain is still not covered.
    """
    if best_cosine < min_cosine:
        return Abstention("The sources don't cover this question, so there is no answer to give from them.")
    if uncovered and best_cosine < uncovered_cosine:
        named = ", ".join(f"“{w}”" for w in uncovered[:3])
        return Abstention(f"The sources don't cover this question: they never mention {named}.")
    return None


def select(cands: list[ScoredSentence], vectors: dict[int, np.ndarray], sentences: list[Sentence],
           k: int, min_cosine: float, question: str | None = None,
           titles: dict[str, str] | None = None) -> list[ScoredSentence]:
    """Pick up to ``k`` answer sentences: best first, near-duplicates skipped, at least one per source
    that has a good match (so a reader hears both sides), weak matches dropped; with ``question`` and
    ``titles``, a source's lead-in that only announces its topic (see ``announces``) ranks last."""
    if question is not None and titles is not None:
        cands = [replace(c, score=c.score - ANNOUNCE_PENALTY) if announces(sentences, c.index, question, titles) else c
                 for c in cands]
    ranked = sorted(cands, key=lambda c: -c.score)
    if not ranked:
        return []
    # Keep what scores close to the best answer; the score carries passage context ("He reported…").
    good = [c for c in ranked if c.score >= ranked[0].score - 0.12]
    chosen: list[ScoredSentence] = []

    def fits(c: ScoredSentence) -> bool:
        v = vectors.get(c.index)
        return all(v is None or vectors.get(o.index) is None or float(v @ vectors[o.index]) < 0.9 for o in chosen)

    by_source: dict[str, ScoredSentence] = {}
    for c in good:
        by_source.setdefault(sentences[c.index].source_id, c)
    for c in sorted(by_source.values(), key=lambda c: -c.score)[:k]:
        chosen.append(c)
    for c in good:
        if len(chosen) >= k:
            break
        if c not in chosen and fits(c):
            chosen.append(c)
    return chosen


# How far a sentence that only announces its source's topic falls: past the 0.12 band select keeps.
ANNOUNCE_PENALTY = 0.15


def announces(sentences: list[Sentence], i: int, question: str, titles: dict[str, str]) -> bool:
    """Whether sentence ``i`` is an introduction that announces rather than answers: it sits before its
    source's first heading after the title, the question asks about more than the source's title names, and the only
    words the sentence shares with the question are title words ("In this article, we will explore
    acupuncture and dry needling…" for "How long do the needles stay in…")."""
    s = sentences[i]
    name = titles.get(s.source_id) or ""
    title = {st for _, st in content_words(name)}
    asked = {st for _, st in content_words(question)}
    if not asked - title or not {st for _, st in content_words(s.text)} & asked <= title:
        return False
    return _before_first_heading(sentences, i, name)


def _before_first_heading(sentences: list[Sentence], i: int, title: str) -> bool:
    """Whether sentence ``i`` comes before its source's first heading (the title line does not count)."""
    j = i
    while j >= 0 and sentences[j].source_id == sentences[i].source_id:
        if sentences[j].heading not in (None, title):
            return False
        j -= 1
    return True


def order(chosen: list[ScoredSentence], sentences: list[Sentence]) -> list[ScoredSentence]:
    """Answer order: sources by their best sentence, each source's sentences in document order."""
    best: dict[str, float] = {}
    for c in chosen:
        sid = sentences[c.index].source_id
        best[sid] = max(best.get(sid, -1e9), c.score)
    return sorted(chosen, key=lambda c: (-best[sentences[c.index].source_id], sentences[c.index].start))


def compose(question: str, chosen: list[ScoredSentence], sentences: list[Sentence], sources: dict[str, Source],
            raw_texts: dict[str, str], flags: list[Flag], standalone: str | None = None) -> Answer:
    """The answer: a one-line direct answer (the best-scoring chosen sentence, cited), then the other
    chosen sentences grouped by source under a bold source title, then warnings for the flags touching
    the cited text (a disagreement also cites the other side).

    Each point is one contiguous raw span: a pronoun-initial sentence carries its antecedent, a list's
    lead-in carries its items, and stray quote marks are trimmed off the edges.
    """
    citations: list[Citation] = []
    lines: list[str] = []
    shown: set[str] = set()
    by_span: dict[tuple[str, int, int], int] = {}

    def cite(source_id: str, start: int, end: int) -> int:
        key = (source_id, start, end)
        if key not in by_span:
            n = len(citations) + 1
            citations.append(Citation(n, source_id, sources[source_id].title, raw_texts[source_id][start:end], start, end))
            by_span[key] = n
        return by_span[key]

    def point(c: ScoredSentence) -> str | None:
        group = [x for x in span_group(sentences, c.index, raw_texts[sentences[c.index].source_id]) if x.id not in shown]
        if sentences[c.index].id not in {x.id for x in group}:
            return None
        shown.update(x.id for x in group)
        start, end = trim_quotes(raw_texts[group[0].source_id], group[0].start, group[-1].end)
        s = sentences[c.index]
        prefix = f"*{s.heading}:* " if s.heading and needs_context(group[0].text) else ""
        return prefix + _trim_text(" ".join(x.text for x in group)) + f" [{cite(s.source_id, start, end)}]"

    best = max(chosen, key=lambda c: c.score) if chosen else None
    if best is not None:
        lines.append(point(best))
    current = None
    for c in chosen:
        if c is best or (text := point(c)) is None:
            continue
        sid = sentences[c.index].source_id
        if sid != current:
            lines += ["", f"**{sources[sid].title}**"]
            current = sid
        lines.append("- " + text)
    attached, hidden = _shown(touching(flags, [(c.source_id, c.start, c.end) for c in citations]), by_span)
    warnings = []
    for f in attached:
        n = by_span.get((f.source_id, f.start, f.end)) or _overlapping(by_span, f.source_id, f.start, f.end)
        if f.kind == "disagreement" and f.other:
            m = _overlapping(by_span, f.other.source_id, f.other.start, f.other.end)
            if n is None:
                n = cite(f.source_id, f.start, f.end)
            if m is None:
                m = cite(f.other.source_id, f.other.start, f.other.end)
            warnings.append(f"⚠️ **The sources disagree** [{n}] vs [{m}]: {f.explanation}")
        else:
            warnings.append(f"⚠️ **Unsupported claim** [{n}]: {f.explanation}")
    if hidden:
        warnings.append(f"⚠️ **{hidden} more disagreements** with other sources involve the cited sentences; "
                        "`crosscheck flags` lists every flag.")
    text = "\n".join(lines + ([""] + warnings if warnings else []))
    return Answer(question, text, False, tuple(citations), tuple(attached), standalone)


# Disagreement warnings shown in one answer: in a large corpus one sentence can be contradicted by dozens
# of sources, and dozens of warnings (each citing its other side) would bury the answer. The rest are counted.
MAX_DISAGREEMENTS = 5


def _shown(attached: list[Flag], by_span: dict) -> tuple[list[Flag], int]:
    """Every unsupported-claim flag, and the first ``MAX_DISAGREEMENTS`` disagreements, those whose other
    side the answer already cites first; returns (shown flags, how many disagreements were left out)."""
    dis = [f for f in attached if f.kind == "disagreement"]
    if len(dis) <= MAX_DISAGREEMENTS:
        return attached, 0
    cited = lambda f: f.other is not None and _overlapping(by_span, f.other.source_id, f.other.start, f.other.end) is not None
    keep = {id(f) for f in sorted(dis, key=lambda f: not cited(f))[:MAX_DISAGREEMENTS]}
    return [f for f in attached if f.kind != "disagreement" or id(f) in keep], len(dis) - MAX_DISAGREEMENTS


def followers(sentences: list[Sentence], i: int, limit: int = 2) -> list[Sentence]:
    """A chosen sentence and up to ``limit`` directly following ones of its passage that lean on it
    for their subject ("…the work of Karel Lewit." + "He reported … in 86% of cases")."""
    group = [sentences[i]]
    for j in range(i + 1, min(i + 1 + limit, len(sentences))):
        nxt = sentences[j]
        if nxt.passage_id != group[0].passage_id or not needs_context(nxt.text):
            break
        group.append(nxt)
    return group


def span_group(sentences: list[Sentence], i: int, raw: str) -> list[Sentence]:
    """The contiguous sentences one answer point quotes for sentence ``i``: its antecedent (the previous
    sentence of the passage) when it starts with a pronoun, the followers that lean on it, and a list's
    items when the last of these is the list's lead-in ("…the following benefits:")."""
    s = sentences[i]
    after = followers(sentences, i)
    last = i + len(after) - 1
    before = [sentences[i - 1]] if needs_context(s.text) and i > 0 and sentences[i - 1].passage_id == s.passage_id else []
    return before + after + list_items(sentences, last, raw)


# A list's items: at most this many, within this many raw characters of the lead-in.
MAX_LIST_ITEMS, MAX_LIST_CHARS = 12, 2000
_LIST_MARKER = re.compile(r"\s*(?:[-*+•]|\(?\d{1,3}[.)])\s+")
_HTML_ITEM = re.compile(r"<li\b[^>]*>\s*(?:<[^>]+>\s*)*$", re.IGNORECASE)


def list_items(sentences: list[Sentence], i: int, raw: str) -> list[Sentence]:
    """The sentences of the list that sentence ``i`` leads in (it ends with ":" and the next sentence
    opens a list item), in order; empty when it is no lead-in."""
    lead = sentences[i]
    if not lead.text.rstrip().endswith(":"):
        return []
    items: list[Sentence] = []
    prev, count = lead, 0
    for nxt in sentences[i + 1:]:
        if nxt.source_id != lead.source_id or nxt.end - lead.start > MAX_LIST_CHARS:
            break
        if _item_start(raw, nxt.start):
            count += 1
            if count > MAX_LIST_ITEMS:
                break
        elif not items or not _same_line(raw, prev.end, nxt.start):
            break
        items.append(nxt)
        prev = nxt
    return items


def _item_start(raw: str, start: int) -> bool:
    """Whether the raw text before ``start`` on its line is a list marker ("1. ", "- ") or an HTML <li>."""
    line = raw[raw.rfind("\n", 0, start) + 1:start]
    return bool(_LIST_MARKER.fullmatch(line)) or bool(_HTML_ITEM.search(raw[max(0, start - 200):start]))


def _same_line(raw: str, end: int, start: int) -> bool:
    gap = raw[end:start]
    return "\n" not in gap and "<li" not in gap.lower() and "</li" not in gap.lower()


_OPEN_QUOTES, _CLOSE_QUOTES = "\"“‘«", "\"”’»"


def trim_quotes(raw: str, start: int, end: int) -> tuple[int, int]:
    """``start:end`` without a quote mark at either edge whose partner lies outside the span."""
    while start < end and raw[start] in _OPEN_QUOTES and not _has_close(raw[start + 1:end], raw[start]):
        start += 1
    while end > start and raw[end - 1] in _CLOSE_QUOTES and not _has_open(raw[start:end - 1], raw[end - 1]):
        end -= 1
    return start, end


def _trim_text(text: str) -> str:
    start, end = trim_quotes(text, 0, len(text))
    return text[start:end]


def _has_close(inside: str, mark: str) -> bool:
    return (mark in inside) if mark == '"' else any(c in _CLOSE_QUOTES for c in inside)


def _has_open(inside: str, mark: str) -> bool:
    return (mark in inside) if mark == '"' else any(c in _OPEN_QUOTES for c in inside)


def _overlapping(by_span: dict, source_id: str, start: int, end: int) -> int | None:
    for (sid, s, e), n in by_span.items():
        if sid == source_id and s < end and start < e:
            return n
    return None


def touching(flags: list[Flag], spans: list[tuple[str, int, int]]) -> list[Flag]:
    """Flags whose quote (or, for a disagreement, other quote) overlaps any of the cited spans."""
    def hit(q_sid: str, q_start: int, q_end: int) -> bool:
        return any(sid == q_sid and s < q_end and q_start < e for sid, s, e in spans)

    out = []
    for f in flags:
        if hit(f.source_id, f.start, f.end) or (f.other is not None and hit(f.other.source_id, f.other.start, f.other.end)):
            out.append(f)
    return out


def abstained(question: str, reason: Abstention, standalone: str | None = None) -> Answer:
    return Answer(question, reason.message, True, (), (), standalone)

