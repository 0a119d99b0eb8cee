"""The index on disk: ``IndexFolder`` (the manifest, per-source record files, disagreement groups, caches,
the journal) and ``VectorStore`` (chromadb, embedded or a server).

Atomicity: vectors and record files of a source version are written under a version-specific id
first; the manifest, replaced atomically last, says which versions are live. A build killed
half-way leaves the old manifest pointing at intact old versions. Its writes are listed in a
journal: the next build keeps the source versions it had finished (a long first build resumes
instead of starting over) and removes the rest. An index of an older format is migrated
(``migrations.py``) as it is read, and written back in this format by the next update.
"""

from __future__ import annotations

import dataclasses
import errno
import json
import os
import shutil
import tempfile
import threading
import uuid
from pathlib import Path

import numpy as np

from . import migrations
from .records import Finished, Group, Journal, Manifest, SourceEntry, SourceRecords
from ..errors import DamagedAnalysisError, IndexError_, StaleIndexError
from ..types import Flag

MANIFEST = "manifest.json"
JOURNAL = "pending.json"  # the source versions a build is about to write, and where (records.Journal)
JOURNAL_DONE = "pending-done.jsonl"  # one line per source version fully written (records.Finished)
RECORDS = "records"
ANALYSIS = "analysis"
CHROMA = "chroma"
# What the vectors' rows look like (ids "<id>@<version>", metadata source_id/version/start/end/kind). Part of
# the index fingerprint: changing it re-embeds every source. Format 2's value, so migrated indexes keep theirs.
VECTOR_LAYOUT = 2
FORMAT = migrations.FORMAT


def _write_atomic(path: Path, write, binary: bool = False) -> None:
    """Write ``path`` with ``write(file)`` so readers see the old file or the new one, never half of one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with (os.fdopen(fd, "wb") if binary else os.fdopen(fd, "w", encoding="utf-8")) as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _write_json_atomic(path: Path, data) -> None:
    # json.dumps, not json.dump: dump streams through the pure-Python encoder, several times slower.
    _write_atomic(path, lambda f: f.write(json.dumps(data, ensure_ascii=False)))


def _write_array(path: Path, vectors) -> None:
    arr = np.asarray(vectors, dtype=np.float32)
    _write_atomic(path, lambda f: np.save(f, arr, allow_pickle=False), binary=True)


def is_disk_full(exc: BaseException) -> bool:
    """Whether an error (ours, SQLite's or chromadb's) means the disk has no space left."""
    while exc is not None:
        if isinstance(exc, OSError) and exc.errno == errno.ENOSPC:
            return True
        text = str(exc).lower()
        if "disk is full" in text or "no space left" in text:
            return True
        exc = exc.__cause__ or exc.__context__
    return False


def disk_full_error(folder: Path) -> IndexError_:
    return IndexError_(f"no space left on the disk holding the index folder {folder}: free some space (or pass another "
                       "--index) and run the command again; the existing index was left as it was")


def ensure_writable(folder: Path) -> None:
    try:
        folder.mkdir(parents=True, exist_ok=True)
        probe = folder / f".probe-{uuid.uuid4().hex}"
        probe.write_text("")
        probe.unlink()
    except OSError as exc:
        raise IndexError_(
            f"cannot write the index folder {folder} ({exc.strerror or exc}): make it writable or pass another one with --index"
        ) from exc


def read_manifest(folder: Path) -> Manifest | None:
    """The manifest of the index in ``folder`` (see ``IndexFolder.read_manifest``)."""
    return IndexFolder(folder).read_manifest()


class IndexFolder:
    """The index folder: the one place that knows its file names and layout, handing out typed records.

    Per source version: records (``records/ID@VERSION.json``), the vectors of its cue sentences
    (``.cues.npy``) and its distinct words (``.words``). Per disagreement group: its JSON and its members'
    vectors (``analysis/disagreements-NAME.json``/``.npy``). Caches in ``analysis/``; the manifest, the
    journal and the chromadb files at the top.
    """

    def __init__(self, path: Path):
        self.path = Path(path)

    def ensure_writable(self) -> None:
        ensure_writable(self.path)

    def lock(self):
        """The lock a build holds while it writes this folder."""
        from filelock import FileLock

        return FileLock(str(self.path / ".lock"))

    # ------------------------------------------------------------------------------------------ manifest
    def read_manifest(self) -> Manifest | None:
        """The manifest, migrated to this code's format in memory; None when there is no index yet.

        Raises:
            StaleIndexError: damaged, or of a format no migration reaches (the caller rebuilds from sources).
        """
        path = self.path / MANIFEST
        if not path.exists():
            return None
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise StaleIndexError(f"the index manifest {path} is damaged ({exc}); it will be rebuilt from sources") from exc
        if not isinstance(data, dict):
            raise StaleIndexError(f"the index manifest {path} is damaged (not a JSON object); it will be rebuilt from sources")
        data, found = migrations.migrate(data, str(self.path))
        try:
            return Manifest.from_json(data, migrated_from=found if found != FORMAT else None)
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise StaleIndexError(f"the index manifest {path} is damaged ({type(exc).__name__}: {exc}); "
                                  "it will be rebuilt from sources") from exc

    def write_manifest(self, manifest: Manifest) -> None:
        _write_json_atomic(self.path / MANIFEST, manifest.to_json())

    # ---------------------------------------------------------------------------- per source version
    def records_path(self, source_id: str, version: str) -> Path:
        return self.path / RECORDS / f"{source_id}@{version}.json"

    def cue_vectors_path(self, source_id: str, version: str) -> Path:
        return self.path / RECORDS / f"{source_id}@{version}.cues.npy"

    def words_path(self, source_id: str, version: str) -> Path:
        return self.path / RECORDS / f"{source_id}@{version}.words"

    def version_files(self, source_id: str, version: str) -> list[Path]:
        return [self.records_path(source_id, version), self.cue_vectors_path(source_id, version),
                self.words_path(source_id, version)]

    def has_version(self, source_id: str, version: str) -> bool:
        """Whether a source version's records and cue vectors are on disk (its words can be redone)."""
        return self.records_path(source_id, version).exists() and self.cue_vectors_path(source_id, version).exists()

    def delete_version_files(self, source_id: str, version: str) -> None:
        for path in self.version_files(source_id, version):
            path.unlink(missing_ok=True)

    def write_records(self, source_id: str, version: str, records: SourceRecords) -> None:
        _write_json_atomic(self.records_path(source_id, version), records.to_json())

    def read_records(self, source_id: str, version: str) -> SourceRecords:
        path = self.records_path(source_id, version)
        try:
            return SourceRecords.from_json(json.loads(path.read_text(encoding="utf-8")))
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise StaleIndexError(f"index record file {self._rel(path)} is missing or damaged; "
                                  "it will be rebuilt from sources") from exc

    def write_cue_vectors(self, source_id: str, version: str, vectors: np.ndarray) -> None:
        """The vectors of a source version's cue sentences (the disagreement search reads these, not chromadb)."""
        _write_array(self.cue_vectors_path(source_id, version), vectors)

    def read_cue_vectors(self, source_id: str, version: str) -> np.ndarray:
        path = self.cue_vectors_path(source_id, version)
        try:
            return np.load(path, allow_pickle=False)
        except (OSError, ValueError) as exc:
            raise StaleIndexError(
                f"index file {self._rel(path)} is missing or damaged; it will be rebuilt from sources") from exc

    def write_words(self, source_id: str, version: str, words: list[str]) -> None:
        """The distinct words of a source version (what a new topic phrase is looked up in)."""
        _write_atomic(self.words_path(source_id, version), lambda f: f.write(" ".join(words)))

    def read_words(self, source_id: str, version: str) -> list[str] | None:
        """The words written by ``write_words``, or None when there is no such file (it can be redone)."""
        try:
            return self.words_path(source_id, version).read_text(encoding="utf-8").split()
        except (OSError, ValueError):
            return None

    # ------------------------------------------------------------------------------ disagreement groups
    def group_path(self, name: str) -> Path:
        """Where the disagreement group ``name`` (a hash of its inputs) lives; its vectors sit beside it (.npy)."""
        return self.path / ANALYSIS / f"disagreements-{name}.json"

    def has_groups(self, names) -> bool:
        return all(self.group_path(n).exists() for n in names)

    def write_group(self, name: str, group: Group, vectors: np.ndarray) -> None:
        """A disagreement group: its JSON (members, pairs) and, beside it, its members' vectors."""
        path = self.group_path(name)
        _write_array(path.with_suffix(".npy"), vectors)
        _write_json_atomic(path, group.to_json())

    def read_group(self, name: str) -> Group:
        """Raises DamagedAnalysisError when the file is missing or damaged (removing it and updating redoes it)."""
        try:
            return Group.from_json(json.loads(self.group_path(name).read_text(encoding="utf-8")))
        except (OSError, ValueError, KeyError, TypeError, IndexError, AttributeError) as exc:
            raise self.damaged_group(name) from exc

    def read_group_vectors(self, name: str) -> np.ndarray:
        try:
            return np.load(self.group_path(name).with_suffix(".npy"), allow_pickle=False)
        except (OSError, ValueError) as exc:
            raise self.damaged_group(name) from exc

    def damaged_group(self, name: str) -> DamagedAnalysisError:
        path = self.group_path(name)
        return DamagedAnalysisError(
            f"index file {self._rel(path)} is missing or damaged; it will be redone from the index records", path)

    def group_looks_whole(self, name: str) -> bool:
        """Whether a group's JSON and vectors are there and the JSON is not cut short (a cheap check:
        the name is a hash of the inputs, and a damaged file found later is redone)."""
        path = self.group_path(name)
        try:
            with open(path, "rb") as f:
                first = f.read(1)
                f.seek(-1, os.SEEK_END)
                return first == b"{" and f.read(1) == b"}" and path.with_suffix(".npy").exists()
        except OSError:
            return False

    def read_flag_file(self, name: str) -> list[Flag]:
        """Every disagreement flag, from the one file of an index migrated from format 2 before groups."""
        path = self.group_path(name)
        try:
            return [Flag.from_dict(d) for d in json.loads(path.read_text(encoding="utf-8"))]
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
            raise StaleIndexError(
                f"index file {self._rel(path)} is missing or damaged; it will be rebuilt from sources") from exc

    # ------------------------------------------------------------------------------------------ caches
    def read_cache(self, name: str) -> dict:
        """A content-keyed cache file in analysis/ ({} when absent or unreadable: a cache can always be redone)."""
        try:
            data = json.loads((self.path / ANALYSIS / name).read_text(encoding="utf-8"))
            return data if isinstance(data, dict) else {}
        except (OSError, ValueError):
            return {}

    def write_cache(self, name: str, data: dict) -> None:
        _write_json_atomic(self.path / ANALYSIS / name, data)

    # ----------------------------------------------------------------------------------------- journal
    def journal_add(self, versions: list[tuple[str, str]], collection: str | None = None,
                    fingerprint: str | None = None) -> None:
        """Note (source_id, version) pairs about to be written, and where (collection, index fingerprint),
        so the next build can find a killed build's leftovers, and keep what it finished."""
        current = self.journal()
        place = {"collection": collection, "fingerprint": fingerprint} if collection is not None else {}
        _write_json_atomic(self.path / JOURNAL, dataclasses.replace(
            current, format=FORMAT, versions=current.versions + tuple((s, v) for s, v in versions), **place).to_json())

    def journal(self) -> Journal:
        """The journal; an unreadable one lists nothing to resume."""
        try:
            return Journal.from_json(migrations.migrate_journal(json.loads((self.path / JOURNAL).read_text(encoding="utf-8"))))
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            return Journal(FORMAT)

    def journal_done(self, entries: dict[str, SourceEntry]) -> None:
        """Append the manifest entries of source versions whose vectors and records are all written."""
        if not entries:
            return
        path = self.path / JOURNAL_DONE
        with open(path, "ab") as f:
            if f.tell() and _last_byte(path) != b"\n":
                f.write(b"\n")  # a killed build's torn last line stays apart from the new lines
            for sid, entry in entries.items():
                f.write((json.dumps(Finished(sid, entry).to_json(), ensure_ascii=False) + "\n").encode())
            f.flush()
            os.fsync(f.fileno())

    def finished(self) -> dict[str, SourceEntry]:
        """Finished source versions of a killed build, by source id (a torn or unreadable line is ignored)."""
        done = {}
        try:
            lines = (self.path / JOURNAL_DONE).read_text(encoding="utf-8", errors="replace").splitlines()
        except (OSError, ValueError):
            return done
        for line in lines:
            try:
                item = Finished.from_json(json.loads(line))
            except (ValueError, KeyError, TypeError, AttributeError):
                continue
            done[item.source_id] = item.entry
        return done

    def has_finished(self) -> bool:
        return (self.path / JOURNAL_DONE).exists()

    def journal_clear(self) -> None:
        (self.path / JOURNAL).unlink(missing_ok=True)
        (self.path / JOURNAL_DONE).unlink(missing_ok=True)

    # ---------------------------------------------------------------------------------- whole folder
    def has_index_files(self) -> bool:
        """Whether vectors or records are there (a build killed before its first manifest leaves them)."""
        return (self.path / CHROMA).exists() or (self.path / RECORDS).exists()

    def wipe(self) -> None:
        """Remove everything Crosscheck keeps in the index folder."""
        for name in (MANIFEST, JOURNAL, JOURNAL_DONE):
            (self.path / name).unlink(missing_ok=True)
        for name in (RECORDS, ANALYSIS, CHROMA):
            shutil.rmtree(self.path / name, ignore_errors=True)

    def remove_unused(self, manifest: Manifest) -> None:
        """Remove record and group files the manifest does not use (caches and verdicts stay)."""
        live = {p.name for sid, e in manifest.sources.items() for p in self.version_files(sid, e.version)}
        names = list((manifest.groups or {}).values()) + ([manifest.flag_file] if manifest.flag_file else [])
        live |= {p.name for n in names for p in (self.group_path(n), self.group_path(n).with_suffix(".npy"))}
        for sub, removable in ((RECORDS, lambda name: True),
                               (ANALYSIS, lambda name: name.startswith("disagreements-") or name.endswith(".tmp"))):
            if (self.path / sub).exists():
                for name in os.listdir(self.path / sub):
                    if removable(name) and name not in live:
                        (self.path / sub / name).unlink(missing_ok=True)

    def vector_store(self, collection: str, chroma_url: str | None = None) -> "VectorStore":
        return VectorStore(self.path, collection, chroma_url)

    def _rel(self, path: Path) -> str:
        return str(path.relative_to(self.path))


def _last_byte(path: Path) -> bytes:
    with open(path, "rb") as f:
        f.seek(-1, os.SEEK_END)
        return f.read(1)


class VectorStore:
    """Two chromadb collections (passages, sentences) fed our own vectors; embedded or a server."""

    def __init__(self, folder: Path, name: str, chroma_url: str | None = None):
        self.folder = folder
        self.name = name
        self.client = _client(folder, chroma_url)
        self.passages = self._collection(f"{name}_passages")
        self.sentences = self._collection(f"{name}_sentences")
        self._warming: threading.Thread | None = None

    def _collection(self, name: str):
        return self.client.get_or_create_collection(
            name, embedding_function=None, configuration={"hnsw": {"space": "cosine"}}
        )

    def warm_up(self) -> None:
        """Load both collections' vector indexes in a background thread: the first write or query
        pays that load otherwise (~1.5 s for the 407k sentences of 10k articles). Other work of the
        caller overlaps it; this store's next write waits for it."""
        def load():
            try:
                for coll in (self.passages, self.sentences):
                    got = coll.get(limit=1, include=["embeddings"])
                    if got["ids"]:
                        coll.query(query_embeddings=[got["embeddings"][0]], n_results=1, include=[])
            except Exception:
                pass  # only a warm-up: the real call reports any problem

        self._warming = threading.Thread(target=load, name="crosscheck-warm-up")
        self._warming.start()

    def _warm(self) -> None:
        if self._warming is not None:
            self._warming.join()
            self._warming = None

    def add(self, kind: str, ids: list[str], vectors: np.ndarray, metadatas: list[dict]) -> None:
        """Upsert vectors in batches (chromadb caps one call at a few thousand rows)."""
        self._warm()
        coll = self.passages if kind == "passage" else self.sentences
        step = 2000
        for i in range(0, len(ids), step):
            coll.upsert(ids=ids[i:i + step], embeddings=vectors[i:i + step], metadatas=metadatas[i:i + step])

    def delete_version(self, source_id: str, version: str | None = None) -> None:
        """Remove one source version (or every version of a source when ``version`` is None)."""
        self._warm()
        where = {"source_id": source_id} if version is None else {"$and": [{"source_id": source_id}, {"version": version}]}
        for coll in (self.passages, self.sentences):
            coll.delete(where=where)

    def delete_other_versions(self, source_id: str, keep: str) -> None:
        self._warm()
        where = {"$and": [{"source_id": source_id}, {"version": {"$ne": keep}}]}
        for coll in (self.passages, self.sentences):
            coll.delete(where=where)

    def query(self, kind: str, vector: np.ndarray, k: int) -> list[tuple[str, float, dict]]:
        """Nearest ``k`` items as (id, cosine similarity, metadata), best first."""
        coll = self.passages if kind == "passage" else self.sentences
        # chromadb returns fewer than k when the collection holds fewer (none when empty); no count()
        # first: it costs ~20 ms per call on the 10k-article collections (112k and 407k vectors).
        res = coll.query(query_embeddings=[vector], n_results=k, include=["distances", "metadatas"])
        if not res["ids"] or not res["ids"][0]:
            return []
        return [(i, 1.0 - d, m) for i, d, m in zip(res["ids"][0], res["distances"][0], res["metadatas"][0])]

    def vectors(self, kind: str, ids: list[str]) -> dict[str, np.ndarray]:
        """Stored vectors by id."""
        if not ids:
            return {}
        coll = self.passages if kind == "passage" else self.sentences
        res = coll.get(ids=ids, include=["embeddings"])
        return {i: np.asarray(e, dtype=np.float32) for i, e in zip(res["ids"], res["embeddings"])}

    def count(self) -> int:
        return self.passages.count()

    def drop_collections_except(self, keep: str) -> None:
        """Delete collections of older settings/models, so a rebuild leaves nothing behind."""
        for c in self.client.list_collections():
            cname = c if isinstance(c, str) else c.name
            if cname.startswith("cc_") and not cname.startswith(keep + "_"):
                self.client.delete_collection(cname)


def _client(folder: Path, chroma_url: str | None):
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    chroma_settings = ChromaSettings(anonymized_telemetry=False, allow_reset=False)
    if chroma_url:
        from urllib.parse import urlparse

        u = urlparse(chroma_url)
        try:
            return chromadb.HttpClient(
                host=u.hostname or "127.0.0.1", port=u.port or 8000, ssl=u.scheme == "https", settings=chroma_settings
            )
        except Exception as exc:  # chromadb raises ValueError/ConnectionError variants
            raise IndexError_(
                f"cannot reach the chromadb server at {chroma_url} ({exc}): start it with "
                "`chroma run --path DIR --host 127.0.0.1 --port PORT` or unset CROSSCHECK_CHROMA_URL"
            ) from exc
    ensure_writable(folder)
    try:
        return chromadb.PersistentClient(path=str(folder / CHROMA), settings=chroma_settings)
    except Exception as exc:
        if is_disk_full(exc):
            raise disk_full_error(folder) from exc
        raise StaleIndexError(f"the vector store in {folder / CHROMA} cannot be opened ({exc}); it will be rebuilt from sources") from exc


def release_clients() -> None:
    """Forget cached chromadb clients, so a wiped folder can be reopened in this process."""
    try:
        from chromadb.api.shared_system_client import SharedSystemClient

        SharedSystemClient.clear_system_cache()
    except Exception:
        pass
