"""Sentence splitting: a table of tricky cases."""

import pytest

from assistant.ingest.segment import split_sentences


def split(text):
    return [text[s:e] for s, e in split_sentences(text)]


@pytest.mark.parametrize(
    "text, expected",
    [
        pytest.param("It works. It helps.", ["It works.", "It helps."], id="two"),
        pytest.param("Dr. Lee agreed. Fine", ["Dr. Lee agreed.", "Fine"], id="abbreviation"),
        pytest.param("Pain, e.g. back pain, eased. Yes.", ["Pain, e.g. back pain, eased.", "Yes."], id="e.g."),
        pytest.param("Smith et al. found it. Good.", ["Smith et al. found it.", "Good."], id="et-al"),
        pytest.param("Is it safe? Mostly! Ok.", ["Is it safe?", "Mostly!", "Ok."], id="question-exclaim"),
        pytest.param('He said "it works." Then left.', ['He said "it works."', "Then left."], id="closing-quote"),
        pytest.param('*"Quoted start. Quoted end."', ["Quoted start.", 'Quoted end."'], id="unbalanced-open-quote"),
        pytest.param("In 86% of cases. 2,500 years ago.", ["In 86% of cases.", "2,500 years ago."], id="digits"),
        pytest.param("J. Smith wrote it.", ["J. Smith wrote it."], id="initial"),
        pytest.param("no end punctuation", ["no end punctuation"], id="no-end"),
        pytest.param("lower. case next", ["lower. case next"], id="lowercase-continues"),
        pytest.param("   ", [], id="blank"),
    ],
)
def test_split_sentences(text, expected):
    assert split(text) == expected
