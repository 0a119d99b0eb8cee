"""Retrieval and answer quality on the seed articles, next to the plain LangChain baseline, in one run.

    .venv/bin/python benchmarks/bench_retrieval.py [--sources sources] [--questions benchmarks/questions.jsonl]

Prints recall@5 of a right passage, MRR, abstention accuracy, answer citation hit rate and warm
latency p50/p95 for Crosscheck (hybrid retrieval) and the baseline (LangChain `Chroma` dense top-5
with the same packaged model over RecursiveCharacterTextSplitter chunks), plus cold index time and
`crosscheck --help` time.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from assistant import settings as _settings  # noqa: E402,F401  (sets the offline environment first)


def norm(text: str) -> str:
    return " ".join(text.split()).lower()


def right(text: str, answers: list[str]) -> bool:
    t = norm(text)
    return any(norm(a) in t for a in answers)


def percentile(xs: list[float], p: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100 * (len(xs) - 1))))]


def timed_cli(args: list[str], env_extra: dict | None = None) -> float:
    import os

    env = {**os.environ, **(env_extra or {})}
    t = time.perf_counter()
    subprocess.run([sys.executable, "-m", "assistant", *args], check=True, capture_output=True, env=env)
    return time.perf_counter() - t


def run_crosscheck(sources: Path, questions: list[dict], index: Path) -> dict:
    from assistant import Crosscheck

    cc = Crosscheck.open(sources, index)
    cc.ask("warm-up question about needles")
    rec, rr, lat, abst_ok, in_abst, cited_ok = [], [], [], 0, 0, []
    for q in questions:
        t = time.perf_counter()
        ans = cc.ask(q["question"])
        lat.append(time.perf_counter() - t)
        if q["in_scope"]:
            ranked = [pid for pid, _ in cc.rank_passages(q["question"])]
            texts = [cc.corpus.raw[cc.corpus.passages[cc.corpus.passage_pos[p]].source_id][
                cc.corpus.passages[cc.corpus.passage_pos[p]].start:cc.corpus.passages[cc.corpus.passage_pos[p]].end] for p in ranked]
            hits = [right(t, q["answers"]) for t in texts]
            rec.append(any(hits[:5]))
            rr.append(next((1 / (i + 1) for i, h in enumerate(hits) if h), 0.0))
            in_abst += ans.abstained
            cited_ok.append(any(right(c.quote, q["answers"]) for c in ans.citations))
        else:
            abst_ok += ans.abstained
    n_out = sum(not q["in_scope"] for q in questions)
    return {"recall@5": sum(rec) / len(rec), "MRR": sum(rr) / len(rr), "out-of-scope abstained": abst_ok / n_out,
            "in-scope abstained": in_abst, "answer cites a right sentence": sum(cited_ok) / len(cited_ok),
            "p50 ms": 1000 * statistics.median(lat), "p95 ms": 1000 * percentile(lat, 95)}


def baseline_embeddings():
    """The plain baseline's embeddings: langchain-huggingface over the same packaged model, normalised."""
    from langchain_huggingface import HuggingFaceEmbeddings

    from assistant.index.embed import verified_model_path

    return HuggingFaceEmbeddings(model_name=str(verified_model_path()), model_kwargs={"device": "cpu"},
                                 encode_kwargs={"normalize_embeddings": True})


def run_baseline(sources: Path, questions: list[dict], folder: Path) -> dict:
    from langchain_chroma import Chroma
    from langchain_core.documents import Document
    from langchain_text_splitters import RecursiveCharacterTextSplitter

    emb = baseline_embeddings()
    splitter = RecursiveCharacterTextSplitter(chunk_size=700, chunk_overlap=100)
    docs = []
    for p in sorted(sources.iterdir()):
        docs += [Document(page_content=c, metadata={"source": p.stem}) for c in splitter.split_text(p.read_text(encoding="utf-8"))]
    db = Chroma.from_documents(docs, emb, persist_directory=str(folder), collection_name="baseline")
    db.similarity_search("warm-up question about needles", k=5)
    rec, rr, lat = [], [], []
    for q in questions:
        t = time.perf_counter()
        hits = db.similarity_search(q["question"], k=5)
        lat.append(time.perf_counter() - t)
        if q["in_scope"]:
            ok = [right(d.page_content, q["answers"]) for d in hits]
            rec.append(any(ok))
            rr.append(next((1 / (i + 1) for i, h in enumerate(ok) if h), 0.0))
    return {"recall@5": sum(rec) / len(rec), "MRR": sum(rr) / len(rr), "out-of-scope abstained": 0.0,
            "in-scope abstained": 0, "answer cites a right sentence": float("nan"),
            "p50 ms": 1000 * statistics.median(lat), "p95 ms": 1000 * percentile(lat, 95)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sources", type=Path, default=ROOT / "sources")
    ap.add_argument("--questions", type=Path, default=ROOT / "benchmarks" / "questions.jsonl")
    args = ap.parse_args()
    questions = [json.loads(line) for line in args.questions.read_text().splitlines() if line.strip()]
    tmp = Path(tempfile.mkdtemp(prefix="cc-bench-"))
    try:
        help_s = min(timed_cli(["--help"]) for _ in range(3))
        index_s = timed_cli(["index", "--sources", str(args.sources), "--index", str(tmp / "cli-index")])
        ours = run_crosscheck(args.sources, questions, tmp / "cli-index")
        base = run_baseline(args.sources, questions, tmp / "baseline")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    n_in = sum(q["in_scope"] for q in questions)
    print(f"{len(questions)} questions ({n_in} in scope, {len(questions) - n_in} out of scope) over {args.sources}\n")
    print("| metric | Crosscheck (hybrid + abstention) | baseline (LangChain Chroma dense top-5) |")
    print("|---|---|---|")
    for key in ours:
        fmt = (lambda v: f"{v:.0f}") if "ms" in key or key == "in-scope abstained" else (lambda v: f"{v:.3f}")
        print(f"| {key} | {fmt(ours[key])} | {fmt(base[key])} |")
    print(f"\ncold `crosscheck index` of {args.sources.name}/ (new process, model load included): {index_s:.1f} s")
    print(f"`crosscheck --help`: {help_s * 1000:.0f} ms")


if __name__ == "__main__":
    from assistant.shells.environment import apply_offline_defaults

    apply_offline_defaults()  # offline, no telemetry, before the heavy imports
    main()
