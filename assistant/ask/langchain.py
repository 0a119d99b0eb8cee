"""Crosscheck as a LangChain retriever: the hybrid search's passages as Documents with exact offsets and flags."""

from __future__ import annotations

from typing import Any

from langchain_core.callbacks import CallbackManagerForRetrieverRun
from langchain_core.documents import Document
from langchain_core.retrievers import BaseRetriever

from .compose import touching


def passage_documents(ranked: list[tuple[str, float]], corpus, k: int) -> list[Document]:
    """The best ``k`` ranked passages as Documents: the raw quote, its source and offsets, and its flags.

    ``page_content`` is the source file's raw text at ``start:end``, so a chain quotes it verbatim.
    """
    docs = []
    for pid, score in ranked[:k]:
        p = corpus.passages[corpus.passage_pos[pid]]
        span = [(p.source_id, p.start, p.end)]
        flags = touching(corpus.flags_of({p.source_id}), span)
        docs.append(Document(page_content=corpus.raw[p.source_id][p.start:p.end], id=pid, metadata={
            "source_id": p.source_id, "title": corpus.sources[p.source_id].title, "start": p.start, "end": p.end,
            "passage_id": pid, "sentence_ids": list(p.sentence_ids), "heading": p.heading, "score": score,
            "flags": [f.to_dict() for f in flags]}))
    return docs


class CrosscheckRetriever(BaseRetriever):
    """A LangChain ``BaseRetriever`` over an open ``Crosscheck``: the same dense + BM25 fusion as ``ask``.

    Each Document is one passage: ``page_content`` is its exact raw text; ``metadata`` holds ``source_id``,
    ``title``, ``start``/``end`` (raw offsets), ``passage_id``, ``sentence_ids``, ``heading``, the fused
    ``score`` and ``flags`` (Flag dicts touching the passage).
    """

    crosscheck: Any
    k: int = 5

    def _get_relevant_documents(self, query: str, *, run_manager: CallbackManagerForRetrieverRun) -> list[Document]:
        return passage_documents(self.crosscheck.rank_passages(query), self.crosscheck.corpus, self.k)
