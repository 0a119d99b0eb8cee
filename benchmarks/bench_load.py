"""Load: many concurrent chat sessions against the real app, through gradio_client, on loopback only.

    .venv/bin/python benchmarks/bench_load.py [--clients 20] [--turns 10] [--rounds 2]

Builds an index of sources/ in a temporary folder, starts `python app.py --port P` as a subprocess on a free
127.0.0.1 port, warms it up with one question, then runs ``--clients`` sessions at once, each a multi-turn
``/chat`` conversation of ``--turns`` questions drawn (fixed seed) from benchmarks/questions.jsonl, with
follow-ups ("Is it safe?") that only make sense with the history. Repeats that ``--rounds`` times so a
memory leak would show as RSS growing from round to round.

Every reply is checked: it answers the question sent, the conversation history has grown by exactly one
turn (sessions never see each other's state), and every citation quote is the source file's text at its
offsets. Prints errors (must be 0), p50/p95/max latency per turn, throughput, the largest queue the
server reported, and the server's VmRSS before/after each round and its peak (VmHWM), from /proc.
Everything is bounded: each turn times out after ``--turn-timeout`` s and the whole run after ``--max-seconds``.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
QUESTIONS = ROOT / "benchmarks" / "questions.jsonl"
FOLLOW_UPS = ["Is it safe?", "Who developed it?", "How does it work?", "Does it hurt?", "What is it used for?"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def proc_status(pid: int) -> dict[str, int]:
    """VmRSS and VmHWM (peak RSS) of a process, in MB, from /proc/<pid>/status."""
    out = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                out[key] = int(value.split()[0]) // 1024
    return out


def conversations(n_clients: int, turns: int, seed: int) -> list[list[str]]:
    """One list of questions per client: drawn from questions.jsonl, with follow-ups after in-scope questions."""
    rows = [json.loads(line) for line in QUESTIONS.read_text(encoding="utf-8").splitlines() if line.strip()]
    rng = random.Random(seed)
    convs = []
    for _ in range(n_clients):
        conv: list[str] = []
        while len(conv) < turns:
            row = rng.choice(rows)
            conv.append(row["question"])
            if row["in_scope"] and len(conv) < turns and rng.random() < 0.3:
                conv.append(rng.choice(FOLLOW_UPS))
        convs.append(conv)
    return convs


class Server:
    """`python app.py` as a subprocess on a free loopback port."""

    def __init__(self, sources: Path, index: Path, port: int):
        self.port = port
        self.url = f"http://127.0.0.1:{port}/"
        self.log = open(index.parent / "server.log", "w")
        self.proc = subprocess.Popen(
            [sys.executable, "app.py", "--sources", str(sources), "--index", str(index), "--port", str(port)],
            cwd=ROOT, stdout=self.log, stderr=subprocess.STDOUT)

    def wait(self, timeout: float) -> None:
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"the server exited with {self.proc.returncode}: see {self.log.name}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return
            except OSError:
                time.sleep(0.3)
        raise RuntimeError("the server did not start in time")

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()


class Sampler(threading.Thread):
    """Samples the server's RSS every 0.2 s while the load runs."""

    def __init__(self, pid: int):
        super().__init__(daemon=True)
        self.pid, self.samples, self.stop_flag = pid, [], threading.Event()

    def run(self) -> None:
        while not self.stop_flag.wait(0.2):
            try:
                self.samples.append(proc_status(self.pid)["VmRSS"])
            except OSError:
                return


def check_answer(ans: dict, question: str, raw: dict[str, str]) -> str | None:
    """Why a reply is wrong, or None."""
    if ans.get("question") != question:
        return f"answered {ans.get('question')!r} instead of {question!r}"
    if ans["abstained"] and ans["citations"]:
        return "abstained with citations"
    for c in [*ans["citations"], *ans["flags"], *(f["other"] for f in ans["flags"] if f.get("other"))]:
        if raw[c["source_id"]][c["start"]:c["end"]] != c["quote"]:
            return f"quote of {c['source_id']} {c['start']}:{c['end']} is not the file text"
    return None


def session(url: str, conv: list[str], raw: dict[str, str], turn_timeout: float, deadline: float) -> dict:
    """One client: a multi-turn /chat conversation; returns latencies, errors and the largest queue seen."""
    from gradio_client import Client

    out = {"latencies": [], "errors": [], "max_queue": 0}
    try:
        client = Client(url, verbose=False)
    except Exception as exc:  # noqa: BLE001 (a benchmark counts every failure)
        out["errors"].append(f"connect: {type(exc).__name__}: {exc}")
        return out
    history: list = []
    for q in conv:
        if time.time() > deadline:
            out["errors"].append("run deadline reached")
            break
        t0 = time.perf_counter()
        try:
            job = client.submit(q, history, api_name="/chat")
            while not job.done():
                st = job.status()
                out["max_queue"] = max(out["max_queue"], st.queue_size or 0)
                if time.perf_counter() - t0 > turn_timeout:
                    raise TimeoutError(f"no reply in {turn_timeout:.0f} s")
                time.sleep(0.02)
            cleared, new_history, ans = job.result(timeout=turn_timeout)
        except Exception as exc:  # noqa: BLE001
            out["errors"].append(f"{q!r}: {type(exc).__name__}: {exc}")
            continue
        out["latencies"].append(time.perf_counter() - t0)
        problem = check_answer(ans, q, raw)
        if problem is None and (cleared != "" or len(new_history) != len(history) + 2):
            problem = f"history has {len(new_history)} messages after {len(history) // 2 + 1} turns"
        if problem:
            out["errors"].append(problem)
        history = new_history
    client.close() if hasattr(client, "close") else None
    return out


def pct(xs: list[float], p: float) -> float:
    if not xs:
        return float("nan")
    xs = sorted(xs)
    return xs[min(len(xs) - 1, max(0, round(p / 100 * len(xs)) - 1))]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--clients", type=int, default=20)
    ap.add_argument("--turns", type=int, default=10)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--sources", type=Path, default=ROOT / "sources")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--turn-timeout", type=float, default=120)
    ap.add_argument("--max-seconds", type=float, default=1200)
    args = ap.parse_args()

    work = Path(tempfile.mkdtemp(prefix="cc-bench-load-"))
    sources = shutil.copytree(args.sources, work / "sources")
    index = work / "index"
    raw = {p.stem: open(p, encoding="utf-8").read() for p in sources.iterdir() if p.is_file()}
    subprocess.run([sys.executable, "-m", "assistant", "index", "--sources", str(sources), "--index", str(index)],
                   cwd=ROOT, check=True, capture_output=True)
    server = Server(sources, index, free_port())
    try:
        server.wait(180)
        ready = proc_status(server.proc.pid)["VmRSS"]
        warm = session(server.url, ["What is dry needling?"], raw, args.turn_timeout, time.time() + 300)
        if warm["errors"]:
            print("warm-up failed:", warm["errors"], file=sys.stderr)
            return 1
        rss_before = proc_status(server.proc.pid)["VmRSS"]
        print(f"server pid {server.proc.pid} on {server.url}: RSS {ready} MB when ready, {rss_before} MB after warm-up "
              f"(model loaded); queue: default_concurrency_limit=2 per event, max_size=None")
        deadline = time.time() + args.max_seconds
        all_lat, all_err, rounds = [], [], []
        for r in range(args.rounds):
            convs = conversations(args.clients, args.turns, args.seed + r)
            sampler = Sampler(server.proc.pid)
            sampler.start()
            t0 = time.perf_counter()
            with ThreadPoolExecutor(max_workers=args.clients) as pool:
                results = list(pool.map(lambda c: session(server.url, c, raw, args.turn_timeout, deadline), convs))
            wall = time.perf_counter() - t0
            sampler.stop_flag.set()
            sampler.join()
            lat = [x for res in results for x in res["latencies"]]
            err = [e for res in results for e in res["errors"]]
            st = proc_status(server.proc.pid)
            rounds.append({"round": r + 1, "turns": len(lat), "errors": len(err), "p50": pct(lat, 50), "p95": pct(lat, 95),
                           "max": max(lat, default=float("nan")), "wall": wall, "per_s": len(lat) / wall,
                           "max_queue": max(res["max_queue"] for res in results),
                           "rss_peak_sampled": max(sampler.samples, default=st["VmRSS"]), "rss_after": st["VmRSS"],
                           "hwm": st["VmHWM"]})
            all_lat += lat
            all_err += err
        print(f"\n{args.clients} clients x {args.turns} turns (multi-turn /chat), {args.rounds} round(s)")
        print("| round | turns | errors | p50 s | p95 s | max s | turns/s | max queue | RSS peak MB | RSS after MB |")
        print("|---|---|---|---|---|---|---|---|---|---|")
        for x in rounds:
            print(f"| {x['round']} | {x['turns']} | {x['errors']} | {x['p50']:.2f} | {x['p95']:.2f} | {x['max']:.2f} | "
                  f"{x['per_s']:.1f} | {x['max_queue']} | {x['rss_peak_sampled']} | {x['rss_after']} |")
        final = proc_status(server.proc.pid)
        print(f"\nall: {len(all_lat)} turns, errors {len(all_err)}, p50 {pct(all_lat, 50):.2f} s, p95 {pct(all_lat, 95):.2f} s, "
              f"{len(all_lat) / sum(x['wall'] for x in rounds):.1f} turns/s; server RSS {rss_before} MB before, "
              f"{final['VmRSS']} MB after, peak (VmHWM) {final['VmHWM']} MB")
        for e in all_err[:20]:
            print("error:", e)
        return 0 if not all_err else 1
    finally:
        server.stop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    from assistant.shells.environment import apply_offline_defaults

    apply_offline_defaults()  # offline, no telemetry, before the heavy imports
    sys.exit(main())
