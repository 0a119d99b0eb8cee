"""The rows of the index folder: frozen records, each the only code that knows its JSON shape.

``from_json`` raises KeyError, TypeError or ValueError on a shape it does not know; the index folder
(``store.IndexFolder``) turns that into an error that says which file and what happens next.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from ..types import Claim, Passage, Sentence, Source


@dataclass(frozen=True)
class ModelInfo:
    """The embedding model the vectors were made with."""

    name: str
    sha256: str

    def to_json(self) -> dict:
        return {"name": self.name, "sha256": self.sha256}

    @classmethod
    def from_json(cls, d: dict) -> "ModelInfo":
        return cls(str(d["name"]), str(d["sha256"]))


@dataclass(frozen=True)
class SourceEntry:
    """A live source version, as the manifest lists it (its files are named by source id and version)."""

    sha256: str
    version: str
    title: str
    path: str
    passages: int
    sentences: int

    def to_json(self) -> dict:
        return dict(self.__dict__)

    @classmethod
    def from_json(cls, d: dict) -> "SourceEntry":
        version, sha256 = d["version"], d["sha256"]
        if not isinstance(version, str) or not isinstance(sha256, str):
            raise TypeError("a source entry's version and sha256 are strings")
        return cls(sha256, version, d["title"], d["path"], int(d["passages"]), int(d["sentences"]))


@dataclass(frozen=True)
class SkippedFile:
    """A source file the last update could not index, and why."""

    reason: str
    sha256: str | None

    def to_json(self) -> dict:
        return {"reason": self.reason, "sha256": self.sha256}

    @classmethod
    def from_json(cls, d: dict) -> "SkippedFile":
        return cls(str(d["reason"]), d.get("sha256"))


@dataclass(frozen=True)
class Manifest:
    """What the index holds: its format, what its vectors depend on, the live source versions and the
    disagreement groups. Replaced whole and atomically, last, by every update."""

    format: int
    fingerprint: str
    model: ModelInfo
    settings: Mapping[str, object]  # the index-shaping settings, as Settings.index_fingerprint() gives them
    collection: str
    sources: Mapping[str, SourceEntry] = field(default_factory=dict)
    skipped: Mapping[str, SkippedFile] = field(default_factory=dict)
    updated_at: str | None = None
    judge: str | None = None
    # "aspect:subject" -> the name of its group file; None until the disagreement pass has run.
    groups: Mapping[str, str] | None = None
    # Format 2 before groups kept every disagreement flag in one file: read until the next update regroups.
    flag_file: str | None = None
    # The format the manifest was read in, when older than this code's (the next update writes it back).
    migrated_from: int | None = field(default=None, compare=False)

    def to_json(self) -> dict:
        d = {"format": self.format, "fingerprint": self.fingerprint, "model": self.model.to_json(),
             "settings": dict(self.settings), "collection": self.collection,
             "sources": {sid: e.to_json() for sid, e in self.sources.items()},
             "skipped": {name: s.to_json() for name, s in self.skipped.items()},
             "updated_at": self.updated_at, "judge": self.judge}
        if self.groups is not None:
            d["groups"] = dict(self.groups)
        if self.flag_file is not None:
            d["flag_file"] = self.flag_file
        return d

    @classmethod
    def from_json(cls, d: dict, migrated_from: int | None = None) -> "Manifest":
        groups = d.get("groups")
        if groups is not None and not all(isinstance(k, str) and isinstance(v, str) for k, v in groups.items()):
            raise TypeError("groups map names to file names")
        return cls(
            format=int(d["format"]), fingerprint=str(d["fingerprint"]), model=ModelInfo.from_json(d["model"]),
            settings=dict(d["settings"]), collection=str(d["collection"]),
            sources={sid: SourceEntry.from_json(e) for sid, e in d["sources"].items()},
            skipped={name: SkippedFile.from_json(s) for name, s in d["skipped"].items()},
            updated_at=d.get("updated_at"), judge=d.get("judge"), groups=groups, flag_file=d.get("flag_file"),
            migrated_from=migrated_from,
        )


def _claim(d: dict) -> Claim:
    return Claim(d["sentence"], d["efficacy_claim"], d["strength"], tuple(d["evidence"]), d["unsupported"], d["explanation"])


@dataclass(frozen=True)
class SourceRecords:
    """Everything indexed of one source version: its passages and sentences with raw offsets, each
    sentence's claim analysis, and what the disagreement search needs of it whatever the rest of the
    corpus is (the sentences with an aspect cue, the topics it proposes)."""

    source: Source
    passages: tuple[Passage, ...]
    sentences: tuple[Sentence, ...]
    claims: tuple[Claim, ...]  # one per sentence, in order
    cues: tuple[int, ...]  # indexes of the sentences that can take a position
    topic_candidates: tuple[str, ...]

    def to_json(self) -> dict:
        return {"source": self.source.to_dict(), "passages": [p.to_dict() for p in self.passages],
                "sentences": [s.to_dict() for s in self.sentences], "claims": [c.to_dict() for c in self.claims],
                "analysis": {"cues": list(self.cues), "topic_candidates": list(self.topic_candidates)}}

    @classmethod
    def from_json(cls, d: dict) -> "SourceRecords":
        return cls(
            source=Source(**d["source"]),
            passages=tuple(Passage(**{**p, "sentence_ids": tuple(p["sentence_ids"])}) for p in d["passages"]),
            sentences=tuple(Sentence(**s) for s in d["sentences"]),
            claims=tuple(_claim(c) for c in d["claims"]),
            cues=tuple(d["analysis"]["cues"]),
            topic_candidates=tuple(d["analysis"]["topic_candidates"]),
        )


@dataclass(frozen=True)
class Journal:
    """A build's note of the source versions it is about to write, and where (collection, index
    fingerprint): the next build deletes what a killed one left half-written."""

    format: int
    versions: tuple[tuple[str, str], ...] = ()  # (source id, version)
    collection: str | None = None
    fingerprint: str | None = None

    def to_json(self) -> dict:
        return {"format": self.format, "collection": self.collection, "fingerprint": self.fingerprint,
                "versions": [list(v) for v in self.versions]}

    @classmethod
    def from_json(cls, d: dict) -> "Journal":
        versions = tuple((v[0], v[1]) for v in d["versions"]
                         if isinstance(v, list) and len(v) == 2 and all(isinstance(x, str) for x in v))
        return cls(int(d["format"]), versions, d.get("collection"), d.get("fingerprint"))


@dataclass(frozen=True)
class Finished:
    """A line of the finished-sources journal: a source version whose vectors and records are all written."""

    source_id: str
    entry: SourceEntry

    def to_json(self) -> dict:
        return {"id": self.source_id, "entry": self.entry.to_json()}

    @classmethod
    def from_json(cls, d: dict) -> "Finished":
        return cls(str(d["id"]), SourceEntry.from_json(d["entry"]))


@dataclass(frozen=True)
class Stance:
    """A position a sentence of one source version takes in an (aspect, subject) group."""

    source_id: str
    version: str
    sentence: int  # index into the source version's sentences
    value: str  # e.g. "distinct" / "same"
    cue: str
    says: str

    def to_json(self) -> list:
        return [self.source_id, self.version, self.sentence, self.value, self.cue, self.says]

    @classmethod
    def from_json(cls, row: list) -> "Stance":
        source_id, version, sentence, value, cue, says = row
        return cls(source_id, version, int(sentence), value, cue, says)


@dataclass(frozen=True)
class GroupMember:
    """A stance with the sentence it is taken in: raw offsets, clean text and the raw quote."""

    stance: Stance
    start: int
    end: int
    text: str
    quote: str

    def to_json(self) -> list:
        return self.stance.to_json() + [self.start, self.end, self.text, self.quote]

    @classmethod
    def from_json(cls, row: list) -> "GroupMember":
        if len(row) != 10:
            raise ValueError(f"a group member has 10 fields, not {len(row)}")
        start, end, text, quote = row[6:]
        return cls(Stance.from_json(row[:6]), int(start), int(end), text, quote)


@dataclass(frozen=True)
class Group:
    """The statements of every source taking a position on one (aspect, subject), in corpus order, and
    the pairs of them (member indexes, first one first) that disagree."""

    aspect: str
    subject: str
    members: tuple[GroupMember, ...]
    pairs: tuple[tuple[int, int], ...]

    def to_json(self) -> dict:
        return {"aspect": self.aspect, "subject": self.subject, "members": [m.to_json() for m in self.members],
                "pairs": [list(p) for p in self.pairs]}

    @classmethod
    def from_json(cls, d: dict) -> "Group":
        members = tuple(GroupMember.from_json(m) for m in d["members"])
        pairs = tuple((int(i), int(j)) for i, j in d["pairs"])
        if any(not (0 <= i < len(members) and 0 <= j < len(members)) for i, j in pairs):
            raise IndexError("a pair names a member the group does not have")
        return cls(str(d["aspect"]), str(d["subject"]), members, pairs)
