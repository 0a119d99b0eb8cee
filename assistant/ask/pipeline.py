"""From a question to an Answer: check it, make it standalone, retrieve, abstain or compose."""

from __future__ import annotations

import re

import numpy as np

from . import compose
from .conversation import Turn, standalone
from .retrieve import HybridRetriever
from ..errors import QuestionError
from ..settings import Settings
from ..text import content_words
from ..types import Answer


def check_question(question: str, limit: int) -> str:
    """The question with its white space folded.

    Raises:
        QuestionError: it is empty, or longer than ``limit`` characters.
    """
    q = " ".join((question or "").split())
    if not q:
        raise QuestionError("the question is empty: type a question about the sources")
    if len(q) > limit:
        raise QuestionError(
            f"the question is {len(q):,} characters long, over the {limit:,} limit: ask a shorter question "
            "(or raise CROSSCHECK_MAX_QUESTION_CHARS)"
        )
    return q


def question_text(turn) -> str | None:
    """The user's words from a history entry: a string, an Answer, or a chat message dict."""
    if isinstance(turn, str):
        return turn
    if isinstance(turn, Answer):
        return turn.question
    if isinstance(turn, dict):
        if turn.get("role") in (None, "user"):
            content = turn.get("content") or turn.get("question")
            return content if isinstance(content, str) else None
    return None


def turns(history) -> list[Turn]:
    """The earlier turns of a history of strings, Answers, Answer dicts or chat message dicts (an assistant
    message gives its text to the turn before it)."""
    out: list[Turn] = []
    for h in history:
        if isinstance(h, Answer):
            out.append(Turn(h.standalone_question or h.question, "" if h.abstained else answer_words(h.answer)))
        elif isinstance(h, dict) and "answer" in h and isinstance(h.get("question"), str):
            out.append(Turn(h.get("standalone_question") or h["question"],
                            "" if h.get("abstained") else answer_words(str(h["answer"]))))
        elif isinstance(h, dict) and h.get("role") == "assistant" and out and isinstance(h.get("content"), str):
            out[-1] = Turn(out[-1].question, answer_words(h["content"]))
        elif (q := question_text(h)):
            out.append(Turn(q))
    return out


def answer_words(text: str) -> str:
    """An answer's sentences without list marks, headings, citation markers and warnings."""
    lines = [l for l in text.splitlines() if l.strip() and not l.lstrip().startswith("⚠️")]
    lines = [re.sub(r"^\s*[-*]\s+(\*[^*]+:\*\s*)?", "", l) for l in lines]
    return "\n".join(re.sub(r"\s*\[\d+\]", "", l) for l in lines)


def standalone_question(question: str, history, phrases, texts: list[str] | None = None) -> str:
    """``question`` rewritten to stand alone, each of the last four earlier turns resolved in turn."""
    resolved: list[Turn] = []
    for t in turns(history)[-4:]:
        resolved.append(Turn(standalone(t.question, resolved, phrases, texts), t.answer))
    return standalone(question, resolved, phrases, texts)


def answer(question: str, query: str, corpus, retriever: HybridRetriever, qv: np.ndarray, settings: Settings,
           uncovered: list[str] | None = None) -> Answer:
    """The cited answer to ``query`` (``question`` as asked), or an abstention saying why there is none;
    ``uncovered``: the query's topic words the corpus lacks (default: those whose stem it never uses)."""
    c = corpus
    if not c.sentences:
        return compose.abstained(question, compose.Abstention("There are no indexed sources to answer from."), query)
    ranked_passages = retriever.rank_passages(query, qv)
    cands, vectors = retriever.score_sentences(query, qv, ranked_passages)
    best = max((x.cosine for x in cands), default=0.0)
    if uncovered is None:
        uncovered = list(dict.fromkeys(w for w, st in content_words(query) if st not in c.vocab))
    reason = compose.abstention(uncovered, best, settings.abstain_min_cosine, settings.abstain_uncovered_cosine)
    if reason:
        return compose.abstained(question, reason, query)
    chosen = compose.select(cands, vectors, c.sentences, settings.answer_sentences, settings.abstain_min_cosine,
                            query, {sid: c.sources[sid].title for sid in {c.sentences[x.index].source_id for x in cands}})
    chosen = compose.order(chosen, c.sentences)
    if not chosen:
        return compose.abstained(question, compose.Abstention(
            "The sources don't cover this question, so there is no answer to give from them."), query)
    return compose.compose(question, chosen, c.sentences, c.sources, c.raw,
                           c.flags_of({c.sentences[x.index].source_id for x in chosen}), query)
