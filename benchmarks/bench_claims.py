"""Benchmark the claim analysis: classifier CV macro-F1 and unsupported-claim precision/recall on the seed labels.

    .venv/bin/python benchmarks/bench_claims.py            # seed P/R + the CV numbers saved by training
    .venv/bin/python benchmarks/bench_claims.py --cv       # re-run the 5-fold CV too (~30 min on one core)
    .venv/bin/python benchmarks/bench_claims.py --errors   # also list every disagreement with the labels

Seed sentences and contexts come from the real loader and segmenter; a label whose sentence the segmenter
no longer produces is reported, not silently dropped.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

SEEDS = Path("/work/shared/seeds")
LABELS = ROOT / "benchmarks" / "claims_seed_labels.jsonl"
MODES = ("lexicon", "classifier", "combined")


def seed_items() -> tuple[list[dict], list[str], list[str]]:
    """Labelled rows with the segmenter's context for each; raises if a label no longer matches a sentence."""
    from assistant.ingest.segment import segment
    from assistant.ingest.sources import load_document

    labels = [json.loads(line) for line in LABELS.read_text(encoding="utf-8").splitlines() if line.strip()]
    contexts: dict[tuple[str, str], str] = {}
    for path in sorted(SEEDS.glob("*.txt")):
        sents = segment(load_document(path)).sentences
        for i, s in enumerate(sents):
            contexts.setdefault((s.source_id, s.text), claim_context(sents, i))
    missing = [r["sentence"] for r in labels if (r["source_id"], r["sentence"]) not in contexts]
    if missing:
        raise SystemExit(f"{len(missing)} labelled sentences are not produced by the segmenter, e.g. {missing[0]!r}: "
                         "re-align benchmarks/claims_seed_labels.jsonl")
    return labels, [r["sentence"] for r in labels], [contexts[(r["source_id"], r["sentence"])] for r in labels]


def claim_context(sentences, i: int, window: int = 2) -> str:
    """Heading on its own line, then up to ``window`` preceding sentences of the same section."""
    s = sentences[i]
    prev = [p.text for p in sentences[max(0, i - window):i] if p.heading == s.heading and p.source_id == s.source_id]
    return f"{s.heading or ''}\n{' '.join(prev)}"


def prf(gold: list[bool], pred: list[bool]) -> tuple[float, float, float, int, int, int]:
    tp = sum(g and p for g, p in zip(gold, pred))
    fp = sum(p and not g for g, p in zip(gold, pred))
    fn = sum(g and not p for g, p in zip(gold, pred))
    precision = tp / (tp + fp) if tp + fp else 1.0
    recall = tp / (tp + fn) if tp + fn else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return precision, recall, f1, tp, fp, fn


def seed_report(show_errors: bool) -> dict:
    from assistant.analyse.claims import analyse_many

    labels, sentences, contexts = seed_items()
    gold = [r["unsupported"] for r in labels]
    gold_claim = [r["efficacy_claim"] for r in labels]
    results = {}
    print(f"Seed labels: {len(labels)} sentences, {sum(gold_claim)} efficacy claims, {sum(gold)} unsupported")
    print(f"  {'part':12s} {'unsupported P':>13s} {'R':>6s} {'F1':>6s}  {'tp/fp/fn':>9s}   claim P/R     strength acc")
    for mode in MODES:
        got = analyse_many(sentences, contexts, mode=mode)
        p, r, f1, tp, fp, fn = prf(gold, [c.unsupported for c in got])
        cp, cr, *_ = prf(gold_claim, [c.efficacy_claim for c in got])
        both = [(row["strength"], c.strength) for row, c in zip(labels, got) if row["efficacy_claim"] and c.efficacy_claim]
        acc = sum(a == b for a, b in both) / len(both) if both else 0.0
        print(f"  {mode:12s} {p:13.3f} {r:6.3f} {f1:6.3f}  {tp:3d}/{fp:2d}/{fn:2d}   {cp:.3f}/{cr:.3f}   {acc:.3f}")
        results[mode] = {"precision": p, "recall": r, "f1": f1}
        if show_errors and mode == "combined":
            for row, c in zip(labels, got):
                if row["unsupported"] != c.unsupported or (row["efficacy_claim"] and row["strength"] != c.strength):
                    print(f"    label unsupported={row['unsupported']!s:5} {row['strength']!s:6} | got {c.unsupported!s:5} "
                          f"{c.strength!s:6} | {row['sentence'][:110]}")
    return results


def cv_report(rerun: bool) -> None:
    if rerun:
        import train_claims

        texts, y = train_claims.load()
        res = train_claims.cross_validate(texts, y, log=lambda m: print(m, file=sys.stderr, flush=True))
        res.pop("_oof")
        source = "re-run now"
    else:
        meta = json.loads((ROOT / "assistant" / "models" / "claims" / "meta.json").read_text(encoding="utf-8"))
        res = meta.get("cv_macro_f1") or {}
        source = f"recorded by scripts/train_claims.py (seed {meta.get('seed')}); --cv re-runs it"
    print(f"Claim-strength classifier, Yu et al. (2019), 5-fold stratified CV macro-F1 ({source}):")
    for name, f1 in res.items():
        print(f"  {name:32s} {f1:.4f}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="Benchmark the claim analysis.")
    ap.add_argument("--cv", action="store_true", help="re-run the 5-fold CV of the classifier")
    ap.add_argument("--errors", action="store_true", help="list sentences where the combined analysis disagrees")
    args = ap.parse_args(argv)
    import torch

    torch.set_num_threads(1)
    cv_report(args.cv)
    print()
    seed_report(args.errors)
    return 0


if __name__ == "__main__":
    from assistant.shells.environment import apply_offline_defaults

    apply_offline_defaults()  # offline, no telemetry, before the heavy imports
    raise SystemExit(main())
