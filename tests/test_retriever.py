"""Crosscheck as a LangChain retriever: Documents with exact quotes, raw offsets and flags, inside an LCEL chain."""

from __future__ import annotations

from langchain_core.documents import Document
from langchain_core.retrievers import BaseRetriever
from langchain_core.runnables import RunnableLambda

QUESTION = "Does foam rolling beat stretching for recovery?"


def test_retriever_returns_exact_quotes_with_raw_offsets(tiny):
    retriever = tiny.as_retriever(k=3)
    docs = retriever.invoke(QUESTION)
    assert isinstance(retriever, BaseRetriever)
    assert len(docs) == 3 and all(isinstance(d, Document) for d in docs)
    for d in docs:
        m = d.metadata
        assert tiny.corpus.raw[m["source_id"]][m["start"]:m["end"]] == d.page_content
        assert m["title"] == tiny.corpus.sources[m["source_id"]].title
        assert m["passage_id"] == d.id and m["sentence_ids"] and isinstance(m["score"], float)
    assert [d.metadata["score"] for d in docs] == sorted((d.metadata["score"] for d in docs), reverse=True)
    assert "Research shows that foam rolling is much better than stretching for recovery." in \
        " ".join(d.page_content for d in docs)


def test_documents_carry_the_flags_touching_their_span(tiny):
    docs = tiny.as_retriever(k=3).invoke(QUESTION)
    benefits = next(d for d in docs if "much better than stretching" in d.page_content)
    quotes = [(f["kind"], f["quote"]) for f in benefits.metadata["flags"]]
    assert ("unsupported_claim", "Research shows that foam rolling is much better than stretching for recovery.") in quotes
    for d in docs:
        for f in d.metadata["flags"]:
            sides = [(f["source_id"], f["start"], f["end"])] + ([(f["other"]["source_id"], f["other"]["start"],
                                                                  f["other"]["end"])] if f["other"] else [])
            assert any(sid == d.metadata["source_id"] and s < d.metadata["end"] and d.metadata["start"] < e
                       for sid, s, e in sides)


def test_retriever_drops_into_an_lcel_chain(tiny):
    def format_docs(docs: list[Document]) -> str:
        return "\n".join(f"[{d.metadata['source_id']} {d.metadata['start']}:{d.metadata['end']}] {d.page_content}"
                         for d in docs)

    chain = tiny.as_retriever(k=2) | RunnableLambda(format_docs)
    out = chain.invoke("Is foam rolling risky over a bruise?")
    first = out.splitlines()[0]
    raw = tiny.corpus.raw["alpha"]
    start = raw.index("Foam rolling over a fresh bruise")
    assert first.startswith(f"[alpha {start}:")
    assert "Foam rolling over a fresh bruise can make the bruise worse." in first


def test_k_limits_the_documents(tiny):
    assert len(tiny.as_retriever(k=1).invoke(QUESTION)) == 1
