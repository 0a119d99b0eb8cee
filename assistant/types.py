"""Domain types: frozen dataclasses with ``to_dict()``, no I/O."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

FlagKind = Literal["unsupported_claim", "disagreement"]
Strength = Literal["strong", "hedged"]


@dataclass(frozen=True)
class Source:
    """One article file: its id (file name without extension), where it lives and what it is."""

    id: str
    path: str
    title: str
    sha256: str
    url: str | None = None
    author: str | None = None
    date: str | None = None

    def to_dict(self) -> dict:
        return dict(self.__dict__)  # flat fields: what asdict gives, without its deep copy


@dataclass(frozen=True)
class Sentence:
    """A sentence of a source; ``start:end`` index the raw file text, ``text`` is its clean form."""

    id: str
    source_id: str
    passage_id: str
    start: int
    end: int
    text: str
    heading: str | None = None

    def to_dict(self) -> dict:
        return dict(self.__dict__)  # flat fields: what asdict gives, without its deep copy


@dataclass(frozen=True)
class Passage:
    """A retrievable chunk: consecutive sentences of one section, with the section heading as context."""

    id: str
    source_id: str
    start: int
    end: int
    text: str
    heading: str | None = None
    sentence_ids: tuple[str, ...] = ()

    def to_dict(self) -> dict:
        return {**self.__dict__, "sentence_ids": list(self.sentence_ids)}


@dataclass(frozen=True)
class Claim:
    """What a sentence claims about an intervention's effect, and what evidence the text gives for it."""

    sentence: str
    efficacy_claim: bool
    strength: Strength | None
    evidence: tuple[str, ...] = ()
    unsupported: bool = False
    explanation: str = ""

    def to_dict(self) -> dict:
        return {
            "sentence": self.sentence,
            "efficacy_claim": self.efficacy_claim,
            "strength": self.strength,
            "evidence": list(self.evidence),
            "unsupported": self.unsupported,
            "explanation": self.explanation,
        }


@dataclass(frozen=True)
class Quote:
    """The other side of a disagreement: a verbatim quote with its raw offsets."""

    source_id: str
    quote: str
    start: int
    end: int

    def to_dict(self) -> dict:
        return dict(self.__dict__)  # flat fields: what asdict gives, without its deep copy


@dataclass(frozen=True)
class Flag:
    """A warning about the sources: an unsupported efficacy claim, or a disagreement between two sources."""

    kind: FlagKind
    source_id: str
    quote: str
    start: int
    end: int
    explanation: str
    strength: Strength | None = None
    other: Quote | None = None

    def to_dict(self) -> dict:
        return {**self.__dict__, "other": self.other.to_dict() if self.other else None}

    @classmethod
    def from_dict(cls, d: dict) -> "Flag":
        other = d.get("other")
        return cls(
            kind=d["kind"],
            source_id=d["source_id"],
            quote=d["quote"],
            start=d["start"],
            end=d["end"],
            explanation=d["explanation"],
            strength=d.get("strength"),
            other=Quote(**other) if other else None,
        )


@dataclass(frozen=True)
class Citation:
    """A numbered citation: the exact quote and its raw offsets in the source file."""

    n: int
    source_id: str
    title: str
    quote: str
    start: int
    end: int

    def to_dict(self) -> dict:
        return dict(self.__dict__)  # flat fields: what asdict gives, without its deep copy


@dataclass(frozen=True)
class Answer:
    """An answer to one question: markdown text with [n] markers, its citations and the flags they touch."""

    question: str
    answer: str
    abstained: bool
    citations: tuple[Citation, ...] = ()
    flags: tuple[Flag, ...] = ()
    standalone_question: str | None = field(default=None, compare=False)

    def to_dict(self) -> dict:
        d = {
            "question": self.question,
            "answer": self.answer,
            "abstained": self.abstained,
            "citations": [c.to_dict() for c in self.citations],
            "flags": [f.to_dict() for f in self.flags],
        }
        if self.standalone_question and self.standalone_question != self.question:
            d["standalone_question"] = self.standalone_question
        return d
