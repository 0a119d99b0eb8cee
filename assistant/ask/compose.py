"""Sentence selection, abstention and answer composition with citations and flags. Pure functions."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .retrieve import ScoredSentence
from ..ingest.segment import needs_context
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
           k: int, min_cosine: float) -> list[ScoredSentence]:
    """Pick up to ``k`` answer sentences: best first, near-duplicates skipped, at least one per source
    that has a good match (so a reader hears both sides), weak matches dropped."""
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


def order(chosen: list[ScoredSentence], sentences: list[Sentence]) -> list[ScoredSentence]:
    """Answer order: sources by their best sentence, each source's sentences in document order."""
    best: dict[str, float] = {}
    for c in chosen:
        sid = sentences[c.index].source_id
        best[sid] = max(best.get(sid, -1e9), c.score)
    return sorted(chosen, key=lambda c: (-best[sentences[c.index].source_id], sentences[c.index].start))


def compose(question: str, chosen: list[ScoredSentence], sentences: list[Sentence], sources: dict[str, Source],
            raw_texts: dict[str, str], flags: list[Flag], standalone: str | None = None) -> Answer:
    """The answer: one line per chosen sentence with its citation marker, then warnings for the flags
    touching the cited text (a disagreement also cites the other side)."""
    citations: list[Citation] = []
    lines: list[str] = []
    expanded: list[set[str]] = []
    by_span: dict[tuple[str, int, int], int] = {}

    def cite(source_id: str, start: int, end: int) -> int:
        key = (source_id, start, end)
        if key not in by_span:
            n = len(citations) + 1
            citations.append(Citation(n, source_id, sources[source_id].title, raw_texts[source_id][start:end], start, end))
            by_span[key] = n
        return by_span[key]

    for c in chosen:
        s = sentences[c.index]
        if any(s.id in x for x in expanded):
            continue
        group = followers(sentences, c.index)
        expanded.append({x.id for x in group})
        prefix = f"*{s.heading}:* " if s.heading and needs_context(s.text) else ""
        lines.append("- " + prefix + " ".join(f"{x.text} [{cite(x.source_id, x.start, x.end)}]" for x in group))
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

