"""Follow-ups resolved to the previous turn's subject, on a hand-written corpus about Kneipp therapy."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from assistant.ask.conversation import Turn, phrase_counts, standalone
from assistant.shells import render

DATA = Path(__file__).parent / "data" / "kneipp"
TEXTS = [s for p in sorted(DATA.glob("*.md")) for s in re.split(r"(?<=[.!?])\s+|\n+", p.read_text()) if s.strip()]
COUNTS = phrase_counts(TEXTS)
FOUNDER = ("Kneipp therapy was developed by Sebastian Kneipp, a Bavarian priest who believed cold baths in the "
           "Danube had cured his tuberculosis. He described his methods in the book My Water Cure, published in 1886.")


@pytest.mark.parametrize("question, history, expected", [
    ("Who developed it?", ["What is Kneipp therapy?"], "Who developed Kneipp therapy?"),
    ("Is it painful?", ["Tell me about water treading."], "Is water treading painful?"),
    ("Is that safe?", ["What is water treading?"], "Is water treading safe?"),
    ("How long does it last?", ["What is water treading?"], "How long does water treading last?"),
    ("Who pays for it?", ["Is Kneipp therapy effective?"], "Who pays for Kneipp therapy?"),
    ("Are they safe for people with heart disease?", ["What is the difference between cold affusions and water treading?"],
     "Are cold affusions and water treading safe for people with heart disease?"),
    ("When did he die?", [Turn("Who developed Kneipp therapy?", FOUNDER)], "When did Sebastian Kneipp die?"),
    ("What did his book say?", [Turn("Who developed Kneipp therapy?", FOUNDER)], "What did Sebastian Kneipp's book say?"),
])
def test_a_pronoun_is_read_as_the_previous_subject(question, history, expected):
    assert standalone(question, history, COUNTS, TEXTS) == expected


@pytest.mark.parametrize("question, expected", [
    ("And for children?", "Is water treading safe for children?"),
    ("What about during pregnancy?", "Is water treading safe during pregnancy?"),
    ("What about cold affusions?", "Is cold affusions safe?"),
])
def test_what_about_adds_to_or_swaps_into_the_previous_question(question, expected):
    assert standalone(question, ["Is water treading safe?"], COUNTS, TEXTS) == expected


def test_an_answer_names_the_subject_a_which_question_asked_for():
    turn = Turn("Which exercise means walking through knee-deep water?",
                "Water treading is an exercise in which you walk slowly through knee-deep cold water.")
    assert standalone("How long should it last?", [turn], COUNTS, TEXTS) == "How long should Water treading last?"


@pytest.mark.parametrize("question, expected", [
    ("Is this exercise safe for older people?", "Is water treading safe for older people?"),  # "X is an exercise…"
    ("Is the exercise safe?", "Is water treading safe?"),
])
def test_a_definite_reference_is_the_subject_when_the_corpus_calls_it_so(question, expected):
    assert standalone(question, ["What is water treading?"], COUNTS, TEXTS) == expected


def test_a_definite_reference_the_corpus_does_not_support_is_left_alone():
    assert standalone("Do the legs ache?", ["What is water treading?"], COUNTS, TEXTS) == "Do the legs ache?"


def test_a_pronoun_with_its_antecedent_in_the_question_is_left_alone():
    q = "Does cold water help when it is poured over the leg?"
    assert standalone(q, ["What is water treading?"], COUNTS, TEXTS) == q


@pytest.fixture(scope="module")
def kneipp(tmp_path_factory):
    from assistant import Crosscheck

    base = tmp_path_factory.mktemp("kneipp")
    shutil.copytree(DATA, base / "sources")
    return Crosscheck.open(base / "sources", base / "index")


def test_a_conversation_follows_its_subject_through_the_answers(kneipp):
    chat = kneipp.conversation()
    chat.ask("What is Kneipp therapy?")
    who = chat.ask("Who developed it?")
    assert who.standalone_question == "Who developed Kneipp therapy?"
    assert any("developed by Sebastian Kneipp" in c.quote for c in who.citations)
    when = chat.ask("When did he die?")  # the name comes from the answer, not from any question
    assert when.standalone_question == "When did Sebastian Kneipp die?"
    assert any("died in Bad Wörishofen in 1897" in c.quote for c in when.citations)
    assert all(kneipp.corpus.raw[c.source_id][c.start:c.end] == c.quote for c in when.citations)


def test_history_of_answers_and_answer_dicts_resolve_alike(kneipp):
    first = kneipp.ask("Tell me about water treading.")
    for history in ([first], [first.to_dict()], ["Tell me about water treading."]):
        ans = kneipp.ask("Is it painful?", history=history)
        assert ans.standalone_question == "Is water treading painful?"
        assert any("not painful" in c.quote for c in ans.citations)


def test_the_reading_is_shown_in_the_app_and_the_terminal(kneipp):
    ans = kneipp.ask("Is it painful & <cold>?", history=["Tell me about water treading."])
    html = render.render_answer(ans.to_dict(), {})
    assert "Interpreted as: Is water treading painful &amp; &lt;cold&gt;?" in html
    assert render.answer_text(ans).startswith("Interpreted as: Is water treading painful & <cold>?\n")
    plain = kneipp.ask("Is water treading painful?")
    assert "Interpreted as" not in render.render_answer(plain.to_dict(), {})
    assert "Interpreted as" not in render.answer_text(plain)
