"""Shared fixtures: the real packaged model, real chromadb indexes in temporary folders."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from assistant.shells.environment import apply_offline_defaults

apply_offline_defaults()  # as the shells do at start-up: offline, no telemetry, before heavy imports

ROOT = Path(__file__).resolve().parent.parent
DATA = Path(__file__).resolve().parent / "data"
SEEDS = ROOT / "sources"


def copy_folder(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst)
    return dst


@pytest.fixture(scope="session")
def corpus_dir(tmp_path_factory) -> Path:
    """A private copy of the tiny hand-written corpus (tests may not touch tests/data)."""
    return copy_folder(DATA / "corpus", tmp_path_factory.mktemp("corpus") / "sources")


@pytest.fixture(scope="session")
def tiny(corpus_dir, tmp_path_factory):
    """Crosscheck over the tiny corpus, indexed once per session."""
    from assistant import Crosscheck

    return Crosscheck.open(corpus_dir, tmp_path_factory.mktemp("tiny-index"))


@pytest.fixture(scope="session")
def seeds(tmp_path_factory):
    """Crosscheck over the two seed articles in sources/, indexed once per session."""
    from assistant import Crosscheck

    return Crosscheck.open(SEEDS, tmp_path_factory.mktemp("seed-index"))
