"""Numbered migrations of the index format, applied in order (simonw/llm's ``embeddings_migrations.py`` style).

``mNNN_...`` takes a manifest of format NNN-1 to format NNN; the manifest records its format, and
``migrate`` applies every migration newer than it. A migration reshapes JSON and may read the index
folder but never writes it: a reader applies migrations in memory, and the next update writes the
migrated manifest back. Nothing a migration does re-embeds a source; a change that needs the model is
not a migration, and an index of such a format is rebuilt from sources.

To change the layout: write ``m004_...`` here, register it in ``MIGRATIONS``, and test it on an index
of the previous format.
"""

from __future__ import annotations

import re
from typing import Callable

from ..errors import StaleIndexError


class CannotMigrate(StaleIndexError):
    """The index is of a format no migration reaches: it is rebuilt from sources."""


def m002_cue_vectors(manifest: dict) -> dict:
    """Format 1 (the first release) -> 2: claims per sentence, the vectors of the sentences that can take a
    position, and disagreements in their own files. Only the model can make those: not migrated."""
    raise CannotMigrate("format 1 (the first release) stored no cue-sentence vectors or claims per sentence, "
                        "which only the embedding model can make")


_GROUP_FILE = re.compile(r"^analysis/disagreements-([\w.-]+)\.json$")


def m003_paths_derived(manifest: dict) -> dict:
    """Format 2 -> 3: the manifest names files instead of storing their paths, and format 2's three shapes become one.

    - a source entry drops "records" (its records file is named by source id and version);
    - "disagreements" ({"aspect:subject": "analysis/disagreements-NAME.json"}) becomes "groups" ({...: "NAME"});
    - an index from before groups, with one file of every flag ("disagreements_file"), keeps that file as
      "flag_file" and no groups: the next update makes the groups from the records (no re-embedding).
    """
    out = {k: v for k, v in manifest.items() if k not in ("disagreements", "disagreements_file")}
    out["format"] = 3
    out["sources"] = {sid: {k: v for k, v in e.items() if k != "records"} for sid, e in manifest["sources"].items()}
    groups = manifest.get("disagreements")
    names = {key: _group_name(rel) for key, rel in groups.items()} if isinstance(groups, dict) else {}
    if isinstance(groups, dict) and all(names.values()):
        out["groups"] = names
    elif not isinstance(groups, dict) and manifest.get("disagreements_file"):
        out["flag_file"] = _group_name(manifest["disagreements_file"])
    return out  # a group path of another shape leaves no groups: the next update redoes them


def _group_name(relpath) -> str | None:
    m = _GROUP_FILE.match(relpath) if isinstance(relpath, str) else None
    return m.group(1) if m else None


def m003_journal(journal) -> dict:
    """Format 2 -> 3 for the journal of a killed build: builds before resume wrote a bare list of versions."""
    out = {"versions": journal} if isinstance(journal, list) else dict(journal)
    out["format"] = 3
    return out


MIGRATIONS: dict[int, Callable[[dict], dict]] = {2: m002_cue_vectors, 3: m003_paths_derived}
JOURNAL_MIGRATIONS: dict[int, Callable] = {3: m003_journal}
FORMAT = max(MIGRATIONS)  # the format this code writes
OLDEST = 1  # the first release


def migrate(manifest: dict, where: str) -> tuple[dict, int]:
    """``manifest`` (parsed JSON) brought to ``FORMAT``, and the format it was in.

    Raises:
        StaleIndexError: another format than one this code reads or migrates (``where`` names the index).
    """
    found = manifest.get("format")
    if not isinstance(found, int) or isinstance(found, bool) or not OLDEST <= found <= FORMAT:
        raise StaleIndexError(f"the index in {where} was written by index format {found}, this Crosscheck reads "
                              f"format {FORMAT}; it will be rebuilt from sources")
    try:
        for step in range(found + 1, FORMAT + 1):
            manifest = MIGRATIONS[step](manifest)
    except CannotMigrate as exc:
        raise StaleIndexError(f"the index in {where} was written by index format {found}, this Crosscheck reads "
                              f"format {FORMAT}: {exc}; it will be rebuilt from sources") from exc
    return manifest, found


def migrate_journal(journal) -> dict:
    """A killed build's journal (parsed JSON) brought to ``FORMAT``; one without a format is format 2."""
    found = journal.get("format", 2) if isinstance(journal, dict) else 2
    if not isinstance(found, int) or not 2 <= found <= FORMAT:
        raise ValueError(f"a journal of format {found}")
    for step in range(found + 1, FORMAT + 1):
        journal = JOURNAL_MIGRATIONS[step](journal)
    return journal
