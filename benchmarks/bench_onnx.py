"""Faster embedding paths: sentence-transformers' ONNX Runtime backend (fp32, graph-optimised, int8) vs torch fp32.

    .venv/bin/pip install --no-deps --target /tmp/onnx-pkgs onnx==1.23.2 optimum==2.1.0 optimum-onnx==0.1.0 ml_dtypes==0.6.0
    PYTHONPATH=/tmp/onnx-pkgs .venv/bin/python benchmarks/bench_onnx.py [--sentences 600] [--passages 300]

onnxruntime is already installed (chromadb depends on it); the exporter packages are not project
dependencies (nothing adopts ONNX yet), hence the separate target.
optimum-onnx 0.1.0 was written for transformers < 4.58; ``_compat`` patches the few in-memory names it
expects from transformers 5 (nothing on disk changes). The model folder is copied to a temporary folder and
exported there once per variant, offline. Texts: sentences of 15-30 words and ~700-character passages from
the seed articles in sources/. Prints speed (texts/s, batch 32) and agreement with torch fp32: cosine per
text (mean / min) and how many of the 10 nearest neighbours of 50 sentences are kept.
"""

from __future__ import annotations

import argparse
import os
import random
import re
import shutil
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

VARIANTS = {"fp32": "model.onnx", "O3": "model_O3.onnx", "int8": "model_qint8_avx512_vnni.onnx"}


def _compat() -> None:
    """In-memory patches so optimum-onnx 0.1.0 runs on transformers 5 (import before sentence_transformers)."""
    import sys
    import huggingface_hub
    import transformers.processing_utils  # noqa: F401  (this re-executes transformers/__init__ -> new module object)
    import transformers.utils, transformers.utils.generic as _gen, transformers.modeling_utils as _mu

    _tf = sys.modules["transformers"]  # take the module object *after* the re-exec

    if not hasattr(transformers.utils, "is_offline_mode"):
        transformers.utils.is_offline_mode = huggingface_hub.is_offline_mode

    if not hasattr(_mu, "get_parameter_dtype"):
        def get_parameter_dtype(module):
            for p in module.parameters():
                if p.is_floating_point():
                    return p.dtype
            return next(module.parameters()).dtype
        _mu.get_parameter_dtype = get_parameter_dtype

    try:
        import transformers.utils.output_capturing as _oc
        for _n in ("_CAN_RECORD_REGISTRY", "OutputRecorder"):
            if not hasattr(_gen, _n) and hasattr(_oc, _n):
                setattr(_gen, _n, getattr(_oc, _n))
    except ImportError:
        pass

    if "AutoModelForVision2Seq" not in _tf.__dict__:
        setattr(_tf, "AutoModelForVision2Seq", _tf.AutoModelForImageTextToText)

    from transformers.configuration_utils import PretrainedConfig as _PC
    if not hasattr(_PC, "_get_non_default_generation_parameters"):
        # transformers 5 moved generation params out of the model config; nothing to move for encoders
        _PC._get_non_default_generation_parameters = lambda self: {}

    # optimum's exporter swaps transformers' mask builders for 4.5x-signature "without vmap" versions
    # while tracing; transformers 5's own sdpa_mask/eager_mask already avoid vmap by default
    # (use_vmap=False) and take a different signature, so keep the originals.
    import transformers.masking_utils as _mask
    import optimum.exporters.onnx.model_patcher as _omp
    _omp.sdpa_mask_without_vmap = _mask.sdpa_mask
    _omp.eager_mask_without_vmap = _mask.eager_mask


def texts(seed: int, n_short: int, n_pass: int) -> tuple[list[str], list[str]]:
    raw = re.sub(r"\s+", " ", " ".join(p.read_text(encoding="utf-8") for p in sorted((ROOT / "sources").glob("*.txt"))))
    sents = [s.strip() for s in re.split(r"(?<=[.!?])\s+", raw) if s.strip()]
    short = [s for s in sents if 15 <= len(s.split()) <= 30]
    passages = []
    for i in range(len(sents)):  # a ~700-character window starting at every sentence
        cur = ""
        for s in sents[i:]:
            cur = (cur + " " + s).strip()
            if len(cur) >= 650:
                break
        if 600 <= len(cur) <= 900:
            passages.append(cur)
    rng = random.Random(seed)

    def fill(pool: list[str], n: int) -> list[str]:
        out: list[str] = []
        while len(out) < n:
            p = pool[:]
            rng.shuffle(p)
            out += p
        return out[:n]

    return fill(short, n_short), fill(passages, n_pass)


def load_onnx(model_path: Path, folder: Path, variant: str):
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.backend import export_dynamic_quantized_onnx_model, export_optimized_onnx_model

    if not (folder / "modules.json").exists():
        shutil.copytree(model_path, folder, dirs_exist_ok=True)
    if not (folder / "onnx" / "model.onnx").exists():
        SentenceTransformer(str(folder), backend="onnx", device="cpu", local_files_only=True).save_pretrained(str(folder))
    target = folder / "onnx" / VARIANTS[variant]
    if not target.exists():
        base = SentenceTransformer(str(folder), backend="onnx", device="cpu", local_files_only=True,
                                   model_kwargs={"file_name": "onnx/model.onnx"})
        if variant == "O3":
            export_optimized_onnx_model(base, "O3", str(folder))
        elif variant == "int8":
            export_dynamic_quantized_onnx_model(base, "avx512_vnni", str(folder))
    return SentenceTransformer(str(folder), backend="onnx", device="cpu", local_files_only=True,
                               model_kwargs={"file_name": f"onnx/{VARIANTS[variant]}"})


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sentences", type=int, default=600)
    ap.add_argument("--passages", type=int, default=300)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    try:
        _compat()
    except ImportError as exc:
        print(f"the ONNX packages are not importable ({exc}); install them as the docstring says")
        return 2
    import numpy as np

    from assistant.index.embed import get_embedder, verified_model_path

    short, passages = texts(args.seed, args.sentences, args.passages)
    torch_model = get_embedder().model

    from bench_scale import encode_rate as run

    ref = {k: run(torch_model, xs) for k, xs in (("sentences", short), ("passages", passages))}
    uniq = list(dict.fromkeys(short))[:50]
    pool = list(dict.fromkeys(short + passages))

    def neighbours(model) -> list[set[int]]:
        P, Q = model.encode(pool, normalize_embeddings=True), model.encode(uniq, normalize_embeddings=True)
        sims = Q @ P.T
        for i, q in enumerate(uniq):
            sims[i, pool.index(q)] = -np.inf
        return [set(np.argsort(-r)[:10]) for r in sims]

    ref_nn = neighbours(torch_model)
    print(f"{len(short)} sentences, {len(passages)} passages, batch 32")
    print("| path | sentences/s | passages/s | cosine to torch fp32 mean / min | 10-nearest neighbours kept |")
    print("|---|---|---|---|---|")
    print(f"| torch fp32 | {ref['sentences'][0]:.0f} | {ref['passages'][0]:.1f} | 1 / 1 | 100% |")
    with tempfile.TemporaryDirectory(prefix="cc-onnx-") as tmp:
        for variant in VARIANTS:
            t0 = time.perf_counter()
            model = load_onnx(verified_model_path(), Path(tmp), variant)
            export_s = time.perf_counter() - t0
            rs, vs = run(model, short)
            rp, vp = run(model, passages)
            cos = np.concatenate([(vs * ref["sentences"][1]).sum(1), (vp * ref["passages"][1]).sum(1)])
            kept = np.mean([len(a & b) / 10 for a, b in zip(neighbours(model), ref_nn)])
            print(f"| ONNX {variant} (export + load {export_s:.0f} s) | {rs:.0f} (x{rs / ref['sentences'][0]:.2f}) | "
                  f"{rp:.1f} (x{rp / ref['passages'][0]:.2f}) | {cos.mean():.4f} / {cos.min():.4f} | {kept:.0%} |")
    return 0


if __name__ == "__main__":
    from assistant.shells.environment import apply_offline_defaults

    apply_offline_defaults()  # offline, no telemetry, before the heavy imports
    sys.exit(main())
