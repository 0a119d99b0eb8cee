"""The library entry point: ``Crosscheck.open(...)`` loads (building when needed) and answers questions."""

from __future__ import annotations

import threading
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .ask import compose as answer_mod
from .index import store
from .index.corpus import Corpus
from .ask.conversation import standalone
from .errors import DamagedAnalysisError, QuestionError, SourceError, StaleIndexError
from .index.build import IndexReport, Progress, is_current, update_index
from .ask.retrieve import ScoredSentence, rrf, sentence_scores
from .settings import Settings, load_settings
from .text import content_words
from .types import Answer, Flag, Sentence, Source


@dataclass(frozen=True)
class SourceInfo:
    """A source as listed by ``crosscheck sources``: metadata, sizes and its flag counts."""

    source: Source
    passages: int
    sentences: int
    efficacy_claims: int
    unsupported: int
    disagreements: dict[str, int]

    def to_dict(self) -> dict:
        return {**self.source.to_dict(), "passages": self.passages, "sentences": self.sentences,
                "efficacy_claims": self.efficacy_claims, "unsupported_claims": self.unsupported,
                "disagreements": self.disagreements}


class Crosscheck:
    """Cited answers from a folder of articles, with warnings about disagreements and unsupported claims."""

    def __init__(self, settings: Settings, corpus: Corpus):
        self.settings = settings
        self.corpus = corpus
        self._store: store.VectorStore | None = None
        self._lock = threading.Lock()

    @classmethod
    def open(cls, sources: str | Path | None = None, index: str | Path | None = None, *, settings: Settings | None = None,
             progress: Progress = lambda _m: None, update: bool = True) -> "Crosscheck":
        """Open the index for ``sources`` in ``index``, building or updating it first when it is stale.

        Raises:
            SourceError: the sources folder is missing.
            IndexError_: the index folder cannot be written.
        """
        settings = settings or load_settings(sources=sources, index=index)
        if update and not is_current(settings):
            report = update_index(settings, progress)
            _report_skips(report, progress)
        manifest = _manifest_or_rebuild(settings, progress)
        try:
            corpus = Corpus(settings.index, manifest)
        except DamagedAnalysisError as exc:
            if not update:
                raise
            progress(str(exc))
            exc.path.unlink(missing_ok=True)
            update_index(settings, progress)
            corpus = Corpus(settings.index, store.read_manifest(settings.index))
        return cls(settings, corpus)

    @property
    def store(self) -> store.VectorStore:
        if self._store is None:
            self._store = store.VectorStore(self.settings.index, self.corpus.manifest.collection, self.settings.chroma_url)
        return self._store

    def flags(self) -> list[Flag]:
        """Every flag in the corpus: unsupported claims and disagreements."""
        return list(self.corpus.flags)

    def sources(self) -> list[SourceInfo]:
        """The indexed sources with their sizes and flag counts (one pass over the corpus, not one per source)."""
        sents: dict[str, list[Sentence]] = defaultdict(list)
        for s in self.corpus.sentences:
            sents[s.source_id].append(s)
        passages = Counter(p.source_id for p in self.corpus.passages)
        unsupported: Counter = Counter()
        dis: dict[str, Counter] = defaultdict(Counter)
        for f in self.corpus.flags:
            if f.kind == "unsupported_claim":
                unsupported[f.source_id] += 1
            elif f.kind == "disagreement" and f.other:
                dis[f.source_id][f.other.source_id] += 1
                dis[f.other.source_id][f.source_id] += 1
        out = []
        for sid, src in self.corpus.sources.items():
            claims = [self.corpus.claims.get(s.id) for s in sents[sid]]
            out.append(SourceInfo(src, passages[sid], len(sents[sid]), sum(bool(c and c.efficacy_claim) for c in claims),
                                  unsupported[sid], dict(dis[sid])))
        return out

    def ask(self, question: str, history: list | tuple = ()) -> Answer:
        """Answer ``question`` from the sources; ``history`` holds earlier questions of the conversation.

        Raises:
            QuestionError: the question is empty or longer than ``settings.max_question_chars``.
        """
        q = _check_question(question, self.settings.max_question_chars)
        previous = [_question_text(h) for h in history]
        previous = [p for p in previous if p]
        standalone_q = self._standalone(q, previous)
        return self._answer(q, standalone_q)

    def _standalone(self, q: str, previous: list[str]) -> str:
        resolved: list[str] = []
        for p in previous[-4:]:
            resolved.append(standalone(p, resolved, self.corpus.phrases))
        return standalone(q, resolved, self.corpus.phrases)

    def _answer(self, question: str, query: str) -> Answer:
        from .index.embed import get_embedder

        c = self.corpus
        if not c.sentences:
            return answer_mod.abstained(question, answer_mod.Abstention("There are no indexed sources to answer from."), query)
        qv = get_embedder().embed_one(query)
        ranked_passages = self.rank_passages(query, qv)
        cands, vectors = self._score_sentences(query, qv, ranked_passages)
        best = max((x.cosine for x in cands), default=0.0)
        uncovered = list(dict.fromkeys(w for w, st in content_words(query) if st not in c.vocab))
        reason = answer_mod.abstention(uncovered, best, self.settings.abstain_min_cosine, self.settings.abstain_uncovered_cosine)
        if reason:
            return answer_mod.abstained(question, reason, query)
        chosen = answer_mod.select(cands, vectors, c.sentences, self.settings.answer_sentences, self.settings.abstain_min_cosine)
        chosen = answer_mod.order(chosen, c.sentences)
        if not chosen:
            return answer_mod.abstained(question, answer_mod.Abstention(
                "The sources don't cover this question, so there is no answer to give from them."), query)
        return answer_mod.compose(question, chosen, c.sentences, c.sources, c.raw,
                                  c.flags_of({c.sentences[x.index].source_id for x in chosen}), query)

    def rank_passages(self, query: str, qv: np.ndarray | None = None) -> list[tuple[str, float]]:
        """Passage ids ranked by reciprocal-rank fusion of dense and BM25 search, with their fused scores."""
        from .index.embed import get_embedder

        c = self.corpus
        if qv is None:
            qv = get_embedder().embed_one(query)
        k = self.settings.candidates
        with self._lock:
            dense = self.store.query("passage", qv, k * 2)
        dense_ids = [pid for pid, _, m in _live(dense, c.versions)][:k]
        kw_ids = [c.passages[i].id for i, _ in c.passage_keywords.top(query, k)]
        fused = rrf([dense_ids, kw_ids], self.settings.rrf_k)
        return sorted(fused.items(), key=lambda kv: -kv[1])

    def _score_sentences(self, query: str, qv: np.ndarray, ranked_passages: list[tuple[str, float]]):
        c = self.corpus
        k = self.settings.candidates
        with self._lock:
            dense = self.store.query("sentence", qv, k * 2)
        pool = {c.sentence_pos[sid] for sid, _, _ in _live(dense, c.versions) if sid in c.sentence_pos}
        pool |= {i for i, _ in c.sentence_keywords.top(query, k)}
        top_passages = [pid for pid, _ in ranked_passages[:6]]
        for pid in top_passages:
            pool |= {c.sentence_pos[s] for s in c.passages[c.passage_pos[pid]].sentence_ids}
        idx = sorted(pool)
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


def _live(results: list[tuple[str, float, dict]], versions: dict[str, str]):
    """Vector hits of live source versions, with the version suffix taken off their ids."""
    for rid, score, meta in results:
        if meta and versions.get(meta.get("source_id")) == meta.get("version"):
            yield rid.rsplit("@", 1)[0], score, meta


def _check_question(question: str, limit: int) -> str:
    q = " ".join((question or "").split())
    if not q:
        raise QuestionError("the question is empty: type a question about the sources")
    if len(q) > limit:
        raise QuestionError(
            f"the question is {len(q):,} characters long, over the {limit:,} limit: ask a shorter question "
            "(or raise CROSSCHECK_MAX_QUESTION_CHARS)"
        )
    return q


def _question_text(turn) -> str | None:
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


def _manifest_or_rebuild(settings: Settings, progress: Progress) -> store.Manifest:
    try:
        manifest = store.read_manifest(settings.index)
    except StaleIndexError as exc:
        progress(str(exc))
        update_index(settings, progress, rebuild=True)
        manifest = store.read_manifest(settings.index)
    if manifest is None:
        update_index(settings, progress)
        manifest = store.read_manifest(settings.index)
    return manifest


def _report_skips(report: IndexReport, progress: Progress) -> None:
    for name, reason in report.skipped.items():
        progress(f"skipped: {reason}")
    progress(report.summary())
