"""The pair judge: does statement B contradict, agree with, or say nothing about statement A?

Pluggable: the built-in cross-encoder trained by ``scripts/train_judge.py`` (default), any
sentence-transformers ``CrossEncoder`` NLI model folder, or a LangChain chat model. The judge is a
filter with calibrated probabilities, not a verdict: ``disagreements.py`` combines it with structural
rules (same subject and aspect, polarity, antonyms) before anything is flagged.
"""

from __future__ import annotations

import functools
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Literal, Mapping, Protocol

from ..errors import ModelError

if TYPE_CHECKING:
    from langchain_core.language_models import BaseChatModel

Label = Literal["contradicts", "agrees", "unrelated"]
LABELS: tuple[Label, ...] = ("contradicts", "agrees", "unrelated")
BUILTIN_DIR = Path(__file__).parent.parent / "models" / "judge"
META_FILE = "crosscheck_judge.json"  # written by scripts/train_judge.py: temperature, data, scores
BATCH_SIZE = 32
# NLI label names (any case) -> ours; a model whose config names none of these is read in our order.
_NLI_NAMES: dict[str, Label] = {
    "contradiction": "contradicts", "contradicts": "contradicts", "contradict": "contradicts", "refutes": "contradicts",
    "entailment": "agrees", "entails": "agrees", "agrees": "agrees", "supports": "agrees",
    "neutral": "unrelated", "unrelated": "unrelated", "not_enough_info": "unrelated",
}


@dataclass(frozen=True)
class Judgement:
    """The judge's label for a pair and its probability; ``probabilities`` holds all three."""

    label: Label
    score: float
    probabilities: Mapping[str, float] = field(default_factory=dict, compare=False)

    def to_dict(self) -> dict:
        return {"label": self.label, "score": self.score}


class Judge(Protocol):
    """Anything that labels statement pairs."""

    def judge_many(self, pairs: list[tuple[str, str]]) -> list[Judgement]: ...


def label_order(id2label: Mapping[int, str] | None) -> list[Label]:
    """Our label for each class id of a 3-way model: from its config names, else our own order."""
    names = [str((id2label or {}).get(i, "")).strip().lower() for i in range(3)]
    mapped = [_NLI_NAMES.get(n) for n in names]
    if None in mapped or len(set(mapped)) != 3:
        return list(LABELS)
    return mapped  # type: ignore[return-value]


def combine(prob_ab: list[float], prob_ba: list[float], order: list[Label]) -> Judgement:
    """One judgement from both orders' class probabilities (mean), keyed by our label names."""
    probs = {order[i]: (prob_ab[i] + prob_ba[i]) / 2 for i in range(3)}
    label = max(LABELS, key=lambda k: probs[k])
    return Judgement(label, round(float(probs[label]), 4), {k: round(float(v), 4) for k, v in probs.items()})


class CrossEncoderJudge:
    """A sentence-transformers CrossEncoder NLI model, scored on (a, b) and (b, a) and averaged.

    Averaging both orders makes the judge symmetric and raised contradiction precision on short
    domain pairs (benchmarks README: ~0.75 at recall ~0.5). A ``crosscheck_judge.json`` next to
    the weights may carry a softmax temperature fitted on held-out data (calibration).
    """

    def __init__(self, path: str | Path, batch_size: int = BATCH_SIZE):
        self.path = Path(path).expanduser()
        _check_model_folder(self.path)
        import torch
        from sentence_transformers import CrossEncoder

        try:
            # fp16 weights on disk are loaded as fp32: CPU matmuls in fp16 are slow or unsupported.
            self.model = CrossEncoder(str(self.path), device="cpu", local_files_only=True,
                                      model_kwargs={"dtype": torch.float32})
        except Exception as exc:  # transformers raises many types for a broken folder
            raise ModelError(f"cannot load a cross-encoder from {self.path}: {exc}. "
                             "Pass a sentence-transformers CrossEncoder folder (config.json + weights + tokenizer).") from exc
        self.model.float()
        config = self.model.transformers_model.config
        if config.num_labels != 3:
            raise ModelError(f"{self.path} has {config.num_labels} output labels; the judge needs a 3-way NLI model "
                             "(contradiction / entailment / neutral)")
        self.order = label_order(config.id2label)
        self.temperature = _read_meta(self.path).get("temperature", 1.0)
        self.batch_size = batch_size

    def judge_many(self, pairs: list[tuple[str, str]]) -> list[Judgement]:
        """Judge each (a, b) pair; an empty list gives an empty list."""
        if not pairs:
            return []
        both = [(a, b) for a, b in pairs] + [(b, a) for a, b in pairs]
        probs = self._probabilities(both)
        n = len(pairs)
        return [combine(probs[i], probs[n + i], self.order) for i in range(n)]

    def judge(self, a: str, b: str) -> Judgement:
        return self.judge_many([(a, b)])[0]

    def _probabilities(self, pairs: list[tuple[str, str]]) -> list[list[float]]:
        import torch

        logits = self.model.predict(pairs, batch_size=self.batch_size, activation_fn=torch.nn.Identity(),
                                    convert_to_tensor=True, show_progress_bar=False)
        return torch.softmax(logits.float() / self.temperature, dim=-1).tolist()


def _check_model_folder(path: Path) -> None:
    if path.resolve() == BUILTIN_DIR.resolve() and not (path / "config.json").is_file():
        raise ModelError(f"the built-in judge weights are missing from {path}: reinstall Crosscheck from a full "
                         "clone, or retrain them with `python scripts/train_judge.py`")
    if not path.is_dir():
        raise ModelError(f"no judge model folder at {path}: pass 'builtin' or the path of a sentence-transformers "
                         "CrossEncoder NLI model folder")
    if not (path / "config.json").is_file():
        raise ModelError(f"{path} has no config.json, so it is not a CrossEncoder model folder: pass the folder that "
                         "holds config.json, the weights and the tokenizer files")


def _read_meta(path: Path) -> dict:
    meta = path / META_FILE
    if not meta.is_file():
        return {}
    try:
        return json.loads(meta.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ModelError(f"{meta} is not valid JSON ({exc}): restore it from git or retrain the judge") from exc


CHAT_SYSTEM = (
    "You compare two statements from health articles. Answer with exactly one word:\n"
    "contradicts - they cannot both be true, or they take opposite positions on the same point;\n"
    "agrees - they say the same thing, possibly in other words;\n"
    "unrelated - they are about different things, or neither follows from the other."
)
_REPLY = re.compile(r"^\W*(contradicts|agrees|unrelated)\W*$", re.I)


class ChatModelJudge:
    """A LangChain chat model asked for one of the three labels; the reply is parsed strictly.

    A chat model gives no probability, so ``score`` is 1.0 for every parsed label.
    """

    def __init__(self, llm: BaseChatModel, system_prompt: str = CHAT_SYSTEM):
        self.llm = llm
        self.system_prompt = system_prompt

    def messages(self, a: str, b: str) -> list:
        from langchain_core.messages import HumanMessage, SystemMessage

        return [SystemMessage(self.system_prompt), HumanMessage(f"Statement A: {a}\nStatement B: {b}\nLabel:")]

    def judge_many(self, pairs: list[tuple[str, str]]) -> list[Judgement]:
        """Ask the model about each pair; raises ModelError on a reply that is not exactly one label."""
        if not pairs:
            return []
        replies = self.llm.batch([self.messages(a, b) for a, b in pairs])
        return [parse_reply(_text(r)) for r in replies]

    def judge(self, a: str, b: str) -> Judgement:
        return self.judge_many([(a, b)])[0]


def _text(reply) -> str:
    content = getattr(reply, "content", reply)
    if isinstance(content, list):  # content blocks
        content = "".join(c.get("text", "") if isinstance(c, dict) else str(c) for c in content)
    return str(content)


def parse_reply(text: str) -> Judgement:
    """The label in a chat reply that is one label word (case and punctuation ignored), else ModelError."""
    m = _REPLY.match(text.strip())
    if not m:
        raise ModelError(f"the chat model answered {text[:80]!r} instead of one of contradicts / agrees / unrelated: "
                         "use a model that follows instructions, or a CrossEncoder judge")
    label: Label = m.group(1).lower()  # type: ignore[assignment]
    return Judgement(label, 1.0, {k: float(k == label) for k in LABELS})


def get_judge(spec: str | None = None) -> Judge:
    """The judge for a spec: None or "builtin" -> the trained model shipped in assistant/models/judge;
    a folder path -> that CrossEncoder NLI model. Loaded once per folder. (A chat model judge is
    built in code: ``ChatModelJudge(llm)``.)

    Raises:
        ModelError: the folder is missing or is not a 3-way CrossEncoder.
    """
    path = BUILTIN_DIR if spec in (None, "", "builtin") else Path(str(spec)).expanduser()
    return _load(str(path.resolve()))


@functools.cache
def _load(path: str) -> CrossEncoderJudge:
    return CrossEncoderJudge(path)
