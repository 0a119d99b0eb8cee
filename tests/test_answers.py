"""Answers: exact provenance, abstention, follow-ups, question errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from assistant.errors import QuestionError

QUESTIONS = [json.loads(l) for l in (Path(__file__).parent.parent / "benchmarks" / "questions.jsonl").read_text().splitlines()]


def raw_of(cc, source_id):
    return open(cc.corpus.sources[source_id].path, encoding="utf-8").read()


def test_every_quote_in_every_seed_answer_is_the_file_text_at_its_offsets(seeds):
    checked = 0
    for q in QUESTIONS:
        ans = seeds.ask(q["question"])
        for c in ans.citations:
            assert raw_of(seeds, c.source_id)[c.start:c.end] == c.quote
            assert f"[{c.n}]" in ans.answer
            checked += 1
        for f in ans.flags:
            assert raw_of(seeds, f.source_id)[f.start:f.end] == f.quote
            if f.other:
                assert raw_of(seeds, f.other.source_id)[f.other.start:f.other.end] == f.other.quote
    assert checked >= 60


def test_every_flag_quote_is_the_file_text_at_its_offsets(seeds):
    for f in seeds.flags():
        assert raw_of(seeds, f.source_id)[f.start:f.end] == f.quote
        if f.other:
            assert raw_of(seeds, f.other.source_id)[f.other.start:f.other.end] == f.other.quote


@pytest.mark.parametrize("question", ["What is the capital of France?", "What is the recommended dose of ibuprofen?",
                                      "Does cupping therapy work?"])
def test_out_of_scope_questions_abstain(seeds, question):
    d = seeds.ask(question).to_dict()
    assert d["abstained"] is True and d["citations"] == [] and d["flags"] == []
    assert d["answer"].startswith("The sources don't cover this question")


def test_abstention_names_the_missing_word_as_asked(seeds):
    assert seeds.ask("Does cupping therapy work?").answer == (
        "The sources don't cover this question: they never mention “cupping”.")


def test_lost_heading_section_is_found_by_an_acupuncture_question(seeds):
    ans = seeds.ask("What is acupuncture intended to do?")
    assert any(c.quote.startswith("Is intended to unblock energy meridians") for c in ans.citations)


def test_answers_draw_on_both_sources_when_both_cover_it(seeds):
    ans = seeds.ask("Is dry needling the same as acupuncture?")
    assert {c.source_id for c in ans.citations} == {"000_13020e898ed032bc", "001_8c0709c5b28505ee"}


def test_follow_up_is_answered_about_the_earlier_subject(seeds):
    ans = seeds.ask("Who developed it?", history=["What is dry needling?"])
    assert ans.standalone_question == "Who developed dry needling?"
    assert any("developed by a Western medical physician" in c.quote for c in ans.citations)
    assert all("acupuncture originated" not in c.quote.lower() for c in ans.citations)


def test_history_accepts_chat_messages(seeds):
    history = [{"role": "user", "content": "What is dry needling?"}, {"role": "assistant", "content": "…"}]
    assert seeds.ask("Who developed it?", history=history).standalone_question == "Who developed dry needling?"


def test_interrogative_sentences_are_never_answers(seeds):
    for q in QUESTIONS[:10]:
        assert all(not c.quote.rstrip().endswith("?") for c in seeds.ask(q["question"]).citations)


@pytest.mark.parametrize(
    "question, message",
    [
        pytest.param("", "the question is empty", id="empty"),
        pytest.param("   \n\t ", "the question is empty", id="blank"),
        pytest.param("needles " * 12_800, "the question is 102,399 characters long, over the 2,000 limit", id="100kB"),
    ],
)
def test_bad_questions(seeds, question, message):
    with pytest.raises(QuestionError, match=message):
        seeds.ask(question)


def test_tiny_corpus_answer_cites_the_study_with_exact_quote(tiny):
    ans = tiny.ask("How much less soreness did runners report with a foam roller?")
    first = ans.citations[0]
    assert (first.source_id, first.title) == ("gamma", "Foam rolling & soreness: a trial")
    raw = open(tiny.corpus.sources["gamma"].path, encoding="utf-8").read()
    assert first.quote == raw[first.start:first.end]
    assert first.quote.startswith("In a 2019 trial, Rivera and colleagues randomised 48 runners")


def test_a_sentence_contradicted_by_many_sources_shows_a_few_warnings_and_counts_the_rest(tmp_path):
    """Seven sources say foam rolling is a kind of stretching, one says they are distinct: the answer
    quoting the one shows MAX_DISAGREEMENTS warnings, says how many more there are, and every shown
    warning cites both sides at their exact offsets."""
    from assistant import Crosscheck
    from assistant.ask.compose import MAX_DISAGREEMENTS

    src = tmp_path / "sources"
    src.mkdir()
    (src / "distinct.md").write_text("# Foam rolling\n\nFoam rolling and stretching are different practices with "
                                     "different goals.\n", encoding="utf-8")
    towns = ["Leeds", "Bath", "York", "Hull", "Derby", "Wells", "Ripon"]
    for town in towns:
        (src / f"clinic_{town.lower()}.md").write_text(
            f"# Notes from {town}\n\nFoam rolling is just a kind of stretching, our {town} team says.\n", encoding="utf-8")
    cc = Crosscheck.open(src, tmp_path / "index")
    ans = cc.ask("Are foam rolling and stretching different practices?")
    assert any(c.source_id == "distinct" for c in ans.citations)
    against = [f for f in cc.flags() if f.kind == "disagreement" and "distinct" in (f.source_id, f.other.source_id)]
    assert len(against) == len(towns)
    shown = [f for f in ans.flags if f.kind == "disagreement"]
    assert len(shown) == MAX_DISAGREEMENTS
    assert ans.answer.count("**The sources disagree**") == MAX_DISAGREEMENTS
    assert f"**{len(towns) - MAX_DISAGREEMENTS} more disagreements**" in ans.answer
    for f in shown:
        for sid, start, end, quote in ((f.source_id, f.start, f.end, f.quote),
                                       (f.other.source_id, f.other.start, f.other.end, f.other.quote)):
            assert raw_of(cc, sid)[start:end] == quote
            assert any((c.source_id, c.start, c.end) == (sid, start, end) for c in ans.citations)
