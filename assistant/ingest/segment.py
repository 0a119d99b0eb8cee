"""Sentences and passages with raw offsets, each carrying its section heading as context. Pure functions."""

from __future__ import annotations

import re
from dataclasses import dataclass

from .sources import Document
from ..types import Passage, Sentence

# Words whose trailing period does not end a sentence ("Dr. Lewit", "e.g. pain", "et al. found").
_ABBREVIATIONS = {
    "dr", "mr", "mrs", "ms", "prof", "st", "vs", "etc", "e.g", "i.e", "al", "fig", "no", "approx", "ca", "cf",
    "jan", "feb", "mar", "apr", "jun", "jul", "aug", "sep", "sept", "oct", "nov", "dec", "inc", "ltd", "co", "u.s",
}
# A candidate end: terminal punctuation, optional closing quotes/brackets, then whitespace.
_END = re.compile(r"[.!?]+[\"'”’)\]]*(?=\s+)")
_OPENERS = "\"'“‘*_#>([ "
_QUOTES_OPEN, _QUOTES_CLOSE = "\"“'‘", "\"”'’"


@dataclass(frozen=True)
class Segmented:
    """The sentences and passages of one document."""

    sentences: tuple[Sentence, ...]
    passages: tuple[Passage, ...]


def split_sentences(text: str) -> list[tuple[int, int]]:
    """Sentence spans (start, end) in ``text``, trimmed of whitespace and stray opening marks.

    >>> split_sentences("It works. Dr. Lee agreed. Fine")
    [(0, 9), (10, 25), (26, 30)]
    """
    spans, start = [], 0
    for m in _END.finditer(text):
        end = m.end()
        if not _is_boundary(text, m.start(), end):
            continue
        spans.append((start, end))
        start = end
    spans.append((start, len(text)))
    return [t for s, e in spans if (t := _trim(text, s, e))]


def _is_boundary(text: str, punct: int, end: int) -> bool:
    """Whether the punctuation at ``punct`` ends a sentence (next word starts one; no abbreviation)."""
    rest = text[end:].lstrip()
    if not rest:
        return False
    nxt = rest[0]
    if not (nxt.isupper() or nxt.isdigit() or nxt in "\"'“‘(*[#"):
        return False
    word = re.search(r"([A-Za-z.]+)$", text[:punct])
    if text[punct] == "." and word:
        w = word.group(1).lower().rstrip(".")
        if w in _ABBREVIATIONS or (len(w) == 1 and w.isalpha()):
            return False
    return True


def _trim(text: str, s: int, e: int) -> tuple[int, int] | None:
    while s < e and text[s].isspace():
        s += 1
    while e > s and text[e - 1].isspace():
        e -= 1
    # Drop markdown emphasis markers and an opening quote that closes in a later sentence.
    while s < e and text[s] in "*_#>":
        s += 1
    if s < e and text[s] in _QUOTES_OPEN and not any(c in _QUOTES_CLOSE for c in text[s + 1:e]):
        s += 1
    while s < e and text[s].isspace():
        s += 1
    if e - s < 2 or not any(c.isalnum() for c in text[s:e]):
        return None
    return s, e


def clean(text: str) -> str:
    """Text with runs of whitespace collapsed, for embedding and display."""
    return " ".join(text.split())


def segment(doc: Document, passage_chars: int = 700) -> Segmented:
    """Split a document into sentences and passages.

    A passage gathers consecutive sentences of one section up to about ``passage_chars`` characters;
    a new section starts at each heading and where a wide gap shows a heading was lost.
    """
    sid = doc.source.id
    sentences: list[Sentence] = []
    passages: list[Passage] = []
    heading: str | None = None
    pending: list[tuple[int, int, str]] = []  # (raw start, raw end, clean text) of the passage being built

    def close_passage():
        if not pending:
            return
        pid = f"{sid}:p{len(passages)}"
        first = len(sentences)
        for k, (rs, re_, txt) in enumerate(pending):
            sentences.append(Sentence(f"{sid}:s{first + k}", sid, pid, rs, re_, txt, heading))
        ids = tuple(s.id for s in sentences[first:])
        text = " ".join(t for _, _, t in pending)
        passages.append(Passage(pid, sid, pending[0][0], pending[-1][1], text, heading, ids))
        pending.clear()

    for block in doc.blocks:
        if block.kind == "heading":
            close_passage()
            heading = clean(block.text)
            continue
        if block.section_break:
            close_passage()
            heading = None
        for s, e in split_sentences(block.text):
            rs, re_ = block.raw_span(s, e)
            txt = clean(block.text[s:e])
            size = sum(len(t) + 1 for _, _, t in pending)
            if pending and size + len(txt) > passage_chars:
                close_passage()
            pending.append((rs, re_, txt))
    close_passage()
    return Segmented(tuple(sentences), tuple(passages))


# Sentences that lean on context for their subject: "It is a form of…", "This technique…", "Is intended to…".
_NEEDS_CONTEXT = re.compile(r"^(it|its|it's|this|these|that|those|they|their|he|she|his|her|is|are|was|were|iti)\b",
                            re.IGNORECASE)


def needs_context(text: str) -> bool:
    """Whether a sentence's subject lives in its heading or a neighbour rather than in the sentence."""
    return bool(_NEEDS_CONTEXT.match(text))


def passage_embedding_text(passage: Passage, title: str) -> str:
    """What gets embedded for a passage: its section heading (or the title) as context, then its text."""
    return f"{passage.heading or title}: {passage.text}"


def sentence_embedding_text(sentence: Sentence) -> str:
    """What gets embedded for a sentence: its own words, plus the heading only when its subject lives there.

    Prefixing every sentence with its heading lets short ones ("Its goal is mostly to treat pain.")
    outrank the sentences that actually answer; context for the rest comes from the passage score.
    """
    if sentence.heading and needs_context(sentence.text):
        return f"{sentence.heading}: {sentence.text}"
    return sentence.text


def sentence_context(sentences: tuple[Sentence, ...] | list[Sentence], i: int, window: int = 2,
                     with_heading: bool = True) -> str:
    """Heading and up to ``window`` preceding sentences: what "this technique" refers to.

    Within the section when it has a heading; a section whose heading was lost also looks back
    across the boundary, since its first sentences usually continue the previous topic.
    """
    s = sentences[i]
    prev = [p.text for p in sentences[max(0, i - window):i]
            if p.source_id == s.source_id and (p.heading == s.heading or s.heading is None)]
    return " ".join(([s.heading] if s.heading and with_heading else []) + prev)

