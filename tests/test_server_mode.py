"""CROSSCHECK_CHROMA_URL: the same code path against a real `chroma run` server, surviving a restart."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from assistant.index import store
from assistant.api import Crosscheck
from assistant.settings import load_settings

CHROMA = Path(sys.executable).with_name("chroma")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(path: Path, port: int) -> subprocess.Popen:
    env = {**os.environ, "ANONYMIZED_TELEMETRY": "False"}
    proc = subprocess.Popen([str(CHROMA), "run", "--path", str(path), "--host", "127.0.0.1", "--port", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return proc
        except OSError:
            time.sleep(0.2)
    proc.kill()
    raise RuntimeError("chroma server did not start")


@pytest.mark.skipif(not CHROMA.exists(), reason="the chroma CLI comes with chromadb")
def test_server_mode_answers_and_survives_a_restart(corpus_dir, tmp_path):
    port = free_port()
    data = tmp_path / "chroma-data"
    proc = start_server(data, port)
    try:
        settings = load_settings(sources=corpus_dir, index=tmp_path / "idx", chroma_url=f"http://127.0.0.1:{port}")
        cc = Crosscheck.open(settings=settings)
        before = cc.ask("What is foam rolling?").to_dict()
        assert not before["abstained"] and before["citations"]
        assert not (tmp_path / "idx" / "chroma").exists()  # vectors live in the server, not in the index folder
        proc.terminate()
        proc.wait(timeout=30)
        proc = start_server(data, port)
        store.release_clients()
        after = Crosscheck.open(settings=settings).ask("What is foam rolling?").to_dict()
        assert after == before
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_unreachable_server_is_a_clear_error(corpus_dir, tmp_path):
    from assistant.errors import IndexError_

    settings = load_settings(sources=corpus_dir, index=tmp_path / "idx", chroma_url=f"http://127.0.0.1:{free_port()}")
    with pytest.raises(IndexError_, match="cannot reach the chromadb server at http://127.0.0.1:.*: start it with `chroma run"):
        Crosscheck.open(settings=settings)
