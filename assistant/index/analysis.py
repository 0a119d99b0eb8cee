"""The corpus-wide disagreement pass over the index, incremental by (aspect, subject) group.

What depends on one source version alone is stored with it at index time (cue sentences and their
vectors, the topics it proposes, its words). Statements taking a position are grouped by (aspect,
subject), and each group is one file: its members (quotes, offsets, vectors) and the pairs that
disagree. The file is named by a hash of everything that decides its pairs, so an update reuses every
group it can by name and recomputes only the groups whose members changed, taking their unchanged
members from the old group file. After one article of 10,000 changes, that is a pass over ~100k
cached positions and a few groups, not a read of every record.

Caches in analysis/ (each redone when absent or unreadable): the topic candidates and mentions of
each source version, the positions per source version (valid while the corpus's topics stay the
same), and the judge's verdict per pair of wordings.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections import defaultdict
from collections.abc import Mapping
from pathlib import Path
from typing import Callable

import numpy as np

from . import store
from ..errors import StaleIndexError
from ..ingest.segment import sentence_context
from ..types import Flag, Sentence

Progress = Callable[[str], None]

CANDIDATES_CACHE = "candidates.json"
MENTIONS_CACHE = "mentions.json"
POSITIONS_CACHE = "positions.json"
# Bump when disagreements.positions changes what it returns: cached positions are then recomputed.
# 2: one negation list (cues.NEGATORS + CONTRASTS) also reads "didn't", "won't", "fails", "failed".
POSITIONS_CODE = 2
# Bump when what a group file holds or how its pairs are chosen changes: every group is then recomputed.
GROUPS_CODE = 1
K_NEAREST = 5  # each statement is paired with its 5 most similar opposite statements
VETO = 0.9  # the judge drops a pair it says agrees with probability >= 0.9


def is_complete(folder: Path, manifest: store.Manifest) -> bool:
    """Whether the manifest names its disagreement groups and every group file is there."""
    groups = manifest.get("disagreements")
    return isinstance(groups, dict) and all((folder / rel).exists() for rel in groups.values())


def update(settings, folder: Path, manifest: store.Manifest, progress: Progress, changed: bool) -> None:
    """Bring the manifest's disagreement groups up to date with its live sources (when any changed).

    Group files are written under new names before the manifest names them; the caller swaps the
    manifest and then removes the files no longer named (``live_files``).
    """
    if not changed and is_complete(folder, manifest):
        return
    manifest["judge"] = settings.judge
    manifest.pop("disagreements_file", None)  # format 2 before groups: one file of every flag
    old = manifest.get("disagreements")
    old = old if isinstance(old, dict) else {}
    live = _Live(folder, manifest)
    groups: dict[tuple[str, str], list[list]] = {}
    if len(live.versions) >= 2:
        progress("looking for disagreements between sources")
        groups = _group_positions(folder, live, _topics(folder, live))
    manifest["disagreements"] = _write_groups(settings, folder, manifest, live, groups, old, progress)


def live_files(folder: Path, manifest: store.Manifest) -> set[str]:
    """The analysis files the manifest uses (relative to ``folder``), group vectors included."""
    rels = set((manifest.get("disagreements") or {}).values()) | {manifest.get("disagreements_file")}
    return {r for rel in rels if rel for r in (rel, str(Path(rel).with_suffix(".npy")))}


def stored_flags(folder: Path, manifest: store.Manifest) -> list[Flag]:
    """Every disagreement flag of the index, in corpus order (quotes as stored, cut from the raw files).

    Raises:
        DamagedAnalysisError: a group file is missing or damaged (removing it and updating redoes it).
    """
    if "disagreements" not in manifest:  # an index written before groups
        return [Flag.from_dict(d) for d in store.read_disagreements(folder, manifest.get("disagreements_file"))]
    from ..analyse.disagreements import group_flags, merge_flags

    found = []
    for name, rel in sorted(manifest["disagreements"].items()):
        group = store.read_group(folder, rel)
        try:
            found.append(group_flags(group["aspect"], group["subject"], group["members"], group["pairs"]))
        except (KeyError, IndexError, TypeError, ValueError) as exc:
            raise store.damaged_group(folder, rel) from exc
    return merge_flags(found)


class _LazyMap(Mapping):
    """A read-only mapping over ``keys`` whose values are computed on first access."""

    def __init__(self, keys, compute):
        self._keys, self._compute, self._done = list(keys), compute, {}

    def __getitem__(self, key):
        if key not in self._done:
            self._done[key] = self._compute(key)
        return self._done[key]

    def __iter__(self):
        return iter(self._keys)

    def __len__(self):
        return len(self._keys)


@dataclasses.dataclass
class _Record:
    """What the analysis reads of one source version's records."""

    sentences: list[Sentence]
    cues: list[int]
    candidates: list[str]


class _Live:
    """The live source versions, each read from disk only when the analysis needs it (and once)."""

    def __init__(self, folder: Path, manifest: store.Manifest):
        self.folder, self.meta = folder, manifest.sources
        self.versions = {sid: m["version"] for sid, m in sorted(manifest.sources.items())}
        self.records = _LazyMap(self.versions, self._record)
        self.texts = _LazyMap(self.versions, lambda sid: [s.text for s in self.records[sid].sentences])
        self.words = _LazyMap(self.versions, self._words)
        self._vectors: dict[str, tuple[dict[int, int], np.ndarray]] = {}
        self._raw: dict[str, str] = {}

    def _record(self, sid: str) -> _Record:
        rec = store.read_records(self.folder, self.meta[sid]["records"])
        return _Record([Sentence(**x) for x in rec["sentences"]], rec["analysis"]["cues"], rec["analysis"]["topic_candidates"])

    def _words(self, sid: str) -> set[str]:
        from ..analyse.disagreements import mention_tokens

        found = store.read_words(self.folder, sid, self.versions[sid])
        if found is None:  # an index written before word files
            found = sorted(set(mention_tokens(self.texts[sid])))
            store.write_words(self.folder, sid, self.versions[sid], found)
        return set(found)

    def member(self, sid: str, idx: int) -> tuple[list, np.ndarray]:
        """[start, end, text, quote] of sentence ``idx`` of source ``sid``, and its vector."""
        if sid not in self._vectors:
            cues = self.records[sid].cues
            self._vectors[sid] = ({c: j for j, c in enumerate(cues)}, store.read_cue_vectors(self.folder, sid, self.versions[sid]))
        if sid not in self._raw:
            with open(self.meta[sid]["path"], encoding="utf-8") as f:
                self._raw[sid] = f.read()
        s = self.records[sid].sentences[idx]
        rows, vecs = self._vectors[sid]
        return [s.start, s.end, s.text, self._raw[sid][s.start:s.end]], vecs[rows[idx]]


def _topics(folder: Path, live: _Live) -> list[str]:
    """The corpus's topics, reading a source's records only when no cache answers for its version."""
    from ..analyse.disagreements import find_topics

    cached = store.read_cache(folder, CANDIDATES_CACHE)
    candidates = {}
    for sid, version in live.versions.items():
        found = cached.get(f"{sid}@{version}")
        ok = isinstance(found, list) and all(isinstance(p, str) for p in found)
        candidates[sid] = found if ok else live.records[sid].candidates
    store.write_cache(folder, CANDIDATES_CACHE, {f"{sid}@{live.versions[sid]}": c for sid, c in candidates.items()})
    mentions = store.read_cache(folder, MENTIONS_CACHE)
    topics = find_topics(live.texts, candidates=candidates, cache=mentions, versions=live.versions, words=live.words)
    store.write_cache(folder, MENTIONS_CACHE, mentions)
    return topics


def _group_positions(folder: Path, live: _Live, topics: list[str]) -> dict[tuple[str, str], list[list]]:
    """Members of each (aspect, subject) group, in corpus order: [source id, version, sentence, value, cue, says].

    Positions are cached per source version while the topics stay the same."""
    from ..analyse.disagreements import positions

    key = hashlib.sha256(json.dumps([POSITIONS_CODE, topics]).encode()).hexdigest()[:16]
    cache = store.read_cache(folder, POSITIONS_CACHE)
    known = cache.get("by_source", {}) if cache.get("topics") == key else {}
    by_source, groups = {}, defaultdict(list)
    for sid, version in live.versions.items():
        found = known.get(f"{sid}@{version}")
        if found is None:
            rec = live.records[sid]
            found = [[c, p.aspect, p.subject, p.value, p.cue, p.says] for c in rec.cues
                     for p in positions(c, rec.sentences[c].text, sentence_context(rec.sentences, c), topics)]
        by_source[f"{sid}@{version}"] = found
        for c, aspect, subject, value, cue, says in found:
            groups[(aspect, subject)].append([sid, version, c, value, cue, says])
    store.write_cache(folder, POSITIONS_CACHE, {"topics": key, "by_source": by_source})
    return groups


def _write_groups(settings, folder: Path, manifest, live: _Live, groups, old: dict[str, str], progress) -> dict[str, str]:
    """Group files for ``groups`` (reused by name when their inputs are unchanged); {"aspect:subject": path}."""
    out, todo = {}, []
    for (aspect, subject), members in sorted(groups.items()):
        if len({m[0] for m in members}) < 2:
            continue  # one source cannot disagree with itself
        name = f"{aspect}:{subject}"
        blob = json.dumps([GROUPS_CODE, manifest["fingerprint"], settings.judge, K_NEAREST, VETO, aspect, subject, members])
        rel = store.group_path(hashlib.sha256(blob.encode()).hexdigest()[:20])
        if store.group_looks_whole(folder, rel):
            out[name] = rel
        else:
            todo.append((name, aspect, subject, members, rel))
    rows = [_member_rows(folder, live, members, old.get(name)) for name, _, _, members, _ in todo]
    pairs = _pairs(settings, folder, [(aspect, subject, members) for _, aspect, subject, members, _ in todo], rows, progress)
    for (name, aspect, subject, members, rel), (data, vectors), found in zip(todo, rows, pairs):
        group = {"aspect": aspect, "subject": subject, "members": [m + d for m, d in zip(members, data)], "pairs": found}
        store.write_group(folder, rel, group, vectors)
        out[name] = rel
    return out


def _member_rows(folder: Path, live: _Live, members: list[list], old_rel: str | None) -> tuple[list[list], np.ndarray]:
    """[start, end, text, quote] and the vector of each member: from the group's previous file where
    the member was already there (same source version), else from the source's records."""
    known: dict[tuple, tuple[list, np.ndarray]] = {}
    if old_rel:
        try:
            group, vectors = store.read_group(folder, old_rel), store.read_group_vectors(folder, old_rel)
            known = {tuple(m[:3]): (m[6:10], vectors[i]) for i, m in enumerate(group["members"])}
        except (StaleIndexError, KeyError, IndexError, TypeError):
            known = {}  # a damaged old group: its members are read from their records instead
    data, vectors = [], []
    for sid, version, idx, *_ in members:
        row, vector = known.get((sid, version, idx)) or live.member(sid, idx)
        data.append(row)
        vectors.append(vector)
    return data, np.stack(vectors).astype(np.float32)


def _pairs(settings, folder: Path, groups: list[tuple], rows: list[tuple], progress) -> list[list[list[int]]]:
    """For each group, the pairs of members that disagree: nearest opposite statements from other
    sources, minus those the judge vetoes (each distinct pair of wordings judged once, ever)."""
    from ..analyse.disagreements import Position, candidate_pairs, judged

    texts, found, spans = [], [], []
    for (aspect, subject, members), (data, vectors) in zip(groups, rows):
        base = len(texts)
        texts += [_Wording(d[2]) for d in data]
        ps = [Position(i, aspect, subject, m[3], m[4], m[5]) for i, m in enumerate(members)]
        pairs = candidate_pairs(ps, [m[0] for m in members], vectors, K_NEAREST)
        spans.append((base, len(found), len(pairs)))
        # Numbered across groups, so every new pair of wordings goes to the judge in one batch.
        found += [(dataclasses.replace(a, sentence=base + a.sentence), dataclasses.replace(b, sentence=base + b.sentence))
                  for a, b in pairs]
    verdict_file = f"verdicts-{hashlib.sha256(str(settings.judge).encode()).hexdigest()[:10]}.json"
    verdicts = store.read_cache(folder, verdict_file)
    kept = set(judged(found, texts, _LazyJudge(settings.judge, progress), VETO, verdicts,
                      save=lambda v: store.write_cache(folder, verdict_file, v)))
    return [sorted([a.sentence - base, b.sentence - base] for a, b in found[start:start + n] if (a, b) in kept)
            for base, start, n in spans]


@dataclasses.dataclass(frozen=True)
class _Wording:
    """What the judge reads of a statement."""

    text: str


class _LazyJudge:
    """The pair judge, loaded only when a pair has no cached verdict."""

    def __init__(self, name, progress: Progress = lambda _m: None):
        self.name, self.progress = name, progress

    def judge_many(self, pairs):
        from ..analyse.judge import get_judge

        self.progress(f"judging {len(pairs)} new pair(s) of opposite statements")
        return get_judge(self.name).judge_many(pairs)
