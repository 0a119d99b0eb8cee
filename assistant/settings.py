"""The one settings object. Library code reads the environment only here."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

class Settings(BaseSettings):
    """Paths, model and retrieval knobs; every field can be set as ``CROSSCHECK_<NAME>``."""

    model_config = SettingsConfigDict(env_prefix="CROSSCHECK_", frozen=True)

    sources: Path = Path("sources")
    index: Path = Path("index")
    chroma_url: str | None = None
    # `serve --host 0.0.0.0` requires a login, given as CROSSCHECK_AUTH=user:password; kept out of reprs and logs.
    auth: str | None = Field(None, repr=False)
    # Index-shaping settings: changing any of them rebuilds the index (see ``index_fingerprint``).
    passage_chars: int = Field(700, description="soft passage size; 700 chars ≈ 160 tokens < 256-token model limit")
    max_file_bytes: int = 5_000_000
    # The pair judge for disagreements: None = the built-in trained cross-encoder; or a path to any
    # sentence-transformers CrossEncoder NLI model folder. Changing it re-runs only the disagreement pass.
    judge: str | None = None
    # Question-time knobs: changing them never touches the index.
    max_question_chars: int = 2_000
    candidates: int = 20
    answer_sentences: int = 3
    rrf_k: int = 60
    abstain_min_cosine: float = 0.30
    # A question naming a word the sources never use is answered only on a strong match: 0.68 answers
    # "Does dry needling hurt?" (0.76) and abstains on "Does insurance cover acupuncture?" (0.66).
    abstain_uncovered_cosine: float = 0.68

    def index_fingerprint(self) -> dict:
        """The settings that shape what is stored; a change in any of them forces a rebuild."""
        return {"passage_chars": self.passage_chars}

    def fingerprint_hash(self) -> str:
        blob = json.dumps(self.index_fingerprint(), sort_keys=True).encode()
        return hashlib.sha256(blob).hexdigest()[:12]


def load_settings(**overrides) -> Settings:
    """Settings from the environment, with explicit overrides (None values ignored)."""
    return Settings(**{k: v for k, v in overrides.items() if v is not None})
