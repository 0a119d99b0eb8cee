"""Hybrid retrieval: dense (chromadb) + keyword (BM25) fused by reciprocal rank, then sentence scoring."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..text import tokens


def rrf(rankings: list[list[str]], k: int = 60) -> dict[str, float]:
    """Reciprocal rank fusion: each list adds 1/(k + rank) to its items (rank from 1).

    >>> sorted(rrf([["a", "b"], ["b", "c"]], k=1).items())
    [('a', 0.5), ('b', 0.8333333333333333), ('c', 0.3333333333333333)]
    """
    scores: dict[str, float] = {}
    for ranking in rankings:
        for rank, item in enumerate(ranking, start=1):
            scores[item] = scores.get(item, 0.0) + 1.0 / (k + rank)
    return scores


class KeywordIndex:
    """BM25 over a list of texts, queried with the same stemmed tokens as the corpus."""

    def __init__(self, texts: list[str]):
        import bm25s

        self.n = len(texts)
        self.bm25 = bm25s.BM25()
        corpus = [tokens(t) or ["\x00empty"] for t in texts]
        self.bm25.index(corpus, show_progress=False)
        self.vocab = set(self.bm25.vocab_dict)

    def scores(self, text: str) -> np.ndarray:
        """BM25 score of every text for ``text`` (zeros when no query word is in the vocabulary)."""
        q = [t for t in tokens(text) if t in self.vocab]
        if not q or not self.n:
            return np.zeros(self.n, dtype=np.float32)
        return self.bm25.get_scores(q)

    def top(self, text: str, k: int) -> list[tuple[int, float]]:
        """Indexes and scores of the best ``k`` texts with a positive score."""
        scores = self.scores(text)
        order = np.argpartition(-scores, min(k, self.n) - 1)[:k] if 0 < k < self.n else np.arange(self.n)
        order = order[np.argsort(-scores[order])]
        return [(int(i), float(scores[i])) for i in order if scores[i] > 0]


@dataclass(frozen=True)
class ScoredSentence:
    """A candidate sentence for the answer: its similarity to the question and its final score."""

    index: int  # position in Corpus.sentences
    cosine: float
    passage_cosine: float
    keyword: float
    score: float


def sentence_scores(cos_s: np.ndarray, cos_p: np.ndarray, kw: np.ndarray) -> np.ndarray:
    """Final sentence score: its own similarity, its passage's similarity (context) and keyword overlap.

    Weights from a coarse grid over the seed questions (benchmarks/questions.jsonl): the keyword term
    keeps "What conditions can it treat?" on the sentences that name conditions rather than on ones
    that merely name the subject; the passage term lets a sentence whose subject sits in a neighbour
    ("Is intended to unblock energy meridians…") rank for a question naming that subject.
    """
    return 0.5 * cos_s + 0.2 * cos_p + 0.3 * kw
