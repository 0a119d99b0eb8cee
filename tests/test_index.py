"""The index: incremental by content hash, nothing left behind, atomic against killed builds."""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
from pathlib import Path

import pytest

from assistant.index import store
from assistant.index.analysis import stored_flags
from assistant.api import Crosscheck
from assistant.errors import IndexError_, SourceError
from assistant.index.build import update_index
from assistant.index.records import SourceEntry
from assistant.settings import load_settings

DATA = Path(__file__).parent / "data" / "corpus"


@pytest.fixture
def folders(tmp_path):
    src = tmp_path / "sources"
    shutil.copytree(DATA, src)
    return src, tmp_path / "index"


def vector_ids(settings) -> dict[str, set[str]]:
    """Source ids present in each chromadb collection, read back through a fresh client."""
    store.release_clients()
    manifest = store.read_manifest(settings.index)
    vs = store.VectorStore(settings.index, manifest.collection)
    out = {}
    for kind, coll in (("passages", vs.passages), ("sentences", vs.sentences)):
        out[kind] = {m["source_id"] for m in coll.get(include=["metadatas"])["metadatas"]}
    return out


def test_build_then_nothing_to_do(folders):
    src, idx = folders
    s = load_settings(sources=src, index=idx)
    first = update_index(s)
    assert sorted(first.added) == ["alpha", "beta", "gamma"] and not first.skipped
    again = update_index(s)
    assert (again.added, again.updated, again.removed, sorted(again.unchanged)) == ([], [], [], ["alpha", "beta", "gamma"])
    assert vector_ids(s) == {"passages": {"alpha", "beta", "gamma"}, "sentences": {"alpha", "beta", "gamma"}}


def test_changed_source_is_reembedded_alone_and_old_version_removed(folders):
    src, idx = folders
    s = load_settings(sources=src, index=idx)
    update_index(s)
    old_version = store.read_manifest(idx).sources["beta"].version
    (src / "beta.md").write_text("# Beta\n\nFoam rolling takes ten minutes a day.\n", encoding="utf-8")
    report = update_index(s)
    assert (report.updated, sorted(report.unchanged)) == (["beta"], ["alpha", "gamma"])
    store.release_clients()
    vs = store.VectorStore(idx, store.read_manifest(idx).collection)
    versions = {m["version"] for m in vs.sentences.get(where={"source_id": "beta"}, include=["metadatas"])["metadatas"]}
    assert old_version not in versions and len(versions) == 1
    assert sorted(p.name for p in (idx / "records").iterdir()) == sorted(
        f"{sid}@{m.version}{ext}" for sid, m in store.read_manifest(idx).sources.items() for ext in (".json", ".cues.npy", ".words"))


def test_removed_source_leaves_nothing_behind(folders):
    src, idx = folders
    s = load_settings(sources=src, index=idx)
    update_index(s)
    (src / "gamma.html").unlink()
    report = update_index(s)
    assert report.removed == ["gamma"]
    assert vector_ids(s) == {"passages": {"alpha", "beta"}, "sentences": {"alpha", "beta"}}
    assert not any(p.name.startswith("gamma@") for p in (idx / "records").iterdir())
    cc = Crosscheck.open(src, idx)
    assert all(f.source_id != "gamma" for f in cc.flags()) and "gamma" not in cc.corpus.sources


def test_same_file_twice_is_indexed_once(folders):
    src, idx = folders
    update_index(load_settings(sources=src, index=idx))
    shutil.copy(src / "alpha.txt", src / "alpha-copy.txt")
    report = update_index(load_settings(sources=src, index=idx))
    assert (report.added, sorted(report.unchanged)) == ([], ["alpha", "beta", "gamma"])
    assert report.skipped == {"alpha-copy.txt": "alpha-copy.txt has the same content as alpha.txt: it is indexed once, as alpha"}


def test_bad_files_are_skipped_and_the_rest_indexed(folders):
    src, idx = folders
    s = load_settings(sources=src, index=idx)
    update_index(s)
    (src / "empty.txt").write_bytes(b"")
    (src / "binary.txt").write_bytes(b"\x00\x01\x02")
    report = update_index(s)
    assert sorted(report.unchanged) == ["alpha", "beta", "gamma"]
    assert sorted(report.skipped) == ["binary.txt", "empty.txt"]
    assert "binary.txt looks binary" in report.skipped["binary.txt"]


def test_changed_setting_rebuilds(folders):
    src, idx = folders
    update_index(load_settings(sources=src, index=idx))
    report = update_index(load_settings(sources=src, index=idx, passage_chars=300))
    assert report.rebuilt_because and "setting changed" in report.rebuilt_because
    assert sorted(report.added) == ["alpha", "beta", "gamma"]


def test_changed_judge_reruns_only_the_disagreement_pass(folders):
    from assistant.index.build import is_current
    from assistant.analyse.judge import BUILTIN_DIR

    src, idx = folders
    update_index(load_settings(sources=src, index=idx))
    other = load_settings(sources=src, index=idx, judge=str(BUILTIN_DIR))
    assert not is_current(other)
    report = update_index(other)
    assert (report.rebuilt_because, report.added, sorted(report.unchanged)) == (None, [], ["alpha", "beta", "gamma"])
    assert store.read_manifest(idx).judge == str(BUILTIN_DIR) and is_current(other)


def test_older_format_is_rebuilt_with_a_message(folders):
    src, idx = folders
    s = load_settings(sources=src, index=idx)
    update_index(s)
    m = json.loads((idx / "manifest.json").read_text())
    m["format"] = 0
    (idx / "manifest.json").write_text(json.dumps(m))
    messages = []
    cc = Crosscheck.open(src, idx, progress=messages.append)
    assert any(f"written by index format 0, this Crosscheck reads format {store.FORMAT}" in x for x in messages)
    assert sorted(cc.corpus.sources) == ["alpha", "beta", "gamma"]


def test_killed_build_keeps_previous_index_answering(folders):
    """A build that died after writing new vectors but before the manifest swap: old index still answers,
    and the next build removes the leftovers."""
    src, idx = folders
    s = load_settings(sources=src, index=idx)
    update_index(s)
    before = Crosscheck.open(src, idx, update=False).ask("What is foam rolling?").to_dict()
    manifest = store.read_manifest(idx)
    vs = store.VectorStore(idx, manifest.collection)
    import numpy as np

    index = store.IndexFolder(idx)
    index.journal_add([("alpha", "deadbeefdeadbeef")])
    vs.add("sentence", ["alpha:s0@deadbeefdeadbeef"], np.ones((1, 384), dtype=np.float32) / 384 ** 0.5,
           [{"source_id": "alpha", "version": "deadbeefdeadbeef", "start": 0, "end": 1, "kind": "sentence"}])
    index.records_path("alpha", "deadbeefdeadbeef").write_text('{"partial": true}', encoding="utf-8")
    store.release_clients()
    after = Crosscheck.open(src, idx, update=False).ask("What is foam rolling?").to_dict()
    assert after == before
    update_index(s)
    store.release_clients()
    vs = store.VectorStore(idx, manifest.collection)
    assert vs.sentences.get(where={"version": "deadbeefdeadbeef"})["ids"] == []
    assert not (idx / "records" / "alpha@deadbeefdeadbeef.json").exists()


def _index_contents(idx: Path) -> dict:
    """Everything a reader of the index sees: manifest entries, records, flags and the vector ids."""
    manifest = store.read_manifest(idx)
    store.release_clients()
    vs = store.VectorStore(idx, manifest.collection)
    return {
        "sources": {sid: dataclasses.replace(entry, path="") for sid, entry in manifest.sources.items()},
        "records": {sid: store.IndexFolder(idx).read_records(sid, e.version) for sid, e in manifest.sources.items()},
        "flags": [f.to_dict() for f in stored_flags(idx, manifest)],
        "passages": sorted(vs.passages.get()["ids"]),
        "sentences": sorted(vs.sentences.get()["ids"]),
    }


def test_killed_first_build_resumes_with_the_sources_it_finished(folders, monkeypatch):
    """A first build killed half-way leaves no index, but the next run reuses the sources it had finished,
    re-indexes one whose file changed meanwhile, and ends with exactly what a build from nothing gives."""
    from assistant.index import build as indexer

    src, idx = folders
    s = load_settings(sources=src, index=idx)
    monkeypatch.setattr(indexer, "GROUP_TEXTS", 1)  # one source per group: alpha, beta, then gamma
    real_store_source = indexer._store_source

    def dies_at_gamma(folder, doc, *args):
        if doc.source.id == "gamma":  # its vectors are in chromadb already, its records are not
            raise KeyboardInterrupt
        return real_store_source(folder, doc, *args)

    monkeypatch.setattr(indexer, "_store_source", dies_at_gamma)
    with pytest.raises(KeyboardInterrupt):
        update_index(s)
    assert store.read_manifest(idx) is None and sorted(store.IndexFolder(idx).finished()) == ["alpha", "beta"]
    monkeypatch.setattr(indexer, "_store_source", real_store_source)
    (src / "beta.md").write_text("# Beta\n\nFoam rolling takes ten minutes a day.\n", encoding="utf-8")
    messages: list[str] = []
    report = update_index(s, progress=messages.append)
    assert sorted(report.added) == ["alpha", "beta", "gamma"] and not report.rebuilt_because
    assert "reusing 1 source(s) that an interrupted index run had finished" in messages  # alpha
    assert any(m.startswith("indexing 2 source(s)") for m in messages)  # beta (changed) and gamma
    assert not (idx / store.JOURNAL).exists() and not (idx / store.JOURNAL_DONE).exists()
    fresh = load_settings(sources=src, index=idx.parent / "fresh")
    update_index(fresh)
    assert _index_contents(idx) == _index_contents(fresh.index)
    assert {p.name for p in (idx / "records").iterdir()} == {p.name for p in (fresh.index / "records").iterdir()}


def test_a_torn_journal_line_loses_only_that_source(tmp_path):
    def entry(version: str) -> SourceEntry:
        return SourceEntry(sha256="0" * 64, version=version, title="t", path="p", passages=1, sentences=1)

    index = store.IndexFolder(tmp_path)
    index.journal_done({"a": entry("1")})
    with open(tmp_path / store.JOURNAL_DONE, "a", encoding="utf-8") as f:
        f.write('{"id": "b", "entry": {"vers')  # killed mid-write
    index.journal_done({"c": entry("3")})
    assert index.finished() == {"a": entry("1"), "c": entry("3")}


def test_persistence_across_reopen(folders):
    src, idx = folders
    first = Crosscheck.open(src, idx).ask("What is foam rolling?").to_dict()
    store.release_clients()
    second = Crosscheck.open(src, idx).ask("What is foam rolling?").to_dict()
    assert first == second and not first["abstained"]


def test_unwritable_index_folder(folders, tmp_path):
    src, _ = folders
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    if os.access(locked, os.W_OK):  # root ignores permissions: use a path under a file instead
        locked = tmp_path / "a-file"
        locked.write_text("")
        target = locked / "index"
    else:
        target = locked
    with pytest.raises(IndexError_, match="cannot write the index folder .*: make it writable or pass another one with --index"):
        update_index(load_settings(sources=src, index=target))


def test_missing_sources_folder(tmp_path):
    with pytest.raises(SourceError, match="does not exist"):
        update_index(load_settings(sources=tmp_path / "none", index=tmp_path / "idx"))
