"""Benchmark pair judges on held-out data that no judge was trained on; one table for all judges.

Measures (every pair scored in both orders, (a, b) and (b, a), probabilities averaged as
``assistant.analyse.judge`` does; the cells show "both orders / (a, b) alone"):
- TaxiNLI accuracy (a fixed 2,000-row sample of the 10k MNLI pairs; ``--taxinli 0`` for all);
- HealthVer dev (``healthver_dev.csv``, evidence -> claim): macro-F1, contradicts precision / recall;
- SciFact dev claim-rationale pairs + every same-abstract non-rationale sentence as unrelated:
  macro-F1, contradicts precision / recall / F1;
- Breaking-NLI accuracy (lexical probe; a fixed 2,000-row sample);
- domain pairs from the six public topics (``../shared/benchmarks/topics/*/gold.json``): every
  sentence pair holding the keys of a disagree_must (positive), disagree_never (negative) or
  disagree_may (reported apart) pair, plus same-topic cross-source pairs nobody golded (negative):
  the nearest neighbours by embedding and random ones. A pair is flagged when p(contradicts) >= t,
  t chosen leave-one-topic-out (fitted on the other five topics: the most recall at precision >= 0.9);
- pairs/s of ``judge_many`` (both orders, batched) on this machine.

    .venv/bin/python benchmarks/bench_judge.py                                   # the shipped judge
    .venv/bin/python benchmarks/bench_judge.py --judge builtin --judge build/judge/final
    .venv/bin/python benchmarks/bench_judge.py --quick --judge build/judge/final  # small samples (smoke)
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "scripts")]

import train_judge as tj  # noqa: E402

TOPICS = tj.BENCH / "topics"
TARGET_PRECISION = 0.9
ANCHORS = ("Anchors: MiniLM-L6 NLI cross-encoder on all SNLI+MNLI (~940k pairs): MNLI-m 86.9%; fine-tuned T5 on "
           "HealthVer test (10k train pairs): macro-F1 79.6. Targets (issue 13): TaxiNLI >= 0.65; HealthVer macro-F1 "
           ">= 0.60 with contradicts P >= 0.6; SciFact contradicts F1 >= 0.5; domain P >= 0.9 at R >= 0.7.")


# ---------------------------------------------------------------- scoring


def scored(judge, pairs: list[tuple[str, str]]) -> tuple[np.ndarray, np.ndarray]:
    """(one-order, both-orders) probabilities in our label order (contradicts, agrees, unrelated)."""
    perm = [judge.order.index(label) for label in tj.LABELS]
    ab = tj.logits(judge.model, pairs)[:, perm]
    ba = tj.logits(judge.model, [(b, a) for a, b in pairs])[:, perm]
    return tj.softmax(ab / judge.temperature), tj.combined_probs(ab, ba, judge.temperature)


def nli_figures(judge, rows: list[tj.Pair]) -> tuple[dict, dict]:
    """tj.report for both orders and for (a, b) alone."""
    one, both = scored(judge, [(p.a, p.b) for p in rows])
    y = np.array([p.label for p in rows])
    return tj.report(y, both.argmax(axis=1)), tj.report(y, one.argmax(axis=1))


def pairs_per_second(judge, pairs: list[tuple[str, str]]) -> float:
    judge.judge_many(pairs[:32])  # warm-up
    t0 = time.perf_counter()
    judge.judge_many(pairs)
    return len(pairs) / (time.perf_counter() - t0)


# ---------------------------------------------------------------- domain pairs from the topics


@dataclass(frozen=True)
class DomainPair:
    """Two sentences of one topic: kind is must / may / never (gold) or nearest / random (not golded)."""

    topic: str
    kind: str
    gold_id: str
    a: str
    b: str


def norm(s: str) -> str:
    """The key matching of topics/score.py: case-folded, whitespace folded, curly single quotes straightened."""
    return " ".join((s or "").replace("\u2019", "'").replace("\u2018", "'").split()).lower()


def topic_sentences(folder: Path) -> list[tuple[str, str, str]]:
    """(source file, clean sentence text, normalised raw text) for every sentence of the topic's sources."""
    from assistant.ingest.segment import segment
    from assistant.ingest.sources import load_document

    out = []
    for path in sorted((folder / "sources").iterdir()):
        doc = load_document(path)
        out += [(path.name, s.text, norm(doc.raw[s.start : s.end]) + " " + norm(s.text)) for s in segment(doc).sentences]
    return out


def holding(sentences: list[tuple[str, str, str]], keys: list[str]) -> list[int]:
    return [i for i, (_, _, n) in enumerate(sentences) if any(norm(k) in n for k in keys)]


def gold_pairs(topic: str, sentences, gold: dict) -> tuple[list[DomainPair], set[tuple[int, int]], list[str]]:
    """Every sentence pair of every must / may / never pair, the index pairs to keep out of the negatives,
    and the keys no sentence holds (a key split by the sentence splitter)."""
    out, known, missing = [], set(), []
    for kind in ("must", "may", "never"):
        for p in gold.get(f"disagree_{kind}", []):
            missing += [k for k in p["a"] + p["b"] if not holding(sentences, [k])]
            a_idx, b_idx = holding(sentences, p["a"]), holding(sentences, p["b"])
            out += [DomainPair(topic, kind, p["id"], sentences[i][1], sentences[j][1]) for i in a_idx for j in b_idx if i != j]
            both = set(holding(sentences, p["a"] + p["b"]))  # score.py counts any such flag as explained
            known |= {(i, j) for i in both for j in both} | {(i, j) for i in a_idx for j in b_idx}
    return out, known | {(j, i) for i, j in known}, missing


def ungolded_pairs(topic: str, sentences, known: set, n: int, seed: int) -> list[DomainPair]:
    """Cross-source statement pairs of the topic that no gold pair covers: the n nearest by embedding, n random."""
    from assistant.index.embed import get_embedder

    pool = [i for i, (_, text, _) in enumerate(sentences) if len(text.split()) >= 5 and not text.rstrip().endswith("?")]
    allowed = lambda i, j: sentences[i][0] != sentences[j][0] and (i, j) not in known  # noqa: E731
    vec = get_embedder().embed([sentences[i][1] for i in pool])
    sim = vec @ vec.T
    ranked = sorted(((float(sim[x, y]), pool[x], pool[y]) for x in range(len(pool)) for y in range(x + 1, len(pool))
                     if allowed(pool[x], pool[y])), reverse=True)
    near = [(i, j) for _, i, j in ranked[:n]]
    rng, rand, taken = random.Random(seed), [], set(near)
    for _ in range(50 * n):
        if len(rand) >= n:
            break
        i, j = rng.sample(pool, 2)
        if allowed(i, j) and (i, j) not in taken and (j, i) not in taken:
            taken.add((i, j))
            rand.append((i, j))
    return ([DomainPair(topic, "nearest", "", sentences[i][1], sentences[j][1]) for i, j in near]
            + [DomainPair(topic, "random", "", sentences[i][1], sentences[j][1]) for i, j in rand])


def domain_pairs(n_ungolded: int, seed: int) -> tuple[list[DomainPair], list[str]]:
    """All topics' domain pairs and the gold keys that no sentence holds."""
    out, missing = [], []
    for folder in sorted(p for p in TOPICS.iterdir() if (p / "gold.json").is_file()):
        sentences = topic_sentences(folder)
        gold = json.loads((folder / "gold.json").read_text(encoding="utf-8"))
        pairs, known, lost = gold_pairs(folder.name, sentences, gold)
        out += pairs + ungolded_pairs(folder.name, sentences, known, n_ungolded, seed)
        missing += [f"{folder.name}: {k}" for k in lost]
    return out, missing


def precision_recall(scores: np.ndarray, positive: np.ndarray, t: float) -> tuple[float, float, int]:
    flagged = scores >= t
    tp = int((flagged & positive).sum())
    return (tp / flagged.sum() if flagged.sum() else 1.0), tp / max(1, positive.sum()), int(flagged.sum())


def pick_threshold(scores: np.ndarray, positive: np.ndarray, target: float = TARGET_PRECISION) -> float:
    """Precision first: the threshold with the most recall at precision >= target, else the most precise one."""
    best, best_key = 1.01, (-1.0, -1.0)
    for t in np.unique(scores):
        p, r, _ = precision_recall(scores, positive, t)
        key = (1.0, r) if p >= target else (0.0, p + 1e-3 * r)
        if key > best_key:
            best, best_key = float(t), key
    return best


def leave_one_topic_out(pairs: list[DomainPair], p_contra: np.ndarray) -> list[dict]:
    """Per topic: threshold fitted on the other topics' must (positive) vs never + ungolded (negative) pairs."""
    topics = sorted({p.topic for p in pairs})
    scored_ = np.array([p.kind != "may" for p in pairs])
    positive = np.array([p.kind == "must" for p in pairs])
    rows = []
    for held in topics:
        here = np.array([p.topic == held for p in pairs])
        t = pick_threshold(p_contra[~here & scored_], positive[~here & scored_])
        sel = here & scored_
        prec, rec, n_flag = precision_recall(p_contra[sel], positive[sel], t)
        found = {p.gold_id for p, s in zip(pairs, p_contra) if p.topic == held and p.kind == "must" and s >= t}
        musts = {p.gold_id for p in pairs if p.topic == held and p.kind == "must"}
        mays = [s >= t for p, s in zip(pairs, p_contra) if p.topic == held and p.kind == "may"]
        rows.append({"topic": held, "threshold": round(t, 3), "precision": round(prec, 3), "recall": round(rec, 3),
                     "flagged": n_flag, "must_pairs_found": f"{len(found)}/{len(musts)}",
                     "positives": int(positive[sel].sum()), "negatives": int((~positive[sel]).sum()),
                     "may_flagged": f"{sum(mays)}/{len(mays)}", "tp": int((positive[sel] & (p_contra[sel] >= t)).sum())})
    return rows


def domain_figures(judge, pairs: list[DomainPair]) -> dict:
    """Leave-one-topic-out rows, the pooled precision / recall over held-out topics, and the argmax rule."""
    one, both = scored(judge, [(p.a, p.b) for p in pairs])
    rows = leave_one_topic_out(pairs, both[:, 0])
    tp, flagged = sum(r["tp"] for r in rows), sum(r["flagged"] for r in rows)
    pos = sum(r["positives"] for r in rows)
    scored_ = [i for i, p in enumerate(pairs) if p.kind != "may"]
    positive = np.array([pairs[i].kind == "must" for i in scored_])
    argmax = both[scored_].argmax(axis=1) == 0
    am_tp = int((argmax & positive).sum())
    found = [int(r["must_pairs_found"].split("/")[0]) for r in rows]
    return {"rows": rows, "precision": round(tp / flagged, 3) if flagged else None, "recall": round(tp / max(1, pos), 3),
            "must_found": f"{sum(found)}/{sum(int(r['must_pairs_found'].split('/')[1]) for r in rows)}",
            "may_flagged": f"{sum(int(r['may_flagged'].split('/')[0]) for r in rows)}/"
                           f"{sum(int(r['may_flagged'].split('/')[1]) for r in rows)}",
            "argmax_precision": round(am_tp / argmax.sum(), 3) if argmax.sum() else None,
            "argmax_recall": round(am_tp / max(1, positive.sum()), 3)}


# ---------------------------------------------------------------- the table


def held_out_sets(args) -> dict[str, list[tj.Pair]]:
    """The NLI-style held-out sets, sampled with a fixed seed where a limit applies."""
    def sample(rows, n):
        return random.Random(args.seed).sample(rows, n) if n and n < len(rows) else rows

    return {"taxinli": sample(tj.load_taxinli(), args.taxinli),
            "healthver_dev": sample(tj.load_healthver_dev(), args.healthver),
            "scifact_dev": sample(tj.load_scifact_dev(), args.scifact),
            "breaking_nli": sample(tj.load_breaking_nli(), args.breaking)}


def judge_column(spec: str, sets: dict, domain: list[DomainPair]) -> dict:
    """Every figure for one judge."""
    from assistant.analyse.judge import get_judge

    judge = get_judge(None if spec == "builtin" else spec)
    col = {name: nli_figures(judge, rows) for name, rows in sets.items()}
    col["domain"] = domain_figures(judge, domain)
    col["pairs_per_s"] = round(pairs_per_second(judge, [(p.a, p.b) for p in domain[:512]]), 1)
    return col


def trained_on_healthver_dev(spec: str) -> bool:
    """Whether the judge's crosscheck_judge.json lists HealthVer dev among its training data (the first release did)."""
    from assistant.analyse.judge import BUILTIN_DIR, META_FILE

    meta_path = (BUILTIN_DIR if spec == "builtin" else Path(spec)) / META_FILE
    meta = json.loads(meta_path.read_text(encoding="utf-8")) if meta_path.is_file() else {}
    names = list(meta.get("train_pairs", {})) + [row.get("source", "") for row in meta.get("mix", [])]
    return any("healthver_dev" in n for n in names)


def cell(both: dict, one: dict, keys: tuple[str, ...]) -> str:
    return " / ".join(f"{both[k]:.3f}" for k in keys) + "  (" + " / ".join(f"{one[k]:.3f}" for k in keys) + ")"


def table(specs: list[str], cols: list[dict], sets: dict, threads: int) -> str:
    """Rows = measures, columns = judges."""
    def line(name, values):
        return f"| {name} | " + " | ".join(values) + " |"

    out = [line("measure: both orders (a,b alone)", specs), "|---" * (len(specs) + 1) + "|"]
    n = {k: len(v) for k, v in sets.items()}
    out.append(line(f"TaxiNLI accuracy ({n['taxinli']})", [cell(*c["taxinli"], ("accuracy",)) for c in cols]))
    out.append(line(f"HealthVer dev macro-F1 / contradicts P / R ({n['healthver_dev']})",
                    [cell(*c["healthver_dev"], ("macro_f1", "c_precision", "c_recall")) for c in cols]))
    out.append(line(f"SciFact dev macro-F1 / contradicts P / R / F1 ({n['scifact_dev']})",
                    [cell(*c["scifact_dev"], ("macro_f1", "c_precision", "c_recall", "c_f1")) for c in cols]))
    out.append(line(f"Breaking-NLI accuracy ({n['breaking_nli']})", [cell(*c["breaking_nli"], ("accuracy",)) for c in cols]))
    d = [c["domain"] for c in cols]
    out.append(line("domain pairs, leave-one-topic-out: contradicts P / R", [f"{x['precision']} / {x['recall']}" for x in d]))
    out.append(line("domain must pairs found / may pairs flagged", [f"{x['must_found']} / {x['may_flagged']}" for x in d]))
    out.append(line("domain pairs, argmax = contradicts: P / R", [f"{x['argmax_precision']} / {x['argmax_recall']}" for x in d]))
    out.append(line(f"pairs/s (judge_many, both orders, {threads} threads)", [str(c["pairs_per_s"]) for c in cols]))
    return "\n".join(out)


def topic_table(spec: str, domain: dict) -> str:
    head = "| topic | threshold (fit on the other 5) | P | R | flagged | must pairs found | may flagged | positives / negatives |"
    rows = [f"| {r['topic']} | {r['threshold']} | {r['precision']} | {r['recall']} | {r['flagged']} | "
            f"{r['must_pairs_found']} | {r['may_flagged']} | {r['positives']} / {r['negatives']} |" for r in domain["rows"]]
    return f"\n{spec}: domain pairs per held-out topic\n{head}\n|---|---|---|---|---|---|---|---|\n" + "\n".join(rows)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--judge", action="append", help="'builtin' or a CrossEncoder folder; repeat to compare")
    ap.add_argument("--seed", type=int, default=tj.SEED)
    ap.add_argument("--taxinli", type=int, default=2000, help="TaxiNLI rows (0 = all 10,071)")
    ap.add_argument("--healthver", type=int, default=0, help="HealthVer dev rows (0 = all 1,916)")
    ap.add_argument("--scifact", type=int, default=0, help="SciFact dev pairs (0 = all)")
    ap.add_argument("--breaking", type=int, default=2000, help="Breaking-NLI rows (0 = all 8,193)")
    ap.add_argument("--ungolded", type=int, default=100, help="per topic: nearest and random ungolded pairs (each)")
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0 = torch's default)")
    ap.add_argument("--quick", action="store_true", help="smoke: 200 rows per set, 15 ungolded pairs per topic")
    ap.add_argument("--json", type=Path, help="also write every figure to this file")
    args = ap.parse_args(argv)
    if args.quick:
        args.taxinli = args.healthver = args.scifact = args.breaking = 200
        args.ungolded = 15
    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    specs = args.judge or ["builtin"]
    sets = held_out_sets(args)
    domain, missing = domain_pairs(args.ungolded, args.seed)
    kinds = {k: sum(p.kind == k for p in domain) for k in ("must", "may", "never", "nearest", "random")}
    print(f"domain pairs: {kinds}" + (f"; gold keys held by no sentence: {missing}" if missing else ""))
    cols = [judge_column(s, sets, domain) for s in specs]
    print("\n" + table(specs, cols, sets, torch.get_num_threads()) + "\n\n" + ANCHORS)
    for spec in specs:
        if trained_on_healthver_dev(spec):
            print(f"NOTE: {spec} was trained on healthver_dev.csv: its HealthVer dev figures are not held out.")
    for spec, col in zip(specs, cols):
        print(topic_table(spec, col["domain"]))
    if args.json:
        args.json.write_text(json.dumps(dict(zip(specs, cols)), indent=1) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
