"""`crosscheck eval`: the score.py rules through the real entry point, on a tiny sauna corpus with gold labels."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from assistant.evaluate import Gold, GoldError, SourceTexts, load_gold, mean_row, score_flags, summary

ROOT = Path(__file__).resolve().parent.parent
SAUNA = Path(__file__).resolve().parent / "data" / "sauna"

# What the shipped analysis gives on tests/data/sauna (timings left out): s05 is answered by abstaining,
# neither expected answer flag is attached, one of two unsupported claims and no disagreement are found.
EXPECTED = {
    "topic": "sauna",
    "answers": {"recall": 0.8, "missed": ["s05"], "oos_abstain": 1.0, "in_scope_abstained": ["s05"],
                "answer_flag_missed": ["s02", "s03"], "bad_offsets": 0, "quotes_checked": 9},
    "chat": {"followups": "1/1", "followups_missed": []},
    "flags": {"unsupported_recall": 0.5, "unsupported_missed": ["melt away belly fat without any exercise"],
              "unsupported_false": [], "unsupported_total": 3, "unsupported_outside_gold": 0,
              "disagree_found": "0/2", "disagree_false": [], "disagree_total": 0, "disagree_outside_gold": 0,
              "unsupported_precision": 1.0, "disagree_precision": None, "bad_offsets": 0},
}


def run(*args):
    return subprocess.run([sys.executable, "-m", "assistant", "eval", *args], capture_output=True, text=True, cwd=ROOT)


def untimed(d):
    """The result without its seconds (``*_s``) and paths, which differ from run to run."""
    if isinstance(d, dict):
        return {k: untimed(v) for k, v in d.items() if not k.endswith("_s") and k not in ("gold", "sources")}
    return d


@pytest.fixture(scope="module")
def topics(tmp_path_factory) -> Path:
    """A topics folder holding a copy of the sauna corpus and its gold file."""
    root = tmp_path_factory.mktemp("topics")
    shutil.copytree(SAUNA, root / "sauna")
    return root


@pytest.fixture(scope="module")
def evaluated_all(topics, tmp_path_factory):
    idx = tmp_path_factory.mktemp("eval-index")
    r = run("--all", str(topics), "--index", str(idx), "--json")
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout), idx


def test_all_json_scores_exactly(evaluated_all):
    result, _ = evaluated_all
    assert [untimed(t) for t in result["topics"]] == [EXPECTED]
    t = result["topics"][0]
    assert all(isinstance(t[s][k], float) for s, k in [("answers", "batch_s"), ("chat", "chat_s"), ("flags", "flags_s")])
    assert untimed(result["mean"]) == {"topic": "mean", "recall": 0.8, "oos_abstain": 1.0, "in_scope_abstained": 1,
                                       "answer_flag_missed": 2, "followups": "1/1", "unsupported_recall": 0.5,
                                       "unsupported_precision": 1.0, "unsupported_false": 0, "unsupported_outside_gold": 0,
                                       "disagree_found": "0/2", "disagree_precision": None, "disagree_false": 0,
                                       "bad_offsets": 0}


def test_one_corpus_prints_one_table_row(evaluated_all, topics):
    _, idx = evaluated_all
    r = run(str(topics / "sauna" / "gold.json"), str(topics / "sauna" / "sources"), "--index", str(idx / "sauna"))
    assert r.returncode == 0, r.stderr
    head, rule, row = r.stdout.strip().splitlines()
    assert head.startswith("| topic | cited | out-of-scope abstained | in-scope abstained | answer flag missed |")
    cells = [c.strip() for c in row.strip("|").split("|")]
    assert cells[:-1] == ["sauna", "0.8", "1", "1", "2", "1/1", "0.5 / 1 (0)", "0", "0/2 / — (0)", "0"]


def test_help():
    r = run("--help")
    assert r.returncode == 0 and "Usage: crosscheck eval [OPTIONS] [GOLD] [SOURCES]" in r.stdout
    assert all(opt in r.stdout for opt in ("--all", "--index", "--json"))


@pytest.mark.parametrize("text, message", [
    pytest.param("{not json", " is not valid JSON (Expecting property name enclosed in double quotes: line 1 column 2 "
                              "(char 1)): fix it or give another gold.json", id="not-json"),
    pytest.param('["a"]', " holds a JSON list, not an object: see ../shared/benchmarks/topics/*/gold.json for the shape",
                 id="list"),
    pytest.param('{"questions": [{"id": "x", "any": ["k"]}]}', ": questions[0] needs a non-empty 'q' (the question): "
                 "fix that entry or remove it", id="no-q"),
    pytest.param('{"disagree_must": [{"a": ["k"], "b": "k"}]}', ": disagree_must[0].b must be a non-empty list of "
                 "non-empty strings: fix that entry or remove it", id="pair-b-not-list"),
])
def test_bad_gold_is_exit_2_with_the_fix(tmp_path, text, message):
    gold = tmp_path / "gold.json"
    gold.write_text(text, encoding="utf-8")
    r = run(str(gold), str(SAUNA / "sources"))
    assert r.returncode == 2 and r.stdout == ""
    assert r.stderr.strip() == f"error: gold file {gold}{message}"


def test_gold_and_all_together_is_a_usage_error(tmp_path):
    r = run(str(SAUNA / "gold.json"), str(SAUNA / "sources"), "--all", str(tmp_path))
    assert r.returncode == 2 and "give GOLD and SOURCES (a gold.json and its articles folder), or --all DIR, not both" in r.stderr


def test_missing_sections_are_empty(tmp_path):
    gold = tmp_path / "gold.json"
    gold.write_text('{"unsupported_must": ["k"]}', encoding="utf-8")
    assert load_gold(gold) == Gold(name=tmp_path.name, unsupported_must=("k",))
    gold.write_text('{"about": "nothing else"}', encoding="utf-8")
    with pytest.raises(GoldError, match="has none of the sections"):
        load_gold(gold)


def _dis(a: str, b: str) -> dict:
    return {"kind": "disagreement", "source_id": "x", "quote": a, "start": 0, "end": 0,
            "other": {"source_id": "y", "quote": b, "start": 0, "end": 0}}


@pytest.mark.parametrize("flag, found, outside", [
    pytest.param(_dis("Saunas  MELT fat.", "It’s only water."), "1/1", 0, id="a-then-b, spaces and case"),
    pytest.param(_dis("It's only water.", "Saunas melt fat."), "1/1", 0, id="b-then-a"),
    pytest.param(_dis("Saunas melt fat.", "Saunas melt fat too."), "0/1", 0, id="both-sides-a: inside gold, not found"),
    pytest.param(_dis("Saunas melt fat.", "Nothing here."), "0/1", 1, id="one-side-only: outside gold"),
])
def test_disagreement_matching(tmp_path, flag, found, outside):
    gold = Gold(name="t", disagree_must=({"id": "D", "a": ["melt fat"], "b": ["it's only water"]},))
    got = score_flags(gold, [flag], SourceTexts(tmp_path))
    assert (got["disagree_found"], got["disagree_outside_gold"]) == (found, outside)


def test_mean_pools_fractions_and_averages_rates():
    rows = [{"topic": "a", "recall": 0.8, "followups": "1/2", "disagree_precision": None},
            {"topic": "b", "recall": 0.6, "followups": "2/2", "disagree_precision": 0.5}]
    assert mean_row(rows) == {"topic": "mean", "recall": 0.7, "followups": "3/4", "disagree_precision": 0.5}
    assert summary({"topic": "t", "answers": {"ok": False, "error": "x"}})["recall"] is None
