"""Faults: a real kill -9 during `crosscheck index`, a damaged index folder, two index runs at once."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

from assistant.index import store
from assistant.api import Crosscheck

ROOT = Path(__file__).resolve().parent.parent


def cli(*args) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "assistant", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, cwd=ROOT)


def test_kill_9_during_index_keeps_the_previous_index_answering(corpus_dir, tmp_path):
    src = tmp_path / "sources"
    shutil.copytree(corpus_dir, src)
    idx = tmp_path / "index"
    before = Crosscheck.open(src, idx).ask("What is foam rolling?").to_dict()
    store.release_clients()
    for k in range(30):
        (src / f"extra{k:02d}.txt").write_text(
            "\n\n".join(f"Extra article {k}, paragraph {j}: foam rolling notes number {j} for runners." for j in range(8)),
            encoding="utf-8")
    proc = cli("index", "--sources", str(src), "--index", str(idx))
    # Kill it mid-build: new vectors and record files written, manifest not yet swapped.
    deadline = time.time() + 300
    while time.time() < deadline and not any(p.name.startswith("extra") for p in (idx / "records").iterdir()):
        time.sleep(0.02)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL
    assert (idx / store.JOURNAL).exists()  # it died with work in flight
    assert sorted(store.read_manifest(idx).sources) == ["alpha", "beta", "gamma"]
    after = Crosscheck.open(src, idx, update=False).ask("What is foam rolling?").to_dict()
    assert after == before
    store.release_clients()
    done = cli("index", "--sources", str(src), "--index", str(idx))
    _, err = done.communicate(timeout=600)
    assert done.returncode == 0, err
    assert "30 added" in err
    manifest = store.read_manifest(idx)
    assert len(manifest.sources) == 33 and not (idx / store.JOURNAL).exists()
    live = {f"{sid}@{e.version}{ext}" for sid, e in manifest.sources.items() for ext in (".json", ".cues.npy", ".words")}
    assert {p.name for p in (idx / "records").iterdir()} == live


def test_damaged_index_folder_is_rebuilt_with_a_message(corpus_dir, tmp_path):
    idx = tmp_path / "index"
    Crosscheck.open(corpus_dir, idx)
    store.release_clients()
    (idx / "manifest.json").write_text('{"format": 1, "sources": {', encoding="utf-8")  # half-written
    messages: list[str] = []
    cc = Crosscheck.open(corpus_dir, idx, progress=messages.append)
    assert any("index manifest" in m and "is damaged" in m and "rebuilt from sources" in m for m in messages)
    assert sorted(cc.corpus.sources) == ["alpha", "beta", "gamma"]


def test_two_index_runs_at_once_never_corrupt(corpus_dir, tmp_path):
    idx = tmp_path / "index"
    runs = [cli("index", "--sources", str(corpus_dir), "--index", str(idx)) for _ in range(2)]
    outputs = [r.communicate(timeout=600) for r in runs]
    assert [r.returncode for r in runs] == [0, 0], outputs
    errs = "".join(err for _, err in outputs)
    assert errs.count("3 added") == 1  # one built it; the other waited, then found nothing to do
    assert "3 unchanged" in errs
    assert sorted(json.loads((idx / "manifest.json").read_text())["sources"]) == ["alpha", "beta", "gamma"]
