"""The plain LangChain baseline that ``crosscheck eval --baseline`` measures against: dense top-k over fixed chunks.

LangChain ``Chroma`` with the same packaged MiniLM (through langchain-huggingface) over 500-character chunks
with no overlap (langchain-text-splitters ``RecursiveCharacterTextSplitter``): what a newcomer builds first.
The packages come from the ``bench`` extra and are imported only here, only when asked for.
"""

from __future__ import annotations

import functools
import itertools
import shutil
import tempfile
from pathlib import Path

from ..errors import ModelError

CHUNK_CHARS = 500
_names = itertools.count()


def _imports():
    try:
        from langchain_chroma import Chroma
        from langchain_huggingface import HuggingFaceEmbeddings
        from langchain_text_splitters import RecursiveCharacterTextSplitter
    except ImportError as exc:
        raise ModelError(f"the LangChain baseline needs {exc.name}, which is not installed: "
                         "run `pip install -e '.[bench]'` (or leave out --baseline)") from exc
    return Chroma, HuggingFaceEmbeddings, RecursiveCharacterTextSplitter


@functools.lru_cache(maxsize=1)
def _embeddings():
    """The packaged model as LangChain embeddings, normalised like the index's, loaded once a process."""
    from .embed import verified_model_path

    _, HuggingFaceEmbeddings, _ = _imports()
    return HuggingFaceEmbeddings(model_name=str(verified_model_path()), model_kwargs={"device": "cpu"},
                                 encode_kwargs={"normalize_embeddings": True})


class DenseBaseline:
    """A throwaway LangChain ``Chroma`` store over a folder's files in 500-character chunks; close() removes it."""

    def __init__(self, sources: str | Path):
        Chroma, _, Splitter = _imports()
        splitter = Splitter(chunk_size=CHUNK_CHARS, chunk_overlap=0)
        texts, metas = [], []
        for p in sorted(x for x in Path(sources).iterdir() if x.is_file() and not x.name.startswith(".")):
            chunks = splitter.split_text(p.read_text(encoding="utf-8", errors="replace"))
            texts += chunks
            metas += [{"source_id": p.stem}] * len(chunks)
        self.chunks = len(texts)
        self._folder = tempfile.mkdtemp(prefix="cc-baseline-")
        self._db = Chroma(collection_name=f"baseline{next(_names)}", embedding_function=_embeddings(),
                          persist_directory=self._folder)
        if texts:
            self._db.add_texts(texts, metas)

    def top(self, question: str, k: int = 5) -> list[str]:
        """The texts of the ``k`` chunks nearest to ``question``."""
        return [d.page_content for d in self._db.similarity_search(question, k=k)] if self.chunks else []

    def close(self) -> None:
        shutil.rmtree(self._folder, ignore_errors=True)
