"""The pair judge: the committed built-in model on clear pairs, loading errors, the chat-model judge."""

from __future__ import annotations

import pytest
from langchain_core.language_models.fake_chat_models import FakeListChatModel

from assistant.analyse import judge as judge_mod
from assistant.errors import ModelError
from assistant.analyse.judge import ChatModelJudge, CrossEncoderJudge, Judgement, get_judge, label_order, parse_reply

CLEAR_PAIRS = [
    pytest.param(
        "The drug lowered blood pressure in adults with hypertension.",
        "The drug did not lower blood pressure in adults with hypertension.",
        "contradicts",
        id="negation-contradicts",
    ),
    pytest.param(
        "Regular exercise reduces the risk of heart disease.",
        "Exercising regularly lowers the risk of heart disease.",
        "agrees",
        id="paraphrase-agrees",
    ),
    pytest.param(
        "Vitamin C is found in citrus fruits such as oranges.",
        "The clinic is closed on public holidays.",
        "unrelated",
        id="different-topics-unrelated",
    ),
]


@pytest.fixture(scope="session")
def builtin():
    return get_judge()


@pytest.mark.parametrize(("a", "b", "expected"), CLEAR_PAIRS)
def test_builtin_judge_on_clear_pairs(builtin, a, b, expected):
    assert builtin.judge_many([(a, b)])[0].label == expected


def test_both_orders_are_scored(builtin):
    a, b = "Massage relieves muscle pain.", "Massage does not relieve muscle pain."
    ab, ba = builtin.judge_many([(a, b), (b, a)])
    assert ab.label == ba.label == "contradicts"
    assert ab.score == pytest.approx(ba.score, abs=1e-3)


def test_probabilities_are_calibrated_distribution(builtin):
    j = builtin.judge_many([("Yoga can ease back pain.", "Yoga may help with back pain.")])[0]
    assert set(j.probabilities) == {"contradicts", "agrees", "unrelated"}
    assert sum(j.probabilities.values()) == pytest.approx(1.0, abs=1e-3)
    assert j.score == max(j.probabilities.values())
    assert j.to_dict() == {"label": j.label, "score": j.score}


def test_empty_input_gives_empty_output(builtin):
    assert builtin.judge_many([]) == []


def test_get_judge_is_cached():
    assert get_judge() is get_judge("builtin")


def test_missing_folder_raises_readable_model_error(tmp_path):
    missing = tmp_path / "no-such-model"
    with pytest.raises(ModelError, match=r"no judge model folder at .*no-such-model: pass 'builtin'"):
        get_judge(str(missing))


def test_folder_without_config_raises_model_error(tmp_path):
    with pytest.raises(ModelError, match="has no config.json"):
        CrossEncoderJudge(tmp_path)


def test_missing_builtin_weights_say_how_to_retrain(tmp_path, monkeypatch):
    monkeypatch.setattr(judge_mod, "BUILTIN_DIR", tmp_path / "judge")
    with pytest.raises(ModelError, match=r"built-in judge weights are missing .* scripts/train_judge.py"):
        CrossEncoderJudge(tmp_path / "judge")


@pytest.mark.parametrize(
    ("id2label", "expected"),
    [
        pytest.param({0: "CONTRADICTION", 1: "ENTAILMENT", 2: "NEUTRAL"}, ["contradicts", "agrees", "unrelated"], id="upper"),
        pytest.param({0: "entailment", 1: "neutral", 2: "contradiction"}, ["agrees", "unrelated", "contradicts"], id="mnli-order"),
        pytest.param({0: "LABEL_0", 1: "LABEL_1", 2: "LABEL_2"}, ["contradicts", "agrees", "unrelated"], id="unnamed"),
        pytest.param(None, ["contradicts", "agrees", "unrelated"], id="none"),
    ],
)
def test_label_order_from_config(id2label, expected):
    assert label_order(id2label) == expected


def test_chat_model_judge_parses_replies():
    llm = FakeListChatModel(responses=["contradicts", " Agrees.", "UNRELATED\n"])
    judged = ChatModelJudge(llm).judge_many([("a", "b"), ("c", "d"), ("e", "f")])
    assert judged == [Judgement("contradicts", 1.0), Judgement("agrees", 1.0), Judgement("unrelated", 1.0)]


def test_chat_model_judge_prompt_holds_both_statements():
    messages = ChatModelJudge(FakeListChatModel(responses=["agrees"])).messages("Cupping is safe.", "Cupping is risky.")
    assert messages[-1].content == "Statement A: Cupping is safe.\nStatement B: Cupping is risky.\nLabel:"


@pytest.mark.parametrize(
    "reply",
    [pytest.param("I think they contradict each other.", id="sentence"), pytest.param("agrees or unrelated", id="two"),
     pytest.param("", id="empty"), pytest.param("contradiction", id="nli-name")],
)
def test_chat_reply_that_is_not_one_label_raises(reply):
    with pytest.raises(ModelError, match="instead of one of contradicts / agrees / unrelated"):
        parse_reply(reply)
