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
from .records import Group, GroupMember, Manifest, Stance
from ..errors import StaleIndexError
from ..ingest.segment import sentence_context
from ..types import Flag

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


def is_complete(index: store.IndexFolder, manifest: Manifest) -> bool:
    """Whether the manifest names its disagreement groups and every group file is there."""
    return manifest.groups is not None and index.has_groups(manifest.groups.values())


def update(settings, index: store.IndexFolder, manifest: Manifest, progress: Progress, changed: bool) -> Manifest:
    """The manifest with its disagreement groups brought up to date with its live sources (when any changed).

    Group files are written under new names before the manifest names them; the caller swaps the
    manifest, and then removes the files it no longer names.
    """
    if not changed and is_complete(index, manifest):
        return manifest
    live = _Live(index, manifest)
    groups: dict[tuple[str, str], list[Stance]] = {}
    if len(live.versions) >= 2:
        progress("looking for disagreements between sources")
        groups = _group_positions(index, live, _topics(index, live))
    names = _write_groups(settings, index, manifest, live, groups, manifest.groups or {}, progress)
    return dataclasses.replace(manifest, judge=settings.judge, groups=names, flag_file=None)


def stored_flags(folder: Path, manifest: Manifest) -> list[Flag]:
    """Every disagreement flag of the index in ``folder``, in corpus order (quotes as stored, cut from the raw files).

    Raises:
        DamagedAnalysisError: a group file is missing or damaged (removing it and updating redoes it).
    """
    index = store.IndexFolder(folder)
    if manifest.groups is None:
        return index.read_flag_file(manifest.flag_file) if manifest.flag_file else []
    from ..analyse.disagreements import group_flags, merge_flags

    found = []
    for _key, name in sorted(manifest.groups.items()):
        group = index.read_group(name)
        try:
            found.append(group_flags(group.aspect, group.subject, group.members, group.pairs))
        except (KeyError, ValueError) as exc:  # a value or aspect no explanation knows
            raise index.damaged_group(name) from exc
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


class _Live:
    """The live source versions, each read from disk only when the analysis needs it (and once)."""

    def __init__(self, index: store.IndexFolder, manifest: Manifest):
        self.index, self.entries = index, manifest.sources
        self.versions = {sid: e.version for sid, e in sorted(manifest.sources.items())}
        self.records = _LazyMap(self.versions, lambda sid: index.read_records(sid, self.versions[sid]))
        self.texts = _LazyMap(self.versions, lambda sid: [s.text for s in self.records[sid].sentences])
        self.words = _LazyMap(self.versions, self._words)
        self._vectors: dict[str, tuple[dict[int, int], np.ndarray]] = {}
        self._raw: dict[str, str] = {}

    def _words(self, sid: str) -> set[str]:
        from ..analyse.disagreements import mention_tokens

        found = self.index.read_words(sid, self.versions[sid])
        if found is None:  # missing or unreadable: redone from the records
            found = sorted(set(mention_tokens(self.texts[sid])))
            self.index.write_words(sid, self.versions[sid], found)
        return set(found)

    def member(self, stance: Stance) -> tuple[GroupMember, np.ndarray]:
        """The group member of ``stance`` (offsets, text and raw quote of its sentence), and its vector."""
        sid, idx = stance.source_id, stance.sentence
        if sid not in self._vectors:
            cues = self.records[sid].cues
            self._vectors[sid] = ({c: j for j, c in enumerate(cues)}, self.index.read_cue_vectors(sid, self.versions[sid]))
        if sid not in self._raw:
            with open(self.entries[sid].path, encoding="utf-8") as f:
                self._raw[sid] = f.read()
        s = self.records[sid].sentences[idx]
        rows, vecs = self._vectors[sid]
        return GroupMember(stance, s.start, s.end, s.text, self._raw[sid][s.start:s.end]), vecs[rows[idx]]


def _topics(index: store.IndexFolder, live: _Live) -> list[str]:
    """The corpus's topics, reading a source's records only when no cache answers for its version."""
    from ..analyse.disagreements import find_topics

    cached = index.read_cache(CANDIDATES_CACHE)
    candidates = {}
    for sid, version in live.versions.items():
        found = cached.get(f"{sid}@{version}")
        ok = isinstance(found, list) and all(isinstance(p, str) for p in found)
        candidates[sid] = found if ok else list(live.records[sid].topic_candidates)
    index.write_cache(CANDIDATES_CACHE, {f"{sid}@{live.versions[sid]}": c for sid, c in candidates.items()})
    mentions = index.read_cache(MENTIONS_CACHE)
    topics = find_topics(live.texts, candidates=candidates, cache=mentions, versions=live.versions, words=live.words)
    index.write_cache(MENTIONS_CACHE, mentions)
    return topics


def _group_positions(index: store.IndexFolder, live: _Live, topics: list[str]) -> dict[tuple[str, str], list[Stance]]:
    """The stances of each (aspect, subject) group, in corpus order.

    Positions are cached per source version while the topics stay the same: rows of
    [sentence, aspect, subject, value, cue, says], written and read here only."""
    from ..analyse.disagreements import positions

    key = hashlib.sha256(json.dumps([POSITIONS_CODE, topics]).encode()).hexdigest()[:16]
    cache = index.read_cache(POSITIONS_CACHE)
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
            groups[(aspect, subject)].append(Stance(sid, version, c, value, cue, says))
    index.write_cache(POSITIONS_CACHE, {"topics": key, "by_source": by_source})
    return groups


def _write_groups(settings, index: store.IndexFolder, manifest: Manifest, live: _Live, groups, old: dict[str, str],
                  progress) -> dict[str, str]:
    """Group files for ``groups`` (reused by name when their inputs are unchanged); {"aspect:subject": file name}."""
    out, todo = {}, []
    for (aspect, subject), stances in sorted(groups.items()):
        if len({s.source_id for s in stances}) < 2:
            continue  # one source cannot disagree with itself
        key = f"{aspect}:{subject}"
        blob = json.dumps([GROUPS_CODE, manifest.fingerprint, settings.judge, K_NEAREST, VETO, aspect, subject,
                           [s.to_json() for s in stances]])
        name = hashlib.sha256(blob.encode()).hexdigest()[:20]
        if index.group_looks_whole(name):
            out[key] = name
        else:
            todo.append((key, aspect, subject, stances, name))
    rows = [_members(index, live, stances, old.get(key)) for key, _, _, stances, _ in todo]
    pairs = _pairs(settings, index, [(aspect, subject) for _, aspect, subject, _, _ in todo], rows, progress)
    for (key, aspect, subject, _, name), (members, vectors), found in zip(todo, rows, pairs):
        index.write_group(name, Group(aspect, subject, tuple(members), tuple(found)), vectors)
        out[key] = name
    return out


def _members(index: store.IndexFolder, live: _Live, stances: list[Stance],
             old: str | None) -> tuple[list[GroupMember], np.ndarray]:
    """The member and the vector of each stance: from the group's previous file where its sentence was
    already there (same source version), else from the source's records."""
    known: dict[tuple, tuple[GroupMember, np.ndarray]] = {}
    if old:
        try:
            group, vectors = index.read_group(old), index.read_group_vectors(old)
            known = {(m.stance.source_id, m.stance.version, m.stance.sentence): (m, vectors[i])
                     for i, m in enumerate(group.members)}
        except (StaleIndexError, IndexError):
            known = {}  # a damaged old group: its members are read from their records instead
    members, vectors = [], []
    for s in stances:
        was = known.get((s.source_id, s.version, s.sentence))
        member, vector = (dataclasses.replace(was[0], stance=s), was[1]) if was else live.member(s)
        members.append(member)
        vectors.append(vector)
    return members, np.stack(vectors).astype(np.float32)


def _pairs(settings, index: store.IndexFolder, groups: list[tuple[str, str]], rows: list[tuple],
           progress) -> list[list[tuple[int, int]]]:
    """For each group, the pairs of members that disagree: nearest opposite statements from other
    sources, minus those the judge vetoes (each distinct pair of wordings judged once, ever)."""
    from ..analyse.disagreements import Position, candidate_pairs, judged

    texts, found, spans = [], [], []
    for (aspect, subject), (members, vectors) in zip(groups, rows):
        base = len(texts)
        texts += [_Wording(m.text) for m in members]
        ps = [Position(i, aspect, subject, m.stance.value, m.stance.cue, m.stance.says) for i, m in enumerate(members)]
        pairs = candidate_pairs(ps, [m.stance.source_id for m in members], vectors, K_NEAREST)
        spans.append((base, len(found), len(pairs)))
        # Numbered across groups, so every new pair of wordings goes to the judge in one batch.
        found += [(dataclasses.replace(a, sentence=base + a.sentence), dataclasses.replace(b, sentence=base + b.sentence))
                  for a, b in pairs]
    verdict_file = f"verdicts-{hashlib.sha256(str(settings.judge).encode()).hexdigest()[:10]}.json"
    verdicts = index.read_cache(verdict_file)
    kept = set(judged(found, texts, _LazyJudge(settings.judge, progress), VETO, verdicts,
                      save=lambda v: index.write_cache(verdict_file, v)))
    return [sorted((a.sentence - base, b.sentence - base) for a, b in found[start:start + n] if (a, b) in kept)
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
