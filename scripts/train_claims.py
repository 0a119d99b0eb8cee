"""Train the claim-strength classifier on Yu et al. (2019) causal-language sentences.

Labels: 0 no relationship, 1 direct causal ("X reduces pain"), 2 conditional causal ("X may reduce pain"),
3 correlational ("X is associated with less pain"). Two parts, measured alone and together:

- ``ngram``: logistic regression on word 1-2-gram TF-IDF plus the cue-lexicon indicators of
  ``assistant.claims`` (pure numpy at run time);
- ``lora``: all-MiniLM-L6-v2 (the packaged embedding model) fine-tuned with rank-8 LoRA adapters on the
  attention projections and a linear head on mean pooling. Only the adapters and the head are saved
  (~0.3 MB as float16); at run time they are merged into a copy of the packaged model.

The shipped classifier averages the two parts' probabilities. Everything is seeded, single-threaded and
reproducible: the same seed gives the same folds, the same numbers and the same weights.

    .venv/bin/python scripts/train_claims.py            # 5-fold CV report, then train on all and save
    .venv/bin/python scripts/train_claims.py --no-cv    # only train on all data and save (~7 min on one core)
    .venv/bin/python scripts/train_claims.py --cv-only  # only the CV report (~35 min on one core)
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import random
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from assistant.analyse import claims  # noqa: E402  (pure module: lexicons, n-gram features, model files)

DATA = Path("/work/shared/benchmarks/causal_claims/pubmed_causal_language_use.csv")
OUT = ROOT / "assistant" / "models" / "claims"
SEED = 13
FOLDS = 5
LABELS = ("none", "direct", "conditional", "correlational")

# Fine-tuning: 3 epochs × 2,449 sentences / batch 16 ≈ 460 steps ≈ 5-8 min per fold on one (shared) core.
LORA_RANK = 8
LORA_ALPHA = 16
LORA_TARGETS = ("query", "key", "value", "attention.output.dense")
EPOCHS = 3
BATCH = 16
LR = 1e-3
MAX_TOKENS = 128
NGRAM_C = 16.0
NGRAM_MIN_DF = 2


def load(path: Path = DATA) -> tuple[list[str], np.ndarray]:
    """Sentences and integer labels of the Yu et al. CSV."""
    with open(path, encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    return [r["sentence"] for r in rows], np.array([int(r["label"]) for r in rows])


def folds(y: np.ndarray, seed: int = SEED) -> list[tuple[np.ndarray, np.ndarray]]:
    from sklearn.model_selection import StratifiedKFold

    skf = StratifiedKFold(FOLDS, shuffle=True, random_state=seed)
    return list(skf.split(np.zeros(len(y)), y))


# ---------------------------------------------------------------- n-gram + lexicon part


def fit_vocab(texts: list[str], min_df: int = NGRAM_MIN_DF) -> tuple[list[str], np.ndarray]:
    """Vocabulary (n-grams in >= min_df sentences, sorted) and smoothed idf, as sklearn computes it."""
    df: dict[str, int] = {}
    for t in texts:
        for g in set(claims.ngrams(t)):
            df[g] = df.get(g, 0) + 1
    vocab = sorted(g for g, c in df.items() if c >= min_df)
    n = len(texts)
    idf = np.array([math.log((1 + n) / (1 + df[g])) + 1 for g in vocab], dtype=np.float32)
    return vocab, idf


def ngram_matrix(texts: list[str], vocab: list[str], idf: np.ndarray, use_ngrams=True, use_lexicon=True):
    """Sparse feature rows: TF-IDF n-grams and/or lexicon indicators (see ``claims.ngram_features``)."""
    import scipy.sparse as sp

    index = {g: i for i, g in enumerate(vocab)}
    parts = []
    if use_ngrams:
        parts.append(sp.csr_matrix(claims.tfidf_rows(texts, index, idf)))
    if use_lexicon:
        parts.append(sp.csr_matrix(claims.lexicon_matrix(texts)))
    return sp.hstack(parts).tocsr()


def train_ngram(texts, y, use_ngrams=True, use_lexicon=True):
    from sklearn.linear_model import LogisticRegression

    vocab, idf = fit_vocab(texts) if use_ngrams else ([], np.zeros(0, np.float32))
    X = ngram_matrix(texts, vocab, idf, use_ngrams, use_lexicon)
    model = LogisticRegression(C=NGRAM_C, max_iter=5000, class_weight="balanced", random_state=SEED)
    model.fit(X, y)
    return model, vocab, idf


def ngram_probs(part, texts, use_ngrams=True, use_lexicon=True) -> np.ndarray:
    model, vocab, idf = part
    return model.predict_proba(ngram_matrix(texts, vocab, idf, use_ngrams, use_lexicon))


# ---------------------------------------------------------------- frozen embeddings (ablation only)


def embeddings(texts: list[str]) -> np.ndarray:
    from assistant.index.embed import get_embedder

    return get_embedder().embed(texts)


def frozen_probs(Xtr, ytr, Xte) -> np.ndarray:
    from sklearn.linear_model import LogisticRegression

    m = LogisticRegression(C=4.0, max_iter=5000, class_weight="balanced", random_state=SEED).fit(Xtr, ytr)
    return m.predict_proba(Xte)


# ---------------------------------------------------------------- LoRA fine-tuning


def _torch():
    import torch

    torch.set_num_threads(1)
    return torch


def base_model():
    """A private copy of the packaged MiniLM (the shared embedder stays untouched) and its tokenizer."""
    import copy

    from assistant.index.embed import get_embedder

    st = get_embedder().model
    return copy.deepcopy(st[0].auto_model), st.tokenizer


def make_lora_model(seed: int):
    torch = _torch()
    nn = torch.nn
    torch.manual_seed(seed)
    bert, tokenizer = base_model()
    for p in bert.parameters():
        p.requires_grad_(False)

    class LoRALinear(nn.Module):
        def __init__(self, base: nn.Linear):
            super().__init__()
            self.base = base
            self.A = nn.Parameter(torch.randn(LORA_RANK, base.in_features) / math.sqrt(base.in_features))
            self.B = nn.Parameter(torch.zeros(base.out_features, LORA_RANK))
            self.scale = LORA_ALPHA / LORA_RANK

        def forward(self, x):
            return self.base(x) + (x @ self.A.T @ self.B.T) * self.scale

    adapters = {}
    for name, module in list(bert.named_modules()):
        for child_name, child in list(module.named_children()):
            full = f"{name}.{child_name}" if name else child_name
            if isinstance(child, nn.Linear) and any(full.endswith(t) for t in LORA_TARGETS):
                wrapped = LoRALinear(child)
                setattr(module, child_name, wrapped)
                adapters[full] = wrapped
    head = nn.Linear(bert.config.hidden_size, len(LABELS))
    return bert, tokenizer, adapters, head


def _batches(texts: list[str], size: int, rng: random.Random | None):
    """Batches of similar length (less padding), in shuffled order when training."""
    order = sorted(range(len(texts)), key=lambda i: (len(texts[i]), i))
    batches = [order[i:i + size] for i in range(0, len(order), size)]
    if rng:
        rng.shuffle(batches)
    yield from batches


def train_lora(texts: list[str], y: np.ndarray, seed: int = SEED, log=print):
    """Fine-tune adapters + head; returns the trained pieces (model left in eval mode)."""
    torch = _torch()
    bert, tokenizer, adapters, head = make_lora_model(seed)
    params = [p for a in adapters.values() for p in (a.A, a.B)] + list(head.parameters())
    opt = torch.optim.AdamW(params, lr=LR, weight_decay=0.01)
    steps = EPOCHS * math.ceil(len(texts) / BATCH)
    warm = max(1, steps // 10)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: min((s + 1) / warm, max(0.0, (steps - s) / (steps - warm))))
    counts = np.bincount(y, minlength=len(LABELS))
    weights = torch.tensor(len(y) / (len(LABELS) * np.maximum(counts, 1)), dtype=torch.float32)
    loss_fn = torch.nn.CrossEntropyLoss(weight=weights)
    rng = random.Random(seed)
    bert.train()
    head.train()
    dropout = torch.nn.Dropout(0.1)
    t0 = time.time()
    for epoch in range(EPOCHS):
        total = 0.0
        for idx in _batches(texts, BATCH, rng):
            enc = tokenizer([texts[i] for i in idx], padding=True, truncation=True, max_length=MAX_TOKENS, return_tensors="pt")
            logits = head(dropout(_mean_pool(bert(**enc).last_hidden_state, enc["attention_mask"])))
            loss = loss_fn(logits, torch.tensor(y[idx], dtype=torch.long))
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            total += loss.item() * len(idx)
        log(f"    epoch {epoch + 1}/{EPOCHS}: loss {total / len(texts):.4f} ({time.time() - t0:.0f}s)")
    bert.eval()
    head.eval()
    return bert, tokenizer, adapters, head


def _mean_pool(hidden, mask):
    m = mask.unsqueeze(-1).to(hidden.dtype)
    return (hidden * m).sum(1) / m.sum(1).clamp(min=1e-9)


def lora_probs(trained, texts: list[str]) -> np.ndarray:
    torch = _torch()
    bert, tokenizer, _, head = trained
    out = np.zeros((len(texts), len(LABELS)), dtype=np.float32)
    with torch.no_grad():
        for idx in _batches(texts, 64, None):
            enc = tokenizer([texts[i] for i in idx], padding=True, truncation=True, max_length=MAX_TOKENS, return_tensors="pt")
            out[idx] = torch.softmax(head(_mean_pool(bert(**enc).last_hidden_state, enc["attention_mask"])), -1).numpy()
    return out


# ---------------------------------------------------------------- evaluation


def macro_f1(y, probs) -> float:
    from sklearn.metrics import f1_score

    return float(f1_score(y, probs.argmax(1), average="macro"))


def cross_validate(texts, y, log=print) -> dict[str, float]:
    """Out-of-fold macro-F1 for each part alone and combined (same folds for all)."""
    n = len(y)
    oof = {k: np.zeros((n, len(LABELS))) for k in ("lexicon", "ngrams", "ngrams+lexicon", "frozen-emb", "lora")}
    log("embedding the corpus for the frozen-embedding ablation…")
    emb = embeddings(texts)
    for k, (tr, te) in enumerate(folds(y)):
        t0 = time.time()
        tr_t, te_t = [texts[i] for i in tr], [texts[i] for i in te]
        for name, ng, lx in (("lexicon", False, True), ("ngrams", True, False), ("ngrams+lexicon", True, True)):
            oof[name][te] = ngram_probs(train_ngram(tr_t, y[tr], ng, lx), te_t, ng, lx)
        oof["frozen-emb"][te] = frozen_probs(emb[tr], y[tr], emb[te])
        log(f"  fold {k + 1}/{FOLDS}: fine-tuning LoRA on {len(tr)} sentences")
        oof["lora"][te] = lora_probs(train_lora(tr_t, y[tr], SEED + k, log), te_t)
        log(f"  fold {k + 1}/{FOLDS} done in {time.time() - t0:.0f}s: lora {macro_f1(y[te], oof['lora'][te]):.4f}, "
            f"ngrams+lexicon {macro_f1(y[te], oof['ngrams+lexicon'][te]):.4f}")
    oof["lora+ngrams+lexicon (shipped)"] = (oof["lora"] + oof["ngrams+lexicon"]) / 2
    oof["frozen-emb+ngrams+lexicon"] = (oof["frozen-emb"] + oof["ngrams+lexicon"]) / 2
    return {name: macro_f1(y, p) for name, p in oof.items()} | {"_oof": oof}


# ---------------------------------------------------------------- saving


def save(out: Path, ngram_part, lora_part, meta: dict) -> None:
    """Write weights.npz (float16 arrays, no pickle) and meta.json (vocabulary, settings)."""
    model, vocab, idf = ngram_part
    _, _, adapters, head = lora_part
    arrays = {
        "ngram_coef": model.coef_.astype(np.float32),
        "ngram_intercept": model.intercept_.astype(np.float32),
        "ngram_idf": idf.astype(np.float32),
        "head_weight": head.weight.detach().numpy().astype(np.float32),
        "head_bias": head.bias.detach().numpy().astype(np.float32),
    }
    names = sorted(adapters)
    for i, name in enumerate(names):
        arrays[f"lora_{i}_A"] = adapters[name].A.detach().numpy().astype(np.float16)
        arrays[f"lora_{i}_B"] = adapters[name].B.detach().numpy().astype(np.float16)
    out.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(out / "weights.npz", **arrays)
    meta = meta | {
        "labels": list(LABELS),
        "vocab": vocab,
        "lora_modules": names,
        "lora_scale": LORA_ALPHA / LORA_RANK,
        "max_tokens": MAX_TOKENS,
        "lexicon_features": claims.LEXICON_FEATURE_NAMES,
        "lexicon_sha256": claims.lexicon_fingerprint(),
    }
    (out / "meta.json").write_text(json.dumps(meta, indent=1, sort_keys=True) + "\n", encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--no-cv", action="store_true", help="skip the 5-fold report")
    ap.add_argument("--cv-only", action="store_true", help="report only, do not write weights")
    ap.add_argument("--out", type=Path, default=OUT)
    args = ap.parse_args(argv)
    _torch()
    texts, y = load()
    log = lambda m: print(m, file=sys.stderr, flush=True)  # noqa: E731
    meta = {"seed": SEED, "data": "Yu, Li & Wang (2019) pubmed_causal_language_use.csv", "n": len(y)}
    if not args.no_cv:
        res = cross_validate(texts, y, log)
        res.pop("_oof")
        print(f"5-fold stratified CV (seed {SEED}), macro-F1 over {len(y)} sentences:")
        for name, f1 in res.items():
            print(f"  {name:32s} {f1:.4f}")
        meta["cv_macro_f1"] = {k: round(v, 4) for k, v in res.items()}
    if args.cv_only:
        return 0
    log("training on all sentences…")
    ngram_part = train_ngram(texts, y)
    lora_part = train_lora(texts, y, SEED, log)
    save(args.out, ngram_part, lora_part, meta)
    size = sum(p.stat().st_size for p in args.out.iterdir())
    print(f"wrote {args.out.relative_to(ROOT)} ({size / 1024:.0f} KB)")
    return 0


if __name__ == "__main__":
    from assistant.shells.environment import apply_offline_defaults

    apply_offline_defaults()  # offline, no telemetry, before the heavy imports
    raise SystemExit(main())
