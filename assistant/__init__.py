"""Crosscheck: cited answers from a folder of articles, with warnings where they disagree or claim without evidence."""

from .errors import CrosscheckError, ModelError, QuestionError, SourceError, StaleIndexError
from .types import Answer, Citation, Claim, Flag, Passage, Quote, Sentence, Source

__all__ = [
    "Answer", "Citation", "Claim", "Crosscheck", "CrosscheckError", "Flag", "ModelError", "Passage", "QuestionError",
    "Quote", "Sentence", "Settings", "Source", "SourceError", "StaleIndexError", "load_settings",
]

_LAZY = {"Crosscheck": "api", "Settings": "settings", "load_settings": "settings"}


def __getattr__(name):
    # numpy, pydantic and the index code load on first use, so `crosscheck --help` stays instant.
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(name)
