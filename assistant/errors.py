"""Exceptions whose message names the problem and the fix."""


class CrosscheckError(Exception):
    """Base of every error Crosscheck reports to a person (CLI exit 2, UI warning)."""


class SourceError(CrosscheckError):
    """A source file or folder cannot be used as it is."""


class QuestionError(CrosscheckError):
    """A question that cannot be answered as asked (empty, too long)."""


class IndexError_(CrosscheckError):
    """The index folder cannot be read or written."""


class StaleIndexError(IndexError_):
    """The index was written by another format, model or settings and must be rebuilt."""


class DamagedAnalysisError(StaleIndexError):
    """A file the index derived from its own records is damaged: removing it and updating redoes it."""

    def __init__(self, message: str, path):
        super().__init__(message)
        self.path = path


class ModelError(CrosscheckError):
    """A packaged model is missing or its files do not match the expected hash."""


class SourceExistsError(SourceError):
    """A different file with the same name is already in the sources: replacing it needs a yes."""
