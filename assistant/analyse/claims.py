"""Claim analysis: is a sentence an efficacy/safety/comparative claim, how strong, and what evidence backs it.

Two parts, both generic (nothing here knows any particular article):

- cue lexicons and patterns (English words for effects, harms, hedges, advice, purpose, references,
  described studies and vague appeals), run on the sentence and its context;
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

from ..errors import ModelError
from ..types import Claim

MODEL_DIR = Path(__file__).parent.parent / "models" / "claims"
LABELS = ("none", "direct", "conditional", "correlational")
# The lexicon is the primary signal; the classifier alone adds a claim the lexicon has no words for only
# when it is this sure the sentence uses causal language (P(direct) + P(conditional)).
CLASSIFIER_CLAIM_MIN = 0.8


def _rx(pattern: str) -> re.Pattern:
    return re.compile(pattern, re.IGNORECASE)


def _verbs(*stems: str) -> str:
    """Alternation of verb forms: 'reliev(e|es|ed|ing)' style stems written as 'relieve'."""
    forms = []
    for s in stems:
        if s.endswith("e"):
            forms.append(s[:-1] + r"(?:e|es|ed|ing)")
        elif s.endswith("y"):
            forms.append(s[:-1] + r"(?:y|ies|ied|ying)")
        else:
            forms.append(s + r"(?:s|es|ed|ing)?")
    return "(?:" + "|".join(forms) + ")"


# ---------------------------------------------------------------------------- cue lexicons

# Verbs that assert a beneficial effect on health.
BENEFIT_VERB = _verbs(
    "relieve", "alleviate", "reduce", "decrease", "lower", "ease", "improve", "enhance", "boost", "increase",
    "promote", "restore", "support", "aid", "help", "heal", "cure", "treat", "manage", "prevent", "protect",
    "optimize", "optimise", "strengthen", "accelerate", "release", "reverse", "eliminate", "resolve", "benefit",
    "soothe", "calm", "fix", "repair", "regenerate", "detoxify", "rejuvenate", "speed", "shorten", "lessen",
    "mitigate", "combat", "counteract", "slow", "halve", "cut", "normalize", "normalise", "stabilize", "stabilise",
)
# Forms that are often nouns or adjectives ("the benefits", "lower back pain", "a healing energy"): they count
# as verbs only after a word that leads a verb ("can lower", "it boosts", "to support").
_NOUN_LIKE = re.compile(
    r"(?:benefits?|supports?|aids?|helps?|cures?|releases?|increases?|decreases?|boosts?|lower|ease|eases|fix|fixes|"
    r"speed|speeds|slow|slows|cut|cuts|\w+ing)"
)
_VERB_LEAD = {
    "can", "may", "might", "could", "will", "would", "should", "does", "do", "did", "to", "help", "helps", "helped",
    "also", "not", "it", "they", "which", "that", "who", "often", "further", "greatly", "actually", "by", "and", "or",
}
_NEGATORS = {"not", "never", "cannot", "can't", "doesn't", "don't", "won't", "isn't", "aren't", "didn't", "fails", "failed", "no"}
_NOUN_LEAD = {"a", "an", "the", "this", "that", "its", "their", "his", "her", "our", "your", "of", "for", "with"}
_BENEFIT_VERB = _rx(rf"\b{BENEFIT_VERB}\b")
# Nouns of benefit when something gives them ("offers potential benefits", "lacking the efficacy").
_BENEFIT_NOUN = _rx(
    r"\b(?:offer|provide|give|bring|deliver|ha(?:ve|s|d)|promote|produce|show|achieve|experience|feel|find|get|"
    r"report|lack|yield)(?:s|es|ed|ing)?\b(?:\W+\w+){0,5}?\W+(?:benefits?|relief|efficacy|effectiveness|"
    r"improvements?|results|healing|cure)\b"
)
# Effect phrases that claim on their own ("analgesic effect", "therapeutic effects", "more benefits").
_EFFECT_PHRASE = _rx(
    r"\b(?:analgesic|therapeutic|beneficial|positive|protective|healing|curative|significant|immediate|"
    r"lasting|long-term|clinical)\s+(?:effects?|benefits?|relief|improvements?|outcomes?)\b"
)
_SAFETY_ADJ = _rx(r"\b(?:safe|safer|safest|painless|harmless|risk-free|non-toxic|side-effect-free)\b")
_EFFICACY_ADJ = _rx(r"\b(?:effective|efficacious|beneficial|curative)\b")
# Harms: an adverse noun, or a harm verb with a symptom ("can increase pain", "bruising may occur").
_HARM_NOUN = _rx(r"\b(?:side[- ]effects?|adverse (?:events?|effects?|reactions?))\b")
_SYMPTOM = r"(?:pain|complications?|discomfort|bleeding|bruising|soreness|infection|inflammation|swelling|damage|harm|injury|risk|symptoms?|nausea|dizziness|fainting)"
_HARM = _rx(
    rf"\b(?:{_verbs('cause', 'produce', 'increase', 'worsen', 'aggravate', 'trigger', 'induce', 'raise')}|lead(?:s)? to|led to|"
    rf"result(?:s|ed)? in)\b(?:\W+\w+){{0,3}}?\W+{_SYMPTOM}\b"
    rf"|\b{_SYMPTOM}(?:\W+\w+){{0,6}}?\W+(?:may |can |might |could |will |often |sometimes |rarely )?occur"
    rf"|\b(?:more|higher|greater|increased|lower|less|reduced) risks? of\b"
)
# Comparative or evaluative judgements of a treatment.
_COMPARATIVE = _rx(
    r"\b(?:more|less|most|least)\s+(?:\w+\s+)?(?:effective|efficacious|beneficial|benefits?|efficacy|"
    r"powerful|successful|helpful|risky|dangerous|harmful)\b"
    r"|\b(?:safer|safest|superior|inferior|better results|worse results|(?:poor|low|high|inferior|superior)[- ]quality)\b"
    r"|\b(?:significantly|far|much) (?:greater|better|more|safer)\b"
)

# Hedges make a claim "hedged"; an approximator ("generally safe") hedges too.
_HEDGE = _rx(
    r"\b(?:may|might|could|can|possibly|possible|potential(?:ly)?|perhaps|probably|likely|presumably|"
    r"appears?|appeared|seems?|seemed|believed|thought to|said to|claimed to|tends? to|generally|usually|typically|"
    r"some people|in some cases)\b"
)

# Sentences that are not claims whatever verbs they contain.
_IMPERATIVE = (
    "ensure", "inform", "consult", "remember", "choose", "verify", "inquire", "read", "consider", "discuss",
    "ask", "avoid", "make", "seek", "talk", "tell", "check", "find", "try", "keep", "stop", "do", "don't",
    "look", "follow", "contact", "call", "let", "speak", "visit", "see", "book", "schedule", "drink", "take",
    "wear", "rest", "apply", "use", "be", "never", "always", "note", "please",
)
_ADVICE = _rx(
    r"\b(?:you should|you must|you need to|we (?:suggest|recommend|advise)|it is (?:essential|crucial|important|"
    r"advisable|best|recommended|wise|vital|necessary) to|remember to|be sure to|make sure|we encourage)\b"
)
_PURPOSE = _rx(
    r"\b(?:aims? to|aimed to|aiming to|(?:is|are|was|were) intended to|intended to|designed to|tr(?:y|ies|ying) to|"
    r"seeks? to|(?:the|its|their|primary|main) (?:aim|goal|purpose|objective) (?:is|was|are)|focus(?:es|ed|ing)? "
    r"(?:\w+ )?on|emphasis is on|(?:is|are) based on|in order to)\b"
)
# Words that turn "to <verb>" into a claim ("used to manage", "believed to promote", "helps to reduce").
_TO_CLAIM_FRAME = {
    "used", "help", "helps", "helped", "believed", "thought", "shown", "proven", "proved", "known", "able",
    "likely", "appears", "appear", "seems", "seem", "tends", "tend", "found", "reported", "said", "claimed", "due",
}
# How a study was run ("he examined the effects of X in 241 patients") describes evidence; it claims nothing.
_STUDY_METHOD = _rx(
    r"\b(?:we|they|he|she|researchers|investigators|authors|the study|the trial|this study)\s+(?:\w+\s+)?"
    r"(?:examined|investigated|assessed|evaluated|compared|enrolled|assigned|randomi[sz]ed|recruited|measured|studied)\b"
)
_LIST_LABEL = re.compile(r"^\s*(?:\d{1,3}[.)]\s*)?(?:[A-Z][\w'’/&-]*(?:\s+[\w'’/&-]+){0,5}):\s+")
_IF_CLAUSE = _rx(r"^(?:if|when|before|after|while|once)\b[^,]{0,160},\s*")

# Evidence actually given in the text.
_REFERENCE = _rx(
    r"\[\d+(?:\s*[,\u2013-]\s*\d+)*\]|\bdoi:\s*\S+|\b10\.\d{4,}/\S+|https?://\S+|\bwww\.\S+|\bPMID:?\s*\d+"
    r"|\((?:[A-Z][\w'-]+(?:\s+et al\.?|\s+(?:and|&)\s+[A-Z][\w'-]+)?,?\s+(?:19|20)\d\d[a-z]?)(?:;[^)]*)?\)"
    r"|\b[A-Z][a-z]+ et al\.?(?:\s*\(?(?:19|20)\d\d\)?)?"
)
_SAMPLE = _rx(
    r"\b\d[\d,]*\s+(?:\w+\s+){0,2}?(?:patients|participants|subjects|people|adults|children|women|men|volunteers|"
    r"cases|individuals|persons|athletes|infants|smokers|mice|rats)\b"
)
_DATA = _rx(
    r"\b\d+(?:\.\d+)?\s?%|\bp\s?[<=≤]\s?0?\.\d+|\b(?:odds ratio|hazard ratio|relative risk|confidence interval|95% ci)\b"
)
_STUDY = _rx(
    r"\b(?:randomi[sz]ed|placebo[- ]controlled|double[- ]blind|controlled trial|clinical trial|meta-analysis|"
    r"systematic review|cohort study)\b"
    r"|\b(?:published in|journal of|the work of)\b"
)
# Appeals that sound like evidence but name nothing a reader could check.
_VAGUE = _rx(
    r"\b(?:research|science|studies|evidence|data|experts?|doctors|scientists)\s+(?:has |have )?"
    r"(?:demonstrates?|demonstrated|shows?|shown|proves?|proven|suggests?|indicates?|confirms?|says?|agrees?)\b"
    r"|\b(?:scientifically|clinically|medically) proven\b|\bproven to\b|\bstudies have\b"
    r"|\bwidely (?:and effectively )?used\b|\b(?:effectively|successfully) used\b"
    r"|\bfor (?:thousands|hundreds) of years\b|\bfor (?:many )?centuries\b|\bthousands of years\b|\btime-tested\b"
    r"|\bin (?:my|our) (?:professional |clinical )?experience\b"
    r"|\bmany (?:\w+ ){0,2}(?:professionals|doctors|experts|practitioners|therapists|acupuncturists|patients|"
    r"people|users|clients)\s+(?:\w+ ){0,1}(?:suggest|say|agree|believe|recommend|report|swear|claim)\b"
    r"|\bit is (?:well|widely) (?:known|accepted|established|believed)\b|\bwell[- ]known\b"
)
_ANAPHOR = _rx(r"^(?:it|this|that|these|they|the)\s+(?:technique|therapy|treatment|practice|method|approach|procedure|remedy)?\b")


# ---------------------------------------------------------------------------- n-gram and lexicon features

_WORD = re.compile(r"[a-z0-9]+(?:['’-][a-z0-9]+)*")

LEXICON_GROUPS = {
    "modal": _rx(r"\b(?:may|might|could|can|would)\b"),
    "hedge": _HEDGE,
    "report": _rx(r"\b(?:suggests?|suggested|indicates?|indicated|demonstrates?|demonstrated|shows?|showed|shown|reveals?|confirms?|found|finds|conclude)\b"),
    "benefit_verb": _BENEFIT_VERB,
    "harm": _HARM,
    "causal_verb": _rx(rf"\b(?:{_verbs('cause', 'affect', 'induce', 'attenuate', 'impair', 'influence', 'contribute', 'determine', 'worsen')}|lead(?:s)? to|led to|result(?:s|ed)? in|effects? (?:of|on))\b"),
    "correlational": _rx(r"\b(?:associat\w*|correlat\w*|relationships?|related to|linked|links?|predict\w*|odds|risk factors?)\b"),
    "negation": _rx(r"\b(?:no|not|neither|nor|without|none|lack\w*|n't|fail\w*)\b"),
    "comparative": _COMPARATIVE,
    "efficacy_adj": _EFFICACY_ADJ,
    "safety": _SAFETY_ADJ,
    "prevalence": _rx(r"\b(?:prevalence|incidence|rates?|common|frequent\w*|proportion)\b"),
    "number": _rx(r"\d"),
    "purpose": _PURPOSE,
    "advice": _ADVICE,
    "vague_appeal": _VAGUE,
    "evidence": _rx(f"(?:{_REFERENCE.pattern})|(?:{_SAMPLE.pattern})|(?:{_DATA.pattern})"),
}
LEXICON_FEATURE_NAMES = list(LEXICON_GROUPS)


def lexicon_fingerprint() -> str:
    """sha256 of the cue patterns the classifier was trained with; a change means retraining."""
    import hashlib

    blob = json.dumps({k: rx.pattern for k, rx in LEXICON_GROUPS.items()}, sort_keys=True).encode()
    return hashlib.sha256(blob).hexdigest()


def tokens(text: str) -> list[str]:
    return _WORD.findall(text.lower())


def ngrams(text: str) -> list[str]:
    """Word 1- and 2-grams, lowercased."""
    t = tokens(text)
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


def analyse(sentence: str, context: str = "") -> Claim:
    """Analyse one sentence; ``context`` is its section heading and preceding sentence(s).

    Args:
        sentence: the sentence text.
        context: heading + previous sentence(s) of the same section, used to resolve "this technique"
            and to find a study described just before the claim.
    Returns:
        the Claim (efficacy_claim, strength, evidence cues, unsupported, explanation).
    """
    return analyse_many([sentence], [context])[0]


def analyse_many(sentences: list[str], contexts: list[str] | None = None, *, mode: str = "combined") -> list[Claim]:
    """Analyse many sentences with one batched classifier pass.

    ``mode`` is for measuring the parts: "combined" (default), "lexicon" (cues only) or "classifier"
    (the trained classifier decides claim and strength; evidence cues as usual).
    """
    if mode not in ("combined", "lexicon", "classifier"):
        raise ValueError(f"unknown mode {mode!r}: use 'combined', 'lexicon' or 'classifier'")
    contexts = list(contexts) if contexts is not None else [""] * len(sentences)
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
            if not _HEDGE.search(body):
                need.append(i)  # strength: the model may call it hedged
        elif not any(w in _NEGATORS for w in tokens(body)) and ngram[i, 1] + ngram[i, 2] >= 2 * CLASSIFIER_CLAIM_MIN - 1 - 1e-6:
            need.append(i)
    texts = list(dict.fromkeys(sentences[i] for i in need))
    lora = dict(zip(texts, clf.lora_probs(texts))) if texts else {}
    for i in need:
        out[i] = (ngram[i] + lora[sentences[i]]) / 2
    return out


def _decide(sentence: str, context: str, p: np.ndarray | None, mode: str) -> Claim:
    body = _body(sentence)
    cues = claim_cues(body)
    structural_no = _not_a_claim(sentence, body)
    causal = float(p[1] + p[2]) if p is not None else 0.0
    if mode == "lexicon":
        is_claim = bool(cues) and not structural_no
    elif mode == "classifier":
        is_claim = causal >= 0.5 and not sentence.rstrip().endswith("?")
    else:
        # Yu et al. call "X did not reduce Y" causal language too; a denial promises nothing, so the
        # classifier adds only un-negated sentences.
        denial = any(w in _NEGATORS for w in tokens(body))
        is_claim = not structural_no and (bool(cues) or (causal >= CLASSIFIER_CLAIM_MIN and not denial))
    evidence = evidence_cues(sentence, context)
    if not is_claim:
        return Claim(sentence, False, None, evidence, False, "")
    strength = _strength(body, p, mode)
    supported = any(not e.startswith("vague appeal") for e in evidence)
    claim = Claim(sentence, True, strength, evidence, not supported)
    return dataclasses.replace(claim, explanation=explain(claim, context, cues))


def _body(sentence: str) -> str:
    """The sentence without its list label ("Pain Relief: Acupuncture …" -> "Acupuncture …")."""
    s = _LIST_LABEL.sub("", sentence.strip(), count=1)
    return s.strip()


def claim_cues(text: str) -> list[str]:
    """Words that make ``text`` an efficacy, safety or comparative claim (empty when none)."""
    found = []
    for rx in (_COMPARATIVE, _HARM, _HARM_NOUN, _SAFETY_ADJ, _EFFICACY_ADJ, _EFFECT_PHRASE, _BENEFIT_NOUN):
        found += [m.group(0) for m in rx.finditer(text)]
    found += _asserted_benefit_verbs(text)
    # Keep them in reading order, without repeats.
    return sorted(set(found), key=lambda w: (text.lower().find(w.lower()), w))


def _asserted_benefit_verbs(text: str) -> list[str]:
    """Benefit verbs that are asserted, not purposes: "can relieve pain" yes, "inserts needles to relieve pain" no."""
    words = [(m.group(0), m.start()) for m in _WORD.finditer(text.lower())]
    out = []
    for i, (w, _) in enumerate(words):
        if not _BENEFIT_VERB.fullmatch(w):
            continue
        prev = words[i - 1][0] if i else ""
        if _NOUN_LIKE.fullmatch(w) and (prev in _NOUN_LEAD or (prev not in _VERB_LEAD and not prev.endswith("ly"))):
            continue  # a noun or adjective ("the benefits", "lower back pain"), not a verb
        if _NOUN_LIKE.fullmatch(w) and w.endswith("s") and prev in {"and", "or"}:
            continue  # "origins, methods, and benefits": a list of nouns
        if any(x in _NEGATORS for x, _ in words[max(0, i - 3):i]):
            continue  # "does not cure": denies an effect, promises nothing
        if prev in {"being", "than"} or (prev == "of" and i > 1 and words[i - 2][0] == "instead"):
            continue  # "the condition being treated", "rather than treating"
        to = _governing_to(words, i)
        if to is None or any(x in _TO_CLAIM_FRAME for x, _ in words[max(0, to - 8):to]):
            out.append(text[words[i][1]:words[i][1] + len(w)])
    return out


def _governing_to(words: list[tuple[str, int]], i: int) -> int | None:
    """Index of the "to" that makes word ``i`` an infinitive ("to reduce", "to address X and promote"), or None."""
    if i and words[i - 1][0] == "to":
        return i - 1
    if i and words[i - 1][0] in {"and", "or"}:
        for j in range(i - 2, max(-1, i - 10), -1):
            if words[j][0] == "to":
                return j
    return None


def _not_a_claim(sentence: str, body: str) -> bool:
    """Questions, advice, list lead-ins and statements of purpose are not claims about effects."""
    s = sentence.strip()
    if s.endswith("?") or s.endswith(":"):
        return True
    if _ADVICE.search(body) or _STUDY_METHOD.search(body):
        return True
    first = _IF_CLAUSE.sub("", body, count=1).split(maxsplit=1)
    if first and first[0].lower().strip(",.") in _IMPERATIVE:
        return True
    purposes = [m for m in _PURPOSE.finditer(body) if not re.search(r"\b(?:rather than|instead of)\W+(?:\w+\W+)?$", body[:m.start()])]
    return bool(purposes) and not _COMPARATIVE.search(body)


def _strength(body: str, p: np.ndarray | None, mode: str) -> str:
    hedged_words = bool(_HEDGE.search(body))
    if mode == "lexicon" or p is None:
        return "hedged" if hedged_words else "strong"
    model_hedged = p[2] > p[1] and p[2] >= 0.5
    if mode == "classifier":
        return "hedged" if p[2] > p[1] else "strong"
    return "hedged" if hedged_words or model_hedged else "strong"


def evidence_cues(sentence: str, context: str = "") -> tuple[str, ...]:
    """Evidence the text gives: references, described studies, data (sentence, then the sentence before), vague appeals."""
    cues = _real_evidence(sentence)
    if not cues and context:
        previous = _last_sentence(context)
        cues = [f"{c} (previous sentence)" for c in _real_evidence(previous)]
    if not cues:
        cues = [f"vague appeal: '{m.group(0)}'" for m in _VAGUE.finditer(sentence)]
    return tuple(dict.fromkeys(cues))


def _real_evidence(text: str) -> list[str]:
    """Reference, described-study and data cues in reading order; a match inside an earlier one is dropped."""
    found = [(m.start(), -m.end(), kind, m.group(0).strip())
             for kind, rx in (("reference", _REFERENCE), ("described study", _SAMPLE), ("described study", _STUDY), ("data", _DATA))
             for m in rx.finditer(text)]
    cues, covered = [], -1
    for start, neg_end, kind, words in sorted(found):
        if -neg_end <= covered:
            continue
        covered = max(covered, -neg_end)
        cues.append(f"{kind}: '{words}'")
    return cues


def _last_sentence(context: str) -> str:
    from ..ingest.segment import split_sentences

    spans = split_sentences(context)
    return context[spans[-1][0]:spans[-1][1]] if spans else ""


# ---------------------------------------------------------------------------- explanations


def explain(claim: Claim, context: str = "", cues: list[str] | None = None) -> str:
    """A sentence a reader understands: what the claim says, about what, and what evidence is missing."""
    if not claim.efficacy_claim:
        return "Not an efficacy claim: no statement that a treatment works, is safer or causes harm."
    body = _body(claim.sentence)
    cues = cues if cues is not None else claim_cues(body)
    words = ", ".join(f"'{w}'" for w in _quoted_phrases(body, cues)[:2]) or "an effect"
    subject = _subject(body, context)
    about = f"{subject} " if subject else ""
    kind = " (hedged)" if claim.strength == "hedged" else ""
    if not claim.unsupported:
        shown = "; ".join(claim.evidence[:2])
        return f"Says {about}{words}{kind}, backed by evidence in the text: {shown}."
    vague = [e.split(": ", 1)[1] for e in claim.evidence if e.startswith("vague appeal")]
    if vague:
        return f"Says {about}{words}{kind} and appeals to {', '.join(vague)} without naming any study, data or reference."
    return f"Says {about}{words}{kind} but gives no study, data or reference for it."


_LEAD_WORDS = {
    "may", "might", "could", "can", "will", "help", "helps", "is", "are", "much", "far", "significantly", "be", "to",
    "believed", "generally", "has", "have", "been", "used", "widely", "effectively", "and", "often", "actually",
    "no", "not", "minimal", "minor", "fewer", "any",
}
_TRAILING = {"in", "the", "a", "an", "of", "for", "from", "by", "at", "and", "or", "to", "with", "when", "than", "after", "on", "such", "as"}


def _quoted_phrases(body: str, cues: list[str]) -> list[str]:
    """Each cue widened to its hedge before and a few object words after: 'relieve' -> 'can help relieve muscle pain'."""
    out: list[str] = []
    for cue in cues:
        i = body.lower().find(cue.lower())
        if i < 0:
            continue
        before = list(re.finditer(r"\S+", body[:i]))
        start = i
        for m in reversed(before[-5:]):
            if m.group(0).lower() not in _LEAD_WORDS:
                break
            start = m.start()
        # Never open a quote on a bare "and"/"to".
        while (m := re.match(r"(?:and|to)\s+", body[start:i], re.IGNORECASE)) and start < i:
            start += m.end()
        tail = re.match(r"[^,;.:()]{0,40}", body[i + len(cue):]).group(0).split()[:3]
        while tail and tail[-1].lower() in _TRAILING:
            tail.pop()
        phrase = " ".join([body[start:i + len(cue)].strip(), *tail]).strip()
        if not any(phrase.lower() in o.lower() or o.lower() in phrase.lower() for o in out):
            out.append(phrase)
    return out


def _subject(body: str, context: str) -> str:
    """The treatment the sentence is about: its opening noun phrase, or the heading's when it says "this technique"."""
    body = re.sub(r"^(?:however|moreover|also|in fact|indeed|no|yes|on the other hand),?\s+", "", body, flags=re.IGNORECASE)
    body = re.sub(r"^(?:research|science|studies|evidence|experts?|doctors)\s+\w+\s+that\s+", "", body, flags=re.IGNORECASE)
    body = re.sub(r"^(?:in (?:my|our) [^,]{0,40}|according to [^,]{0,60}),\s+", "", body, flags=re.IGNORECASE)
    body = body[:1].upper() + body[1:]
    m = re.match(r"^(?i:(?!(?:when|if|while|although|for|by|in|on|during|after|before|because|since|as|some|most|many)\b))"
                 r"([A-Z][\w'’-]*(?:\s+[\w'’-]+){0,4}?)\s+(?:is|are|has|have|can|may|might|could|will|was|were|offers?|"
                 rf"provides?|helps?|seeks|works|does|releases?|{BENEFIT_VERB})\b", body)
    if m and not _ANAPHOR.fullmatch(m.group(1)) and m.group(1).lower() not in {"it", "this", "they", "these", "that", "research"}:
        return m.group(1)
    m = re.search(r",\s+([a-z][\w'’-]*(?:\s+[a-z][\w'’-]*){0,2}?)\s+(?:can|may|might|could|is|are|has|will)\b", body)
    if m and m.group(1).split()[0] not in {"it", "this", "they", "these", "that", "which", "who", "there", "we", "you", "and", "but"}:
        return m.group(1)[0].upper() + m.group(1)[1:]
    heading = _leading_heading(context)
    topic = re.sub(r"^(?:what is|what are|benefits of|the benefits of|how|the origins of|origins of)\s+|\s+works?$|\?$", "",
                   heading.strip(), flags=re.IGNORECASE)
    refers_back = _ANAPHOR.match(body) or re.search(r"\b(?:it|this (?:technique|therapy|treatment|practice|method))\b", body, re.IGNORECASE)
    if refers_back and topic and len(topic.split()) <= 4:
        return topic[0].upper() + topic[1:] if topic else ""
    return ""


_HEADING_WORDS = {"of", "and", "or", "vs", "vs.", "the", "a", "an", "to", "for", "in", "on", "is", "are", "with", "what", "how"}


def _leading_heading(context: str) -> str:
    """The section heading at the start of a context ("Benefits of Dry Needling Dry needling is …" -> the first four words).

    A heading is a run of capitalised words (and small function words); the last capitalised word of the
    run opens the first sentence when the run runs into lowercase text.
    """
    if "\n" in context:
        return context.split("\n", 1)[0].strip()
    words = context.split()
    run = []
    for w in words:
        if w[:1].isupper() or w.lower() in _HEADING_WORDS:
            run.append(w)
            if w.endswith(("?", ":", ".")):
                return " ".join(run)
        else:
            break
    while run and run[-1].lower() in _HEADING_WORDS:
        run.pop()
    if len(run) < len(words):
        run = run[:-1]
    return " ".join(run)
