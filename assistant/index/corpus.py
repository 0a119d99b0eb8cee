"""What a question needs of the index, loaded once: texts and raw offsets, keyword indexes, flags."""

from __future__ import annotations

import hashlib
from collections import Counter, defaultdict
from pathlib import Path

from . import store
from .analysis import stored_flags
from ..ask.conversation import phrase_counts
from ..ask.retrieve import KeywordIndex
from ..errors import StaleIndexError
from ..types import Flag, Passage, Sentence, Source


class Corpus:
    """Everything a question needs, loaded once from the index: texts, offsets, keyword indexes, flags."""

    def __init__(self, folder: Path, manifest: store.Manifest):
        self.folder = folder
        self.manifest = manifest
        self.sources: dict[str, Source] = {}
        self.raw: dict[str, str] = {}
        self.sentences: list[Sentence] = []
        self.passages: list[Passage] = []
        self.claims: dict[str, dict] = {}
        for sid, meta in sorted(manifest.sources.items()):
            rec = store.read_records(folder, meta["records"])
            src = Source(**rec["source"])
            self.sources[sid] = src
            self.raw[sid] = _read_source_text(src, meta["sha256"])
            self.passages += [Passage(**{**p, "sentence_ids": tuple(p["sentence_ids"])}) for p in rec["passages"]]
            sents = [Sentence(**s) for s in rec["sentences"]]
            self.sentences += sents
            for s, c in zip(sents, rec.get("claims") or []):
                self.claims[s.id] = c
        self.sentence_pos = {s.id: i for i, s in enumerate(self.sentences)}
        self.passage_pos = {p.id: i for i, p in enumerate(self.passages)}
        self.versions = {sid: meta["version"] for sid, meta in manifest.sources.items()}
        self.passage_keywords = KeywordIndex([f"{p.heading or ''} {p.text}" for p in self.passages])
        self.sentence_keywords = KeywordIndex([s.text for s in self.sentences])
        self.vocab = self.passage_keywords.vocab | self.sentence_keywords.vocab
        self.phrases: Counter = phrase_counts([s.text for s in self.sentences])
        self.flags: list[Flag] = _flags(self, manifest)
        self._flag_positions: dict[str, list[int]] = defaultdict(list)
        for n, f in enumerate(self.flags):
            for sid in {f.source_id, f.other.source_id if f.other else f.source_id}:
                self._flag_positions[sid].append(n)

    def flags_of(self, source_ids: set[str]) -> list[Flag]:
        """The flags with a quote in any of these sources, in corpus order (an answer cites few sources)."""
        return [self.flags[n] for n in sorted({n for sid in source_ids for n in self._flag_positions.get(sid, ())})]


def _read_source_text(src: Source, sha256: str) -> str:
    """The raw text of an indexed source, refusing one that changed since indexing (offsets would lie)."""
    try:
        data = Path(src.path).read_bytes()
    except OSError as exc:
        raise StaleIndexError(f"indexed source {src.path} cannot be read ({exc.strerror}): run `crosscheck index`") from exc
    if hashlib.sha256(data).hexdigest() != sha256:
        raise StaleIndexError(f"{src.path} changed after it was indexed: run `crosscheck index` to update the index")
    with open(src.path, encoding="utf-8") as f:
        return f.read()


def _flags(corpus: Corpus, manifest: store.Manifest) -> list[Flag]:
    """Stored flags: unsupported claims from each sentence's analysis, disagreements from the manifest."""
    flags = []
    for s in corpus.sentences:
        c = corpus.claims.get(s.id)
        if c and c.get("unsupported"):
            flags.append(Flag("unsupported_claim", s.source_id, corpus.raw[s.source_id][s.start:s.end], s.start, s.end,
                              c.get("explanation") or "", c.get("strength")))
    flags += stored_flags(corpus.folder, manifest)
    return flags
