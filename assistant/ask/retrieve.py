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


class HybridRetriever:
    """Dense (the index's vector store) and BM25 search over an open corpus, fused, then sentences scored."""

    def __init__(self, corpus, store, candidates: int, rrf_k: int, lock):
        self.corpus = corpus
        self.store = store
        self.k = candidates
        self.rrf_k = rrf_k
        self._lock = lock  # chromadb clients are shared: one query at a time

    def rank_passages(self, query: str, qv: np.ndarray) -> list[tuple[str, float]]:
        """Passage ids ranked by reciprocal-rank fusion of dense and BM25 search, with their fused scores."""
        c = self.corpus
        with self._lock:
            dense = self.store.query("passage", qv, self.k * 2)
        dense_ids = [pid for pid, _, m in live(dense, c.versions)][: self.k]
        kw_ids = [c.passages[i].id for i, _ in c.passage_keywords.top(query, self.k)]
        fused = rrf([dense_ids, kw_ids], self.rrf_k)
        return sorted(fused.items(), key=lambda kv: -kv[1])

    def score_sentences(self, query: str, qv: np.ndarray, ranked_passages: list[tuple[str, float]]):
        """Candidate answer sentences (dense, keyword and top-passage neighbours) with scores and vectors."""
        c = self.corpus
        idx = self._pool(query, qv, ranked_passages)
        s_ids = [f"{c.sentences[i].id}@{c.versions[c.sentences[i].source_id]}" for i in idx]
        p_ids = sorted({f"{c.sentences[i].passage_id}@{c.versions[c.sentences[i].source_id]}" for i in idx})
        with self._lock:
            s_vec = self.store.vectors("sentence", s_ids)
            p_vec = self.store.vectors("passage", p_ids)
        kw = c.sentence_keywords.scores(query)
        kw_max = float(kw.max(initial=0.0)) or 1.0
        vectors: dict[int, np.ndarray] = {}
        cos_s, cos_p, kws = [], [], []
        for i, sid in zip(idx, s_ids):
            v = s_vec.get(sid)
            pv = p_vec.get(f"{c.sentences[i].passage_id}@{c.versions[c.sentences[i].source_id]}")
            vectors[i] = v if v is not None else np.zeros_like(qv)
            cos_s.append(float(vectors[i] @ qv))
            cos_p.append(float(pv @ qv) if pv is not None else 0.0)
            kws.append(float(kw[i]) / kw_max)
        scores = sentence_scores(np.array(cos_s), np.array(cos_p), np.array(kws))
        # A question in the source ("Is acupuncture painful?") restates, never answers: not a candidate.
        cands = [ScoredSentence(i, cs, cp, kk, float(sc)) for i, cs, cp, kk, sc in zip(idx, cos_s, cos_p, kws, scores)
                 if not c.sentences[i].text.rstrip("\"'”’) ").endswith("?")]
        return cands, vectors

    def _pool(self, query: str, qv: np.ndarray, ranked_passages: list[tuple[str, float]]) -> list[int]:
        c = self.corpus
        with self._lock:
            dense = self.store.query("sentence", qv, self.k * 2)
        pool = {c.sentence_pos[sid] for sid, _, _ in live(dense, c.versions) if sid in c.sentence_pos}
        pool |= {i for i, _ in c.sentence_keywords.top(query, self.k)}
        for pid, _ in ranked_passages[:6]:
            pool |= {c.sentence_pos[s] for s in c.passages[c.passage_pos[pid]].sentence_ids}
        return sorted(pool)


def live(results: list[tuple[str, float, dict]], versions: dict[str, str]):
    """Vector hits of live source versions, with the version suffix taken off their ids."""
    for rid, score, meta in results:
        if meta and versions.get(meta.get("source_id")) == meta.get("version"):
            yield rid.rsplit("@", 1)[0], score, meta
