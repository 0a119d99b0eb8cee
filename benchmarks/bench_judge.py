"""Benchmark the pair judge on outside data (not run in CI; ~40 min on one core).

1. 5-fold cross-validation on HealthVer dev (fixed seed, stratified by label, grouped by claim so
   one claim's pairs never sit on both sides): each fold trains a fresh cross-encoder on SICK TRAIN
   + the other four folds + the generated domain pairs, and is scored on the held-out fold.
   Reduced schedule for time (5 trainings on one core): half of SICK TRAIN per fold, otherwise
   the same recipe as the shipped model (1 epoch, AdamW 5e-5, batch 16, 10% warm-up).
2. Frozen-embedding logistic regression on the same folds (packaged MiniLM, [u, v, |u-v|, u*v]).
3. The committed built-in judge (assistant/models/judge) on SICK TEST.

    .venv/bin/python benchmarks/bench_judge.py [--folds 5] [--sick-fraction 0.5] [--skip-cv]

Per-fold results are cached in /tmp/crosscheck_bench_judge/ so an interrupted run resumes.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "scripts")]

import train_judge as tj  # noqa: E402

ANCHOR = "fine-tuned T5 (Sarrouti et al. 2021), HealthVer test split, ~10k training pairs: macro-F1 79.6, accuracy 80.7"
CACHE = Path("/tmp/crosscheck_bench_judge")


def folds(pairs: list[tj.Pair], k: int, seed: int) -> list[np.ndarray]:
    """Held-out index arrays of a stratified (label), claim-grouped k-fold split."""
    from sklearn.model_selection import StratifiedGroupKFold

    y = [p.label for p in pairs]
    groups = [p.b.lower() for p in pairs]
    split = StratifiedGroupKFold(n_splits=k, shuffle=True, random_state=seed)
    return [test for _, test in split.split(np.zeros(len(y)), y, groups)]


def cv_cross_encoder(hv: list[tj.Pair], parts: list[np.ndarray], seed: int, sick_fraction: float) -> tuple[np.ndarray, np.ndarray]:
    """Out-of-fold logits (a,b) and (b,a) for every HealthVer pair."""
    sick = tj.load_sick(("TRAIN",))
    sick = random.Random(seed).sample(sick, int(len(sick) * sick_fraction))
    generated = tj.generated_pairs(seed)
    ab = np.zeros((len(hv), 3), dtype=np.float32)
    ba = np.zeros_like(ab)
    CACHE.mkdir(exist_ok=True)
    for f, test in enumerate(parts):
        cached = CACHE / f"fold{f}_k{len(parts)}_s{seed}_f{sick_fraction}.npz"
        if cached.exists():
            data = np.load(cached)
        else:
            t0 = time.time()
            held = set(test.tolist())
            train = sick + [p for i, p in enumerate(hv) if i not in held] + generated
            model = tj.train(train, seed=seed, log=lambda m: print(f"  fold {f}: {m}", file=sys.stderr, flush=True))
            fab, fba = tj.both_orders(model, [(hv[i].a, hv[i].b) for i in test])
            np.savez(cached, ab=fab, ba=fba)
            data = {"ab": fab, "ba": fba}
            print(f"  fold {f}: trained on {len(train)} pairs in {time.time() - t0:.0f}s", file=sys.stderr, flush=True)
        ab[test], ba[test] = data["ab"], data["ba"]
    return ab, ba


def cv_logistic(hv: list[tj.Pair], parts: list[np.ndarray], seed: int, sick_fraction: float) -> np.ndarray:
    """Out-of-fold predictions of logistic regression on frozen MiniLM sentence embeddings."""
    from sklearn.linear_model import LogisticRegression

    from assistant.index.embed import Embedder, verified_model_path

    sick = tj.load_sick(("TRAIN",))
    sick = random.Random(seed).sample(sick, int(len(sick) * sick_fraction))
    generated = tj.generated_pairs(seed)
    texts = sorted({t for p in sick + hv + generated for t in (p.a, p.b)})
    vec = dict(zip(texts, Embedder(verified_model_path()).embed(texts)))

    def features(ps: list[tj.Pair]) -> np.ndarray:
        u = np.stack([vec[p.a] for p in ps])
        v = np.stack([vec[p.b] for p in ps])
        return np.hstack([u, v, np.abs(u - v), u * v])

    pred = np.zeros(len(hv), dtype=int)
    for test in parts:
        held = set(test.tolist())
        train = sick + [p for i, p in enumerate(hv) if i not in held] + generated
        clf = LogisticRegression(max_iter=2000, C=1.0, random_state=seed)
        clf.fit(features(train), [p.label for p in train])
        pred[test] = clf.predict(features([hv[i] for i in test]))
    return pred


def per_fold_f1(y: np.ndarray, pred: np.ndarray, parts: list[np.ndarray]) -> str:
    scores = [tj.report(y[t], pred[t])["macro_f1"] for t in parts]
    return f"{np.mean(scores):.3f} ± {np.std(scores):.3f}"


def contradiction_thresholds(y: np.ndarray, probs: np.ndarray) -> list[str]:
    """Refutes precision/recall when 'contradicts' must also reach a probability threshold."""
    rows = []
    for t in (0.5, 0.6, 0.7, 0.8):
        flagged = (probs.argmax(axis=1) == 0) & (probs[:, 0] >= t)
        tp = int((flagged & (y == 0)).sum())
        p = f"{tp / flagged.sum():.3f}" if flagged.sum() else "n/a"
        rows.append(f"    p(contradicts) >= {t}: precision {p} recall {tp / (y == 0).sum():.3f} ({int(flagged.sum())} flagged)")
    return rows


def builtin_on_sick_test() -> dict:
    from assistant.analyse.judge import LABELS, get_judge

    test = tj.load_sick(("TEST",))
    t0 = time.time()
    judged = get_judge().judge_many([(p.a, p.b) for p in test])
    ms = (time.time() - t0) * 1000 / len(test)
    pred = np.array([LABELS.index(j.label) for j in judged])
    return {**tj.report(np.array([p.label for p in test]), pred), "ms_per_pair_both_orders": round(ms, 1)}


def main() -> None:
    ap = argparse.ArgumentParser(description="Benchmark the pair judge.")
    ap.add_argument("--folds", type=int, default=5)
    ap.add_argument("--seed", type=int, default=tj.SEED)
    ap.add_argument("--sick-fraction", type=float, default=0.5)
    ap.add_argument("--skip-cv", action="store_true", help="only the built-in model on SICK TEST")
    ap.add_argument("--skip-lr", action="store_true", help="skip the logistic-regression baseline")
    args = ap.parse_args()
    import torch

    torch.set_num_threads(1)
    print(f"anchor: {ANCHOR}")
    if not args.skip_cv:
        hv = tj.load_healthver()
        y = np.array([p.label for p in hv])
        parts = folds(hv, args.folds, args.seed)
        print(f"\nHealthVer dev, {args.folds}-fold CV (seed {args.seed}, stratified, grouped by claim; "
              f"{len(hv)} pairs; per fold: SICK TRAIN x{args.sick_fraction} + 4 folds + generated pairs, 1 epoch)")
        ab, ba = cv_cross_encoder(hv, parts, args.seed, args.sick_fraction)
        for name, probs in (("cross-encoder, one order (a,b)", tj.softmax(ab)),
                            ("cross-encoder, both orders averaged (the judge)", tj.combined_probs(ab, ba))):
            pred = probs.argmax(axis=1)
            r = tj.report(y, pred)
            print(f"  {name}: macro-F1 {r['macro_f1']:.3f} (per fold {per_fold_f1(y, pred, parts)}), "
                  f"accuracy {r['accuracy']:.3f}, Refutes precision {r['contradicts_precision']:.3f} "
                  f"recall {r['contradicts_recall']:.3f}")
        print("\n".join(contradiction_thresholds(y, tj.combined_probs(ab, ba))))
        if not args.skip_lr:
            pred = cv_logistic(hv, parts, args.seed, args.sick_fraction)
            r = tj.report(y, pred)
            print(f"  frozen-embedding logistic regression: macro-F1 {r['macro_f1']:.3f}, accuracy {r['accuracy']:.3f}, "
                  f"Refutes precision {r['contradicts_precision']:.3f} recall {r['contradicts_recall']:.3f}")
    print(f"\nbuilt-in judge on SICK TEST: {json.dumps(builtin_on_sick_test())}")


if __name__ == "__main__":
    main()
