"""What a question needs of the index, loaded once: texts and raw offsets, keyword indexes, flags."""

from __future__ import annotations

import hashlib
from collections import Counter, defaultdict
from pathlib import Path

from . import store
from .analysis import stored_flags
from .records import Manifest
from ..ask.conversation import phrase_counts
from ..ask.retrieve import KeywordIndex
from ..errors import StaleIndexError
from ..types import Claim, Flag, Passage, Sentence, Source


class Corpus:
    """Everything a question needs, loaded once from the index: texts, offsets, keyword indexes, flags."""

    def __init__(self, folder: Path, manifest: Manifest):
        self.folder = folder
        self.manifest = manifest
        self.sources: dict[str, Source] = {}
        self.raw: dict[str, str] = {}
        self.sentences: list[Sentence] = []
        self.passages: list[Passage] = []
        self.claims: dict[str, Claim] = {}
        index = store.IndexFolder(folder)
        for sid, entry in sorted(manifest.sources.items()):
            rec = index.read_records(sid, entry.version)
            self.sources[sid] = rec.source
            self.raw[sid] = _read_source_text(rec.source, entry.sha256)
            self.passages += rec.passages
            self.sentences += rec.sentences
            self.claims.update(zip((s.id for s in rec.sentences), rec.claims))
        self.sentence_pos = {s.id: i for i, s in enumerate(self.sentences)}
        self.passage_pos = {p.id: i for i, p in enumerate(self.passages)}
        self.versions = {sid: entry.version for sid, entry in manifest.sources.items()}
        self.passage_keywords = KeywordIndex([f"{p.heading or ''} {p.text}" for p in self.passages])
        self.sentence_keywords = KeywordIndex([s.text for s in self.sentences])
        self.vocab = self.passage_keywords.vocab | self.sentence_keywords.vocab
        self.phrases: Counter = phrase_counts([s.text for s in self.sentences])
        self.flags: list[Flag] = _flags(self, manifest)
        self._flag_positions: dict[str, list[int]] = defaultdict(list)
        for n, f in enumerate(self.flags):
            for sid in {f.source_id, f.other.source_id if f.other else f.source_id}:
                self._flag_positions[sid].append(n)

    @property
    def skipped(self) -> dict[str, str]:
        """Source files the last update skipped, with the reason, by file name."""
        return {name: s.reason for name, s in self.manifest.skipped.items()}

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


def _flags(corpus: Corpus, manifest: Manifest) -> list[Flag]:
    """Stored flags: unsupported claims from each sentence's analysis, disagreements from the manifest."""
    flags = []
    for s in corpus.sentences:
        c = corpus.claims.get(s.id)
        if c and c.unsupported:
            flags.append(Flag("unsupported_claim", s.source_id, corpus.raw[s.source_id][s.start:s.end], s.start, s.end,
                              c.explanation or "", c.strength))
    flags += stored_flags(corpus.folder, manifest)
    return flags
