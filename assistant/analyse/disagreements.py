"""Cross-source disagreements: statements about the same subject and aspect with opposite positions.

Pipeline (precision before recall: a false disagreement is worse than a missed one):
1. Positions: each sentence, decontextualised by its heading and preceding sentences, is scanned
   clause by clause for a position on an aspect — what a practice is (distinct from / a kind of
   another), what it targets (the cause vs only the symptoms), how safe it is, whether it works —
   with negation ("rather than treating just a symptom") flipping the position. The subject of a
   clause is the topic it names, else the topic of its context ("They have distinct purposes").
2. Candidates: positions are grouped by (aspect, subject); within a group, each statement is paired
   with its k nearest statements from other sources (cost ~ n·k, never all pairs).
3. Verdict: a pair is a disagreement when the positions are opposite; the trained pair judge can
   veto it when it is confident the two statements agree.
Nothing here is keyed to any article's wording: the cue lexicons (``cues.py``) are general English.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from . import cues
from ..text import STOPWORDS, words

@dataclass(frozen=True)
class Position:
    """A stance a sentence takes: on ``aspect`` about ``subject`` it says ``value`` (with the words that say so)."""

    sentence: int  # index into the corpus sentence list
    aspect: str  # "identity" | "target" | "safety" | "efficacy"
    subject: str  # a topic phrase, or "a|b" for a pair of topics (identity)
    value: str  # e.g. "distinct" / "same", "cause" / "symptoms", "safe" / "unsafe", "works" / "fails"
    cue: str
    # For "X is a kind of Y": the directed statement, for the explanation.
    says: str = ""


OPPOSITE = {("distinct", "same"), ("cause", "symptoms"), ("safe", "unsafe"), ("works", "fails")}


def opposite(a: str, b: str) -> bool:
    return (a, b) in OPPOSITE or (b, a) in OPPOSITE


def subject_phrases(text: str) -> list[str]:
    """Noun phrases in subject position: "Dry needling is…", "X and Y are…" (list labels like "Training:" skipped)."""
    low = " ".join(words(re.sub(r"^[^:]{1,40}:\s+", "", text)))
    m = cues.SUBJECT.match(low)
    if not m:
        return []
    return [p for p in m.groups() if p and not all(w in STOPWORDS for w in p.split())]


def topic_candidates(text: str) -> list[str]:
    """Phrases ``text`` proposes as topics: its subjects ("Dry needling is…") and what something is a
    kind of ("a kind of stretching"). Depends on the sentence alone, so it is computed once per source."""
    found = subject_phrases(text)
    found += [" ".join(words(m.group(1))[:2]) for m in cues.SAME_OF.finditer(text)]
    return [p for p in dict.fromkeys(found) if p and p not in cues.GENERIC_NOUNS
            and not any(w in STOPWORDS or w in cues.GENERIC_NOUNS for w in p.split())]


def find_topics(texts_by_source: Mapping[str, list[str]], min_sources: int = 2,
                candidates: dict[str, list[str]] | None = None, cache: dict | None = None,
                versions: dict[str, str] | None = None, words: Mapping[str, set[str]] | None = None) -> list[str]:
    """Subjects several sources write about: phrases some source proposes (``topic_candidates``) that
    at least ``min_sources`` sources mention; longest first, so "dry needling" is matched before "needling".

    ``candidates`` (per source, as ``topic_candidates`` gives them) saves re-reading every sentence.
    Cost is linear in the corpus: each source's word n-grams are looked up in the candidate set.
    ``cache`` (read and replaced) keeps which candidates each source version (``versions``) mentions,
    so a later call reads only new sources, and unchanged ones only for candidates that are new.
    ``words`` (per source, the set of its ``mention_tokens``) answers for one-word new candidates and
    skips a source lacking a word of a longer one. Texts (and words) are looked up only when needed,
    so both may be lazy mappings.
    """
    if candidates is None:
        candidates = {sid: [p for t in texts for p in topic_candidates(t)] for sid, texts in texts_by_source.items()}
    wanted = {p for ps in candidates.values() for p in ps}
    if not wanted:
        return []
    norm = {p: " ".join(_word_parts(p)) for p in wanted}
    keys = set(norm.values())
    cache = cache if cache is not None else {}
    same_code = cache.get("code") == TOPICS_CODE
    known = cache.get("by_source", {}) if same_code else {}
    new_keys = keys - set(cache.get("keys", [])) if same_code else keys
    users: Counter = Counter()
    by_source = {}
    for sid in texts_by_source:
        key = f"{sid}@{versions[sid]}" if versions else sid
        if key in known:
            seen = set(known[key]) & keys
            if new_keys:
                seen |= _new_mentions(texts_by_source, words, sid, new_keys)
        else:
            seen = _mentions(texts_by_source[sid], keys)
        by_source[key] = sorted(seen)
        users.update(seen)
    cache.clear()
    cache.update(code=TOPICS_CODE, keys=sorted(keys), by_source=by_source)
    topics = [p for p in wanted if users[norm[p]] >= min_sources]
    return sorted(set(topics), key=lambda p: (-len(p.split()), p))


def _new_mentions(texts_by_source, words, sid: str, new_keys: set[str]) -> set[str]:
    """The new keys source ``sid`` mentions, reading its text only for a phrase of several words
    whose every word it uses."""
    if words is None:
        return _mentions(texts_by_source[sid], new_keys)
    present = words[sid]
    keys = {k for k in new_keys if all(w in present for w in k.split())}
    one_word = {k for k in keys if " " not in k}  # a one-word key is mentioned iff it is one of the words
    longer = keys - one_word
    return one_word | (_mentions(texts_by_source[sid], longer) if longer else set())


def mention_tokens(texts: list[str]) -> list[str]:
    """A source's sentences as the one run of words ``find_topics`` matches phrases against."""
    return _word_parts(" ".join(texts))


# Bump when find_topics changes what a source "mentions": cached mentions are then recomputed.
TOPICS_CODE = 1


def _mentions(texts: list[str], keys: set[str]) -> set[str]:
    """The ``keys`` (normalised phrases) among the word n-grams of ``texts`` read as one run of words."""
    if not keys:
        return set()
    if len(keys) <= 32:  # a few new phrases: skip a source that lacks one of a phrase's words outright
        low = " ".join(texts).lower()
        keys = {k for k in keys if all(w in low for w in k.split())}
        if not keys:
            return set()
    toks = mention_tokens(texts)
    seen = set()
    for n in sorted({len(k.split()) for k in keys}):
        seen.update(g for g in (" ".join(toks[i:i + n]) for i in range(len(toks) - n + 1)) if g in keys)
    return seen


def _word_parts(text: str) -> list[str]:
    """``words`` with each contraction split at its apostrophe ("it's" -> "it", "s"), the grain topics match at."""
    return [part for w in words(text) for part in w.replace("’", "'").split("'")]


def mentioned(text: str, topics: list[str]) -> list[str]:
    """Topics named in ``text``, in order of appearance, a longer name hiding the shorter inside it."""
    low = " ".join(words(text))
    found, taken = [], []
    for t in topics:
        for m in re.finditer(rf"\b{re.escape(t)}\b", low):
            if not any(s <= m.start() < e for s, e in taken):
                taken.append((m.start(), m.end()))
                found.append((m.start(), t))
    return [t for _, t in sorted(found)]


def _negated(clause: str, start: int) -> bool:
    """A negation within the five words before position ``start`` ("rather than treating just a symptom")."""
    before = clause[:start].split()[-5:]
    return bool(cues.NEGATION.search(" ".join(before)))


def has_cue(text: str) -> bool:
    """Whether ``text`` has any aspect cue. A sentence without one takes no position, whatever the
    topics are: this is how the index knows, per source, which sentences can ever matter here."""
    return any(rx.search(text) for rx in cues.ASPECT_CUES)


@dataclass(frozen=True)
class SourceCues:
    """What the disagreement search needs of one source, whatever the rest of the corpus is."""

    cues: tuple[int, ...]  # positions of the sentences that can take a position (an aspect cue)
    topic_candidates: tuple[str, ...]  # the topics this source proposes
    words: tuple[str, ...]  # the distinct words a new topic phrase is looked up in


def source_cues(sentences: list[str]) -> SourceCues:
    """The per-source part of the disagreement search, computed once when a source is indexed."""
    return SourceCues(
        cues=tuple(i for i, s in enumerate(sentences) if has_cue(s)),
        topic_candidates=tuple(dict.fromkeys(p for s in sentences for p in topic_candidates(s))),
        words=tuple(sorted(set(mention_tokens(sentences)))),
    )


def positions(i: int, text: str, context: str, topics: list[str]) -> list[Position]:
    """The positions sentence ``i`` takes, clause by clause."""
    out: list[Position] = []
    if not has_cue(text):
        return out
    # A clause without a named subject takes one from the rest of the sentence, then from its context.
    context_topics = list(dict.fromkeys(mentioned(text, topics) + mentioned(context, topics)))
    for clause in [c for c in cues.CLAUSE_SPLIT.split(text) if c and c.strip()]:
        named = mentioned(clause, topics)
        subject = named[0] if named else (context_topics[-1] if context_topics else None)
        out += _identity(i, clause, named, context_topics, topics)
        if subject is None:
            continue
        for aspect, pos_re, neg_re, pos_val, neg_val in (
            ("target", cues.ROOT_CAUSE, cues.SYMPTOMS_ONLY, "cause", "symptoms"),
            ("safety", cues.SAFE, cues.UNSAFE, "safe", "unsafe"),
            ("efficacy", cues.WORKS, cues.FAILS, "works", "fails"),
        ):
            for rx, val, other in ((pos_re, pos_val, neg_val), (neg_re, neg_val, pos_val)):
                m = rx.search(clause)
                if m:
                    value = other if _negated(clause, m.start()) else val
                    out.append(Position(i, aspect, subject, value, m.group(0)))
                    break
    return _dedupe(out)


def _identity(i: int, clause: str, named: list[str], context_topics: list[str], topics: list[str]) -> list[Position]:
    for rx in (cues.SAME_OF, cues.SAME_AS, cues.SAME_LIKE):
        m = rx.search(clause)
        if m:
            obj = mentioned(m.group(1), topics)
            subj = [t for t in named if t not in obj] or [t for t in context_topics if t not in obj]
            if obj and subj:
                return [Position(i, "identity", pair_key(subj[0], obj[0]), "same", _cue_through(m.group(0), obj[0]),
                                 f"{subj[0]} is a kind of {obj[0]}")]
    m = cues.DENIED_DIFFERENCE.search(clause)
    if m:
        pool = named + [t for t in context_topics if t not in named]
        if len(pool) >= 2:
            return [Position(i, "identity", pair_key(pool[0], pool[1]), "same", m.group(0))]
    m = cues.DISTINCT.search(clause)
    if m and not _negated(clause, m.start()):
        pool = named if len(named) >= 2 else named + [t for t in context_topics if t not in named]
        if len(pool) >= 2:
            return [Position(i, "identity", pair_key(pool[0], pool[1]), "distinct", m.group(0))]
    return []


def _cue_through(cue: str, topic: str) -> str:
    """The cue up to and including the topic it names: "subcategory of Acupuncture", not "… and is"."""
    m = re.search(r"\s+".join(map(re.escape, topic.split())), cue, re.I)
    return cue[: m.end()] if m else cue


def pair_key(a: str, b: str) -> str:
    return "|".join(sorted((a, b)))


def _dedupe(ps: list[Position]) -> list[Position]:
    seen, out = set(), []
    for p in ps:
        key = (p.aspect, p.subject)
        if key not in seen:
            seen.add(key)
            out.append(p)
    return out


def candidate_pairs(ps: list[Position], source_of: list[str], vectors: np.ndarray, k: int = 5) -> list[tuple[Position, Position]]:
    """Opposite positions on the same (aspect, subject) from different sources, each statement paired
    with at most its ``k`` most similar opposite statements: cost ~ n·k within a group.

    ``vectors`` holds unit sentence vectors, row ``i`` for sentence ``i``.
    Similar statements are found with one matrix product per block of a group, ties broken by order.
    """
    groups: dict[tuple[str, str], list[Position]] = defaultdict(list)
    for p in ps:
        groups[(p.aspect, p.subject)].append(p)
    sid_num = {sid: n for n, sid in enumerate(dict.fromkeys(source_of))}
    pairs: dict[tuple[int, int, str], tuple[Position, Position]] = {}
    for group in groups.values():
        values = sorted({p.value for p in group})
        if not any(opposite(a, b) for a in values for b in values):
            continue
        V = vectors[[p.sentence for p in group]]
        src = np.array([sid_num[source_of[p.sentence]] for p in group])
        val = np.array([p.value for p in group])
        for value in values:
            mine = np.flatnonzero(val == value)
            theirs = np.flatnonzero(np.isin(val, [v for v in values if opposite(value, v)]))
            if not len(theirs):
                continue
            for start in range(0, len(mine), 1024):
                block = mine[start:start + 1024]
                sims = V[block] @ V[theirs].T
                sims[src[block][:, None] == src[theirs][None, :]] = -np.inf
                for r, i in enumerate(block):
                    for j in _top(sims[r], k):
                        a, b = sorted((group[i], group[theirs[j]]), key=lambda x: x.sentence)
                        pairs[(a.sentence, b.sentence, a.aspect)] = (a, b)
    return list(pairs.values())


def _top(row: np.ndarray, k: int) -> list[int]:
    """Indices of the ``k`` largest finite values, largest first, ties to the lower index."""
    if len(row) > 4 * k:
        cut = np.partition(row, len(row) - k)[len(row) - k]
        keep = np.flatnonzero(row >= cut)
    else:
        keep = np.arange(len(row))
    keep = keep[np.isfinite(row[keep])]
    order = keep[np.lexsort((keep, -row[keep]))]
    return order[:k].tolist()


def explain(a: Position, b: Position) -> str:
    """What differs, in words a reader understands: this statement's position, then the other's."""
    def says(p: Position) -> str:
        if p.aspect == "identity":
            x, y = p.subject.split("|")
            if p.value == "distinct":
                return f"{x} and {y} are distinct practices"
            return p.says or f"{x} and {y} are the same practice"
        return {
            "cause": f"{p.subject} treats the cause of the problem",
            "symptoms": f"{p.subject} treats only the symptoms",
            "safe": f"{p.subject} is safe",
            "unsafe": f"{p.subject} is unsafe or risky",
            "works": f"{p.subject} works",
            "fails": f"{p.subject} does not work",
        }[p.value]

    return f"This source says {says(a)} (“{a.cue}”); the other says {says(b)} (“{b.cue}”)."


def pair_key_text(a: str, b: str) -> str:
    """A short stable key for a pair of wordings (the judge's verdict cache)."""
    import hashlib

    return hashlib.sha1(f"{a}\x00{b}".encode()).hexdigest()[:20]


def judged(pairs: list[tuple[Position, Position]], sentences, judge, veto: float,
           verdicts: dict[str, float], save=None, chunk: int = 4096) -> list[tuple[Position, Position]]:
    """The pairs the judge does not veto. Each distinct pair of wordings is judged once, and
    ``verdicts`` (P(agrees) by ``pair_key_text``) is read and filled, so a later run judges only new pairs.
    ``save(verdicts)`` is called after each ``chunk`` of new pairs: a killed run keeps what was judged."""
    if judge is None or not pairs:
        return pairs
    keys = [pair_key_text(sentences[a.sentence].text, sentences[b.sentence].text) for a, b in pairs]
    todo = list({key: (sentences[a.sentence].text, sentences[b.sentence].text)
                 for key, (a, b) in zip(keys, pairs) if key not in verdicts}.items())
    for start in range(0, len(todo), chunk):
        part = todo[start:start + chunk]
        for (key, _), v in zip(part, judge.judge_many([texts for _, texts in part])):
            verdicts[key] = float((v.probabilities or {}).get("agrees", 0.0))
        if save is not None:
            save(verdicts)
    return [pr for pr, key in zip(pairs, keys) if verdicts[key] < veto]


def group_flags(aspect: str, subject: str, members, pairs) -> list:
    """Disagreement flags of one stored (aspect, subject) group, each with its order key.

    ``members``: the group's members in corpus order (``index.records.GroupMember``: a stance with the
    offsets, text and quote of its sentence); ``pairs``: (i, j) member indices, i before j.
    """
    from ..types import Flag, Quote

    out = []
    for i, j in pairs:
        a, b = members[i], members[j]
        sa, sb = a.stance, b.stance
        pa, pb = (Position(s.sentence, aspect, subject, s.value, s.cue, s.says) for s in (sa, sb))
        flag = Flag("disagreement", sa.source_id, a.quote, a.start, a.end, explain(pa, pb), None,
                    Quote(sb.source_id, b.quote, b.start, b.end))
        out.append(((sa.source_id, sa.sentence, sb.source_id, sb.sentence, aspect), subject, flag))
    return out


def merge_flags(groups: list[list]) -> list:
    """The flags of all groups in corpus order: by first statement, second statement, then aspect.
    A pair of statements opposed on one aspect is one flag, even when two subjects' groups both find
    it (the first subject in alphabetical order explains it)."""
    flags, seen = [], set()
    for key, _subject, flag in sorted((x for g in groups for x in g), key=lambda x: (x[0], x[1])):
        if key not in seen:
            seen.add(key)
            flags.append(flag)
    return flags
