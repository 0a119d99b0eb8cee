"""Claim analysis: is a sentence an efficacy/safety/comparative claim, how strong, and what evidence backs it.

Two parts, both generic (nothing here knows any particular article):

- cue lexicons and patterns (English words for effects, harms, hedges, advice, purpose, references,
  described studies and vague appeals; all in ``cues.py``), run on the sentence and its context;
- a claim-strength classifier trained on Yu et al. (2019) PubMed conclusion sentences
  (``scripts/train_claims.py``): an n-gram + lexicon logistic regression averaged with a LoRA-tuned
  MiniLM. Its probability of causal language ("X reduces pain", "X may reduce pain") lets claims the
  lexicon has no verb for through, and its conditional-vs-direct split backs up the hedge lexicon.

``unsupported`` = an efficacy claim with no described study, data or reference in the sentence or the
sentence just before it; a vague appeal ("research demonstrates") is reported but supports nothing.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import math
import re
from collections import Counter
from pathlib import Path

import numpy as np

from . import cues
from ..errors import ModelError
from ..text import word_spans, words
from ..types import Claim

MODEL_DIR = Path(__file__).parent.parent / "models" / "claims"
LABELS = ("none", "direct", "conditional", "correlational")
# The lexicon is the primary signal; the classifier alone adds a claim the lexicon has no words for only
# when it is this sure the sentence uses causal language (P(direct) + P(conditional)).
CLASSIFIER_CLAIM_MIN = 0.8
# A list label ("Pain Relief: Acupuncture …"), dropped before reading the sentence.
_LIST_LABEL = re.compile(r"^\s*(?:\d{1,3}[.)]\s*)?(?:[A-Z][\w'’/&-]*(?:\s+[\w'’/&-]+){0,5}):\s+")

# ---------------------------------------------------------------------------- n-gram and lexicon features

LEXICON_GROUPS = cues.LEXICON_GROUPS
LEXICON_FEATURE_NAMES = list(LEXICON_GROUPS)


def lexicon_fingerprint() -> str:
    """sha256 of the cue patterns the classifier was trained with; a change means retraining."""
    import hashlib

    blob = json.dumps({k: rx.pattern for k, rx in LEXICON_GROUPS.items()}, sort_keys=True).encode()
    return hashlib.sha256(blob).hexdigest()


def ngrams(text: str) -> list[str]:
    """Word 1- and 2-grams, lowercased, hyphenated compounds kept whole."""
    t = words(text, compounds=True)
    return t + [f"{a} {b}" for a, b in zip(t, t[1:])]


def tfidf_rows(texts: list[str], index: dict[str, int], idf: np.ndarray) -> np.ndarray:
    """Sublinear-tf × idf rows, L2-normalised (what sklearn's TfidfVectorizer(sublinear_tf=True) gives)."""
    out = np.zeros((len(texts), len(index)), dtype=np.float32)
    for r, t in enumerate(texts):
        for g, c in Counter(ngrams(t)).items():
            j = index.get(g)
            if j is not None:
                out[r, j] = (1.0 + math.log(c)) * idf[j]
        norm = float(np.linalg.norm(out[r]))
        if norm:
            out[r] /= norm
    return out


def lexicon_matrix(texts: list[str]) -> np.ndarray:
    """One 0/1 column per cue group of ``LEXICON_GROUPS`` (present anywhere in the sentence)."""
    return np.array(
        [[1.0 if rx.search(t) else 0.0 for rx in LEXICON_GROUPS.values()] for t in texts], dtype=np.float32
    ).reshape(len(texts), len(LEXICON_GROUPS))


# ---------------------------------------------------------------------------- the trained classifier


class ClaimClassifier:
    """Yu et al. causal-language classifier: P(none, direct, conditional, correlational) per sentence."""

    def __init__(self, folder: Path = MODEL_DIR):
        try:
            meta = json.loads((folder / "meta.json").read_text(encoding="utf-8"))
            with np.load(folder / "weights.npz", allow_pickle=False) as z:
                self.arrays = {k: z[k] for k in z.files}
        except (OSError, ValueError) as exc:
            raise ModelError(
                f"the claim classifier in {folder} is missing or damaged ({exc}); "
                "rebuild it with `.venv/bin/python scripts/train_claims.py --no-cv`"
            ) from exc
        self.meta = meta
        self.index = {g: i for i, g in enumerate(meta["vocab"])}
        self._bert = None

    def ngram_probs(self, texts: list[str]) -> np.ndarray:
        a = self.arrays
        X = np.hstack([tfidf_rows(texts, self.index, a["ngram_idf"]), lexicon_matrix(texts)])
        return _softmax(X @ a["ngram_coef"].T + a["ngram_intercept"])

    def lora_probs(self, texts: list[str]) -> np.ndarray:
        pooled = self._encoder().pooled(texts)
        return _softmax(pooled @ self.arrays["head_weight"].T + self.arrays["head_bias"])

    def probs(self, texts: list[str]) -> np.ndarray:
        """Average of the two parts, shape (n, 4) in ``LABELS`` order."""
        if not texts:
            return np.zeros((0, len(LABELS)), dtype=np.float32)
        return (self.ngram_probs(texts) + self.lora_probs(texts)) / 2

    def _encoder(self):
        """The packaged MiniLM with the fine-tuned LoRA adapters merged in (built once)."""
        if self._bert is None:
            from ..index.embed import AdaptedEncoder

            deltas = [(name, self.arrays[f"lora_{i}_A"], self.arrays[f"lora_{i}_B"])
                      for i, name in enumerate(self.meta["lora_modules"])]
            self._bert = AdaptedEncoder(deltas, float(self.meta["lora_scale"]), self.meta["max_tokens"])
        return self._bert


def _softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


@functools.cache
def get_classifier() -> ClaimClassifier:
    """The process-wide classifier, loaded once on first use."""
    return ClaimClassifier()


# ---------------------------------------------------------------------------- sentence analysis


@dataclasses.dataclass(frozen=True)
class Context:
    """What a sentence leans on: its section heading ("this technique") and the sentence just before it (a study)."""

    heading: str = ""
    previous: str = ""

    @classmethod
    def from_text(cls, text: str) -> Context:
        """From one string ("heading\\nprevious sentences", or text opening with a run-in heading), for callers
        without the segmented sentences: the previous sentence is the last one ``split_sentences`` finds in it."""
        return cls(_leading_heading(text), _last_sentence(text))


def _context(context: str | Context) -> Context:
    return context if isinstance(context, Context) else Context.from_text(context)


def analyse(sentence: str, context: str | Context = "") -> Claim:
    """Analyse one sentence in its context.

    Args:
        sentence: the sentence text.
        context: its section heading and the sentence before it, used to resolve "this technique" and
            to find a study described just before the claim; a string is read as ``Context.from_text``.
    Returns:
        the Claim (efficacy_claim, strength, evidence cues, unsupported, explanation).
    """
    return analyse_many([sentence], [context])[0]


def analyse_many(sentences: list[str], contexts: list[str | Context] | None = None, *,
                 mode: str = "combined") -> list[Claim]:
    """Analyse many sentences with one batched classifier pass.

    ``mode`` is for measuring the parts: "combined" (default), "lexicon" (cues only) or "classifier"
    (the trained classifier decides claim and strength; evidence cues as usual).
    """
    if mode not in ("combined", "lexicon", "classifier"):
        raise ValueError(f"unknown mode {mode!r}: use 'combined', 'lexicon' or 'classifier'")
    contexts = [_context(c) for c in contexts] if contexts is not None else [Context()] * len(sentences)
    if len(contexts) != len(sentences):
        raise ValueError(f"got {len(sentences)} sentences but {len(contexts)} contexts; pass one context per sentence")
    sentences = list(sentences)
    if mode == "classifier":
        probs = list(get_classifier().probs(sentences))
    elif mode == "combined":
        probs = _combined_probs(sentences)
    else:
        probs = [None] * len(sentences)
    return [_decide(s, c, probs[i], mode) for i, (s, c) in enumerate(zip(sentences, contexts))]


def _combined_probs(sentences: list[str]) -> list[np.ndarray | None]:
    """The classifier's probabilities where they can change the outcome of ``_decide``; None elsewhere.

    The fine-tuned encoder is most of the cost of indexing claims, and most sentences do not need it:
    a question, advice or purpose is never a claim; a cue word with a hedge word is a hedged claim
    whatever the model says; and without a cue, a claim needs mean P(causal) >= CLASSIFIER_CLAIM_MIN,
    which the encoder's half (at most 1) cannot reach when the n-gram half is below 2 * MIN - 1.
    The result equals running the encoder on every sentence; each distinct text is encoded once.
    """
    clf = get_classifier()
    out: list[np.ndarray | None] = [None] * len(sentences)
    if not sentences:
        return out
    ngram = clf.ngram_probs(sentences)
    need = []
    for i, sentence in enumerate(sentences):
        body = _body(sentence)
        if _not_a_claim(sentence, body):
            continue
        if claim_cues(body):
            if not cues.HEDGE.search(body):
                need.append(i)  # strength: the model may call it hedged
        elif not _denies(body) and ngram[i, 1] + ngram[i, 2] >= 2 * CLASSIFIER_CLAIM_MIN - 1 - 1e-6:
            need.append(i)
    texts = list(dict.fromkeys(sentences[i] for i in need))
    lora = dict(zip(texts, clf.lora_probs(texts))) if texts else {}
    for i in need:
        out[i] = (ngram[i] + lora[sentences[i]]) / 2
    return out


def _decide(sentence: str, context: Context, p: np.ndarray | None, mode: str) -> Claim:
    body = _body(sentence)
    found = claim_cues(body)
    structural_no = _not_a_claim(sentence, body)
    causal = float(p[1] + p[2]) if p is not None else 0.0
    if mode == "lexicon":
        is_claim = bool(found) and not structural_no
    elif mode == "classifier":
        is_claim = causal >= 0.5 and not sentence.rstrip().endswith("?")
    else:
        # Yu et al. call "X did not reduce Y" causal language too; a denial promises nothing, so the
        # classifier adds only un-negated sentences.
        is_claim = not structural_no and (bool(found) or (causal >= CLASSIFIER_CLAIM_MIN and not _denies(body)))
    evidence = evidence_cues(sentence, context)
    if not is_claim:
        return Claim(sentence, False, None, evidence, False, "")
    strength = _strength(body, p, mode)
    supported = any(not e.startswith("vague appeal") for e in evidence)
    claim = Claim(sentence, True, strength, evidence, not supported)
    return dataclasses.replace(claim, explanation=explain(claim, context, found))


def _denies(text: str) -> bool:
    """Whether ``text`` has a negator anywhere ("does not cure")."""
    return any(w in cues.NEGATORS for w in words(text, compounds=True))


def _body(sentence: str) -> str:
    """The sentence without its list label ("Pain Relief: Acupuncture …" -> "Acupuncture …")."""
    s = _LIST_LABEL.sub("", sentence.strip(), count=1)
    return s.strip()


def claim_cues(text: str) -> list[str]:
    """Words that make ``text`` an efficacy, safety or comparative claim (empty when none)."""
    found = []
    for rx in (cues.COMPARATIVE, cues.HARM, cues.HARM_NOUN, cues.SAFETY_ADJ, cues.EFFICACY_ADJ, cues.EFFECT_PHRASE,
               cues.BENEFIT_NOUN):
        found += [m.group(0) for m in rx.finditer(text)]
    found += _asserted_benefit_verbs(text)
    # Keep them in reading order, without repeats.
    return sorted(set(found), key=lambda w: (text.lower().find(w.lower()), w))


def _asserted_benefit_verbs(text: str) -> list[str]:
    """Benefit verbs that are asserted, not purposes: "can relieve pain" yes, "inserts needles to relieve pain" no."""
    spans = word_spans(text, compounds=True)
    out = []
    for i, (w, start) in enumerate(spans):
        if not cues.BENEFIT_VERBS.fullmatch(w):
            continue
        prev = spans[i - 1][0] if i else ""
        noun_like = cues.NOUN_LIKE.fullmatch(w)
        if noun_like and (prev in cues.NOUN_LEAD or (prev not in cues.VERB_LEAD and not prev.endswith("ly"))):
            continue  # a noun or adjective ("the benefits", "lower back pain"), not a verb
        if noun_like and w.endswith("s") and prev in cues.LIST_JOINERS:
            continue  # "origins, methods, and benefits": a list of nouns
        if any(x in cues.NEGATORS for x, _ in spans[max(0, i - 3):i]):
            continue  # "does not cure": denies an effect, promises nothing
        if prev in cues.NON_ASSERTING_LEADS or (prev == "of" and i > 1 and spans[i - 2][0] == "instead"):
            continue  # "the condition being treated", "rather than treating"
        to = _governing_to(spans, i)
        if to is None or any(x in cues.TO_CLAIM_FRAME for x, _ in spans[max(0, to - 8):to]):
            out.append(text[start:start + len(w)])
    return out


def _governing_to(spans: list[tuple[str, int]], i: int) -> int | None:
    """Index of the "to" that makes word ``i`` an infinitive ("to reduce", "to address X and promote"), or None."""
    if i and spans[i - 1][0] == "to":
        return i - 1
    if i and spans[i - 1][0] in cues.LIST_JOINERS:
        for j in range(i - 2, max(-1, i - 10), -1):
            if spans[j][0] == "to":
                return j
    return None


def _not_a_claim(sentence: str, body: str) -> bool:
    """Questions, advice, list lead-ins and statements of purpose are not claims about effects."""
    s = sentence.strip()
    if s.endswith("?") or s.endswith(":"):
        return True
    if cues.ADVICE.search(body) or cues.STUDY_METHOD.search(body):
        return True
    first = cues.IF_CLAUSE.sub("", body, count=1).split(maxsplit=1)
    if first and first[0].lower().strip(",.") in cues.IMPERATIVE:
        return True
    purposes = [m for m in cues.PURPOSE.finditer(body) if not cues.PURPOSE_SET_ASIDE.search(body[:m.start()])]
    return bool(purposes) and not cues.COMPARATIVE.search(body)


def _strength(body: str, p: np.ndarray | None, mode: str) -> str:
    hedged_words = bool(cues.HEDGE.search(body))
    if mode == "lexicon" or p is None:
        return "hedged" if hedged_words else "strong"
    model_hedged = p[2] > p[1] and p[2] >= 0.5
    if mode == "classifier":
        return "hedged" if p[2] > p[1] else "strong"
    return "hedged" if hedged_words or model_hedged else "strong"


def evidence_cues(sentence: str, context: str | Context = "") -> tuple[str, ...]:
    """Evidence the text gives: references, described studies, data (sentence, then the sentence before), vague appeals."""
    found = _real_evidence(sentence)
    previous = _context(context).previous
    if not found and previous:
        found = [f"{c} (previous sentence)" for c in _real_evidence(previous)]
    if not found:
        found = [f"vague appeal: '{m.group(0)}'" for m in cues.VAGUE.finditer(sentence)]
    return tuple(dict.fromkeys(found))


def _real_evidence(text: str) -> list[str]:
    """Reference, described-study and data cues in reading order; a match inside an earlier one is dropped."""
    found = [(m.start(), -m.end(), kind, m.group(0).strip())
             for kind, rx in (("reference", cues.REFERENCE), ("described study", cues.SAMPLE),
                              ("described study", cues.STUDY), ("data", cues.DATA))
             for m in rx.finditer(text)]
    out, covered = [], -1
    for start, neg_end, kind, said in sorted(found):
        if -neg_end <= covered:
            continue
        covered = max(covered, -neg_end)
        out.append(f"{kind}: '{said}'")
    return out


def _last_sentence(text: str) -> str:
    from ..ingest.segment import split_sentences

    spans = split_sentences(text)
    return text[spans[-1][0]:spans[-1][1]] if spans else ""


# ---------------------------------------------------------------------------- explanations


def explain(claim: Claim, context: str | Context = "", found: list[str] | None = None) -> str:
    """A sentence a reader understands: what the claim says, about what, and what evidence is missing."""
    if not claim.efficacy_claim:
        return "Not an efficacy claim: no statement that a treatment works, is safer or causes harm."
    body = _body(claim.sentence)
    found = found if found is not None else claim_cues(body)
    quoted = ", ".join(f"'{w}'" for w in _quoted_phrases(body, found)[:2]) or "an effect"
    subject = _subject(body, _context(context).heading)
    about = f"{subject} " if subject else ""
    kind = " (hedged)" if claim.strength == "hedged" else ""
    if not claim.unsupported:
        shown = "; ".join(claim.evidence[:2])
        return f"Says {about}{quoted}{kind}, backed by evidence in the text: {shown}."
    vague = [e.split(": ", 1)[1] for e in claim.evidence if e.startswith("vague appeal")]
    if vague:
        return f"Says {about}{quoted}{kind} and appeals to {', '.join(vague)} without naming any study, data or reference."
    return f"Says {about}{quoted}{kind} but gives no study, data or reference for it."


def _quoted_phrases(body: str, found: list[str]) -> list[str]:
    """Each cue widened to its hedge before and a few object words after: 'relieve' -> 'can help relieve muscle pain'."""
    out: list[str] = []
    for cue in found:
        i = body.lower().find(cue.lower())
        if i < 0:
            continue
        before = list(re.finditer(r"\S+", body[:i]))
        start = i
        for m in reversed(before[-5:]):
            if m.group(0).lower() not in cues.QUOTE_LEAD:
                break
            start = m.start()
        # Never open a quote on a bare "and"/"to".
        while (m := cues.QUOTE_OPENER.match(body[start:i])) and start < i:
            start += m.end()
        tail = re.match(r"[^,;.:()]{0,40}", body[i + len(cue):]).group(0).split()[:3]
        while tail and tail[-1].lower() in cues.QUOTE_TRAILING:
            tail.pop()
        phrase = " ".join([body[start:i + len(cue)].strip(), *tail]).strip()
        if not any(phrase.lower() in o.lower() or o.lower() in phrase.lower() for o in out):
            out.append(phrase)
    return out


def _subject(body: str, heading: str) -> str:
    """The treatment the sentence is about: its opening noun phrase, or the heading's when it says "this technique"."""
    for opener in cues.SUBJECT_OPENERS:
        body = opener.sub("", body)
    body = body[:1].upper() + body[1:]
    m = cues.OPENING_SUBJECT.match(body)
    if m and not cues.ANAPHOR.fullmatch(m.group(1)) and m.group(1).lower() not in cues.PRONOUN_SUBJECTS:
        return m.group(1)
    m = cues.CLAUSE_SUBJECT.search(body)
    if m and m.group(1).split()[0] not in cues.NOT_A_SUBJECT:
        return m.group(1)[0].upper() + m.group(1)[1:]
    topic = cues.HEADING_FRAME.sub("", heading.strip())
    refers_back = cues.ANAPHOR.match(body) or cues.REFERS_BACK.search(body)
    if refers_back and topic and len(topic.split()) <= 4:
        return topic[0].upper() + topic[1:] if topic else ""
    return ""


def _leading_heading(context: str) -> str:
    """The section heading at the start of a context ("Benefits of Dry Needling Dry needling is …" -> the first four words).

    A heading is a run of capitalised words (and small function words); the last capitalised word of the
    run opens the first sentence when the run runs into lowercase text.
    """
    if "\n" in context:
        return context.split("\n", 1)[0].strip()
    ws = context.split()
    run = []
    for w in ws:
        if w[:1].isupper() or w.lower() in cues.HEADING_WORDS:
            run.append(w)
            if w.endswith(("?", ":", ".")):
                return " ".join(run)
        else:
            break
    while run and run[-1].lower() in cues.HEADING_WORDS:
        run.pop()
    if len(run) < len(ws):
        run = run[:-1]
    return " ".join(run)
