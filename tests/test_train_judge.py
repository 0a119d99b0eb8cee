"""scripts/train_judge.py end to end on a 200-pair smoke plan: checkpoints, curve, resume, export, load."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))

pytestmark = pytest.mark.slow


def _run(out: Path, *extra: str) -> None:
    import train_judge

    train_judge.main(["--out", str(out), "--limit", "200", "--ckpt-every", "64", *extra])


def test_smoke_run_checkpoints_resumes_to_the_same_weights_and_loads_as_a_judge(tmp_path, capsys):
    from assistant.analyse.judge import LABELS, CrossEncoderJudge

    out = tmp_path / "judge"
    _run(out)
    curve = [json.loads(line) for line in (out / "curve.jsonl").read_text().splitlines()]
    seen = [row["pairs"] for row in curve]
    assert seen == sorted(seen) and seen[-1] == 200 and len(seen) >= 3
    assert {"taxinli_acc", "healthver_dev", "scifact_dev"} <= set(curve[-1])
    assert len(list(out.glob("ckpt-*"))) == 2  # only the last two are kept
    first = (out / "final" / "model.safetensors").read_bytes()
    assert len(first) < 50_000_000  # fp16

    # Interrupt after the second-to-last checkpoint: --resume continues and ends on the same weights.
    shutil.rmtree(sorted(out.glob("ckpt-*"))[-1])
    shutil.rmtree(out / "final")
    _run(out, "--resume")
    assert "resumed from" in capsys.readouterr().out
    assert [json.loads(line)["pairs"] for line in (out / "curve.jsonl").read_text().splitlines()] == seen
    assert (out / "final" / "model.safetensors").read_bytes() == first

    meta = json.loads((out / "final" / "crosscheck_judge.json").read_text())
    assert {row["source"] for row in meta["mix"]} >= {"snli", "healthver_train", "scifact_train", "generated_templates"}
    assert "Smoke run" in (out / "final" / "TRAINING.md").read_text()
    judgements = CrossEncoderJudge(out / "final").judge_many([("Kelp tea cures gout.", "Kelp tea does not cure gout.")])
    assert judgements[0].label in LABELS and abs(sum(judgements[0].probabilities.values()) - 1) < 0.01
