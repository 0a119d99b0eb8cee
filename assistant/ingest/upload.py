"""Checking an uploaded article before it joins the sources folder, and adding it without overwriting anything."""

from __future__ import annotations

import os
import shutil
import uuid
from pathlib import Path

from ..errors import SourceError
from .sources import SUFFIXES, load_document, source_id


def check_upload(path: Path, sources_dir: Path, max_bytes: int) -> tuple[Path, bool]:
    """Decide where an uploaded file goes: ``(target, already_there)``.

    Raises:
        SourceError: the file is not a usable article (type, size, encoding, empty), or a different
            file with its name or source id is already in the sources folder.
    """
    name = path.name
    if name.startswith(".") or path.suffix.lower() not in SUFFIXES:
        raise SourceError(f"{name} is not a .txt, .md or .html file: only those article formats can be added")
    doc = load_document(path, max_bytes)
    target = Path(sources_dir) / name
    if target.exists():
        if target.read_bytes() == path.read_bytes():
            return target, True
        raise SourceError(f"a different {name} is already in the sources: rename your file to add it as a new source")
    clash = [p.name for p in Path(sources_dir).iterdir() if p.is_file() and source_id(p) == doc.source.id and p.suffix.lower() in SUFFIXES]
    if clash:
        raise SourceError(f"{name} would have the source id {doc.source.id!r} of {clash[0]}: rename your file")
    return target, False


def add_file(path: Path, target: Path) -> None:
    """Copy an accepted upload into the sources folder without ever replacing a file that appeared meanwhile."""
    tmp = target.with_name(f".upload-{uuid.uuid4().hex}{target.suffix}")
    shutil.copyfile(path, tmp)
    try:
        os.link(tmp, target)  # fails if target exists: never overwrites
    except FileExistsError as exc:
        raise SourceError(f"{target.name} appeared in the sources while uploading: try again") from exc
    finally:
        tmp.unlink(missing_ok=True)
