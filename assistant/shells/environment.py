"""The process environment the shells set at start-up: offline, no telemetry, quiet model loading.

Called first thing by the CLI and the app (and by the benchmark and training scripts), before chromadb, gradio or
huggingface are imported. The library never needs it — it loads its models from local paths — and never writes the
environment; ``settings.py`` is the only module that reads it.
"""

from __future__ import annotations

import os

OFFLINE_DEFAULTS = {
    "ANONYMIZED_TELEMETRY": "False",
    "GRADIO_ANALYTICS_ENABLED": "False",
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "HF_HUB_DISABLE_TELEMETRY": "1",
    "TOKENIZERS_PARALLELISM": "false",
    "HF_HUB_DISABLE_PROGRESS_BARS": "1",  # no "Loading weights" bars on stderr
}


def apply_offline_defaults() -> None:
    """Set the offline, no-telemetry environment for this process, keeping values the user set."""
    for var, value in OFFLINE_DEFAULTS.items():
        os.environ.setdefault(var, value)
