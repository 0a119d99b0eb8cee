"""Disagreement flags on the seeds against hand-labeled pairs, and how indexing time grows with corpus size.

    .venv/bin/python benchmarks/bench_disagreements.py [--scale 1000]

Precision counts every flagged pair that is not labeled "disagree" as a false positive (pairs nobody
labeled included): precision before recall. A labeled pair matches a flag when each snippet lies
inside the flagged quote on its side.
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def norm(t: str) -> str:
    return " ".join(t.split()).lower()


def matches(flag: dict, pair: dict) -> bool:
    sides = [(flag["source_id"], flag["quote"]), (flag["other"]["source_id"], flag["other"]["quote"])]
    want = [(pair["a_source"], pair["a"]), (pair["b_source"], pair["b"])]
    fwd = all(s == ws and norm(w) in norm(q) for (s, q), (ws, w) in zip(sides, want))
    rev = all(s == ws and norm(w) in norm(q) for (s, q), (ws, w) in zip(sides, want[::-1]))
    return fwd or rev


def seed_quality(sources: Path, labels: list[dict]) -> dict:
    from assistant import Crosscheck

    with tempfile.TemporaryDirectory() as tmp:
        t = time.perf_counter()
        cc = Crosscheck.open(sources, Path(tmp) / "index")
        build = time.perf_counter() - t
        flags = [f.to_dict() for f in cc.flags() if f.kind == "disagreement"]
    tp_flags = [f for f in flags if any(matches(f, p) for p in labels if p["label"] == "disagree")]
    wrong = [f for f in flags if f not in tp_flags]
    found = [p for p in labels if p["label"] == "disagree" and any(matches(f, p) for f in flags)]
    flagged_agree = [p for p in labels if p["label"] != "disagree" and any(matches(f, p) for f in flags)]
    n_dis = sum(p["label"] == "disagree" for p in labels)
    return {"flags": len(flags), "precision": len(tp_flags) / len(flags) if flags else 1.0,
            "recall": len(found) / n_dis, "labeled agree/unrelated pairs flagged": len(flagged_agree),
            "missed": [f'{p["a"][:50]} | {p["b"][:50]}' for p in labels if p["label"] == "disagree" and p not in found],
            "false": [f'{f["quote"][:50]} | {f["other"]["quote"][:50]}' for f in wrong], "index seconds (in-process, model warm or cold)": build}


def generated_corpus(sources: Path, out: Path, n: int, seed: int = 7) -> None:
    """``n`` articles made by recombining the seeds' sentences deterministically (sections of 6–12 sentences)."""
    from assistant.ingest.segment import segment
    from assistant.ingest.sources import load_document

    sents = [s.text for p in sorted(sources.iterdir()) for s in segment(load_document(p)).sentences]
    rng = random.Random(seed)
    out.mkdir(parents=True)
    for k in range(n):
        body = "\n\n".join(" ".join(rng.sample(sents, rng.randint(2, 4))) for _ in range(rng.randint(3, 5)))
        (out / f"gen{k:05d}.txt").write_text(f"Generated article {k}\n\n{body}\n", encoding="utf-8")


def scale(sources: Path, n: int) -> dict:
    from assistant.index.build import update_index
    from assistant.settings import load_settings

    tmp = Path(tempfile.mkdtemp(prefix="cc-scale-"))
    try:
        generated_corpus(sources, tmp / "src", n)
        t = time.perf_counter()
        stages = []
        update_index(load_settings(sources=tmp / "src", index=tmp / "idx"), lambda m: stages.append((time.perf_counter() - t, m)))
        total = time.perf_counter() - t
        dis_start = next((s for s, m in stages if m.startswith("looking for disagreements")), total)
        return {"articles": n, "index seconds": total, "disagreement search seconds": total - dis_start}
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sources", type=Path, default=ROOT / "sources")
    ap.add_argument("--labels", type=Path, default=ROOT / "benchmarks" / "disagreement_pairs.jsonl")
    ap.add_argument("--scale", type=int, nargs="*", default=[], help="also index generated corpora of these sizes")
    args = ap.parse_args()
    labels = [json.loads(l) for l in args.labels.read_text().splitlines() if l.strip()]
    q = seed_quality(args.sources, labels)
    n_dis = sum(p["label"] == "disagree" for p in labels)
    print(f"{len(labels)} labeled seed pairs ({n_dis} disagree)\n")
    print("| metric | value |\n|---|---|")
    for k in ("flags", "precision", "recall", "labeled agree/unrelated pairs flagged"):
        print(f"| {k} | {q[k]:.3f} |" if isinstance(q[k], float) else f"| {k} | {q[k]} |")
    for k in ("missed", "false"):
        for x in q[k]:
            print(f"{k}: {x}")
    for n in args.scale:
        r = scale(args.sources, n)
        print(f"\ngenerated corpus of {n} articles: index {r['index seconds']:.1f} s, of which disagreement search "
              f"{r['disagreement search seconds']:.1f} s")


if __name__ == "__main__":
    from assistant.shells.environment import apply_offline_defaults

    apply_offline_defaults()  # offline, no telemetry, before the heavy imports
    main()
