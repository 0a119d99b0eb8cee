"""The rooms keep their doors: who may import what, and importing the library changes nothing in the process."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

import pytest

PKG = Path(__file__).resolve().parent.parent / "assistant"
LEAVES = {"types", "settings", "errors", "text"}


def imports(path: Path) -> set[str]:
    """Absolute module names a file imports (relative imports resolved inside ``assistant``)."""
    parts = ["assistant", *path.relative_to(PKG).with_suffix("").parts]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = parts[: len(parts) - node.level] if node.level else []
            mod = ".".join(base + ([node.module] if node.module else []))
            found.add(mod)
            found |= {f"{mod}.{a.name}" for a in node.names}
    return found


def modules(room: str) -> list[Path]:
    return sorted((PKG / room).rglob("*.py")) if (PKG / room).is_dir() else [PKG / f"{room}.py"]


@pytest.mark.parametrize("path", modules("shells"), ids=lambda p: p.name)
def test_shells_use_only_the_door(path):
    allowed = {"assistant.api", "assistant.shells"} | {f"assistant.{leaf}" for leaf in LEAVES}
    inside = {m for m in imports(path) if m.startswith("assistant")}
    wrong = {m for m in inside if not any(m == a or m.startswith(a + ".") for a in allowed)}
    assert not wrong, f"{path.name} reaches past the door: {sorted(wrong)}"


def test_only_the_index_room_touches_chromadb_and_only_model_loaders_import_torch():
    for path in PKG.rglob("*.py"):
        names = imports(path)
        rel = path.relative_to(PKG).as_posix()
        if any(n == "chromadb" or n.startswith("chromadb.") for n in names):
            assert rel.startswith("index/"), rel
        if "torch" in names or any(n.startswith("sentence_transformers") for n in names):
            assert rel in {"index/embed.py", "analyse/judge.py"}, rel


def test_only_settings_reads_the_environment_and_only_the_shells_set_it():
    for path in PKG.rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        rel = path.relative_to(PKG).as_posix()
        if rel not in ("settings.py", "shells/environment.py"):
            assert "os.environ" not in text and "getenv" not in text, rel


def test_the_cli_help_imports_nothing_heavy():
    code = ("import sys; from assistant.shells import cli; print(sorted(m for m in ('pydantic', 'numpy', 'torch', "
            "'chromadb', 'gradio') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_importing_the_library_changes_no_environment_variable():
    code = ("import os; before = dict(os.environ); import assistant.api, assistant.index.embed, assistant.shells.ui, "
            "assistant.shells.cli; print(before == dict(os.environ))")
    from assistant.shells.environment import OFFLINE_DEFAULTS

    env = {k: v for k, v in os.environ.items() if k not in OFFLINE_DEFAULTS}  # what the shells would set
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env).stdout
    assert out.strip() == "True"


def test_the_cli_sets_the_offline_defaults_before_any_command():
    from assistant.shells.environment import OFFLINE_DEFAULTS

    env = {k: v for k, v in os.environ.items() if k not in OFFLINE_DEFAULTS}
    code = ("import os, sys; from assistant.shells import cli; sys.argv = ['crosscheck', '--version']\n"
            "try:\n    cli.main()\nexcept SystemExit:\n    pass\n"
            "print(os.environ.get('HF_HUB_OFFLINE'), os.environ.get('ANONYMIZED_TELEMETRY'))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env).stdout
    assert out.splitlines()[-1] == "1 False"
