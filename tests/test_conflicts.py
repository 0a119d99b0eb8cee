"""Disagreement rules: positions per sentence (tables), candidate pairing, and flags end to end."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from assistant.analyse.disagreements import Position, candidate_pairs, find_topics, mention_tokens, positions, subject_phrases
from assistant.api import Crosscheck
from assistant.errors import DamagedAnalysisError

TOPICS = ["dry needling", "foam rolling", "acupuncture", "stretching"]


def stances(text, context=""):
    return [(p.aspect, p.subject, p.value) for p in positions(0, text, context, TOPICS)]


@pytest.mark.parametrize(
    "text, context, expected",
    [
        pytest.param("Dry needling is a subcategory of acupuncture.", "", [("identity", "acupuncture|dry needling", "same")], id="kind-of"),
        pytest.param("Foam rolling is just a kind of stretching.", "", [("identity", "foam rolling|stretching", "same")], id="kind-of-2"),
        pytest.param("They have distinct purposes.", "Dry needling and acupuncture are popular.",
                     [("identity", "acupuncture|dry needling", "distinct")], id="distinct-subject-from-context"),
        pytest.param("Foam rolling and stretching are related but they are different practices.", "",
                     [("identity", "foam rolling|stretching", "distinct")], id="distinct-subject-from-sentence"),
        pytest.param("People say it is different from acupuncture, it actually is not.", "Dry needling is new.",
                     [("identity", "acupuncture|dry needling", "same")], id="denied-difference"),
        pytest.param("Dry needling and acupuncture are not different.", "", [], id="negated-distinct-is-no-position"),
        pytest.param("Dry needling is a symptomatic relief technique.", "", [("target", "dry needling", "symptoms")], id="symptoms"),
        pytest.param("Acupuncture treats pain at its root.", "", [("target", "acupuncture", "cause")], id="cause"),
        pytest.param("Acupuncture heals the whole body rather than treating just a symptom.", "",
                     [("target", "acupuncture", "cause"), ("efficacy", "acupuncture", "works")], id="negated-symptom"),
        pytest.param("Discuss your specific symptoms with your practitioner.", "Acupuncture", [], id="symptoms-not-a-target"),
        pytest.param("Acupuncture, while dry needling targets only symptoms.", "",
                     [("target", "dry needling", "symptoms")], id="clause-subject"),
        pytest.param("Foam rolling is dangerous for bruises.", "", [("safety", "foam rolling", "unsafe")], id="unsafe"),
        pytest.param("Foam rolling is not safe on bruises.", "", [("safety", "foam rolling", "unsafe")], id="negated-safe"),
        pytest.param("Foam rolling was popularised in the 1980s.", "", [], id="history-no-position"),
        pytest.param("Acupuncture didn't relieve my back pain.", "", [("efficacy", "acupuncture", "fails")], id="negator-didnt"),
    ],
)
def test_positions(text, context, expected):
    assert stances(text, context) == expected


def test_cue_switch_leaves_no_position(monkeypatch):
    from assistant.analyse import cues

    monkeypatch.setattr(cues, "ENABLED", False)
    assert stances("Foam rolling is dangerous for bruises.") == []


@pytest.mark.parametrize(
    "text, expected",
    [
        pytest.param("Dry needling is a modern technique.", ["dry needling"], id="simple"),
        pytest.param("Foam rolling and stretching are related.", ["foam rolling", "stretching"], id="coordinated"),
        pytest.param("Training: While a normal therapist trains briefly.", [], id="label-then-clause"),
        pytest.param("No, dry needling is a subcategory of acupuncture.", ["dry needling"], id="leading-no"),
    ],
)
def test_subject_phrases(text, expected):
    assert subject_phrases(text) == expected


def test_topics_are_shared_subjects_only():
    topics = find_topics({
        "a": ["Foam rolling is a self-massage technique.", "Foam rolling and stretching are related."],
        "b": ["Foam rolling is just a kind of stretching.", "Massage guns are loud."],
    })
    assert topics == ["foam rolling", "stretching"]


def test_cached_topic_mentions_give_what_a_fresh_search_gives():
    """With the mentions cache, a changed source is read again, and unchanged ones only for new phrases."""
    corpus = {
        "a": ["Foam rolling is a self-massage technique.", "Dry needling leaves marks."],
        "b": ["Foam rolling is just a kind of stretching.", "Massage guns are loud."],
        "c": ["Stretching helps some runners.", "Runners like massage guns and dry needling."],
    }
    versions = {"a": "1", "b": "1", "c": "1"}
    cache: dict = {}
    assert find_topics(corpus, cache=cache, versions=versions) == find_topics(corpus)
    assert cache["by_source"]["c@1"] == ["massage guns", "stretching"]
    # b changes: "dry needling" and "massage" become candidates (c mentions both), "massage guns" stops being one.
    changed = {**corpus, "b": ["Dry needling is a kind of massage.", "Foam rolling is loud."]}
    after = find_topics(changed, cache=cache, versions={**versions, "b": "2"})
    assert after == find_topics(changed) and "dry needling" in after and "massage guns" not in after
    assert "b@1" not in cache["by_source"] and cache["by_source"]["c@1"] == ["dry needling", "massage", "stretching"]
    # A cache entry is never trusted for a version it was not computed for.
    cache["by_source"]["a@1"] = []
    assert find_topics(changed, cache=cache, versions={**versions, "a": "3", "b": "2"}) == after


def test_new_topic_phrases_read_only_the_sources_holding_all_their_words():
    """With each source's words at hand, a new one-word phrase is answered from the words alone and a
    longer one reads only the texts of sources that use every word of it, with the fresh search's result."""
    corpus = {
        "a": ["Foam rolling is a self-massage technique.", "Dry needling leaves marks."],
        "b": ["Foam rolling is just a kind of stretching.", "Massage guns are loud."],
        "c": ["Stretching helps some runners.", "Runners like massage guns and dry needling."],
        "d": ["Cold baths are bracing.", "Stretching is slow and foam rolling is not."],
    }
    versions = dict.fromkeys(corpus, "1")
    words = {sid: set(mention_tokens(texts)) for sid, texts in corpus.items()}
    cache: dict = {}
    find_topics(corpus, cache=cache, versions=versions, words=words)
    changed = {**corpus, "b": ["Dry needling is a kind of massage.", "Foam rolling is loud."]}
    read = []

    class Texts(dict):
        def __getitem__(self, sid):
            read.append(sid)
            return super().__getitem__(sid)

    after = find_topics(Texts(changed), cache=cache, versions={**versions, "b": "2"},
                        words={**words, "b": set(mention_tokens(changed["b"]))})
    assert after == find_topics(changed) and {"dry needling", "massage"} <= set(after)
    assert sorted(read) == ["a", "b", "c"]  # b is new; a and c use "dry" and "needling"; d uses neither


def test_candidates_pair_only_opposite_positions_across_sources():
    ps = [Position(0, "identity", "a|b", "distinct", "x"), Position(1, "identity", "a|b", "same", "y"),
          Position(2, "identity", "a|b", "same", "z"), Position(3, "identity", "a|b", "distinct", "w")]
    sources = ["s1", "s2", "s1", "s2"]
    vectors = np.eye(4, dtype=np.float32)
    pairs = {(a.sentence, b.sentence) for a, b in candidate_pairs(ps, sources, vectors)}
    assert pairs == {(0, 1), (2, 3)}  # same-source and same-position pairs are never candidates


def test_tiny_corpus_disagreement_flag(tiny):
    flags = [f.to_dict() for f in tiny.flags() if f.kind == "disagreement"]
    assert flags == [{
        "kind": "disagreement", "source_id": "alpha",
        "quote": "Foam rolling and stretching are related but they are different practices with different goals.",
        "start": 59, "end": 153,
        "explanation": "This source says foam rolling and stretching are distinct practices (“different”); "
                       "the other says foam rolling is a kind of stretching (“kind of stretching”).",
        "strength": None,
        "other": {"source_id": "beta", "quote": "Foam rolling is just a kind of stretching, so the two are the same practice.",
                  "start": 159, "end": 235},
    }]


def test_seed_known_disagreements_found_and_paraphrases_not(seeds):
    pairs = {(f.quote[:40], f.other.quote[:40]) for f in seeds.flags() if f.kind == "disagreement"}
    assert ("These therapeutic techniques may involve", "No, dry needling is a subcategory of Acu") in pairs
    assert ("Dry needling focuses on stimulating a sp", "Dry needling is a symptomatic relief tec") in pairs
    assert not any(a.startswith("It is a form of Western medicine") for a, _ in pairs)
    assert not any("can help relieve muscle pain" in b for _, b in pairs)


def test_answer_citing_both_sides_says_so(seeds):
    ans = seeds.ask("Is dry needling the same as acupuncture?")
    assert "⚠️ **The sources disagree**" in ans.answer
    dis = [f for f in ans.flags if f.kind == "disagreement"]
    assert dis and {dis[0].source_id, dis[0].other.source_id} == {"000_13020e898ed032bc", "001_8c0709c5b28505ee"}
    cited = {(c.source_id, c.start) for c in ans.citations}
    assert (dis[0].source_id, dis[0].start) in cited and (dis[0].other.source_id, dis[0].other.start) in cited


def _flag_dicts(idx):
    from assistant.index import store
    from assistant.index.analysis import stored_flags

    return [f.to_dict() for f in stored_flags(idx, store.read_manifest(idx))]


def test_incremental_disagreements_equal_a_fresh_build_and_judge_only_new_pairs(tmp_path, monkeypatch):
    """After one article changes, the stored disagreements are exactly what a build from nothing finds;
    an update that creates no new pair of statements never loads the judge (its verdicts are cached)."""
    import shutil

    from assistant.analyse import judge as judge_module
    from assistant.index import store
    from assistant.index.build import update_index
    from assistant.settings import load_settings

    tests = Path(__file__).resolve().parent
    src = tmp_path / "sources"
    shutil.copytree(tests / "data" / "corpus", src)
    for p in (tests.parent / "sources").iterdir():
        shutil.copy(p, src / p.name)
    inc = load_settings(sources=src, index=tmp_path / "incremental")
    update_index(inc)
    before = _flag_dicts(inc.index)
    assert len(before) >= 3  # the tiny corpus's flag and the seeds' flags
    # One article changes and now contradicts another source on a new subject pair.
    gamma = next(src.glob("gamma.*"))
    gamma.write_text(gamma.read_text(encoding="utf-8") + "\n\nIn short, foam rolling is a kind of stretching.\n",
                     encoding="utf-8")
    read = []
    real_read_records = store.IndexFolder.read_records
    monkeypatch.setattr(store.IndexFolder, "read_records",
                        lambda index, sid, version: read.append(sid) or real_read_records(index, sid, version))
    report = update_index(inc)
    assert report.updated == ["gamma"]
    # The groups gamma joins take their other members from their previous files, not from records.
    assert set(read) == {"gamma"}
    monkeypatch.setattr(store.IndexFolder, "read_records", real_read_records)
    after = _flag_dicts(inc.index)
    fresh = load_settings(sources=src, index=tmp_path / "fresh")
    update_index(fresh)
    assert after == _flag_dicts(fresh.index)
    assert any(f["source_id"] == "gamma" or f["other"]["source_id"] == "gamma" for f in after)
    assert [f for f in after if "gamma" not in (f["source_id"], f["other"]["source_id"])] == before
    live = {store.IndexFolder(inc.index).group_path(name) for name in store.read_manifest(inc.index).groups.values()}
    assert set((inc.index / store.ANALYSIS).glob("disagreements-*.json")) == live

    # A change that adds no statement with a position: no pair is new, so no judge is loaded.
    def no_judge(*_a, **_k):
        raise AssertionError("the judge was loaded although every pair had a cached verdict")

    monkeypatch.setattr(judge_module, "get_judge", no_judge)
    gamma.write_text(gamma.read_text(encoding="utf-8") + "\nSessions last about an hour.\n", encoding="utf-8")
    assert update_index(inc).updated == ["gamma"]
    assert _flag_dicts(inc.index) == after


def test_damaged_group_files_and_the_older_single_file_are_redone_from_records(tmp_path):
    """A group file that cannot be read is rebuilt from the records of its members; an index written
    with one file of every flag (before groups) is converted without re-embedding anything."""
    import json
    import shutil

    from assistant.index import store
    from assistant.index.build import update_index
    from assistant.settings import load_settings

    tests = Path(__file__).resolve().parent
    src = tmp_path / "sources"
    shutil.copytree(tests / "data" / "corpus", src)
    s = load_settings(sources=src, index=tmp_path / "index")
    update_index(s)
    want = _flag_dicts(s.index)
    assert want
    index = store.IndexFolder(s.index)
    (name, group), = store.read_manifest(s.index).groups.items()  # the tiny corpus has one group: foam rolling vs stretching
    assert name == "identity:foam rolling|stretching"
    # The older layout (format 2 before groups): no groups, one file of flags the manifest names.
    (s.index / "analysis" / "disagreements-old.json").write_text(json.dumps(want), encoding="utf-8")
    manifest = json.loads((s.index / store.MANIFEST).read_text(encoding="utf-8"))
    manifest.update(format=2, disagreements_file="analysis/disagreements-old.json")
    del manifest["groups"]
    (s.index / store.MANIFEST).write_text(json.dumps(manifest), encoding="utf-8")
    assert _flag_dicts(s.index) == want  # still readable as it is
    index.group_path(group).write_text("{ torn", encoding="utf-8")  # and the group file it would reuse is damaged
    report = update_index(s)
    assert not report.changed
    after = store.read_manifest(s.index)
    assert after.flag_file is None and not (s.index / "analysis" / "disagreements-old.json").exists()
    assert _flag_dicts(s.index) == want
    # A damaged group file found when the index is opened is redone, with a message.
    index.group_path(after.groups[name]).write_text("{}", encoding="utf-8")
    with pytest.raises(DamagedAnalysisError, match="is missing or damaged; it will be redone from the index records"):
        _flag_dicts(s.index)
    messages = []
    opened = Crosscheck.open(settings=s, progress=messages.append)
    assert [f.to_dict() for f in opened.flags() if f.kind == "disagreement"] == want
    assert any("will be redone" in m for m in messages)


def test_judge_verdicts_are_saved_as_they_come(tmp_path):
    """A run killed while judging keeps the verdicts of the chunks already judged."""
    from assistant.analyse.disagreements import Position, judged
    from assistant.types import Sentence

    sentences = [Sentence(f"s{i}", f"src{i % 2}", f"p{i}", i * 10, i * 10 + 5, f"Statement number {i}.") for i in range(6)]
    pairs = [(Position(i, "safe", "x", "safe", "", ""), Position(i + 1, "safe", "x", "unsafe", "", "")) for i in (0, 2, 4)]

    class DiesOnSecondChunk:
        calls = 0

        def judge_many(self, texts):
            self.calls += 1
            if self.calls == 2:
                raise KeyboardInterrupt
            from assistant.analyse.judge import Judgement

            return [Judgement("contradicts", 0.8, {"agrees": 0.1}) for _ in texts]

    saved = []
    with pytest.raises(KeyboardInterrupt):
        judged(pairs, sentences, DiesOnSecondChunk(), 0.9, {}, save=lambda v: saved.append(dict(v)), chunk=2)
    assert len(saved) == 1 and len(saved[0]) == 2  # the first chunk's two verdicts
    verdicts = dict(saved[0])
    kept = judged(pairs, sentences, DiesOnSecondChunk(), 0.9, verdicts, chunk=2)  # only the third pair is judged
    assert len(kept) == 3 and len(verdicts) == 3
