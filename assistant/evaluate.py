"""Score a corpus against a gold file (the ``topics/*/gold.json`` format) through the facade, in one process.

The rules are those of ``../shared/benchmarks/topics/score.py``: the same keys, the same whitespace- and
case-insensitive substring matching, the same counts. Only the timings differ: the index is built once per
corpus (``index_s``) instead of once per section, so ``batch_s``, ``chat_s`` and ``flags_s`` time the section alone.
"""

from __future__ import annotations

import dataclasses
import json
import re
import shutil
import tempfile
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

from .errors import CrosscheckError

Progress = Callable[[str], None]
FLAG_KINDS = ("unsupported_claim", "disagreement")


class GoldError(CrosscheckError):
    """A gold file that cannot be read or does not have the topics/*/gold.json shape."""


@dataclass(frozen=True)
class Gold:
    """A gold file: questions with the passages that answer them, out-of-scope questions, conversations, flags."""

    name: str
    questions: tuple[dict, ...] = ()  # {"id", "q", "any": [key, ...], "flag": kind | None}
    out_of_scope: tuple[dict, ...] = ()  # {"id", "q"}
    conversations: tuple[dict, ...] = ()  # {"id", "turns": [q, ...], "any": [key, ...]}
    unsupported_must: tuple[str, ...] = ()
    unsupported_may: tuple[str, ...] = ()
    unsupported_never: tuple[str, ...] = ()
    disagree_must: tuple[dict, ...] = ()  # {"id", "a": [key, ...], "b": [key, ...]}
    disagree_may: tuple[dict, ...] = ()
    disagree_never: tuple[dict, ...] = ()


# ---------------------------------------------------------------- reading a gold file

def load_gold(path: str | Path) -> Gold:
    """Read and check a gold file; a missing section is empty, a malformed one is an error.

    Raises:
        GoldError: the file is missing, not JSON, or a section does not have the expected shape.
    """
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise GoldError(f"gold file {path} cannot be read ({exc.strerror}): give the path of a gold.json") from exc
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise GoldError(f"gold file {path} is not valid JSON ({exc}): fix it or give another gold.json") from exc
    if not isinstance(data, dict):
        raise GoldError(f"gold file {path} holds a JSON {type(data).__name__}, not an object: "
                        "see ../shared/benchmarks/topics/*/gold.json for the shape")
    fields = {f.name: _section(data, f.name, path) for f in dataclasses.fields(Gold) if f.name != "name"}
    if not any(fields.values()):
        raise GoldError(f"gold file {path} has none of the sections {', '.join(fields)}: "
                        "see ../shared/benchmarks/topics/*/gold.json for the shape")
    return Gold(name=path.parent.name or path.stem, **fields)


def _section(data: dict, name: str, path: Path) -> tuple:
    items = data.get(name) or []
    if not isinstance(items, list):
        raise GoldError(f"gold file {path}: '{name}' must be a list, not a JSON {type(items).__name__}")
    check = {"questions": _question, "out_of_scope": _question, "conversations": _conversation,
             "disagree_must": _pair, "disagree_may": _pair, "disagree_never": _pair}.get(name, _key)
    return tuple(check(item, f"{name}[{n}]", path) for n, item in enumerate(items))


def _bad(path: Path, where: str, what: str) -> GoldError:
    return GoldError(f"gold file {path}: {where} {what}: fix that entry or remove it")


def _keys(value, path: Path, where: str) -> list[str]:
    if not isinstance(value, list) or not value or not all(isinstance(k, str) and k.strip() for k in value):
        raise _bad(path, where, "must be a non-empty list of non-empty strings")
    return value


def _key(item, where: str, path: Path) -> str:
    if not isinstance(item, str) or not item.strip():
        raise _bad(path, where, "must be a non-empty string (an exact substring of one source)")
    return item


def _question(item, where: str, path: Path) -> dict:
    if not isinstance(item, dict) or not isinstance(item.get("q"), str) or not item["q"].strip():
        raise _bad(path, where, "needs a non-empty 'q' (the question)")
    if item.get("flag") not in (None, *FLAG_KINDS):
        raise _bad(path, where, f"has 'flag' {item['flag']!r}; it must be one of {', '.join(FLAG_KINDS)}")
    out = {"id": str(item.get("id", where)), "q": item["q"], "flag": item.get("flag")}
    if where.startswith("questions"):
        out["any"] = _keys(item.get("any"), path, f"{where}.any")
    return out


def _conversation(item, where: str, path: Path) -> dict:
    if not isinstance(item, dict):
        raise _bad(path, where, "must be an object with 'turns' and 'any'")
    turns = _keys(item.get("turns"), path, f"{where}.turns")
    return {"id": str(item.get("id", where)), "turns": turns, "any": _keys(item.get("any"), path, f"{where}.any")}


def _pair(item, where: str, path: Path) -> dict:
    if not isinstance(item, dict):
        raise _bad(path, where, "must be an object with 'a' and 'b' key lists")
    return {"id": str(item.get("id", where)), "a": _keys(item.get("a"), path, f"{where}.a"),
            "b": _keys(item.get("b"), path, f"{where}.b")}


# ---------------------------------------------------------------- matching (score.py's rules)

def norm(s: str | None) -> str:
    """Curly apostrophes straightened, whitespace runs collapsed, lower case: how keys meet quotes."""
    return re.sub(r"\s+", " ", (s or "").replace("\u2019", "'").replace("\u2018", "'")).strip().lower()


def hits(quotes: list[str], keys: list[str]) -> bool:
    """Whether any key lies inside any quote."""
    qs = [norm(q) for q in quotes]
    return any(norm(k) in q for k in keys for q in qs)


class SourceTexts:
    """The raw text of each source file by id (file name without extension), read as the contract says."""

    def __init__(self, folder: str | Path):
        self.folder = Path(folder)
        self._texts: dict[str, str | None] = {}

    def get(self, sid: str | None) -> str | None:
        if sid not in self._texts:
            files = sorted(x for x in self.folder.iterdir() if x.stem == sid)
            self._texts[sid] = files[0].read_text(encoding="utf-8") if files else None
        return self._texts[sid]

    def bad_offsets(self, items: list[dict]) -> int:
        """How many quotes are not the source's raw text at their offsets."""
        bad = 0
        for it in items:
            text = self.get(it.get("source_id"))
            bad += text is None or text[it.get("start", -1):it.get("end", -1)] != it.get("quote")
        return bad


# ---------------------------------------------------------------- scoring (pure: answers and flags as JSON dicts)

def score_answers(gold: Gold, answers: list[dict], texts: SourceTexts) -> dict:
    """Expected passage cited, out-of-scope abstention, in-scope abstentions, missing answer flags, offsets."""
    qs = gold.questions
    res, missed, flag_missed, quoted = [], [], [], []
    for g, a in zip(qs, answers):
        quoted += a.get("citations", []) + a.get("flags", [])
        quoted += [f["other"] for f in a.get("flags", []) if f.get("other")]
        ok = (not a.get("abstained")) and hits([c.get("quote", "") for c in a.get("citations", [])], g["any"])
        res.append(ok)
        if not ok:
            missed.append(g["id"])
        if g.get("flag") and not any(f.get("kind") == g["flag"] for f in a.get("flags", [])):
            flag_missed.append(g["id"])
    abstained = [bool(a.get("abstained")) and not a.get("citations") for a in answers[len(qs):]]
    return {"recall": round(sum(res) / len(res), 3) if res else None, "missed": missed,
            "oos_abstain": round(sum(abstained) / max(1, len(abstained)), 3),
            "in_scope_abstained": [g["id"] for g, a in zip(qs, answers) if a.get("abstained")],
            "answer_flag_missed": flag_missed, "bad_offsets": texts.bad_offsets(quoted), "quotes_checked": len(quoted)}


def score_followups(gold: Gold, last_answers: list[dict | None]) -> dict:
    """A conversation counts when every turn was answered and its last answer cites an expected passage."""
    ok = [a is not None and hits([c.get("quote", "") for c in a.get("citations", [])], conv["any"])
          for conv, a in zip(gold.conversations, last_answers)]
    return {"followups": f"{sum(ok)}/{len(ok)}",
            "followups_missed": [conv["id"] for conv, good in zip(gold.conversations, ok) if not good]}


def score_flags(gold: Gold, flags: list[dict], texts: SourceTexts) -> dict:
    """Unsupported-claim and disagreement recall, never-flags hit, flags outside the gold, precision, offsets."""
    uns = [f for f in flags if f.get("kind") == "unsupported_claim"]
    dis = [f for f in flags if f.get("kind") == "disagreement"]
    uq = [f.get("quote", "") for f in uns]
    found = [k for k in gold.unsupported_must if hits(uq, [k])]
    known = gold.unsupported_must + gold.unsupported_may
    outside = [q for q in uq if not any(norm(k) in norm(q) for k in known)]
    dfound = [p["id"] for p in gold.disagree_must if _pair_hit(p, dis)]
    d_outside = sum(1 for f in dis if not any(_pair_explains(p, f) for p in gold.disagree_must + gold.disagree_may))
    return {"unsupported_recall": round(len(found) / max(1, len(gold.unsupported_must)), 3),
            "unsupported_missed": [k for k in gold.unsupported_must if k not in found],
            "unsupported_false": [k for k in gold.unsupported_never if hits(uq, [k])], "unsupported_total": len(uns),
            "unsupported_outside_gold": len(outside),
            "disagree_found": f"{len(dfound)}/{len(gold.disagree_must)}",
            "disagree_false": [p["id"] for p in gold.disagree_never if _pair_hit(p, dis)],
            "disagree_total": len(dis), "disagree_outside_gold": d_outside,
            "unsupported_precision": round(1 - len(outside) / len(uns), 3) if uns else None,
            "disagree_precision": round(1 - d_outside / len(dis), 3) if dis else None,
            "bad_offsets": texts.bad_offsets(flags + [f["other"] for f in dis if f.get("other")])}


def _pair_hit(pair: dict, dis: list[dict]) -> bool:
    """A disagreement flag with one quote holding an 'a' key and the other a 'b' key, either way round."""
    for f in dis:
        a, b = norm(f.get("quote")), norm((f.get("other") or {}).get("quote"))
        if (any(norm(k) in a for k in pair["a"]) and any(norm(k) in b for k in pair["b"])) or \
           (any(norm(k) in b for k in pair["a"]) and any(norm(k) in a for k in pair["b"])):
            return True
    return False


def _pair_explains(pair: dict, flag: dict) -> bool:
    """Both quotes of the flag hold some key of the pair (score.py's test for a flag inside the gold)."""
    keys = pair["a"] + pair["b"]
    return any(norm(k) in norm(flag.get("quote")) for k in keys) and \
        any(norm(k) in norm((flag.get("other") or {}).get("quote")) for k in keys)


# ---------------------------------------------------------------- running through the facade

def evaluate(gold: str | Path | Gold, sources: str | Path, index: str | Path | None = None,
             progress: Progress = lambda _m: None, baseline: bool = False) -> dict:
    """Open the corpus (in a temporary index unless ``index`` is given), ask, chat and list flags; score them.

    Returns:
        ``{"topic", "gold", "sources", "index_s", "answers": {...}, "chat": {...}, "flags": {...}}``, the
        sections with score.py's keys plus ``batch_s`` / ``chat_s`` / ``flags_s`` seconds; with ``baseline``
        also ``"baseline": {"recall", "missed", "chunks", "baseline_s"}``, the plain LangChain dense top-5.
    Raises:
        GoldError: the gold file is malformed (checked before anything is loaded).
        SourceError: the sources folder is missing.
    """
    from .api import Crosscheck

    gold_path = None if isinstance(gold, Gold) else str(gold)
    gold = gold if isinstance(gold, Gold) else load_gold(gold)
    texts = SourceTexts(sources)
    with _index_folder(index) as folder:
        t = time.perf_counter()
        cc = Crosscheck.open(sources, folder, progress=progress)
        index_s = time.perf_counter() - t
        progress(f"eval {gold.name}: {len(gold.questions) + len(gold.out_of_scope)} questions, "
                 f"{len(gold.conversations)} conversations, flags")
        sections = {"answers": _timed(_answers, "batch_s", cc, gold, texts),
                    "chat": _timed(_chat, "chat_s", cc, gold),
                    "flags": _timed(_flags, "flags_s", cc, gold, texts)}
    if baseline:
        progress(f"eval {gold.name}: the LangChain Chroma dense top-5 baseline")
        sections["baseline"] = _timed(_baseline, "baseline_s", gold, sources)
    return {"topic": gold.name, "gold": gold_path, "sources": str(sources), "index_s": round(index_s, 1), **sections}


def evaluate_all(folder: str | Path, index: str | Path | None = None, progress: Progress = lambda _m: None,
                 baseline: bool = False) -> dict:
    """Every ``folder/*/gold.json`` against its ``folder/*/sources``; with ``index``, each keeps ``index/<topic>``.

    Raises:
        GoldError: no topic folder has both a gold.json and a sources folder, or a gold file is malformed.
    """
    topics = sorted(p.parent for p in Path(folder).glob("*/gold.json") if (p.parent / "sources").is_dir())
    if not topics:
        raise GoldError(f"{folder} has no topic folders with a gold.json and a sources/ folder: "
                        "give the folder that holds them (e.g. ../shared/benchmarks/topics)")
    golds = [load_gold(t / "gold.json") for t in topics]  # every gold checked before the first long build
    results = [evaluate(g, t / "sources", Path(index) / t.name if index else None, progress, baseline)
               for g, t in zip(golds, topics)]
    for r, t in zip(results, topics):
        r["gold"] = str(t / "gold.json")
    return {"topics": results, "mean": mean_row([summary(r) for r in results])}


@contextmanager
def _index_folder(index: str | Path | None) -> Iterator[Path]:
    if index is not None:
        yield Path(index)
        return
    folder = Path(tempfile.mkdtemp(prefix="cc-eval-"))
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _timed(section: Callable[..., dict], key: str, *args) -> dict:
    t = time.perf_counter()
    out = section(*args)
    return {**out, key: round(time.perf_counter() - t, 1)}


def _answers(cc, gold: Gold, texts: SourceTexts) -> dict:
    asked = [g["q"] for g in gold.questions + gold.out_of_scope]
    answers, errors = [], []
    for q in asked:  # each on its own, as `crosscheck ask` reads them from stdin
        try:
            answers.append(cc.ask(q, history=[]).to_dict())
        except CrosscheckError as exc:
            errors.append(str(exc))
    if errors:
        return {"ok": False, "error": f"{len(errors)} of {len(asked)} questions failed: {errors[0]}"}
    return score_answers(gold, answers, texts)


def _chat(cc, gold: Gold) -> dict:
    return score_followups(gold, [_conversation_end(cc, conv["turns"]) for conv in gold.conversations])


def _conversation_end(cc, turns: list[str]) -> dict | None:
    """The last answer of a conversation, as `crosscheck chat` holds it; None when any turn failed."""
    conversation = cc.conversation()
    last = None
    for turn in turns:
        try:
            last = conversation.ask(turn).to_dict()
        except CrosscheckError:
            return None
    return last


def _flags(cc, gold: Gold, texts: SourceTexts) -> dict:
    return score_flags(gold, [f.to_dict() for f in cc.flags()], texts)


def score_baseline(gold: Gold, chunks: list[list[str]]) -> dict:
    """Recall of an expected passage among each in-scope question's retrieved chunks (score.py's matching)."""
    ok = [hits(c, g["any"]) for g, c in zip(gold.questions, chunks)]
    return {"recall": round(sum(ok) / len(ok), 3) if ok else None,
            "missed": [g["id"] for g, good in zip(gold.questions, ok) if not good]}


def _baseline(gold: Gold, sources: str | Path) -> dict:
    from .index.baseline import DenseBaseline

    base = DenseBaseline(sources)
    try:
        return {**score_baseline(gold, [base.top(g["q"], 5) for g in gold.questions]), "chunks": base.chunks}
    finally:
        base.close()


# ---------------------------------------------------------------- one row per topic

def summary(result: dict) -> dict:
    """One topic's result as a flat row: rates, counts of the listed ids, and the seconds per section."""
    a, c, f = result.get("answers", {}), result.get("chat", {}), result.get("flags", {})
    count = _count
    return {"topic": result.get("topic"), "recall": a.get("recall"), "oos_abstain": a.get("oos_abstain"),
            "in_scope_abstained": count(a, "in_scope_abstained"), "answer_flag_missed": count(a, "answer_flag_missed"),
            "followups": c.get("followups"), "unsupported_recall": f.get("unsupported_recall"),
            "unsupported_precision": f.get("unsupported_precision"), "unsupported_false": count(f, "unsupported_false"),
            "unsupported_outside_gold": f.get("unsupported_outside_gold"), "disagree_found": f.get("disagree_found"),
            "disagree_precision": f.get("disagree_precision"), "disagree_false": count(f, "disagree_false"),
            "bad_offsets": _sum(a.get("bad_offsets"), f.get("bad_offsets")), "index_s": result.get("index_s"),
            "batch_s": a.get("batch_s"), "chat_s": c.get("chat_s"), "flags_s": f.get("flags_s"),
            **({"baseline_recall": result["baseline"].get("recall")} if "baseline" in result else {})}


def mean_row(rows: list[dict]) -> dict:
    """The mean of each number over the topics that have it; ``k/n`` fractions are pooled (summed)."""
    out: dict = {"topic": "mean"}
    for key in rows[0] if rows else ():
        values = [r[key] for r in rows if r.get(key) is not None]
        if key == "topic" or not values:
            out.setdefault(key, None)
        elif all(isinstance(v, str) for v in values):
            out[key] = "/".join(str(sum(int(v.split("/")[i]) for v in values)) for i in (0, 1))
        else:
            out[key] = round(sum(values) / len(values), 3)
    return out


def _count(section: dict, key: str) -> int | None:
    return len(section[key]) if isinstance(section.get(key), list) else None


def _sum(*values) -> int | None:
    present = [v for v in values if v is not None]
    return sum(present) if present else None
