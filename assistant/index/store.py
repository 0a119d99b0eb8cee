"""The index on disk: chromadb vectors (embedded or server), per-source record files and the manifest.

Atomicity: vectors and record files of a source version are written under a version-specific id
first; the manifest, replaced atomically last, says which versions are live. A build killed
half-way leaves the old manifest pointing at intact old versions. Its writes are listed in a
journal: the next build keeps the source versions it had finished (a long first build resumes
instead of starting over) and removes the rest.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import tempfile
import threading
import uuid
from pathlib import Path

import numpy as np

from ..errors import DamagedAnalysisError, IndexError_, StaleIndexError

# 2: per-source cue-sentence vectors next to the records; disagreements and analysis caches in analysis/.
FORMAT = 2
MANIFEST = "manifest.json"
JOURNAL = "pending.json"  # {"collection", "fingerprint", "versions": [[source id, version], ...]} being written
JOURNAL_DONE = "pending-done.jsonl"  # one line per source version fully written: {"id", "entry": manifest entry}
RECORDS = "records"
ANALYSIS = "analysis"


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


class Manifest(dict):
    """The manifest: format, model, settings, live source versions, flags. A plain JSON dict."""

    @property
    def sources(self) -> dict:
        return self.setdefault("sources", {})


def read_manifest(folder: Path) -> Manifest | None:
    """The manifest in ``folder``, or None when there is no index yet.

    Raises:
        StaleIndexError: written by another format or unreadable (the caller rebuilds from sources).
    """
    path = folder / MANIFEST
    if not path.exists():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise StaleIndexError(f"the index manifest {path} is damaged ({exc}); it will be rebuilt from sources") from exc
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        found = data.get("format") if isinstance(data, dict) else None
        raise StaleIndexError(
            f"the index in {folder} was written by index format {found}, this Crosscheck reads format {FORMAT}; "
            "it will be rebuilt from sources"
        )
    return Manifest(data)


def write_manifest(folder: Path, manifest: Manifest) -> None:
    _write_json_atomic(folder / MANIFEST, dict(manifest))


def records_path(folder: Path, source_id: str, version: str) -> Path:
    return folder / RECORDS / f"{source_id}@{version}.json"


def write_records(folder: Path, source_id: str, version: str, records: dict) -> str:
    """Write one source version's records (sentences, passages, claims); returns the relative path."""
    path = records_path(folder, source_id, version)
    _write_json_atomic(path, records)
    return str(path.relative_to(folder))


def read_records(folder: Path, relpath: str) -> dict:
    try:
        return json.loads((folder / relpath).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise StaleIndexError(f"index record file {relpath} is missing or damaged; it will be rebuilt from sources") from exc


def cue_vectors_path(folder: Path, source_id: str, version: str) -> Path:
    return folder / RECORDS / f"{source_id}@{version}.cues.npy"


def write_cue_vectors(folder: Path, source_id: str, version: str, vectors: np.ndarray) -> None:
    """The vectors of a source version's cue sentences (the disagreement search reads these, not chromadb)."""
    arr = np.asarray(vectors, dtype=np.float32)
    _write_atomic(cue_vectors_path(folder, source_id, version), lambda f: np.save(f, arr, allow_pickle=False), binary=True)


def read_cue_vectors(folder: Path, source_id: str, version: str) -> np.ndarray:
    path = cue_vectors_path(folder, source_id, version)
    try:
        return np.load(path, allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise StaleIndexError(f"index file {path.relative_to(folder)} is missing or damaged; it will be rebuilt from sources") from exc


def words_path(folder: Path, source_id: str, version: str) -> Path:
    return folder / RECORDS / f"{source_id}@{version}.words"


def write_words(folder: Path, source_id: str, version: str, words: list[str]) -> None:
    """The distinct words of a source version (what a new topic phrase is looked up in)."""
    _write_atomic(words_path(folder, source_id, version), lambda f: f.write(" ".join(words)))


def read_words(folder: Path, source_id: str, version: str) -> list[str] | None:
    """The words written by ``write_words``, or None when there is no such file (it can be redone)."""
    try:
        return words_path(folder, source_id, version).read_text(encoding="utf-8").split()
    except (OSError, ValueError):
        return None


def group_path(name: str) -> str:
    """Where a disagreement group named ``name`` (a hash of its inputs) lives, relative to the index folder."""
    return f"{ANALYSIS}/disagreements-{name}.json"


def write_group(folder: Path, relpath: str, group: dict, vectors: np.ndarray) -> None:
    """A disagreement group: its JSON (members, pairs) and, beside it, its members' vectors."""
    path = folder / relpath
    arr = np.asarray(vectors, dtype=np.float32)
    _write_atomic(path.with_suffix(".npy"), lambda f: np.save(f, arr, allow_pickle=False), binary=True)
    _write_json_atomic(path, group)


def read_group(folder: Path, relpath: str) -> dict:
    path = folder / relpath
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        data = None
    if not isinstance(data, dict) or not isinstance(data.get("members"), list) or not isinstance(data.get("pairs"), list):
        raise damaged_group(folder, relpath)
    return data


def damaged_group(folder: Path, relpath: str) -> DamagedAnalysisError:
    return DamagedAnalysisError(f"index file {relpath} is missing or damaged; it will be redone from the index records",
                                folder / relpath)


def group_looks_whole(folder: Path, relpath: str) -> bool:
    """Whether a group's JSON and vectors are there and the JSON is not cut short (a cheap check:
    the name is a hash of the inputs, and a damaged file found later is redone)."""
    path = folder / relpath
    try:
        with open(path, "rb") as f:
            first = f.read(1)
            f.seek(-1, os.SEEK_END)
            return first == b"{" and f.read(1) == b"}" and path.with_suffix(".npy").exists()
    except OSError:
        return False


def read_group_vectors(folder: Path, relpath: str) -> np.ndarray:
    try:
        return np.load((folder / relpath).with_suffix(".npy"), allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise damaged_group(folder, relpath) from exc


def read_cache(folder: Path, name: str) -> dict:
    """A content-keyed cache file in analysis/ ({} when absent or unreadable: a cache can always be redone)."""
    try:
        data = json.loads((folder / ANALYSIS / name).read_text(encoding="utf-8"))
        return data if isinstance(data, dict) else {}
    except (OSError, ValueError):
        return {}


def write_cache(folder: Path, name: str, data: dict) -> None:
    _write_json_atomic(folder / ANALYSIS / name, data)


def read_disagreements(folder: Path, relpath: str | None) -> list[dict]:
    """The one file of every disagreement flag that indexes wrote before disagreement groups."""
    if not relpath:
        return []
    try:
        data = json.loads((folder / relpath).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise StaleIndexError(f"index file {relpath} is missing or damaged; it will be rebuilt from sources") from exc
    if not isinstance(data, list):
        raise StaleIndexError(f"index file {relpath} is damaged; it will be rebuilt from sources")
    return data


def journal_add(folder: Path, entries: list[list[str]], collection: str | None = None,
                fingerprint: str | None = None) -> None:
    """Note (source_id, version) pairs about to be written, and where (collection, index fingerprint),
    so the next build can find a killed build's leftovers, and keep what it finished."""
    current = journal_read(folder)
    current["versions"] = current["versions"] + entries
    if collection is not None:
        current.update(collection=collection, fingerprint=fingerprint)
    _write_json_atomic(folder / JOURNAL, current)


def journal_read(folder: Path) -> dict:
    """The journal: {"collection", "fingerprint", "versions"}; an unreadable one lists nothing to resume."""
    try:
        data = json.loads((folder / JOURNAL).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        data = None
    if isinstance(data, list):  # written before builds could resume: versions only
        data = {"versions": data}
    if not isinstance(data, dict) or not isinstance(data.get("versions"), list):
        data = {"versions": []}
    data["versions"] = [v for v in data["versions"] if isinstance(v, list) and len(v) == 2]
    return data


def journal_done(folder: Path, entries: dict[str, dict]) -> None:
    """Append the manifest entries of source versions whose vectors and records are all written."""
    if not entries:
        return
    path = folder / JOURNAL_DONE
    with open(path, "ab") as f:
        if f.tell() and _last_byte(path) != b"\n":
            f.write(b"\n")  # a killed build's torn last line stays apart from the new lines
        for sid, entry in entries.items():
            f.write((json.dumps({"id": sid, "entry": entry}, ensure_ascii=False) + "\n").encode())
        f.flush()
        os.fsync(f.fileno())


def _last_byte(path: Path) -> bytes:
    with open(path, "rb") as f:
        f.seek(-1, os.SEEK_END)
        return f.read(1)


def journal_read_done(folder: Path) -> dict[str, dict]:
    """Finished source versions of a killed build, by source id (a torn last line is ignored)."""
    done = {}
    try:
        lines = (folder / JOURNAL_DONE).read_text(encoding="utf-8", errors="replace").splitlines()
    except (OSError, ValueError):
        return done
    for line in lines:
        try:
            item = json.loads(line)
            done[item["id"]] = dict(item["entry"])
        except (ValueError, KeyError, TypeError):
            continue
    return done


def journal_clear(folder: Path) -> None:
    (folder / JOURNAL).unlink(missing_ok=True)
    (folder / JOURNAL_DONE).unlink(missing_ok=True)


def wipe(folder: Path) -> None:
    """Remove everything Crosscheck keeps in an index folder (manifest last kept out of the way first)."""
    for name in (MANIFEST, JOURNAL, JOURNAL_DONE):
        (folder / name).unlink(missing_ok=True)
    for name in (RECORDS, ANALYSIS, "chroma"):
        shutil.rmtree(folder / name, ignore_errors=True)


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
        return chromadb.PersistentClient(path=str(folder / "chroma"), settings=chroma_settings)
    except Exception as exc:
        if is_disk_full(exc):
            raise disk_full_error(folder) from exc
        raise StaleIndexError(f"the vector store in {folder / 'chroma'} cannot be opened ({exc}); it will be rebuilt from sources") from exc


def release_clients() -> None:
    """Forget cached chromadb clients, so a wiped folder can be reopened in this process."""
    try:
        from chromadb.api.shared_system_client import SharedSystemClient

        SharedSystemClient.clear_system_cache()
    except Exception:
        pass
