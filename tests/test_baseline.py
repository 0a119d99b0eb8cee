"""`crosscheck eval --baseline`: the plain LangChain Chroma dense top-5 next to Crosscheck's cited recall."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from assistant.errors import ModelError
from assistant.evaluate import Gold, score_baseline, summary
from assistant.shells.render import eval_table

ROOT = Path(__file__).resolve().parent.parent
SAUNA = Path(__file__).resolve().parent / "data" / "sauna"


def test_score_baseline_counts_a_key_in_any_chunk():
    gold = Gold(name="t", questions=({"id": "a", "q": "?", "any": ["Hot  DRY air"]},
                                     {"id": "b", "q": "?", "any": ["ten minutes"]}))
    got = score_baseline(gold, [["x", "sitting in hot dry air"], ["twenty minutes"]])
    assert got == {"recall": 0.5, "missed": ["b"]}


def test_chunks_are_raw_text_of_at_most_500_characters():
    from assistant.index.baseline import DenseBaseline

    base = DenseBaseline(SAUNA / "sources")
    try:
        top = base.top("Is sauna use linked to fewer heart attacks?", 5)
    finally:
        base.close()
    raw = "".join(p.read_text(encoding="utf-8") for p in (SAUNA / "sources").iterdir())
    assert len(top) == 5 and all(len(c) <= 500 and c in raw for c in top)
    assert any("followed 2,315 Finnish men" in c for c in top)


def test_missing_bench_extra_names_the_install(monkeypatch, tmp_path):
    from assistant.index.baseline import DenseBaseline

    monkeypatch.setitem(sys.modules, "langchain_chroma", None)  # as if the package were not installed
    with pytest.raises(ModelError, match=r"needs langchain_chroma, .*run `pip install -e '\.\[bench\]'`"):
        DenseBaseline(tmp_path)


def test_table_shows_the_baseline_column_only_when_measured():
    row = summary({"topic": "t", "answers": {"recall": 0.6}, "baseline": {"recall": 0.9}})
    assert row["baseline_recall"] == 0.9
    head, _, cells = eval_table([row]).splitlines()
    assert head.startswith("| topic | cited | baseline top-5 | out-of-scope abstained |")
    assert cells.startswith("| t | 0.6 | 0.9 |")
    assert "baseline" not in eval_table([summary({"topic": "t", "answers": {"recall": 0.6}})])


def test_eval_baseline_through_the_cli(tmp_path):
    r = subprocess.run([sys.executable, "-m", "assistant", "eval", str(SAUNA / "gold.json"), str(SAUNA / "sources"),
                        "--index", str(tmp_path / "index"), "--baseline", "--json"],
                       capture_output=True, text=True, cwd=ROOT)
    assert r.returncode == 0, r.stderr
    base = json.loads(r.stdout)["baseline"]
    assert base["recall"] == round(1 - len(base["missed"]) / 5, 3) and base["chunks"] > 5
    assert "s04" not in base["missed"]  # "followed 2,315 Finnish men" is in a top-5 chunk
