"""The CLI through its real entry point: exact output, exit codes, --help everywhere."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
COMMANDS = ["index", "ask", "chat", "flags", "sources", "serve", "claim", "judge", "eval"]


def run(*args, stdin: str | None = None, cwd=ROOT):
    return subprocess.run([sys.executable, "-m", "assistant", *args], input=stdin, capture_output=True, text=True, cwd=cwd)


@pytest.fixture(scope="module")
def indexed(corpus_dir, tmp_path_factory):
    idx = tmp_path_factory.mktemp("cli-index")
    r = run("index", "--sources", str(corpus_dir), "--index", str(idx))
    assert r.returncode == 0, r.stderr
    assert "index: 3 added" in r.stderr
    return ["--sources", str(corpus_dir), "--index", str(idx)]


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_has_help(command):
    r = run(command, "--help")
    assert r.returncode == 0 and "Usage: crosscheck " + command in r.stdout
    assert ("--index" in r.stdout) == (command not in ("judge", "claim"))


def test_top_level_help_lists_commands():
    r = run("--help")
    assert r.returncode == 0 and all(c in r.stdout for c in COMMANDS)


def test_ask_json_is_the_answer_schema(indexed):
    r = run("ask", "What is foam rolling?", "--json", *indexed)
    assert r.returncode == 0, r.stderr
    d = json.loads(r.stdout)
    assert set(d) >= {"question", "answer", "abstained", "citations", "flags"}
    assert d["question"] == "What is foam rolling?" and d["abstained"] is False
    c = d["citations"][0]
    assert set(c) == {"n", "source_id", "title", "quote", "start", "end"}
    assert any(x["quote"].startswith("Foam rolling is a self-massage technique that uses a dense foam cylinder.")
               for x in d["citations"])


def test_ask_reads_one_question_per_line(indexed):
    r = run("ask", "--json", *indexed, stdin="What is foam rolling?\n\nWhat is the capital of France?\n")
    lines = [json.loads(l) for l in r.stdout.splitlines()]
    assert [(d["question"], d["abstained"]) for d in lines] == [("What is foam rolling?", False), ("What is the capital of France?", True)]


def test_chat_keeps_the_conversation(indexed):
    r = run("chat", "--json", *indexed, stdin="What is foam rolling?\nWho popularised it?\n")
    second = json.loads(r.stdout.splitlines()[1])
    assert second["standalone_question"] == "Who popularised foam rolling?"
    assert any("popularised by sports coaches" in c["quote"] for c in second["citations"])


def test_empty_question_is_exit_2_with_one_line(indexed):
    r = run("ask", "", *indexed)
    assert r.returncode == 2
    assert r.stderr.strip().splitlines()[-1] == "error: the question is empty: type a question about the sources"


def test_missing_sources_is_exit_2(tmp_path):
    r = run("ask", "anything", "--sources", str(tmp_path / "nope"), "--index", str(tmp_path / "idx"))
    assert r.returncode == 2
    assert r.stderr.strip() == f"error: sources folder {tmp_path / 'nope'} does not exist: create it and put .txt, .md or .html articles in it"
    assert r.stdout == ""


def test_sources_lists_titles(indexed):
    r = run("sources", "--json", *indexed)
    titles = {s["id"]: s["title"] for s in json.loads(r.stdout)["sources"]}
    assert titles == {"alpha": "Foam Rolling: A Clinic Guide", "beta": "Why Foam Rolling Beats Everything",
                      "gamma": "Foam rolling & soreness: a trial"}


def test_judge_reads_tab_separated_pairs_and_reports_bad_lines():
    r = run("judge", "--json", stdin="Foam rolling relieves soreness.\tFoam rolling helps with soreness.\nno tab\n")
    assert r.returncode == 2
    d = json.loads(r.stdout)
    assert (d["a"], d["b"], d["label"]) == ("Foam rolling relieves soreness.", "Foam rolling helps with soreness.", "agrees")
    assert 0.5 < d["score"] <= 1.0
    assert r.stderr.strip() == "error: line 2 is not two statements separated by one tab: fix or remove it"


def test_claim_reads_one_sentence_per_line():
    r = run("claim", "--json", stdin="Research proves that foam rolling is much safer than stretching.\nFoam rolling uses a foam cylinder.\n")
    first, second = [json.loads(l) for l in r.stdout.splitlines()]
    assert r.returncode == 0, r.stderr
    assert (first["efficacy_claim"], first["strength"], first["unsupported"]) == (True, "strong", True)
    assert (second["efficacy_claim"], second["unsupported"]) == (False, False)
    assert set(first) >= {"sentence", "efficacy_claim", "strength", "evidence", "unsupported"}
