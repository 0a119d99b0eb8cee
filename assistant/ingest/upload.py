"""Checking an uploaded article before it joins the sources folder, and adding it without overwriting anything."""

from __future__ import annotations

import os
import re
import shutil
import uuid
from pathlib import Path

from ..errors import SourceError, SourceExistsError
from .sources import SUFFIXES, load_document, source_id

# Path separators of any system, characters Windows refuses, and control characters: such a name could
# point outside the sources folder or fail to open elsewhere.
_BAD_NAME_CHARS = re.compile(r'[\\/:*?"<>|\x00-\x1f\x7f]')


def check_name(name: str) -> None:
    """Refuse a file name that cannot be a source's: bad characters, hidden, or not an article type.

    Raises:
        SourceError: naming the reason.
    """
    bad = sorted(set(_BAD_NAME_CHARS.findall(name)))
    if bad:
        raise SourceError(f"{_printable(name)} has characters a source file name cannot have ({' '.join(map(_printable, bad))}): "
                          "rename it using letters, digits, spaces, '-', '_' and '.'")
    if name.startswith("."):
        raise SourceError(f"{name} starts with '.', which makes it a hidden file: rename it without the leading dot")
    if Path(name).suffix.lower() not in SUFFIXES:
        raise SourceError(f"{name} is not a .txt, .md or .html file: only those article formats can be added")


def _printable(text: str) -> str:
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def check_upload(path: Path, sources_dir: Path, max_bytes: int, replace: bool = False) -> tuple[Path, bool]:
    """Decide where an uploaded file goes: ``(target, already_there)``; ``replace`` allows a new version of a name.

    Raises:
        SourceExistsError: a different file with its name is in the sources folder (and not ``replace``).
        SourceError: the file is not a usable article (name, type, size, encoding, empty), or another
            file has its source id.
    """
    name = path.name
    check_name(name)
    doc = load_document(path, max_bytes)
    target = Path(sources_dir) / name
    if target.exists():
        if target.read_bytes() == path.read_bytes():
            return target, True
        if replace:
            return target, False
        raise SourceExistsError(f"a different {name} is already in the sources: replace it, or rename your file "
                                "to add it as a new source")
    clash = [p.name for p in Path(sources_dir).iterdir() if p.is_file() and source_id(p) == doc.source.id and p.suffix.lower() in SUFFIXES]
    if clash:
        raise SourceError(f"{name} would have the source id {doc.source.id!r} of {clash[0]}: rename your file")
    return target, False


def add_file(path: Path, target: Path, replace: bool = False) -> None:
    """Copy an accepted upload into the sources folder; only ``replace`` overwrites a file (atomically)."""
    tmp = target.with_name(f".upload-{uuid.uuid4().hex}{target.suffix}")
    shutil.copyfile(path, tmp)
    try:
        if replace:
            os.replace(tmp, target)  # readers see the old file or the new one, never half of one
            return
        os.link(tmp, target)  # fails if target exists: never overwrites
    except FileExistsError as exc:
        raise SourceError(f"{target.name} appeared in the sources while uploading: try again") from exc
    finally:
        tmp.unlink(missing_ok=True)


def remove_file(sources_dir: Path, name: str) -> Path:
    """Delete the article ``name`` (a file directly in the sources folder); the path it had.

    Raises:
        SourceError: the name is not a source file name, or no such file is in the sources folder.
    """
    check_name(name)
    target = Path(sources_dir) / name
    if not target.is_file():
        raise SourceError(f"{name} is not in the sources folder {sources_dir}: reload the Sources tab")
    target.unlink()
    return target
