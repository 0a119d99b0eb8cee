"""Crosscheck: cited answers from a folder of articles, with warnings where they disagree or claim without evidence."""

from .errors import CrosscheckError, ModelError, QuestionError, SourceError, StaleIndexError
from .settings import Settings, load_settings
from .types import Answer, Citation, Claim, Flag, Passage, Quote, Sentence, Source

__all__ = [
    "Answer", "Citation", "Claim", "Crosscheck", "CrosscheckError", "Flag", "ModelError", "Passage", "QuestionError",
    "Quote", "Sentence", "Settings", "Source", "SourceError", "StaleIndexError", "load_settings",
]


def __getattr__(name):
    # Crosscheck pulls in numpy and the index code: load it on first use so `crosscheck --help` stays instant.
    if name == "Crosscheck":
        from .core import Crosscheck

        return Crosscheck
    raise AttributeError(name)
