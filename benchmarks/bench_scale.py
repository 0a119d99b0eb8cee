"""Scale: index generated corpora of growing size and measure what each cost does as the corpus grows.

    .venv/bin/python benchmarks/bench_scale.py [--sizes 100 1000] [--questions 20] [--no-backends]

The corpora are generated deterministically (fixed seed) by recombining the sentences and headings of the
seed articles in sources/ into new articles, with the treatments they talk about swapped among a small list
("dry needling" -> "cupping", ...) and a numbered line per article, so no two files are byte-identical (the
indexer would index duplicates once). Article i is the same file at every size, so sizes are comparable.

For each size, in fresh subprocesses (so peak memory, VmHWM, is the job's own):
- index from nothing: seconds, passages per second, and the split between embedding + claims + storing and
  the disagreement search (from the progress lines' timestamps);
- the bound: the same embedding model, in the same run, embedding fixed random samples of the corpus's
  passages and of its distinct sentences the way the indexer calls it; from these, the passages/s an indexer
  that did nothing but embed would reach. (The generated articles reuse seed sentences, and the indexer
  embeds each distinct sentence once, so the bound counts distinct sentences.)
- `ask`: open time and p50/p95 over ``--questions`` questions of benchmarks/questions.jsonl; peak memory;
- disk size of the index folder;
- re-index after one article changes (one file edited, update_index again), update_index's own seconds: in a
  new process (loading the model included), then in the same process with the model loaded, and after an edit
  that names a subject no article proposed before (its topic search reads the articles holding its words).
Then, once, the faster embedding paths the libraries offer on 500 distinct sentences: batch sizes, torch
dynamic int8 quantization, and the ONNX backend of sentence-transformers when it can load offline with the
installed packages (it needs `optimum`; otherwise the reason is printed) — speed and cosine agreement vs fp32.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
QUESTIONS = ROOT / "benchmarks" / "questions.jsonl"
TREATMENTS = ["dry needling", "acupuncture", "acupressure", "cupping", "massage therapy", "electroacupuncture",
              "trigger point injection", "physiotherapy", "chiropractic care", "moxibustion", "kinesio taping",
              "instrument-assisted soft tissue mobilisation"]


# ------------------------------------------------------------------------------------------- the corpus
def seed_material() -> tuple[list[str], list[str]]:
    """(sentences, headings) of the seed articles, as the library segments them."""
    from assistant.ingest.segment import segment
    from assistant.ingest.sources import list_source_files, load_document

    sentences, headings = [], []
    for path in list_source_files(ROOT / "sources"):
        seg = segment(load_document(path))
        sentences += [s.text for s in seg.sentences if len(s.text) > 20]
        headings += sorted({s.heading for s in seg.sentences if s.heading})
    return list(dict.fromkeys(sentences)), list(dict.fromkeys(headings))


def _swap(text: str, a: str, b: str) -> str:
    """Replace dry needling -> a and acupuncture -> b (in one pass), keeping a leading capital."""
    def sub(m: re.Match) -> str:
        new = a if m.group(0).lower() == "dry needling" else b
        return new[:1].upper() + new[1:] if m.group(0)[0].isupper() else new
    return re.sub(r"(?i)dry needling|acupuncture", sub, text)


def article(i: int, sentences: list[str], headings: list[str], seed: int) -> str:
    """Article ``i``: 6-8 sections of 1-2 paragraphs of 3-5 recombined seed sentences (~10 passages)."""
    rng = random.Random(seed * 1_000_003 + i)
    a, b = rng.sample(TREATMENTS, 2)
    lines = [f"Notes on {a} and {b}, number {i}", ""]
    for _ in range(rng.randint(6, 8)):
        lines += [_swap(rng.choice(headings), a, b).rstrip(".:"), ""]
        for _ in range(rng.randint(1, 2)):
            lines += [" ".join(_swap(s, a, b) for s in rng.sample(sentences, rng.randint(3, 5))), ""]
    lines += [f"This is article {i} of the generated series, revised in clinic {i % 97}.", ""]
    return "\n".join(lines)


def write_corpus(folder: Path, n: int, seed: int) -> None:
    sentences, headings = seed_material()
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        (folder / f"gen_{i:05d}.txt").write_text(article(i, sentences, headings, seed), encoding="utf-8")


# ------------------------------------------------------------------------------------------- workers
def vm_hwm_mb() -> int:
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) // 1024 for line in f if line.startswith("VmHWM"))


def worker_index(src: str, idx: str) -> dict:
    from assistant.index.build import update_index
    from assistant.settings import load_settings

    t0 = time.perf_counter()
    lines: list[tuple[float, str]] = []
    report = update_index(load_settings(sources=src, index=idx), lambda m: lines.append((time.perf_counter() - t0, m)))
    m = next((re.search(r"(\d+) passages, (\d+) sentences", x) for _, x in lines if "passages," in x), None)
    t_analysis = next((t for t, x in lines if x.startswith("looking for disagreements")), None)
    t_start = next((t for t, x in lines if x.startswith("indexing ")), 0.0)
    return {"seconds": report.seconds, "passages": int(m.group(1)) if m else 0, "sentences": int(m.group(2)) if m else 0,
            "embed_store_s": (t_analysis - t_start) if t_analysis else None,
            "analysis_s": (report.seconds - t_analysis) if t_analysis else None,
            "summary": report.summary(), "vmhwm_mb": vm_hwm_mb()}


def worker_reindex(src: str, idx: str) -> dict:
    """Re-index after one article changes: first in this fresh process (the model's imports included),
    then twice more with the model loaded (the app's case, or any long-lived process): once more after the
    same kind of edit, and once after an edit that names a subject no article proposed before."""
    from assistant.index.build import update_index
    from assistant.settings import load_settings

    settings, changed = load_settings(sources=src, index=idx), Path(src) / "gen_00000.txt"
    edits = ["An added closing remark: results vary between patients.",
             "Another remark: results vary with the practitioner.",
             "Cold plunges are a treatment some clinics offer."]
    out = {}
    for name, edit in zip(("cold", "warm", "new_subject"), edits):
        changed.write_text(changed.read_text(encoding="utf-8") + f"\n{edit}\n", encoding="utf-8")
        report = update_index(settings)
        assert report.updated == ["gen_00000"], report.summary()
        out[f"{name}_s"] = report.seconds
    return {**out, "summary": report.summary(), "vmhwm_mb": vm_hwm_mb()}


def worker_ask(src: str, idx: str, n: int) -> dict:
    from assistant import Crosscheck

    rows = [json.loads(x) for x in QUESTIONS.read_text(encoding="utf-8").splitlines() if x.strip()]
    # In-scope questions first, then out-of-scope ones: about a quarter of the set abstains.
    qs = [r["question"] for r in rows if r["in_scope"]][: n - n // 4] + [r["question"] for r in rows if not r["in_scope"]][: n // 4]
    t0 = time.perf_counter()
    cc = Crosscheck.open(src, idx, update=False)
    t_open = time.perf_counter() - t0
    cc.ask("What is dry needling?")  # loads the model: not a question's cost
    lat, answered = [], 0
    for q in qs:
        t = time.perf_counter()
        ans = cc.ask(q)
        lat.append(time.perf_counter() - t)
        answered += not ans.abstained
    hwm = vm_hwm_mb()
    return {"open_s": t_open, "latencies": lat, "answered": answered, "vmhwm_mb": hwm,
            "baseline_latencies": baseline_latencies(cc, qs)}


def baseline_latencies(cc, qs: list[str]) -> list[float]:
    """The plain baseline on the same passages: LangChain `Chroma` dense top-5 over Crosscheck's own passage
    collection (same vectors, same chromadb client), the query embedded by langchain-huggingface."""
    from langchain_chroma import Chroma

    from bench_retrieval import baseline_embeddings

    db = Chroma(client=cc.store.client, collection_name=f"{cc.corpus.manifest.collection}_passages",
                embedding_function=baseline_embeddings())
    db.similarity_search("What is dry needling?", k=5)  # warm-up
    lat = []
    for q in qs:
        t = time.perf_counter()
        db.similarity_search(q, k=5)
        lat.append(time.perf_counter() - t)
    return lat


def run_worker(*args: str) -> dict:
    t0 = time.perf_counter()
    r = subprocess.run([sys.executable, __file__, "--worker", *args], capture_output=True, text=True, cwd=ROOT)
    if r.returncode != 0:
        raise RuntimeError(f"worker {args[0]} failed:\n{r.stderr[-3000:]}")
    out = json.loads(r.stdout.strip().splitlines()[-1])
    out["process_s"] = time.perf_counter() - t0
    return out


# ------------------------------------------------------------------------------------------- measures
def embedding_texts(src: Path) -> tuple[list[str], list[str]]:
    """Exactly what the indexer embeds for these sources: (passages with heading/title, sentences)."""
    from assistant.ingest.segment import passage_embedding_text, segment, sentence_embedding_text
    from assistant.ingest.sources import list_source_files, load_document

    passages, sentences = [], []
    for path in list_source_files(src):
        doc = load_document(path)
        seg = segment(doc)
        passages += [passage_embedding_text(p, doc.source.title) for p in seg.passages]
        sentences += [sentence_embedding_text(s) for s in seg.sentences]
    return passages, sentences


def raw_embed_rate(texts: list[str], sample: int, seed: int) -> float:
    """Texts per second of get_embedder().embed on a fixed random sample, in calls of 1024 like the indexer."""
    from assistant.index.embed import get_embedder

    emb = get_embedder()
    emb.embed(texts[:64])  # warm-up
    pick = random.Random(seed).sample(texts, min(sample, len(texts)))
    t0 = time.perf_counter()
    for i in range(0, len(pick), 1024):
        emb.embed(pick[i:i + 1024])
    return len(pick) / (time.perf_counter() - t0)


def bound(src: Path, sample: int, seed: int) -> dict:
    """The embedding model alone on this corpus's texts: passages/s, distinct sentences/s, and the passages/s
    an indexer that did nothing but embed (every passage, each distinct sentence once) would reach."""
    passages, sentences = embedding_texts(src)
    distinct = list(dict.fromkeys(sentences))
    rp = raw_embed_rate(passages, sample, seed)
    rs = raw_embed_rate(distinct, sample, seed)
    return {"bound_passages_per_s": rp, "bound_sentences_per_s": rs, "distinct_sentences": len(distinct),
            "bound_index_passages_per_s": len(passages) / (len(passages) / rp + len(distinct) / rs)}


def folder_size_mb(folder: Path) -> float:
    return sum(p.stat().st_blocks * 512 for p in folder.rglob("*") if p.is_file()) / 1e6


def pct(xs: list[float], p: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, max(0, round(p / 100 * len(xs)) - 1))]


def measure(n: int, work: Path, args) -> dict:
    src, idx = work / f"corpus{n}", work / f"index{n}"
    t = time.perf_counter()
    write_corpus(src, n, args.seed)
    gen_s = time.perf_counter() - t
    print(f"[{n}] generated {n} articles in {gen_s:.1f} s; indexing…", flush=True)
    ix = run_worker("index", str(src), str(idx))
    print(f"[{n}] indexed: {ix['summary']}; measuring the embedding bound…", flush=True)
    bnd = bound(src, args.bound_sample, args.seed)
    qa = run_worker("ask", str(src), str(idx), str(args.questions))
    disk = folder_size_mb(idx)
    re_ix = run_worker("reindex", str(src), str(idx))
    row = {"n": n, "passages": ix["passages"], "sentences": ix["sentences"], "index_s": ix["seconds"],
           "index_passages_per_s": ix["passages"] / ix["seconds"], "embed_store_s": ix["embed_store_s"],
           "analysis_s": ix["analysis_s"], **bnd, "index_hwm": ix["vmhwm_mb"],
           "open_s": qa["open_s"], "p50": pct(qa["latencies"], 50), "p95": pct(qa["latencies"], 95),
           "baseline_p50": pct(qa["baseline_latencies"], 50), "baseline_p95": pct(qa["baseline_latencies"], 95),
           "answered": qa["answered"], "asked": len(qa["latencies"]), "ask_hwm": qa["vmhwm_mb"], "disk_mb": disk,
           "reindex_s": re_ix["cold_s"], "reindex_warm_s": re_ix["warm_s"], "reindex_new_subject_s": re_ix["new_subject_s"],
           "reindex_hwm": re_ix["vmhwm_mb"]}
    print(f"[{n}] {json.dumps(row)}", flush=True)
    if not args.keep:
        shutil.rmtree(src), shutil.rmtree(idx)
    return row


def print_table(rows: list[dict]) -> None:
    print("\n| articles | passages | sentences (distinct) | index s | passages/s indexed | passages/s embedding bound "
          "| embed+claims+store s | disagreements s | ask p50 ms | ask p95 ms | open s | disk MB | peak RSS index MB "
          "| peak RSS ask MB | re-index 1 changed s: new process / model loaded / new subject |")
    print("|" + "---|" * 15)
    for r in rows:
        print(f"| {r['n']:,} | {r['passages']:,} | {r['sentences']:,} ({r['distinct_sentences']:,}) | {r['index_s']:.0f} | "
              f"{r['index_passages_per_s']:.1f} | {r['bound_index_passages_per_s']:.1f} | {r['embed_store_s']:.0f} | "
              f"{r['analysis_s']:.0f} | {r['p50'] * 1000:.0f} | {r['p95'] * 1000:.0f} | {r['open_s']:.1f} | "
              f"{r['disk_mb']:.0f} | {r['index_hwm']} | {r['ask_hwm']} | "
              f"{r['reindex_s']:.1f} / {r['reindex_warm_s']:.1f} / {r['reindex_new_subject_s']:.1f} |")
    print("\n`ask` vs the plain baseline (LangChain Chroma dense top-5 over the same passage collection), p50 / p95 ms: "
          + "; ".join(f"{r['n']:,} articles {r['p50'] * 1000:.0f} / {r['p95'] * 1000:.0f} vs "
                      f"{r['baseline_p50'] * 1000:.0f} / {r['baseline_p95'] * 1000:.0f}" for r in rows))
    print("\nEmbedding bound: the packaged model alone, same run, calls of 1024 texts: "
          + "; ".join(f"{r['n']:,} articles {r['bound_passages_per_s']:.0f} passages/s, "
                      f"{r['bound_sentences_per_s']:.0f} sentences/s" for r in rows)
          + ". 'passages/s embedding bound' = every passage and each distinct sentence embedded, nothing else.")
    for a, b in zip(rows, rows[1:]):
        f = b["n"] / a["n"]
        print(f"\n{a['n']:,} -> {b['n']:,} articles (x{f:g}): index time x{b['index_s'] / a['index_s']:.1f}, "
              f"disagreements x{b['analysis_s'] / a['analysis_s']:.1f}, ask p50 x{b['p50'] / a['p50']:.1f}, "
              f"p95 x{b['p95'] / a['p95']:.1f}, open x{b['open_s'] / a['open_s']:.1f}, disk x{b['disk_mb'] / a['disk_mb']:.1f}, "
              f"ask peak RSS x{b['ask_hwm'] / a['ask_hwm']:.1f}, re-index x{b['reindex_s'] / a['reindex_s']:.1f}")


# ------------------------------------------------------------------------------------------- backends
def backends(seed: int) -> None:
    """Faster embedding paths on 500 distinct sentences: speed and agreement with the fp32 torch vectors."""
    import numpy as np
    import torch
    from sentence_transformers import SentenceTransformer

    from assistant.index.embed import get_embedder, verified_model_path

    sentences, headings = seed_material()
    pool = list(dict.fromkeys(article(i, sentences, headings, seed) for i in range(60)))
    texts = list(dict.fromkeys(s for a in pool for s in re.split(r"(?<=[.!?])\s+", a) if len(s) > 20))
    texts = random.Random(seed).sample(texts, min(500, len(texts)))
    model = get_embedder().model

    def rate(m, bs: int) -> tuple[float, np.ndarray]:
        return encode_rate(m, texts, bs)

    print(f"\nEmbedding paths on {len(texts)} distinct sentences (torch {torch.__version__}, {torch.get_num_threads()} threads):")
    print("| path | sentences/s | vs fp32 batch 32 | cosine to fp32 mean | min |")
    print("|---|---|---|---|---|")
    base_rate, base = rate(model, 32)
    for bs in (8, 32, 64, 128):
        r, v = (base_rate, base) if bs == 32 else rate(model, bs)
        cos = (v * base).sum(1)
        print(f"| torch fp32, batch {bs} | {r:.0f} | x{r / base_rate:.2f} | {cos.mean():.4f} | {cos.min():.4f} |")
    q = SentenceTransformer(str(verified_model_path()), device="cpu", local_files_only=True)
    # sentence-transformers 6: `auto_model` is a read-only view of `model`; quantize the module actually run.
    attr = "model" if hasattr(q[0], "model") else "auto_model"
    setattr(q[0], attr, torch.ao.quantization.quantize_dynamic(getattr(q[0], attr), {torch.nn.Linear}, dtype=torch.qint8))
    assert not any(type(x) is torch.nn.Linear for x in q[0].auto_model.modules()), "int8 quantization did not apply"
    r, v = rate(q, 32)
    cos = (v * base).sum(1)
    # Retrieval agreement: the 10 nearest sentences of 50 of them, fp32 vs int8.
    sims_a, sims_b = base[:50] @ base.T, v[:50] @ v.T
    overlap = np.mean([len(set(np.argsort(-a)[1:11]) & set(np.argsort(-b)[1:11])) / 10 for a, b in zip(sims_a, sims_b)])
    print(f"| torch dynamic int8 (Linear), batch 32 | {r:.0f} | x{r / base_rate:.2f} | {cos.mean():.4f} | {cos.min():.4f} |")
    print(f"\nint8 vs fp32: top-10 neighbour overlap {overlap:.2f} over 50 queries")
    print("ONNX Runtime paths (fp32, O3, int8): benchmarks/bench_onnx.py")


def encode_rate(model, texts: list[str], bs: int = 32):
    """(texts per second, normalised vectors) of one warmed-up ``model.encode`` call over ``texts``."""
    model.encode(texts[:32], batch_size=bs, normalize_embeddings=True)
    t0 = time.perf_counter()
    v = model.encode(texts, batch_size=bs, normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False)
    return len(texts) / (time.perf_counter() - t0), v


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", type=int, nargs="*", default=[100, 1000], help="corpus sizes; none: only the embedding paths")
    ap.add_argument("--questions", type=int, default=20)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--bound-sample", type=int, default=2000,
                    help="passages and distinct sentences embedded for the raw bound (fixed random samples)")
    ap.add_argument("--keep", type=Path, default=None, help="keep the generated corpora and indexes in this folder")
    ap.add_argument("--no-backends", action="store_true")
    ap.add_argument("--worker", nargs="+", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        kind, *rest = args.worker
        out = {"index": worker_index, "reindex": worker_reindex}[kind](*rest) if kind != "ask" else worker_ask(rest[0], rest[1], int(rest[2]))
        print(json.dumps(out))
        return 0
    work = args.keep or Path(tempfile.mkdtemp(prefix="cc-bench-scale-"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        rows = [measure(n, work, args) for n in args.sizes]
        if rows:
            print_table(rows)
        if not args.no_backends:
            backends(args.seed)
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    from assistant.shells.environment import apply_offline_defaults

    apply_offline_defaults()  # offline, no telemetry, before the heavy imports
    sys.exit(main())
