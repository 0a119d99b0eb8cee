"""The index: incremental by content hash, nothing left behind, atomic against killed builds."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from assistant import store
from assistant.core import Crosscheck
from assistant.errors import IndexError_, SourceError
from assistant.indexer import update_index
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
    vs = store.VectorStore(settings.index, manifest["collection"])
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
    old_version = store.read_manifest(idx).sources["beta"]["version"]
    (src / "beta.md").write_text("# Beta\n\nFoam rolling takes ten minutes a day.\n", encoding="utf-8")
    report = update_index(s)
    assert (report.updated, sorted(report.unchanged)) == (["beta"], ["alpha", "gamma"])
    store.release_clients()
    vs = store.VectorStore(idx, store.read_manifest(idx)["collection"])
    versions = {m["version"] for m in vs.sentences.get(where={"source_id": "beta"}, include=["metadatas"])["metadatas"]}
    assert old_version not in versions and len(versions) == 1
    assert sorted(p.name for p in (idx / "records").iterdir()) == sorted(
        f"{sid}@{m['version']}{ext}" for sid, m in store.read_manifest(idx).sources.items() for ext in (".json", ".cues.npy"))


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
    from assistant.indexer import is_current
    from assistant.judge import BUILTIN_DIR

    src, idx = folders
    update_index(load_settings(sources=src, index=idx))
    other = load_settings(sources=src, index=idx, judge=str(BUILTIN_DIR))
    assert not is_current(other)
    report = update_index(other)
    assert (report.rebuilt_because, report.added, sorted(report.unchanged)) == (None, [], ["alpha", "beta", "gamma"])
    assert store.read_manifest(idx)["judge"] == str(BUILTIN_DIR) and is_current(other)


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
    vs = store.VectorStore(idx, manifest["collection"])
    import numpy as np

    store.journal_add(idx, [["alpha", "deadbeefdeadbeef"]])
    vs.add("sentence", ["alpha:s0@deadbeefdeadbeef"], np.ones((1, 384), dtype=np.float32) / 384 ** 0.5,
           [{"source_id": "alpha", "version": "deadbeefdeadbeef", "start": 0, "end": 1, "kind": "sentence"}])
    store.write_records(idx, "alpha", "deadbeefdeadbeef", {"partial": True})
    store.release_clients()
    after = Crosscheck.open(src, idx, update=False).ask("What is foam rolling?").to_dict()
    assert after == before
    update_index(s)
    store.release_clients()
    vs = store.VectorStore(idx, manifest["collection"])
    assert vs.sentences.get(where={"version": "deadbeefdeadbeef"})["ids"] == []
    assert not (idx / "records" / "alpha@deadbeefdeadbeef.json").exists()


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
