"""The one tokenizer (assistant/text.py) at its two grains."""

from __future__ import annotations

import pytest

from assistant.text import word_spans, words


@pytest.mark.parametrize(
    "text, compounds, expected",
    [
        pytest.param("Don't stop: dry-needling WORKS.", False, ["don't", "stop", "dry", "needling", "works"], id="words"),
        pytest.param("Don't stop: dry-needling WORKS.", True, ["don't", "stop", "dry-needling", "works"], id="compounds"),
        pytest.param("It’s side-effect-free, 95% of 1,200.", False, ["it’s", "side", "effect", "free", "95", "of", "1", "200"],
                     id="curly-apostrophe-and-numbers"),
        pytest.param("It’s side-effect-free, 95% of 1,200.", True, ["it’s", "side-effect-free", "95", "of", "1", "200"],
                     id="compound-chain"),
        pytest.param("Café — naïve", False, ["caf", "na", "ve"], id="ascii-letters-only"),
    ],
)
def test_words(text, compounds, expected):
    assert words(text, compounds=compounds) == expected


def test_word_spans_point_into_the_lowered_text():
    text = "Cupping can help relieve pain."
    spans = word_spans(text, compounds=True)
    assert [w for w, _ in spans] == words(text, compounds=True)
    assert [text.lower()[i:i + len(w)] for w, i in spans] == [w for w, _ in spans]
