"""Reliability: an end-to-end run with no network at all, a full disk, and Hypothesis fuzzing of the loader,
the segmenter and the question path. (Server mode, kill -9, a damaged index and concurrent builds are in
test_server_mode.py and test_faults.py.)"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from contextlib import contextmanager
from pathlib import Path

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from assistant.index import store
from assistant.api import Crosscheck
from assistant.errors import QuestionError, SourceError
from assistant.ingest.segment import segment, split_sentences
from assistant.ingest.sources import Document, load_document

ROOT = Path(__file__).resolve().parent.parent
SEEDS = ROOT / "sources"
UNSHARE = shutil.which("unshare")


def cli(*args, env: dict | None = None, timeout: int = 600) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "assistant", *args], capture_output=True, text=True, cwd=ROOT,
                          env=env, timeout=timeout)


def raw_text(path: str | Path) -> str:
    with open(path, encoding="utf-8") as f:
        return f.read()


def assert_quotes_verbatim(ans: dict, sources: dict) -> None:
    """Every citation and flag quote is the source file's raw text at its offsets (the Answer contract)."""
    quotes = [*ans["citations"], *ans["flags"], *(f["other"] for f in ans["flags"] if f.get("other"))]
    for q in quotes:
        assert raw_text(sources[q["source_id"]].path)[q["start"]:q["end"]] == q["quote"], q


# ------------------------------------------------------------------------------------------ offline proof
def _unshare_works() -> str | None:
    """None when `unshare -n` can create a network namespace here, else why not."""
    if UNSHARE is None:
        return "unshare (util-linux) is not installed"
    try:
        r = subprocess.run([UNSHARE, "-n", "true"], capture_output=True, text=True, timeout=30)
    except OSError as exc:
        return f"unshare cannot run: {exc}"
    return None if r.returncode == 0 else f"unshare -n is not permitted here (needs root or CAP_SYS_ADMIN): {r.stderr.strip()}"


# Run first inside the namespace: proves there is no route anywhere, not even DNS, before Crosscheck starts.
NO_NETWORK_PROBE = """
import socket
for target in [("1.1.1.1", 53), ("10.255.255.1", 80)]:
    try:
        socket.create_connection(target, timeout=2).close()
    except OSError:
        continue
    raise SystemExit(f"network reachable: {target}")
try:
    socket.getaddrinfo("huggingface.co", 443)
except OSError:
    print("no network")
else:
    raise SystemExit("DNS works")
"""


def test_end_to_end_answer_inside_a_network_namespace_with_no_network(tmp_path):
    why = _unshare_works()
    if why:
        pytest.skip(why)
    src = shutil.copytree(SEEDS, tmp_path / "sources")
    idx = tmp_path / "index"
    # No HF_*/TRANSFORMERS_* offline switches from outside: the library must set them itself.
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HF_", "TRANSFORMERS_", "CROSSCHECK_"))}
    script = (f"{sys.executable} -c '{NO_NETWORK_PROBE}' && exec {sys.executable} -m assistant ask "
              f"'Who developed dry needling?' --json --sources '{src}' --index '{idx}'")
    r = subprocess.run([UNSHARE, "-n", "--", "sh", "-c", script], capture_output=True, text=True, cwd=ROOT, env=env,
                       timeout=600)
    assert r.returncode == 0, r.stderr
    probe, line = r.stdout.splitlines()
    assert probe == "no network"
    ans = json.loads(line)
    assert "index: 2 added" in r.stderr  # built from nothing inside the namespace
    assert not ans["abstained"] and ans["citations"], ans
    assert any("Lewit" in c["quote"] or "Western medical physician" in c["quote"] for c in ans["citations"]), ans
    for c in ans["citations"]:
        assert raw_text(src / f"{c['source_id']}.txt")[c["start"]:c["end"]] == c["quote"]


# ---------------------------------------------------------------------------------------------- full disk
@contextmanager
def tmpfs(path: Path, size: str):
    """A small RAM disk at ``path``; skips the test when mounting is not permitted."""
    path.mkdir(parents=True, exist_ok=True)
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)], capture_output=True, text=True)
    if r.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here (needs root): {r.stderr.strip()}")
    try:
        yield path
    finally:
        store.release_clients()  # chromadb keeps files open; let go before unmounting
        subprocess.run(["umount", "-l", str(path)], check=False)


def fill(disk: Path) -> Path:
    """Write zeros to ``disk`` until not even 512 bytes fit; returns the filler file."""
    filler = disk / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
    try:
        for size in (1 << 20, 1 << 16, 4096, 512):
            while True:
                try:
                    os.write(fd, b"\0" * size)
                except OSError:
                    break
    finally:
        os.close(fd)
    return filler


def add_articles(src: Path, n: int) -> None:
    for k in range(n):
        (src / f"extra{k:02d}.txt").write_text(
            "\n\n".join(f"Extra article {k}, paragraph {j}: foam rolling notes number {j} for runners." for j in range(8)),
            encoding="utf-8")


DISK_FULL = re.compile(r"disk is full|no space|out of (disk )?space|disk full", re.IGNORECASE)


def assert_disk_full_error(r: subprocess.CompletedProcess, idx: Path) -> None:
    """Exit 2, no traceback, and a last stderr line `error: ...` naming the index folder and the full disk."""
    assert "Traceback" not in r.stderr, r.stderr
    assert r.returncode == 2, r.stderr
    last = r.stderr.strip().splitlines()[-1]
    assert last.startswith("error: ") and str(idx) in last and DISK_FULL.search(last), last


def test_full_disk_on_a_good_index_is_a_clear_error_and_loses_nothing(corpus_dir, tmp_path):
    with tmpfs(tmp_path / "disk", "4m") as disk:
        src = shutil.copytree(corpus_dir, tmp_path / "sources")
        idx = disk / "index"
        before = Crosscheck.open(src, idx).ask("What is foam rolling?").to_dict()
        manifest = store.read_manifest(idx)
        records = sorted(p.name for p in (idx / "records").iterdir())
        store.release_clients()
        filler = fill(disk)
        add_articles(src, 5)
        r = cli("index", "--sources", str(src), "--index", str(idx))
        # A full disk is not a damaged index: the good index must not be wiped "to rebuild it".
        assert (idx / store.MANIFEST).exists(), f"the index was wiped on a full disk:\n{r.stderr}"
        assert store.read_manifest(idx) == manifest
        assert sorted(p.name for p in (idx / "records").iterdir()) == records
        assert_disk_full_error(r, idx)
        assert "rebuilt from sources" not in r.stderr
        filler.unlink()
        store.release_clients()
        assert Crosscheck.open(src, idx, update=False).ask("What is foam rolling?").to_dict() == before
        store.release_clients()
        r = cli("index", "--sources", str(src), "--index", str(idx))  # with space again, the next run completes
        assert r.returncode == 0, r.stderr
        assert "5 added" in r.stderr and "3 unchanged" in r.stderr
        assert not (idx / store.JOURNAL).exists()
        assert len(store.read_manifest(idx).sources) == 8


def test_index_folder_too_small_from_the_start_is_a_clear_error_then_builds_once_there_is_room(corpus_dir, tmp_path):
    with tmpfs(tmp_path / "disk", "300k") as disk:
        idx = disk / "index"
        r = cli("index", "--sources", str(corpus_dir), "--index", str(idx))
        assert_disk_full_error(r, idx)
        assert not (idx / store.MANIFEST).exists()
        subprocess.run(["mount", "-o", "remount,size=8m", str(disk)], check=True)
        r = cli("index", "--sources", str(corpus_dir), "--index", str(idx))
        assert r.returncode == 0, r.stderr
        assert "3 added" in r.stderr and not (idx / store.JOURNAL).exists()
        store.release_clients()
        ans = Crosscheck.open(corpus_dir, idx, update=False).ask("What is foam rolling?")
        assert ans.citations


# ------------------------------------------------------------------------------------------------ fuzzing
FUZZ = settings(max_examples=150, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

# Any UTF-8-encodable character (no lone surrogates), control characters and odd line ends included.
any_char = st.characters(codec="utf-8")
control = st.sampled_from(["\x00", "\x01", "\x07", "\x0b", "\x0c", "\x1b", "\x7f", "\x85", "\u2028", "\u2029", "\ufeff",
                           "\u200b", "\u202e", "\r", "\r\n", "\n", "\t"])
words = st.sampled_from(["Dry needling", "acupuncture", "works.", "Dr.", "e.g.", "It", "is", "safe!", "Why?", "“quoted”",
                         "(see", "Fig.", "1.", "- ", "* ", "# ", "## ", "---", "```", "Top of page", "Menu", "©2024",
                         "Table of Contents", "&amp;", "&#x41;", "&#99999999999;", "&bogus;", "&", "<", ">", "é", "😀",
                         "中文", "\u0301"])
html_bits = st.sampled_from(["<p>", "</p>", "<h1>", "</h1>", "<h2>", "</h2>", "<div>", "</div>", "<br>", "<br/>", "<li>",
                             "<script>", "</script>", "<style>", "</style>", "<nav>", "</nav>", "<title>", "</title>",
                             "<!-- c -->", "<!--", "<![CDATA[x]]>", "<!DOCTYPE html>", "<meta name=author content=x>",
                             "<a href='x'>", "</a>", "<b>", "</b>", "<img src=x>", "<p", "</", "&nbsp;", "&#65;",
                             "&#x;", "&#;", "&lt;", "&amp", "<?xml?>", "<td>", "</tr>"])
md_bits = st.sampled_from(["---\ntitle: T\n---\n", "---\n: : :\n---\n", "---\n- a\n---\n", "# ", "###### ", "```\n",
                           "> ", "1) ", "**", "__", "[x](y)", "\n\n\n"])


def pieces(extra) -> st.SearchStrategy[str]:
    return st.lists(st.one_of(st.text(any_char, max_size=20), control, words, extra), max_size=60).map("".join)


def huge(text: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    """A single line of up to ~200k characters: the loader and splitter must stay linear and correct."""
    return st.tuples(text.filter(bool), st.integers(1, 200_000)).map(lambda t: (t[0] * (t[1] // len(t[0]) + 1))[:t[1]])


file_text = {
    ".txt": st.one_of(st.text(any_char), pieces(st.nothing()), huge(pieces(st.nothing()))),
    ".md": st.one_of(st.text(any_char), pieces(md_bits), huge(pieces(md_bits))),
    ".html": st.one_of(st.text(any_char), pieces(html_bits), huge(pieces(html_bits))),
}


@pytest.fixture(scope="module")
def fuzz_dir():
    with tempfile.TemporaryDirectory(prefix="cc-fuzz-") as d:
        yield Path(d)


def check_document(doc: Document, path: Path) -> None:
    """Offsets of blocks, sentences and passages stay inside the raw text, which is the file as Python reads it."""
    raw = doc.raw
    assert raw == raw_text(path)
    for b in doc.blocks:
        assert b.text
        for cs, rs, cl, rl in b.segments:
            assert 0 <= rs and rs + rl <= len(raw) and 0 <= cs and cs + cl <= len(b.text)
            if cl == rl:  # plain text maps one to one onto the raw file
                assert raw[rs:rs + rl] == b.text[cs:cs + cl]
        lo, hi = b.raw_span(0, len(b.text))
        assert 0 <= lo < hi <= len(raw)
    seg = segment(doc)
    for s in seg.sentences:
        assert 0 <= s.start < s.end <= len(raw) and s.text
    for p in seg.passages:
        assert 0 <= p.start < p.end <= len(raw)


def load_or_refuse(path: Path) -> None:
    """The loader's contract on any file: a Document with sound offsets, or a SourceError — nothing else."""
    try:
        doc = load_document(path)
    except SourceError as exc:
        assert str(exc) and path.name in str(exc)
        event("refused: " + str(exc).split(" ", 2)[1])
        return
    event(f"loaded: {len(doc.blocks) > 1 and 'several' or 'one'} block(s), {len(doc.raw) > 10_000 and 'huge' or 'small'}")
    check_document(doc, path)


@pytest.mark.parametrize("suffix", [".txt", ".md", ".html"])
def test_fuzz_loader_on_random_text(fuzz_dir, suffix):
    @FUZZ
    @given(text=file_text[suffix], newline=st.sampled_from(["\n", "\r\n", "\r"]))
    def run(text, newline):
        path = fuzz_dir / f"doc{suffix}"
        path.write_bytes(text.replace("\n", newline).encode("utf-8"))
        load_or_refuse(path)

    run()


@pytest.mark.parametrize("suffix", [".txt", ".md", ".html"])
def test_fuzz_loader_on_random_bytes(fuzz_dir, suffix):
    @FUZZ
    @given(data=st.one_of(st.binary(max_size=4096), st.text(any_char).map(lambda t: t.encode("utf-8")).flatmap(
        lambda b: st.tuples(st.just(b), st.binary(max_size=8), st.integers(0, len(b))).map(lambda t: t[0][:t[2]] + t[1] + t[0][t[2]:]))))
    def run(data):
        path = fuzz_dir / f"bytes{suffix}"
        path.write_bytes(data)
        load_or_refuse(path)

    run()


def test_fuzz_oversized_file_is_refused_with_the_limit(fuzz_dir):
    path = fuzz_dir / "big.txt"
    path.write_text("word " * 300, encoding="utf-8")
    with pytest.raises(SourceError, match=r"big.txt is 1.5 kB, over the 1 kB limit"):
        load_document(path, max_bytes=1000)


@FUZZ
@given(text=st.one_of(st.text(any_char), pieces(st.nothing()), huge(pieces(st.nothing()))))
def test_fuzz_split_sentences_spans_are_in_bounds_ordered_and_disjoint(text):
    spans = split_sentences(text)
    prev_end = 0
    for s, e in spans:
        assert prev_end <= s < e <= len(text)
        assert not text[s].isspace() and not text[e - 1].isspace()
        assert any(c.isalnum() for c in text[s:e])
        prev_end = e


@pytest.mark.parametrize("suffix", [".txt", ".md", ".html"])
def test_fuzz_segment_sentences_and_passages_are_ordered_and_disjoint(fuzz_dir, suffix):
    @FUZZ
    @given(text=st.one_of(pieces(st.nothing()), pieces(md_bits if suffix == ".md" else html_bits)),
           passage_chars=st.integers(1, 1000))
    def run(text, passage_chars):
        path = fuzz_dir / f"seg{suffix}"
        path.write_text(text, encoding="utf-8")
        try:
            doc = load_document(path)
        except SourceError:
            return
        seg = segment(doc, passage_chars)
        prev = 0
        for s in seg.sentences:
            assert prev <= s.start < s.end <= len(doc.raw)
            prev = s.end
        prev = 0
        ids = []
        for p in seg.passages:
            assert prev <= p.start < p.end <= len(doc.raw) and p.sentence_ids
            prev = p.end
            ids += p.sentence_ids
        assert ids == [s.id for s in seg.sentences]  # every sentence in exactly one passage, in order

    run()


ON_TOPIC = ["What is foam rolling?", "Is foam rolling the same as stretching?", "Who popularised foam rolling?",
            "What are the risks of foam rolling?", "How much less soreness did runners report with a foam roller?",
            "Where does stretching come from?", "Is it safe?", "Who developed it?"]
questions = st.one_of(
    # A real question with noise around and inside it: most of these are answered, so citations get checked.
    st.tuples(st.text(any_char, max_size=15), st.sampled_from(ON_TOPIC), control, st.text(any_char, max_size=15)).map(
        lambda t: t[0] + " " + t[1].replace(" ", t[2] if t[2].isspace() else " ", 1) + " " + t[3]),
    st.text(any_char, max_size=300),
    pieces(st.sampled_from(["foam rolling", "stretching", "it", "?", "who", "what", "is", "the same as"])),
    st.text(any_char, min_size=1, max_size=50).map(lambda t: t * (3000 // len(t))),  # over the length limit
)
history_turns = st.lists(st.one_of(
    st.text(any_char, max_size=80), st.none(), st.integers(),
    st.fixed_dictionaries({"role": st.sampled_from(["user", "assistant", "system"]), "content": st.one_of(st.text(max_size=40), st.none(), st.integers())}),
), max_size=6)


@settings(max_examples=50, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(question=questions, history=history_turns)
def test_fuzz_question_path_answers_or_refuses_and_every_quote_is_verbatim(tiny, question, history):
    try:
        ans = tiny.ask(question, history=history)
    except QuestionError as exc:
        assert str(exc)
        event("QuestionError")
        return
    event("abstained" if ans.abstained else "answered")
    d = ans.to_dict()
    assert json.loads(json.dumps(d)) == d
    if d["abstained"]:
        assert d["citations"] == []
    assert_quotes_verbatim(d, tiny.corpus.sources)
