"""Build or update the index from the sources folder: incremental by content hash, atomic by manifest."""

from __future__ import annotations

import hashlib
import json
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from . import store
from .errors import CrosscheckError, IndexError_, SourceError, StaleIndexError
from .segment import passage_embedding_text, segment, sentence_context, sentence_embedding_text
from .settings import Settings
from .sources import list_source_files, load_document, read_raw

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


def fingerprint(settings: Settings) -> str:
    """What the stored vectors depend on: index format, model weights and index-shaping settings."""
    from .embed import MODEL_SHA256

    blob = f"{store.FORMAT}|{MODEL_SHA256}|{settings.fingerprint_hash()}".encode()
    return hashlib.sha256(blob).hexdigest()[:10]


def _lock(folder: Path, progress: Progress):
    from filelock import FileLock, Timeout

    lock = FileLock(str(folder / ".lock"))
    try:
        lock.acquire(timeout=0)
    except Timeout:
        progress(f"another Crosscheck is indexing {folder}; waiting for it to finish")
        try:
            lock.acquire(timeout=900)
        except Timeout as exc:
            raise IndexError_(f"{folder} stayed locked for 15 minutes by another index run: wait for it or stop it") from exc
    return lock


def is_current(settings: Settings) -> bool:
    """True when the manifest matches the model, settings and every source file's hash."""
    try:
        manifest = store.read_manifest(settings.index)
    except StaleIndexError:
        return False
    if manifest is None or manifest.get("fingerprint") != fingerprint(settings):
        return False
    if manifest.get("judge") != settings.judge:
        return False
    if not manifest.get("disagreements_file") or not (settings.index / manifest["disagreements_file"]).exists():
        return False
    try:
        files = list_source_files(settings.sources)
    except SourceError:
        return False
    seen = {p.stem: p for p in files}
    live = manifest.sources
    skipped = manifest.get("skipped", {})
    if set(seen) - set(live) - {Path(k).stem for k in skipped}:
        return False
    if set(live) - set(seen):
        return False
    for sid, meta in live.items():
        if _file_sha(seen[sid]) != meta["sha256"]:
            return False
    for name, info in skipped.items():
        p = settings.sources / name
        if not p.exists() or _file_sha(p) != info.get("sha256"):
            return False
    return True


def _file_sha(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


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
    store.ensure_writable(folder)
    with _lock(folder, progress):
        try:
            report = _update_locked(settings, files, folder, progress, rebuild)
        except Exception as exc:
            # Out of space anywhere (SQLite, chromadb, our JSON files) is the disk, not a damaged index:
            # the manifest still names the previous, intact versions.
            if store.is_disk_full(exc):
                raise store.disk_full_error(folder) from exc
            raise
    report.seconds = time.perf_counter() - t0
    return report


def _update_locked(settings: Settings, files: list[Path], folder: Path, progress: Progress, rebuild: bool) -> IndexReport:
    """The build itself, run while holding the index lock: new versions first, manifest swap, then cleanup."""
    report = IndexReport()
    manifest = _start(settings, folder, report, progress, rebuild)
    vs = _open_store(settings, folder, manifest, report, progress)
    if vs is None:  # the vector store was unreadable and has been wiped
        manifest = _fresh_manifest(settings)
        vs = store.VectorStore(folder, manifest["collection"], settings.chroma_url)
    finished = _collect_leftovers(folder, vs, manifest)
    todo, live = _plan(settings, files, manifest, report)
    for sid in live:
        report.unchanged.append(sid)
    reused = {path.stem: finished[path.stem] for path, _raw, sha in todo
              if finished.get(path.stem, {}).get("sha256") == sha}
    for sid, entry in finished.items():
        if sid not in reused:  # its file changed (or went) since the killed build
            _delete_version(folder, vs, sid, entry["version"])
    if reused:
        progress(f"reusing {len(reused)} source(s) that an interrupted index run had finished")
        todo = [t for t in todo if t[0].stem not in reused]
    new_entries = dict(reused)
    if todo:
        new_entries.update(_index_sources(settings, folder, vs, manifest, todo, progress, report))
    for sid, entry in new_entries.items():
        (report.updated if sid in manifest.sources else report.added).append(sid)
    # A source whose file is now unreadable is removed too: its old quotes would not match the file.
    report.removed = sorted(set(manifest.sources) - set(live) - set(new_entries))
    old_sources = dict(manifest.sources)
    manifest["sources"] = {**{s: old_sources[s] for s in live}, **new_entries}
    manifest["skipped"] = {name: {"reason": report.skipped[name], "sha256": report.skipped_sha[name]} for name in report.skipped}
    manifest["updated_at"] = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    changed = bool(new_entries or report.removed) or manifest.get("judge") != settings.judge
    _analyse_corpus(settings, folder, vs, manifest, progress, changed=changed)
    store.write_manifest(folder, manifest)
    for sid in report.updated:  # an added source has no other version (a killed build's were collected above)
        vs.delete_other_versions(sid, new_entries[sid]["version"])
    for sid in report.removed:
        vs.delete_version(sid)
    _remove_stale_records(folder, manifest)
    store.journal_clear(folder)
    return report


def _start(settings: Settings, folder: Path, report: IndexReport, progress: Progress, rebuild: bool) -> store.Manifest:
    """The manifest to update, or a fresh one after wiping what cannot be reused (and saying why)."""
    reason = "--rebuild was asked for" if rebuild else None
    manifest = None
    try:
        manifest = store.read_manifest(folder)
    except StaleIndexError as exc:
        reason = str(exc)
    if manifest is not None and reason is None and manifest.get("fingerprint") != fingerprint(settings):
        reason = "the embedding model or an index setting changed since the index was built; rebuilding from sources"
    if manifest is not None and reason is None:
        return manifest
    journal = store.journal_read(folder)
    if manifest is None and reason is None and journal.get("collection") and journal.get("fingerprint") == fingerprint(settings):
        # A first build was killed: keep its collection, so the sources it finished are not redone.
        return _fresh_manifest(settings, journal["collection"])
    if reason or any((folder / n).exists() for n in ("chroma", store.RECORDS)):
        if reason:
            progress(reason)
            report.rebuilt_because = reason
        _wipe(settings, folder, manifest)
    return _fresh_manifest(settings)


def _fresh_manifest(settings: Settings, collection: str | None = None) -> store.Manifest:
    fp = fingerprint(settings)
    from .embed import MODEL_NAME, MODEL_SHA256

    return store.Manifest(
        format=store.FORMAT, fingerprint=fp, model={"name": MODEL_NAME, "sha256": MODEL_SHA256},
        settings=settings.index_fingerprint(), collection=collection or f"cc_{uuid.uuid4().hex[:8]}_{fp}",
        sources={}, skipped={},
    )


def _wipe(settings: Settings, folder: Path, manifest: store.Manifest | None) -> None:
    if settings.chroma_url and manifest and manifest.get("collection"):
        try:
            vs = store.VectorStore(folder, manifest["collection"], settings.chroma_url)
            vs.drop_collections_except(keep="cc_none")
        except CrosscheckError:
            pass
    store.release_clients()
    store.wipe(folder)


def _open_store(settings, folder, manifest, report, progress) -> store.VectorStore | None:
    """The vector store, or None after wiping a damaged one (embedded mode) so the build starts afresh."""
    try:
        vs = store.VectorStore(folder, manifest["collection"], settings.chroma_url)
        if manifest.sources or (folder / store.JOURNAL_DONE).exists():
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
    _wipe(settings, folder, None)
    return None


def _collect_leftovers(folder: Path, vs: store.VectorStore, manifest: store.Manifest) -> dict[str, dict]:
    """What a killed build wrote but never made live: the source versions it finished (manifest
    entries by source id, whose vectors and records are complete) are returned to be reused;
    its other writes are deleted."""
    journal = store.journal_read(folder)
    same_place = (journal.get("collection") == manifest["collection"]
                  and journal.get("fingerprint") == manifest["fingerprint"])
    finished = {}
    for sid, entry in (store.journal_read_done(folder) if same_place else {}).items():
        version = entry.get("version")
        if not isinstance(version, str) or not isinstance(entry.get("sha256"), str):
            continue
        records = store.records_path(folder, sid, version)
        if (manifest.sources.get(sid, {}).get("version") != version and entry.get("records") == str(records.relative_to(folder))
                and records.exists() and store.cue_vectors_path(folder, sid, version).exists()):
            finished[sid] = entry
    for sid, version in journal["versions"]:
        if manifest.sources.get(sid, {}).get("version") != version and finished.get(sid, {}).get("version") != version:
            _delete_version(folder, vs, sid, version)
    return finished


def _delete_version(folder: Path, vs: store.VectorStore, sid: str, version: str) -> None:
    vs.delete_version(sid, version)
    store.records_path(folder, sid, version).unlink(missing_ok=True)
    store.cue_vectors_path(folder, sid, version).unlink(missing_ok=True)


def _plan(settings: Settings, files: list[Path], manifest: store.Manifest, report: IndexReport):
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
        if (old and old["sha256"] == sha and (settings.index / old["records"]).exists()
                and store.cue_vectors_path(settings.index, sid, old["version"]).exists()):
            live.append(sid)
        else:
            todo.append((path, raw, sha))
    return todo, live


def _safe_sha(path: Path) -> str | None:
    try:
        return _file_sha(path)
    except OSError:
        return None


def _index_sources(settings, folder, vs, manifest, todo, progress, report) -> dict[str, dict]:
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
    store.journal_add(folder, [[d.source.id, v] for d, _, v in docs], manifest["collection"], manifest["fingerprint"])
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
            entries[doc.source.id] = _store_source(folder, doc, seg, version, s_vecs[:k_s], claims[:k_s])
            s_vecs, claims = s_vecs[k_s:], claims[k_s:]
        store.journal_done(folder, {d.source.id: entries[d.source.id] for d, _, _ in group})
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


def _store_source(folder, doc, seg, version, s_vecs, claims: list[dict]) -> dict:
    """Write one source version's records (its vectors are in the store already); returns its manifest entry."""
    from .conflicts import has_cue, topic_candidates

    sid, title = doc.source.id, doc.source.title

    # What the disagreement search needs of this source, whatever the rest of the corpus is: the
    # sentences that can take a position (with their vectors) and the topics this source proposes.
    cues = [i for i, s in enumerate(seg.sentences) if has_cue(s.text)]
    records = {
        "source": doc.source.to_dict(),
        "passages": [p.to_dict() for p in seg.passages],
        "sentences": [s.to_dict() for s in seg.sentences],
        "claims": claims,
        "analysis": {"cues": cues,
                     "topic_candidates": list(dict.fromkeys(p for s in seg.sentences for p in topic_candidates(s.text)))},
    }
    store.write_cue_vectors(folder, sid, version, s_vecs[cues] if cues else np.zeros((0, s_vecs.shape[1]), np.float32))
    rel = store.write_records(folder, sid, version, records)
    return {"sha256": doc.source.sha256, "version": version, "records": rel, "title": title,
            "path": doc.source.path, "passages": len(seg.passages), "sentences": len(seg.sentences)}


def _claims(segs: list) -> list[dict]:
    """Claim analysis of every sentence of these sources, in order, in one batched pass."""
    from .claims import analyse_many

    sentences, contexts = [], []
    for seg in segs:
        sents = list(seg.sentences)
        sentences += [s.text for s in sents]
        # "heading\nprevious sentences": the claims module reads the heading and the last sentence apart.
        contexts += [f"{s.heading or ''}\n{sentence_context(sents, i, with_heading=False)}" for i, s in enumerate(sents)]
    return [c.to_dict() for c in analyse_many(sentences, contexts)]


POSITIONS_CACHE = "positions.json"
MENTIONS_CACHE = "mentions.json"


def _analyse_corpus(settings, folder, vs, manifest, progress, changed: bool) -> None:
    """Cross-source disagreements, written to a new file the manifest names when any source changed.

    Incremental: what depends on one source alone is in its records (cue sentences and their vectors,
    the topics it proposes); positions are cached per source version while the corpus's topics stay
    the same; the judge's verdicts are cached per pair of wordings. A change of one article costs a
    pass over the records, its own positions, the nearest-neighbour search and the judging of new pairs.
    """
    live = manifest.get("disagreements_file")
    if not changed and live and (folder / live).exists():
        return
    from .conflicts import Position, candidate_pairs, find_topics, judged, positions, to_flags
    from .types import Sentence

    manifest["judge"] = settings.judge
    sentences, texts, candidates, rows, parts, spans = [], {}, {}, {}, [], []
    offset = 0  # rows of cue vectors so far
    for sid, meta in sorted(manifest.sources.items()):
        rec = store.read_records(folder, meta["records"])
        base = len(sentences)
        sentences += [Sentence(**x) for x in rec["sentences"]]
        texts[sid] = [x["text"] for x in rec["sentences"]]
        candidates[sid] = rec["analysis"]["topic_candidates"]
        cues = rec["analysis"]["cues"]
        vecs = store.read_cue_vectors(folder, sid, meta["version"])
        rows.update({base + c: offset + j for j, c in enumerate(cues)})
        parts.append(vecs)
        offset += len(vecs)
        spans.append((sid, meta["version"], base, cues))
    flags = []
    if len(texts) >= 2:
        progress("looking for disagreements between sources")
        mentions = store.read_cache(folder, MENTIONS_CACHE)
        topics = find_topics(texts, candidates=candidates, cache=mentions,
                             versions={sid: meta["version"] for sid, meta in manifest.sources.items()})
        store.write_cache(folder, MENTIONS_CACHE, mentions)
        key = hashlib.sha256(json.dumps([POSITIONS_CODE, topics]).encode()).hexdigest()[:16]
        cache = store.read_cache(folder, POSITIONS_CACHE)
        known = cache.get("by_source", {}) if cache.get("topics") == key else {}
        by_source, ps = {}, []
        for sid, version, base, cues in spans:
            local = sentences[base:base + len(texts[sid])]
            found = known.get(f"{sid}@{version}")
            if found is None:
                found = [[c, p.aspect, p.subject, p.value, p.cue, p.says] for c in cues
                         for p in positions(c, local[c].text, sentence_context(local, c), topics)]
            by_source[f"{sid}@{version}"] = found
            ps += [Position(base + c, *rest) for c, *rest in found]
        store.write_cache(folder, POSITIONS_CACHE, {"topics": key, "by_source": by_source})
        vectors = np.concatenate(parts) if parts else np.zeros((0, 1), np.float32)
        pairs = candidate_pairs(ps, [x.source_id for x in sentences], vectors, rows=rows)
        verdict_file = f"verdicts-{hashlib.sha256(str(settings.judge).encode()).hexdigest()[:10]}.json"
        verdicts = store.read_cache(folder, verdict_file)
        pairs = judged(pairs, sentences, _LazyJudge(settings.judge, progress), 0.9, verdicts,
                       save=lambda v: store.write_cache(folder, verdict_file, v))
        raw = {}
        for a, b in pairs:
            for x in (sentences[a.sentence], sentences[b.sentence]):
                if x.source_id not in raw:
                    with open(manifest.sources[x.source_id]["path"], encoding="utf-8") as f:
                        raw[x.source_id] = f.read()
        flags = [f.to_dict() for f in to_flags(pairs, sentences, raw)]
    manifest["disagreements_file"] = store.write_disagreements(folder, flags)


# Bump when conflicts.positions changes what it returns: cached positions are then recomputed.
POSITIONS_CODE = 1


class _LazyJudge:
    """The pair judge, loaded only when a pair has no cached verdict."""

    def __init__(self, name, progress: Progress = lambda _m: None):
        self.name, self.progress = name, progress

    def judge_many(self, pairs):
        from .judge import get_judge

        self.progress(f"judging {len(pairs)} new pair(s) of opposite statements")
        return get_judge(self.name).judge_many(pairs)


def _remove_stale_records(folder: Path, manifest: store.Manifest) -> None:
    live = {meta["records"] for meta in manifest.sources.values()}
    live |= {str(store.cue_vectors_path(folder, sid, meta["version"]).relative_to(folder)) for sid, meta in manifest.sources.items()}
    live.add(manifest.get("disagreements_file"))
    for sub, keep in ((store.RECORDS, lambda p: True), (store.ANALYSIS, lambda p: p.name.startswith("disagreements-") or p.name.endswith(".tmp"))):
        if (folder / sub).exists():
            for p in (folder / sub).iterdir():
                if keep(p) and str(p.relative_to(folder)) not in live:
                    p.unlink(missing_ok=True)
