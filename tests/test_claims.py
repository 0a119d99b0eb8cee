"""Claim analysis: each rule on tiny hand-written articles, with the real packaged model and classifier."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from assistant.analyse import claims, cues
from assistant.analyse.claims import Context, analyse, analyse_many, claim_cues, evidence_cues, explain
from assistant.ingest.segment import segment, sentence_context
from assistant.ingest.sources import load_document
from assistant.types import Claim

DATA = Path(__file__).parent / "data" / "claims"
ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session", autouse=True)
def classifier():
    """Load the classifier (and the MiniLM it adapts) once for the whole session, single-threaded."""
    import torch

    torch.set_num_threads(1)
    c = claims.get_classifier()
    c.probs(["warm-up"])
    return c


def contexts_as_indexed(sents) -> list[Context]:
    """Each sentence's context as the index build passes it: heading, and the sentence before in its section."""
    return [Context(s.heading or "", sentence_context(sents, i, window=1, with_heading=False)) for i, s in enumerate(sents)]


def article(name: str) -> tuple[list[str], list[Context]]:
    sents = segment(load_document(DATA / name)).sentences
    return [s.text for s in sents], contexts_as_indexed(sents)


# sentence, context -> efficacy_claim, strength, unsupported, evidence
CASES = [
    pytest.param(
        "Kinesio taping reduced knee pain after running in 64 patients (Hansen et al., 2018).", "",
        True, "strong", False, ("described study: '64 patients'", "reference: '(Hansen et al., 2018)'"),
        id="cited-study-in-sentence",
    ),
    pytest.param(
        "Immersion reduced muscle soreness two days later.",
        "What the trials found In a randomised trial, researchers assigned 120 athletes to immersion or rest after training.",
        True, "strong", False,
        ("described study: 'randomised' (previous sentence)", "described study: '120 athletes' (previous sentence)"),
        id="study-described-in-previous-sentence",
    ),
    pytest.param(
        "In a randomised trial, researchers assigned 120 athletes to immersion or rest after training.", "",
        False, None, False, ("described study: 'randomised'", "described study: '120 athletes'"),
        id="study-description-is-not-a-claim",
    ),
    pytest.param(
        "Studies prove that cupping is far more effective than massage for back pain.", "",
        True, "strong", True, ("vague appeal: 'Studies prove'",),
        id="vague-appeal-studies-prove",
    ),
    pytest.param(
        "Cupping has been used for centuries to relieve back pain.", "",
        True, "strong", True, ("vague appeal: 'for centuries'",),
        id="vague-appeal-tradition",
    ),
    pytest.param(
        "In my experience, cupping relieves neck stiffness in most clients.", "",
        True, "strong", True, ("vague appeal: 'In my experience'",),
        id="vague-appeal-anecdote",
    ),
    pytest.param("Turmeric may reduce joint stiffness in older adults.", "", True, "hedged", True, (), id="hedge-may"),
    pytest.param(
        "Curcumin, its active compound, is believed to improve circulation.", "", True, "hedged", True, (),
        id="hedge-believed-to",
    ),
    pytest.param(
        "Cupping is a therapy in which glass cups are placed on the skin to create suction.", "",
        False, None, False, (), id="definition",
    ),
    pytest.param("It was invented in Japan in the 1970s by a chiropractor.", "", False, None, False, (), id="history"),
    pytest.param(
        "Ask your doctor before trying cupping if you take blood thinners.", "", False, None, False, (),
        id="advice-imperative",
    ),
    pytest.param(
        "If your skin blisters, stop the session and apply a cool compress.", "", False, None, False, (),
        id="advice-after-if-clause",
    ),
    pytest.param(
        "To reduce bruising, keep each cup on for no more than ten minutes.", "", False, None, False, (),
        id="advice-purpose-infinitive",
    ),
    pytest.param("Cupping does not cure back pain.", "", False, None, False, (), id="negated-benefit"),
    pytest.param(
        "Kinesio taping has no side effects.", "", True, "strong", True, (), id="negated-harm-is-a-safety-claim",
    ),
    pytest.param(
        "Gentle stretching is generally safe and painless.", "", True, "hedged", True, (), id="safety-claim-approximator",
    ),
    pytest.param(
        "This technique can ease tension headaches.",
        "Scalp Massage Scalp massage uses the fingertips to press small circles into the scalp.",
        True, "hedged", True, (), id="this-technique-with-context",
    ),
    pytest.param("Can cupping treat sciatica?", "", False, None, False, (), id="question"),
    pytest.param(
        "Its main goal is to relieve tension in the shoulders.", "", False, None, False, (), id="purpose-statement",
    ),
]


@pytest.mark.parametrize("sentence, context, is_claim, strength, unsupported, evidence", CASES)
def test_analyse(sentence, context, is_claim, strength, unsupported, evidence):
    c = analyse(sentence, context)
    assert (c.efficacy_claim, c.strength, c.unsupported, c.evidence) == (is_claim, strength, unsupported, evidence)
    assert c.sentence == sentence
    assert bool(c.explanation) == is_claim


@pytest.mark.parametrize(
    "sentence, context, expected",
    [
        pytest.param(
            "This technique can ease tension headaches.",
            "Scalp Massage Scalp massage uses the fingertips to press small circles into the scalp.",
            "Says Scalp Massage 'can ease tension headaches' (hedged) but gives no study, data or reference for it.",
            id="resolves-this-technique",
        ),
        pytest.param(
            "Studies prove that cupping is far more effective than massage for back pain.", "",
            "Says Cupping 'is far more effective than massage' and appeals to 'Studies prove' without naming any "
            "study, data or reference.",
            id="names-the-vague-appeal",
        ),
        pytest.param(
            "Kinesio taping reduced knee pain after running in 64 patients (Hansen et al., 2018).", "",
            "Says Kinesio taping 'reduced knee pain', backed by evidence in the text: described study: '64 patients'; "
            "reference: '(Hansen et al., 2018)'.",
            id="supported-says-by-what",
        ),
    ],
)
def test_explanation(sentence, context, expected):
    assert analyse(sentence, context).explanation == expected


@pytest.mark.parametrize(
    "name, flagged",
    [
        pytest.param("cited_study.txt", [], id="cited_study"),
        pytest.param(
            "vague_appeal.txt",
            [
                ("Studies prove that cupping is far more effective than massage for back pain.", "strong"),
                ("Cupping has been used for centuries to relieve back pain.", "strong"),
                ("In my experience, cupping relieves neck stiffness in most clients.", "strong"),
            ],
            id="vague_appeal",
        ),
        pytest.param(
            "hedged.txt",
            [
                ("Turmeric may reduce joint stiffness in older adults.", "hedged"),
                ("Curcumin, its active compound, is believed to improve circulation.", "hedged"),
            ],
            id="hedged",
        ),
        pytest.param("definition.txt", [], id="definition"),
        pytest.param("advice.txt", [], id="advice"),
        pytest.param("negated.txt", [("Kinesio taping has no side effects.", "strong")], id="negated"),
        pytest.param("this_technique.txt", [("This technique can ease tension headaches.", "hedged")], id="this_technique"),
    ],
)
def test_article_flags(name, flagged):
    """Through the real loader and segmenter: exactly these sentences are unsupported claims."""
    sentences, contexts = article(name)
    got = analyse_many(sentences, contexts)
    assert [(c.sentence, c.strength) for c in got if c.unsupported] == flagged


@pytest.mark.parametrize(
    "text, expected",
    [
        pytest.param("Needling can help relieve muscle pain.", ["help", "relieve"], id="benefit-verbs"),
        pytest.param("Needles are inserted to relieve muscle pain.", [], id="purpose-infinitive"),
        pytest.param("It has been used to relieve pain.", ["relieve"], id="used-to-frame"),
        pytest.param("Patients with lower back pain were enrolled.", [], id="lower-as-adjective"),
        pytest.param("We compare their origins, methods, and benefits.", [], id="benefits-as-noun"),
        pytest.param("Acupuncture is safer than surgery.", ["safer"], id="comparative-safety"),
        pytest.param("Minor bruising may occur after a session.", ["bruising may occur"], id="harm-occurs"),
        pytest.param("It offers potential benefits for sleep.", ["offers potential benefits"], id="offers-benefits"),
    ],
)
def test_claim_cues(text, expected):
    assert claim_cues(text) == expected


@pytest.mark.parametrize(
    "text, context, expected",
    [
        pytest.param("It works [3].", "", ("reference: '[3]'",), id="numbered-reference"),
        pytest.param("See https://example.org/trial for details.", "", ("reference: 'https://example.org/trial'",), id="link"),
        pytest.param("Pain fell by 30% (p < 0.01).", "", ("data: '30%'", "data: 'p < 0.01'"), id="data"),
        pytest.param("Research shows it heals.", "", ("vague appeal: 'Research shows'",), id="vague"),
        pytest.param("It heals.", "Heading\nSmith treated 50 patients.", ("described study: '50 patients' (previous sentence)",),
                     id="previous-sentence-only"),
        pytest.param("It heals.", "Smith treated 50 patients. Then we talked about tea.", (), id="older-sentence-ignored"),
        pytest.param("It heals.", Context("Results", "Smith treated 50 patients."),
                     ("described study: '50 patients' (previous sentence)",), id="structured-previous"),
        pytest.param("It heals.", Context("Save 25% today"), (), id="heading-is-not-a-previous-sentence"),
    ],
)
def test_evidence_cues(text, context, expected):
    assert evidence_cues(text, context) == expected


def test_analyse_many_is_analyse_batched():
    sentences, contexts = article("vague_appeal.txt")
    assert analyse_many(sentences, contexts) == [analyse(s, c) for s, c in zip(sentences, contexts)]


def test_analyse_many_rejects_mismatched_contexts():
    with pytest.raises(ValueError, match="2 sentences but 1 contexts"):
        analyse_many(["a.", "b."], ["x"])


def test_explain_non_claim():
    assert explain(Claim("Cupping uses glass cups.", False, None)) == (
        "Not an efficacy claim: no statement that a treatment works, is safer or causes harm."
    )


@pytest.mark.parametrize(
    "sentence, label",
    [
        pytest.param("Turmeric may reduce joint stiffness in older adults.", "conditional", id="conditional"),
        pytest.param("Cupping reduced neck pain in 40 office workers.", "direct", id="direct"),
        pytest.param("Obesity was associated with knee pain in older adults.", "correlational", id="correlational"),
        pytest.param("Most participants were women aged 40 to 60.", "none", id="none"),
    ],
)
def test_classifier_labels(classifier, sentence, label):
    assert claims.LABELS[int(np.argmax(classifier.probs([sentence])[0]))] == label


def test_classifier_files_are_small_and_pickle_free():
    files = list(claims.MODEL_DIR.iterdir())
    assert sorted(f.name for f in files) == ["meta.json", "weights.npz"]
    assert sum(f.stat().st_size for f in files) < 1_000_000
    with np.load(claims.MODEL_DIR / "weights.npz", allow_pickle=False) as z:
        assert "ngram_coef" in z.files


def test_classifier_matches_current_lexicon(classifier):
    """The n-gram part was trained on these cue groups; after editing them, rerun scripts/train_claims.py."""
    assert classifier.meta["lexicon_sha256"] == claims.lexicon_fingerprint()


def test_import_is_light():
    """The analyse room loads torch only with a model: importing the judge or the claim rules stays cheap."""
    code = ("import sys, assistant.analyse.claims, assistant.analyse.disagreements, assistant.analyse.judge; "
            "print(any(m in sys.modules for m in ('torch', 'sklearn', 'transformers', 'sentence_transformers')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True)
    assert out.stdout.strip() == "False"


@pytest.mark.parametrize(
    "sentence, mode, expected",
    [
        pytest.param("Probiotics may modulate gut immunity.", "lexicon", (False, None, False), id="lexicon-has-no-verb"),
        pytest.param("Probiotics may modulate gut immunity.", "combined", (True, "hedged", True), id="classifier-adds-it"),
        pytest.param("Cupping does not cure back pain.", "classifier", (True, "strong", True), id="classifier-alone-reads-denial"),
        pytest.param("Cupping does not cure back pain.", "combined", (False, None, False), id="combined-drops-denial"),
    ],
)
def test_parts_combine(sentence, mode, expected):
    c = analyse_many([sentence], mode=mode)[0]
    assert (c.efficacy_claim, c.strength, c.unsupported) == expected


def test_batched_analysis_skips_the_encoder_only_where_it_cannot_change_the_result():
    """analyse_many runs the fine-tuned encoder only on sentences whose outcome it can change; the
    result equals deciding every sentence with the full classifier probabilities."""
    from assistant.ingest.sources import list_source_files

    sentences, contexts = [], []
    for folder in (ROOT / "sources", DATA):
        for path in list_source_files(folder):
            sents = list(segment(load_document(path)).sentences)
            sentences += [s.text for s in sents]
            contexts += contexts_as_indexed(sents)
    probs = claims.get_classifier().probs(sentences)
    full = [claims._decide(s, c, probs[i], "combined") for i, (s, c) in enumerate(zip(sentences, contexts))]
    assert analyse_many(sentences, contexts) == full
    skipped = sum(p is None for p in claims._combined_probs(sentences))
    assert skipped > len(sentences) / 2, f"the encoder ran on {len(sentences) - skipped} of {len(sentences)} sentences"


@pytest.mark.parametrize(
    "text, expected",
    [
        pytest.param("", Context(), id="empty"),
        pytest.param("Heading\nFirst one. Second one.", Context("Heading", "Second one."), id="heading-line-then-sentences"),
        pytest.param("Scalp Massage Scalp massage uses the fingertips.",
                     Context("Scalp Massage", "Scalp Massage Scalp massage uses the fingertips."), id="run-in-heading"),
    ],
)
def test_context_from_text(text, expected):
    assert Context.from_text(text) == expected


def test_structured_context_resolves_this_technique():
    c = analyse("This technique can ease tension headaches.", Context("Scalp Massage", "It uses the fingertips."))
    assert c.explanation == "Says Scalp Massage 'can ease tension headaches' (hedged) but gives no study, data or reference for it."


def test_cue_switch_silences_every_rule(monkeypatch):
    """With ``cues.ENABLED`` off, no cue word or pattern fires: only the trained classifier can make a claim."""
    sentence = "Studies prove that cupping relieves back pain in 30% of 64 patients [3]."
    assert claim_cues(sentence) == ["relieves"]
    monkeypatch.setattr(cues, "ENABLED", False)
    assert claim_cues(sentence) == []
    assert evidence_cues(sentence, Context("", "Smith treated 50 patients.")) == ()
    assert not claims.lexicon_matrix([sentence]).any()
    assert analyse_many([sentence], mode="lexicon")[0].efficacy_claim is False
