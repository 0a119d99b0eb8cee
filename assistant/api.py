"""The library entry point: ``Crosscheck.open(...)`` loads (building when needed) and answers questions."""

from __future__ import annotations

import functools
import threading
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING


from .ask import pipeline
from .ask.retrieve import HybridRetriever
from .ask.spelling import Vocabulary
from .index import store
from .index.corpus import Corpus
from .errors import DamagedAnalysisError, SourceError, StaleIndexError
from .index.build import IndexReport, Progress, is_current, update_index
from .settings import Settings, load_settings
from .types import Answer, Claim, Flag, Sentence, Source

if TYPE_CHECKING:
    from .analyse.judge import Judgement
    from .ask.langchain import CrosscheckRetriever


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
            for line in update_index(settings, progress).lines():
                progress(line)
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
        """Answer ``question`` from the sources; ``history`` holds the earlier turns of the conversation:
        questions as strings, Answers (their subjects count too: "Who developed it?"), or chat message dicts.

        Raises:
            QuestionError: the question is empty or longer than ``settings.max_question_chars``.
        """
        q = pipeline.check_question(question, self.settings.max_question_chars)
        texts = [s.text for s in self.corpus.sentences] if history else None
        reading = self.vocabulary.read(pipeline.standalone_question(q, history, self.corpus.phrases, texts))
        qv = self._embedder().embed_one(reading.query)
        return pipeline.answer(q, reading.query, self.corpus, self.retriever, qv, self.settings, reading.uncovered)

    @functools.cached_property
    def vocabulary(self) -> Vocabulary:
        """The corpus's words and counts, for reading misspelt and shortened question words."""
        return Vocabulary(self.corpus.phrases, self.corpus.vocab)

    def conversation(self) -> "Conversation":
        """A conversation: each question sees the earlier ones (follow-ups such as "who developed it?")."""
        return Conversation(self)

    def rank_passages(self, query: str) -> list[tuple[str, float]]:
        """Passage ids ranked by reciprocal-rank fusion of dense and BM25 search, with their fused scores
        (misspelt words corrected against the corpus, as ``ask`` does)."""
        query = self.vocabulary.read(query).query
        return self.retriever.rank_passages(query, self._embedder().embed_one(query))

    def as_retriever(self, k: int = 5) -> "CrosscheckRetriever":
        """A LangChain ``BaseRetriever``: the ``k`` best passages as Documents with ``source_id``, exact
        ``start``/``end``, ``score`` and the flags touching them in ``metadata`` (see ``ask.langchain``)."""
        from .ask.langchain import CrosscheckRetriever

        return CrosscheckRetriever(crosscheck=self, k=k)

    @property
    def retriever(self) -> HybridRetriever:
        return HybridRetriever(self.corpus, self.store, self.settings.candidates, self.settings.rrf_k, self._lock)

    @staticmethod
    def _embedder():
        from .index.embed import get_embedder

        return get_embedder()

    @staticmethod
    def warm_up() -> None:
        """Load the embedding model now, so the first question does not wait for it."""
        Crosscheck._embedder().embed_one("warm up")

    def titles(self) -> dict[str, str]:
        """Each indexed source's title, by source id."""
        return {sid: s.title for sid, s in self.corpus.sources.items()}

    def skipped(self) -> dict[str, str]:
        """Files of the sources folder that were not indexed, with the reason, by file name."""
        return dict(self.corpus.skipped)

    def report(self) -> "Report":
        """The sources report: each indexed source with its counts, the files skipped, and every flag."""
        return Report(self.sources(), self.skipped(), self.flags())

    def passage(self, source_id: str, start: int, end: int) -> "PassageView":
        """The raw text of an indexed source with the span ``start:end`` to show.

        Raises:
            SourceError: the source is not in the index, or the span is not inside its text.
        """
        raw = self.corpus.raw.get(source_id)
        if raw is None or not 0 <= start < end <= len(raw):
            raise SourceError(f"{source_id} [{start}:{end}] is not a passage of the indexed sources: ask again")
        return PassageView(self.corpus.sources[source_id], raw, start, end)

    def add_source(self, path: str | Path, replace: bool = False) -> bool:
        """Copy an article file into the sources folder; False when the same file is already there.

        ``replace``: a different file with the same name is overwritten (its old passages and flags leave the
        index at the next update). Run ``Crosscheck.update`` (or reopen) to index it.

        Raises:
            SourceExistsError: a different file has its name (and not ``replace``).
            SourceError: not a usable article, or another file already has its source id.
        """
        from .ingest.upload import add_file, check_upload

        target, there = check_upload(Path(path), self.settings.sources, self.settings.max_file_bytes, replace)
        if not there:
            add_file(Path(path), target, replace=replace)
        return not there

    def remove_source(self, name: str) -> Path:
        """Delete the article file ``name`` from the sources folder; the next update drops its passages and flags.

        Raises:
            SourceError: no such article file in the sources folder.
        """
        from .ingest.upload import remove_file

        return remove_file(self.settings.sources, name)

    @staticmethod
    def update(sources: str | Path | None = None, index: str | Path | None = None, *, settings: Settings | None = None,
               progress: Progress = lambda _m: None, rebuild: bool = False) -> IndexReport:
        """Build or update the index of ``sources`` in ``index`` (``rebuild``: from nothing); what it did."""
        return update_index(settings or load_settings(sources=sources, index=index), progress, rebuild=rebuild)

    @staticmethod
    def claims(sentences: list[str]) -> list[Claim]:
        """Each sentence analysed on its own, as the index analyses it: efficacy claim, strength, evidence."""
        from .analyse.claims import analyse_many

        return analyse_many(list(sentences))

    @staticmethod
    def judge(pairs: list[tuple[str, str]], settings: Settings | None = None) -> list[Judgement]:
        """The pair judge's verdict on each (A, B): contradicts, agrees or unrelated, with its score."""
        from .analyse.judge import get_judge

        return get_judge((settings or load_settings()).judge).judge_many(list(pairs)) if pairs else []

    @staticmethod
    def evaluate(gold: str | Path, sources: str | Path, index: str | Path | None = None,
                 progress: Progress = lambda _m: None, baseline: bool = False) -> dict:
        """Score the articles in ``sources`` against a gold file (``topics/*/gold.json`` format); see ``evaluate``.
        ``baseline`` adds the plain LangChain dense top-5 recall (needs the ``bench`` extra)."""
        from .evaluate import evaluate

        return evaluate(gold, sources, index, progress=progress, baseline=baseline)

    @staticmethod
    def evaluate_all(folder: str | Path, index: str | Path | None = None, progress: Progress = lambda _m: None,
                     baseline: bool = False) -> dict:
        """Score every ``folder/*/gold.json`` against its ``sources``: one result per topic and their mean."""
        from .evaluate import evaluate_all

        return evaluate_all(folder, index, progress=progress, baseline=baseline)

    @staticmethod
    def eval_summary(result: dict) -> dict:
        """One table row of an evaluation result."""
        from .evaluate import summary

        return summary(result)


class Conversation:
    """Questions asked in turn of one Crosscheck, their Answers kept as the history (a follow-up can refer to
    what an answer named); a question that fails leaves the history as it was."""

    def __init__(self, cc: Crosscheck):
        self.cc = cc
        self.history: list[Answer] = []

    def ask(self, question: str) -> Answer:
        ans = self.cc.ask(question, history=self.history)
        self.history.append(ans)
        return ans


@dataclass(frozen=True)
class Report:
    """What ``crosscheck sources`` and the app's Sources tab show."""

    sources: list[SourceInfo]
    skipped: dict[str, str]
    flags: list[Flag]


@dataclass(frozen=True)
class PassageView:
    """A source's raw text and the span of it a citation points at."""

    source: Source
    text: str
    start: int
    end: int

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
