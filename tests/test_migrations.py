"""Index formats: numbered migrations open older indexes without re-embedding; the first release's is rebuilt.

``data/format2/manifest.json`` is the manifest commit 11fd34d (the last code writing format 2) wrote
for ``data/corpus``; the other tests build an index with this code and write the older JSON shapes
over it, checked against that file.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

from assistant.api import Crosscheck
from assistant.errors import StaleIndexError
from assistant.index import migrations, store
from assistant.index.records import Group, GroupMember, Journal, Manifest, SourceRecords, Stance

DATA = Path(__file__).parent / "data"
FORMAT2 = json.loads((DATA / "format2" / "manifest.json").read_text(encoding="utf-8"))
QUESTION = "Is foam rolling a kind of stretching?"


def as_format_2(idx: Path) -> dict:
    """Rewrite the manifest of an index this code built the way format 2 (11fd34d) wrote it; returns that JSON."""
    m = json.loads((idx / store.MANIFEST).read_text(encoding="utf-8"))
    m["format"] = 2
    for sid, e in m["sources"].items():
        e["records"] = f"records/{sid}@{e['version']}.json"
        m["sources"][sid] = {k: e[k] for k in ("sha256", "version", "records", "title", "path", "passages", "sentences")}
    m["disagreements"] = {key: f"analysis/disagreements-{name}.json" for key, name in m.pop("groups").items()}
    (idx / store.MANIFEST).write_text(json.dumps(m), encoding="utf-8")
    return m


def shape(m: dict) -> dict:
    """The keys of a manifest and of its entries, and the pattern of its group paths."""
    return {"keys": list(m), "entry": sorted({k for e in m["sources"].values() for k in e}),
            "groups": sorted({re.sub(r"-\w+\.json$", "-NAME.json", v) for v in m["disagreements"].values()})}


@pytest.fixture
def built(corpus_dir, tmp_path):
    """An index of the tiny corpus built by this code, what it answers, and its vector ids."""
    src = shutil.copytree(corpus_dir, tmp_path / "sources")
    idx = tmp_path / "index"
    cc = Crosscheck.open(src, idx)
    seen = {"flags": [f.to_dict() for f in cc.flags()], "answer": cc.ask(QUESTION).to_dict(),
            "ids": sorted(cc.store.sentences.get()["ids"])}
    store.release_clients()
    return src, idx, seen


def test_the_manifest_11fd34d_wrote_migrates_to_this_format():
    migrated, found = migrations.migrate(json.loads(json.dumps(FORMAT2)), "index")
    assert found == 2 and migrated["format"] == store.FORMAT == 3
    assert migrated["groups"] == {"identity:foam rolling|stretching": "bdf7705d1f597d7f2bfb"}
    assert "disagreements" not in migrated and all("records" not in e for e in migrated["sources"].values())
    manifest = Manifest.from_json(migrated)
    assert (manifest.collection, manifest.fingerprint, manifest.judge) == ("cc_ba6a1dc4_065cba91f0", "065cba91f0", None)
    assert {sid: e.version for sid, e in manifest.sources.items()} == {
        "alpha": "355b1554a4f27b73", "beta": "d60db36b38e783d8", "gamma": "1b55399b17b0ff77"}
    assert Manifest.from_json(manifest.to_json()) == manifest


def test_a_format_2_index_opens_migrated_without_re_embedding(built):
    src, idx, seen = built
    assert shape(as_format_2(idx)) == shape(FORMAT2)  # the old layout as 11fd34d wrote it
    # Read-only, it answers as it is, in memory: nothing is written.
    cc = Crosscheck.open(src, idx, update=False)
    assert cc.corpus.manifest.migrated_from == 2
    assert [f.to_dict() for f in cc.flags()] == seen["flags"] and cc.ask(QUESTION).to_dict() == seen["answer"]
    assert json.loads((idx / store.MANIFEST).read_text(encoding="utf-8"))["format"] == 2
    store.release_clients()
    messages: list[str] = []
    cc = Crosscheck.open(src, idx, progress=messages.append)
    assert f"migrating the index in {idx} from format 2 to 3 (nothing is re-embedded)" in messages
    assert not any(m.startswith(("indexing", "looking for", "judging")) for m in messages), messages
    assert [f.to_dict() for f in cc.flags()] == seen["flags"] and cc.ask(QUESTION).to_dict() == seen["answer"]
    assert sorted(cc.store.sentences.get()["ids"]) == seen["ids"]
    on_disk = json.loads((idx / store.MANIFEST).read_text(encoding="utf-8"))
    assert on_disk["format"] == 3 and "disagreements" not in on_disk and cc.corpus.manifest.migrated_from is None


def test_an_index_of_the_first_release_is_rebuilt_with_a_message(built):
    """Format 1 kept the disagreement flags in the manifest and no cue-sentence vectors: only the model can redo it."""
    src, idx, seen = built
    m = as_format_2(idx)
    m.update(format=1, disagreements=[f for f in seen["flags"] if f["kind"] == "disagreement"])
    (idx / store.MANIFEST).write_text(json.dumps(m), encoding="utf-8")
    messages: list[str] = []
    cc = Crosscheck.open(src, idx, progress=messages.append)
    assert ("the index in {} was written by index format 1, this Crosscheck reads format 3: format 1 (the first "
            "release) stored no cue-sentence vectors or claims per sentence, which only the embedding model can make; "
            "it will be rebuilt from sources").format(idx) in messages
    assert any(m.startswith("indexing 3 source(s)") for m in messages)
    assert [f.to_dict() for f in cc.flags()] == seen["flags"]


@pytest.mark.parametrize("found", [0, 4, "2", None], ids=["zero", "newer", "string", "missing"])
def test_a_format_no_migration_reaches_is_stale(found):
    with pytest.raises(StaleIndexError, match=f"written by index format {found}, this Crosscheck reads format 3; "
                                              "it will be rebuilt from sources"):
        migrations.migrate({**FORMAT2, "format": found}, "index")


def test_format_2_before_groups_keeps_its_one_flag_file():
    old = {k: v for k, v in FORMAT2.items() if k != "disagreements"}
    migrated, _ = migrations.migrate({**old, "disagreements_file": "analysis/disagreements-0123456789ab.json"}, "index")
    assert migrated.get("flag_file") == "0123456789ab" and "groups" not in migrated
    unknown, _ = migrations.migrate({**FORMAT2, "disagreements": {"a:b": "elsewhere/x.json"}}, "index")
    assert "groups" not in unknown  # a path of another shape: the next update redoes the groups


@pytest.mark.parametrize("journal, want", [
    pytest.param([["alpha", "v1"], ["beta", "v2"]], Journal(3, (("alpha", "v1"), ("beta", "v2"))), id="list-before-resume"),
    pytest.param({"collection": "cc_x", "fingerprint": "f", "versions": [["alpha", "v1"]]},
                 Journal(3, (("alpha", "v1"),), "cc_x", "f"), id="11fd34d"),
    pytest.param({"format": 3, "collection": "cc_x", "fingerprint": "f", "versions": [["alpha", "v1"], ["torn"]]},
                 Journal(3, (("alpha", "v1"),), "cc_x", "f"), id="this-format"),
    pytest.param({"format": 9, "versions": [["alpha", "v1"]]}, Journal(3), id="newer-is-unreadable"),
])
def test_the_journal_of_a_killed_build_of_each_format(tmp_path, journal, want):
    (tmp_path / store.JOURNAL).write_text(json.dumps(journal), encoding="utf-8")
    assert store.IndexFolder(tmp_path).journal() == want


def test_records_round_trip_through_their_json(built):
    _src, idx, _seen = built
    index = store.IndexFolder(idx)
    manifest = index.read_manifest()
    for sid, entry in manifest.sources.items():
        raw = json.loads(index.records_path(sid, entry.version).read_text(encoding="utf-8"))
        records = SourceRecords.from_json(raw)
        assert records.to_json() == raw and len(records.claims) == len(records.sentences) == entry.sentences
    (name,) = manifest.groups.values()
    raw = json.loads(index.group_path(name).read_text(encoding="utf-8"))
    assert Group.from_json(raw).to_json() == raw


def test_a_group_member_is_one_short_row():
    member = GroupMember(Stance("a", "v1", 3, "same", "kind of stretching", "x is a kind of y"), 10, 42, "Text.", "Text.")
    assert member.to_json() == ["a", "v1", 3, "same", "kind of stretching", "x is a kind of y", 10, 42, "Text.", "Text."]
    assert GroupMember.from_json(member.to_json()) == member
    with pytest.raises(ValueError, match="a group member has 10 fields, not 9"):
        GroupMember.from_json(member.to_json()[:9])
    with pytest.raises(IndexError, match="a pair names a member the group does not have"):
        Group.from_json({"aspect": "identity", "subject": "a|b", "members": [member.to_json()], "pairs": [[0, 1]]})
