"""Build or update the index from the sources folder: incremental by content hash, atomic by manifest."""

from __future__ import annotations

import dataclasses
import hashlib
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from . import analysis, store
from .records import Manifest, ModelInfo, SkippedFile, SourceEntry, SourceRecords
from ..errors import CrosscheckError, IndexError_, SourceError, StaleIndexError
from ..ingest.segment import passage_embedding_text, segment, sentence_context, sentence_embedding_text
from ..settings import Settings
from ..ingest.sources import file_sha256, list_source_files, load_document, read_raw

Progress = Callable[[str], None]


@dataclass
class IndexReport:
    """What an index run did: per-source outcome, and why it rebuilt from scratch if it did."""

    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)
    skipped_sha: dict[str, str | None] = field(default_factory=dict)
    rebuilt_because: str | None = None
    seconds: float = 0.0

    @property
    def changed(self) -> bool:
        return bool(self.added or self.updated or self.removed or self.rebuilt_because)

    def summary(self) -> str:
        parts = [f"{len(x)} {name}" for name, x in
                 (("added", self.added), ("updated", self.updated), ("removed", self.removed), ("unchanged", self.unchanged))
                 if x]
        if self.skipped:
            parts.append(f"{len(self.skipped)} skipped")
        return f"index: {', '.join(parts) or 'no sources'} in {self.seconds:.1f} s"

    def lines(self) -> list[str]:
        """What a person is told after a run: each skipped file with its reason, then the summary."""
        return [f"skipped: {reason}" for reason in self.skipped.values()] + [self.summary()]


def fingerprint(settings: Settings) -> str:
    """What the stored vectors depend on: the layout of their rows, model weights and index-shaping settings."""
    from .embed import MODEL_SHA256

    blob = f"{store.VECTOR_LAYOUT}|{MODEL_SHA256}|{settings.fingerprint_hash()}".encode()
    return hashlib.sha256(blob).hexdigest()[:10]


def _lock(index: store.IndexFolder, progress: Progress):
    from filelock import Timeout

    lock = index.lock()
    try:
        lock.acquire(timeout=0)
    except Timeout:
        progress(f"another Crosscheck is indexing {index.path}; waiting for it to finish")
        try:
            lock.acquire(timeout=900)
        except Timeout as exc:
            raise IndexError_(f"{index.path} stayed locked for 15 minutes by another index run: wait for it or stop it") from exc
    return lock


def is_current(settings: Settings) -> bool:
    """True when the manifest is of this format and matches the model, settings and every source file's hash."""
    index = store.IndexFolder(settings.index)
    try:
        manifest = index.read_manifest()
    except StaleIndexError:
        return False
    if manifest is None or manifest.migrated_from is not None or manifest.fingerprint != fingerprint(settings):
        return False
    if manifest.judge != settings.judge:
        return False
    if not analysis.is_complete(index, manifest):
        return False
    try:
        files = list_source_files(settings.sources)
    except SourceError:
        return False
    seen = {p.stem: p for p in files}
    live = manifest.sources
    skipped = manifest.skipped
    if set(seen) - set(live) - {Path(k).stem for k in skipped}:
        return False
    if set(live) - set(seen):
        return False
    for sid, entry in live.items():
        if file_sha256(seen[sid]) != entry.sha256:
            return False
    for name, info in skipped.items():
        p = settings.sources / name
        if not p.exists() or file_sha256(p) != info.sha256:
            return False
    return True


def update_index(settings: Settings, progress: Progress = lambda _m: None, rebuild: bool = False) -> IndexReport:
    """Bring the index in ``settings.index`` up to date with ``settings.sources``.

    Unchanged sources are not re-embedded; removed sources leave nothing behind; a changed model or
    index setting (or ``rebuild``) starts from scratch. Bad source files are skipped with a reason.

    Raises:
        SourceError: the sources folder is missing.
        IndexError_: the index folder cannot be written or stays locked.
    """
    t0 = time.perf_counter()
    files = list_source_files(settings.sources)
    folder = settings.index
    index = store.IndexFolder(folder)
    index.ensure_writable()
    with _lock(index, progress):
        try:
            report = _update_locked(settings, files, index, progress, rebuild)
        except Exception as exc:
            # Out of space anywhere (SQLite, chromadb, our JSON files) is the disk, not a damaged index:
            # the manifest still names the previous, intact versions.
            if store.is_disk_full(exc):
                raise store.disk_full_error(folder) from exc
            raise
    report.seconds = time.perf_counter() - t0
    return report


def _update_locked(settings: Settings, files: list[Path], index: store.IndexFolder, progress: Progress,
                   rebuild: bool) -> IndexReport:
    """The build itself, run while holding the index lock: new versions first, manifest swap, then cleanup."""
    report = IndexReport()
    manifest = _start(settings, index, report, progress, rebuild)
    todo, live = _plan(settings, files, index, manifest, report)
    if todo:  # the model's ~8 s of imports overlap opening the vector store
        from .embed import preload

        preload()
    vs = _open_store(settings, index, manifest, report, progress)
    if vs is None:  # the vector store was unreadable and has been wiped
        manifest = _fresh_manifest(settings)
        vs = index.vector_store(manifest.collection, settings.chroma_url)
        todo, live = _plan(settings, files, index, manifest, report)
    if todo:
        vs.warm_up()
    finished = _collect_leftovers(index, vs, manifest)
    for sid in live:
        report.unchanged.append(sid)
    reused = {path.stem: finished[path.stem] for path, _raw, sha in todo
              if path.stem in finished and finished[path.stem].sha256 == sha}
    for sid, entry in finished.items():
        if sid not in reused:  # its file changed (or went) since the killed build
            _delete_version(index, vs, sid, entry.version)
    if reused:
        progress(f"reusing {len(reused)} source(s) that an interrupted index run had finished")
        todo = [t for t in todo if t[0].stem not in reused]
    new_entries = dict(reused)
    if todo:
        new_entries.update(_index_sources(settings, index, vs, manifest, todo, progress, report))
    for sid, entry in new_entries.items():
        (report.updated if sid in manifest.sources else report.added).append(sid)
    # A source whose file is now unreadable is removed too: its old quotes would not match the file.
    report.removed = sorted(set(manifest.sources) - set(live) - set(new_entries))
    changed = bool(new_entries or report.removed) or manifest.judge != settings.judge
    manifest = dataclasses.replace(
        manifest, sources={**{s: manifest.sources[s] for s in live}, **new_entries},
        skipped={name: SkippedFile(report.skipped[name], report.skipped_sha[name]) for name in report.skipped},
        updated_at=time.strftime("%Y-%m-%dT%H:%M:%S%z"))
    manifest = analysis.update(settings, index, manifest, progress, changed=changed)
    index.write_manifest(manifest)
    for sid in report.updated:  # an added source has no other version (a killed build's were collected above)
        vs.delete_other_versions(sid, new_entries[sid].version)
    for sid in report.removed:
        vs.delete_version(sid)
    index.remove_unused(manifest)
    index.journal_clear()
    return report


def _start(settings: Settings, index: store.IndexFolder, report: IndexReport, progress: Progress, rebuild: bool) -> Manifest:
    """The manifest to update, or a fresh one after wiping what cannot be reused (and saying why)."""
    reason = "--rebuild was asked for" if rebuild else None
    manifest = None
    try:
        manifest = index.read_manifest()
    except StaleIndexError as exc:
        reason = str(exc)
    if manifest is not None and reason is None and manifest.fingerprint != fingerprint(settings):
        reason = "the embedding model or an index setting changed since the index was built; rebuilding from sources"
    if manifest is not None and reason is None:
        if manifest.migrated_from is not None:
            progress(f"migrating the index in {index.path} from format {manifest.migrated_from} to {manifest.format} "
                     "(nothing is re-embedded)")
        return manifest
    journal = index.journal()
    if manifest is None and reason is None and journal.collection and journal.fingerprint == fingerprint(settings):
        # A first build was killed: keep its collection, so the sources it finished are not redone.
        return _fresh_manifest(settings, journal.collection)
    if reason or index.has_index_files():
        if reason:
            progress(reason)
            report.rebuilt_because = reason
        _wipe(settings, index, manifest)
    return _fresh_manifest(settings)


def _fresh_manifest(settings: Settings, collection: str | None = None) -> Manifest:
    fp = fingerprint(settings)
    from .embed import MODEL_NAME, MODEL_SHA256

    return Manifest(format=store.FORMAT, fingerprint=fp, model=ModelInfo(MODEL_NAME, MODEL_SHA256),
                    settings=settings.index_fingerprint(), collection=collection or f"cc_{uuid.uuid4().hex[:8]}_{fp}")


def _wipe(settings: Settings, index: store.IndexFolder, manifest: Manifest | None) -> None:
    if settings.chroma_url and manifest:
        try:
            index.vector_store(manifest.collection, settings.chroma_url).drop_collections_except(keep="cc_none")
        except CrosscheckError:
            pass
    store.release_clients()
    index.wipe()


def _open_store(settings, index: store.IndexFolder, manifest: Manifest, report, progress) -> store.VectorStore | None:
    """The vector store, or None after wiping a damaged one (embedded mode) so the build starts afresh."""
    folder = index.path
    try:
        vs = index.vector_store(manifest.collection, settings.chroma_url)
        if manifest.sources or index.has_finished():
            vs.count()  # touch the files: a damaged store fails here, not half-way through a build
        return vs
    except IndexError_ as exc:
        if settings.chroma_url or not isinstance(exc, StaleIndexError):
            raise
        problem = str(exc)
    except Exception as exc:  # chromadb raises many types for damaged files
        if store.is_disk_full(exc):
            raise store.disk_full_error(folder) from exc
        problem = f"the vector store in {folder} is damaged ({type(exc).__name__}: {exc}); rebuilding from sources"
        if settings.chroma_url:
            raise IndexError_(problem) from exc
    progress(problem)
    report.rebuilt_because = problem
    _wipe(settings, index, None)
    return None


def _collect_leftovers(index: store.IndexFolder, vs: store.VectorStore, manifest: Manifest) -> dict[str, SourceEntry]:
    """What a killed build wrote but never made live: the source versions it finished (manifest
    entries by source id, whose vectors and records are complete) are returned to be reused;
    its other writes are deleted."""
    journal = index.journal()
    same_place = journal.collection == manifest.collection and journal.fingerprint == manifest.fingerprint
    finished = {}
    for sid, entry in (index.finished() if same_place else {}).items():
        live = manifest.sources.get(sid)
        if (live is None or live.version != entry.version) and index.has_version(sid, entry.version):
            finished[sid] = entry
    for sid, version in journal.versions:
        live = manifest.sources.get(sid)
        if (live is None or live.version != version) and (sid not in finished or finished[sid].version != version):
            _delete_version(index, vs, sid, version)
    return finished


def _delete_version(index: store.IndexFolder, vs: store.VectorStore, sid: str, version: str) -> None:
    vs.delete_version(sid, version)
    index.delete_version_files(sid, version)


def _plan(settings: Settings, files: list[Path], index: store.IndexFolder, manifest: Manifest, report: IndexReport):
    """Split source files into (to index, unchanged live ids); bad files go to ``report.skipped``."""
    todo, live, by_sha = [], [], {}
    seen_ids: dict[str, Path] = {}
    # Already-indexed files first, so a later copy of one is the file that gets skipped.
    for path in sorted(files, key=lambda p: (p.stem not in manifest.sources, p.name)):
        sid = path.stem
        try:
            if sid in seen_ids:
                raise SourceError(f"{path.name} has the same id as {seen_ids[sid].name}: rename one of them")
            seen_ids[sid] = path
            raw, sha = read_raw(path, settings.max_file_bytes)
            if sha in by_sha:
                raise SourceError(f"{path.name} has the same content as {by_sha[sha]}: it is indexed once, as {Path(by_sha[sha]).stem}")
            by_sha[sha] = path.name
        except SourceError as exc:
            report.skipped[path.name] = str(exc)
            report.skipped_sha[path.name] = _safe_sha(path)
            continue
        old = manifest.sources.get(sid)
        if old and old.sha256 == sha and index.has_version(sid, old.version):
            live.append(sid)
        else:
            todo.append((path, raw, sha))
    return todo, live


def _safe_sha(path: Path) -> str | None:
    try:
        return file_sha256(path)
    except OSError:
        return None


def _index_sources(settings, index: store.IndexFolder, vs, manifest: Manifest, todo, progress, report) -> dict[str, SourceEntry]:
    """Load, segment, embed and store new or changed sources; returns their manifest entries."""
    from .embed import get_embedder

    docs = []
    for path, _raw, sha in todo:
        try:
            doc = load_document(path, settings.max_file_bytes)
        except SourceError as exc:
            report.skipped[path.name] = str(exc)
            report.skipped_sha[path.name] = sha
            continue
        docs.append((doc, segment(doc, settings.passage_chars), sha[:16]))
    if not docs:
        return {}
    index.journal_add([(d.source.id, v) for d, _, v in docs], manifest.collection, manifest.fingerprint)
    n_sent = sum(len(s.sentences) for _, s, _ in docs)
    n_pass = sum(len(s.passages) for _, s, _ in docs)
    progress(f"indexing {len(docs)} source(s): {n_pass} passages, {n_sent} sentences")
    embedder = get_embedder()
    entries = {}
    seen: dict[str, np.ndarray] = {}  # sentence text -> vector, this run: a repeated sentence is embedded once
    for group in _batches(docs, max_texts=GROUP_TEXTS):
        # One embedding call per group: sentence-transformers sorts a call's texts by length, so
        # mixing short sentences and long passages of many sources wastes no padding.
        texts = [passage_embedding_text(p, d.source.title) for d, seg, _ in group for p in seg.passages]
        n_p = len(texts)
        texts += [sentence_embedding_text(x) for _, seg, _ in group for x in seg.sentences]
        vectors = _embed_once(embedder, texts, n_p, seen)
        p_vecs, s_vecs = vectors[:n_p], vectors[n_p:]
        claims = _claims([seg for _, seg, _ in group])  # one classifier pass per group, like the embeddings
        # One upsert per kind and group too: chromadb's per-call cost dominates for small sources.
        meta = lambda x, kind, sid, version: {"source_id": sid, "version": version, "start": x.start, "end": x.end, "kind": kind}
        vs.add("passage", [f"{x.id}@{v}" for _, seg, v in group for x in seg.passages], p_vecs,
               [meta(x, "passage", d.source.id, v) for d, seg, v in group for x in seg.passages])
        vs.add("sentence", [f"{x.id}@{v}" for _, seg, v in group for x in seg.sentences], s_vecs,
               [meta(x, "sentence", d.source.id, v) for d, seg, v in group for x in seg.sentences])
        for doc, seg, version in group:
            k_s = len(seg.sentences)
            entries[doc.source.id] = _store_source(index, doc, seg, version, s_vecs[:k_s], claims[:k_s])
            s_vecs, claims = s_vecs[k_s:], claims[k_s:]
        index.journal_done({d.source.id: entries[d.source.id] for d, _, _ in group})
        if len(docs) > len(group):
            progress(f"indexed {len(entries)} of {len(docs)} sources")
    return entries


# Texts (passages + sentences) embedded, classified and stored together; a killed build resumes after the last group.
GROUP_TEXTS = 1024


def _embed_once(embedder, texts: list[str], n_passages: int, seen: dict[str, np.ndarray], keep: int = 100_000) -> np.ndarray:
    """Vectors for ``texts`` (passages first), embedding each distinct text once: identical texts get
    identical vectors anyway. Sentence vectors are remembered across calls in ``seen`` (up to ``keep``)."""
    todo = list(dict.fromkeys(t for i, t in enumerate(texts) if i < n_passages or t not in seen))
    fresh = dict(zip(todo, embedder.embed(todo)))
    for t in texts[n_passages:]:
        if t in fresh and len(seen) < keep:
            seen[t] = fresh[t]
    return np.stack([fresh[t] if t in fresh else seen[t] for t in texts]) if texts else embedder.embed([])


def _batches(docs: list, max_texts: int) -> list[list]:
    """Consecutive groups of documents with at most ``max_texts`` passages + sentences each (at least one doc)."""
    groups, cur, n = [], [], 0
    for d in docs:
        size = len(d[1].passages) + len(d[1].sentences)
        if cur and n + size > max_texts:
            groups.append(cur)
            cur, n = [], 0
        cur.append(d)
        n += size
    return groups + ([cur] if cur else [])


def _store_source(index: store.IndexFolder, doc, seg, version, s_vecs, claims: list) -> SourceEntry:
    """Write one source version's records (its vectors are in the store already); returns its manifest entry."""
    from ..analyse.disagreements import source_cues

    sid = doc.source.id
    found = source_cues([s.text for s in seg.sentences])
    cues = list(found.cues)
    records = SourceRecords(
        source=doc.source, passages=tuple(seg.passages), sentences=tuple(seg.sentences), claims=tuple(claims),
        cues=found.cues, topic_candidates=found.topic_candidates)
    index.write_cue_vectors(sid, version, s_vecs[cues] if cues else np.zeros((0, s_vecs.shape[1]), np.float32))
    index.write_words(sid, version, list(found.words))
    index.write_records(sid, version, records)
    return SourceEntry(sha256=doc.source.sha256, version=version, title=doc.source.title, path=doc.source.path,
                       passages=len(seg.passages), sentences=len(seg.sentences))


def _claims(segs: list) -> list:
    """Claim analysis of every sentence of these sources, in order, in one batched pass."""
    from ..analyse.claims import Context, analyse_many

    sentences, contexts = [], []
    for seg in segs:
        sents = list(seg.sentences)
        sentences += [s.text for s in sents]
        contexts += [Context(s.heading or "", sentence_context(sents, i, window=1, with_heading=False))
                     for i, s in enumerate(sents)]
    return analyse_many(sentences, contexts)
