"""Answer composition: a direct answer first, points grouped by source, list lead-ins with their items,
pronoun sentences with their antecedent, no stray quote marks; every quote is the raw text at its offsets."""

from __future__ import annotations

import pytest

from assistant.ask.compose import announces, trim_quotes
from assistant.types import Sentence
from conftest import DATA, copy_folder


@pytest.fixture(scope="module")
def hammocks(tmp_path_factory):
    from assistant import Crosscheck

    folder = copy_folder(DATA / "hammocks", tmp_path_factory.mktemp("hammocks") / "sources")
    return Crosscheck.open(folder, tmp_path_factory.mktemp("hammocks-index"))


def raw_of(cc, source_id):
    return open(cc.corpus.sources[source_id].path, encoding="utf-8").read()


def exact(cc, ans):
    for c in ans.citations:
        assert raw_of(cc, c.source_id)[c.start:c.end] == c.quote


def test_a_list_lead_in_is_quoted_with_its_items_as_one_span(hammocks):
    ans = hammocks.ask("What benefits can hammocks provide to campers?")
    exact(hammocks, ans)
    raw = raw_of(hammocks, "hanging")
    start = raw.index("Hammocks suit wet and rocky ground")
    end = raw.index("under five minutes.") + len("under five minutes.")
    assert any(c.source_id == "hanging" and (c.start, c.end) == (start, end) for c in ans.citations), ans.answer
    assert raw[start:end].endswith("  3. Quicker Setup: Most hammocks hang in under five minutes.")


def test_a_pronoun_sentence_carries_its_antecedent(hammocks):
    ans = hammocks.ask("Who showed that lying at an angle of about 30 degrees flattens the hammock fabric?")
    exact(hammocks, ans)
    raw = raw_of(hammocks, "hanging")
    start = raw.index("Karin Olsen popularised")
    end = raw.index("under the shoulders.") + len("under the shoulders.")
    first = ans.answer.splitlines()[0]
    assert first.startswith("Karin Olsen popularised the diagonal lay for hammock campers in 1998. She showed"), ans.answer
    assert first.endswith("[1]")
    assert (ans.citations[0].source_id, ans.citations[0].start, ans.citations[0].end) == ("hanging", start, end)


def test_the_direct_answer_comes_first_then_points_grouped_by_source(hammocks):
    ans = hammocks.ask("Why does an underquilt keep a hammock sleeper warm?")
    exact(hammocks, ans)
    lines = [l for l in ans.answer.splitlines() if l.strip()]
    assert lines[0] == ("An underquilt keeps a hammock sleeper warm because a sleeping bag compressed beneath the body "
                        "loses its loft. [1]"), ans.answer
    raw = raw_of(hammocks, "hanging")
    c = ans.citations[0]
    assert c.start == raw.index("An underquilt keeps") and c.quote.endswith("loses its loft.")


def test_supporting_points_follow_grouped_under_their_source_titles(seeds):
    ans = seeds.ask("Is dry needling the same as acupuncture?")
    exact(seeds, ans)
    lines = ans.answer.splitlines()
    assert not lines[0].startswith("- ") and lines[0].endswith("[1]") and lines[1] == ""
    body = lines[: next((i for i, l in enumerate(lines) if l.startswith("⚠️")), len(lines))]
    heads = [l for l in body if l.startswith("**")]
    titles = {s.title for s in seeds.corpus.sources.values()}
    assert heads and all(h.strip("*") in titles for h in heads), ans.answer
    assert len(heads) == len(set(heads)), "each source's points sit under one heading"
    for i, h in enumerate(body):
        if h.startswith("**"):
            assert body[i - 1] == "" and body[i + 1].startswith("- ") and body[i + 1].endswith("]")


def test_stray_quote_marks_are_trimmed_off_span_edges():
    text = '“Hang it low. Sit in it first.” Then tighten.'
    second = text.index("Sit")
    assert text[slice(*trim_quotes(text, second, text.index(" Then")))] == "Sit in it first."
    assert text[slice(*trim_quotes(text, 0, text.index(" Then")))] == text[: text.index(" Then")]
    assert trim_quotes('"Straps"', 0, 8) == (0, 8)
    assert trim_quotes('He said "hang', 8, 13) == (9, 13)


def test_an_intro_that_only_names_the_title_topic_announces_rather_than_answers():
    text = ["This guide covers sleeping in a hammock.", "Sleeping Tips", "Hang the straps at 30 degrees to avoid a stiff neck."]
    sents = [Sentence("g:s0", "g", "g:p0", 0, 40, text[0], "Sleeping in a Hammock"),
             Sentence("g:s1", "g", "g:p1", 55, 106, text[2], "Sleeping Tips")]
    titles = {"g": "Sleeping in a Hammock"}
    assert announces(sents, 0, "How do I avoid a stiff neck when sleeping in a hammock?", titles)
    assert not announces(sents, 1, "How do I avoid a stiff neck when sleeping in a hammock?", titles)
    assert not announces(sents, 0, "What is sleeping in a hammock?", titles), "the question asks only the title's topic"
