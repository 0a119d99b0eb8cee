"""Cue words: every English word list and word pattern the claim and disagreement rules read, and nothing else.

Domain text apart from logic (paper-qa's ``prompts.py`` holds only named constants): ``claims.py`` and
``disagreements.py`` decide, this module only names the words they decide with. All of it is general
English (effects, harms, hedges, advice, evidence, negation); nothing is keyed to any article.

``ENABLED`` is the one switch for ablations: while it is False every pattern here matches nothing and
every word list is empty, so the rules fall silent and only the trained parts decide. The classifier's
feature groups (``LEXICON_GROUPS``) switch off too, but their fingerprint still reads their patterns.
"""

from __future__ import annotations

import re

ENABLED = True


class Cue:
    """A compiled cue pattern that matches nothing while ``ENABLED`` is False."""

    __slots__ = ("rx",)

    def __init__(self, pattern: str, flags: int = re.IGNORECASE):
        self.rx = re.compile(pattern, flags)

    @property
    def pattern(self) -> str:
        return self.rx.pattern

    def search(self, text: str) -> re.Match | None:
        return self.rx.search(text) if ENABLED else None

    def match(self, text: str) -> re.Match | None:
        return self.rx.match(text) if ENABLED else None

    def fullmatch(self, text: str) -> re.Match | None:
        return self.rx.fullmatch(text) if ENABLED else None

    def finditer(self, text: str):
        return self.rx.finditer(text) if ENABLED else iter(())

    def split(self, text: str) -> list[str]:
        return self.rx.split(text) if ENABLED else [text]

    def sub(self, repl: str, text: str, count: int = 0) -> str:
        return self.rx.sub(repl, text, count=count) if ENABLED else text


class CueWords:
    """A cue word list (kept in the order written) that is empty while ``ENABLED`` is False."""

    __slots__ = ("words", "_set")

    def __init__(self, *words: str):
        self.words = words
        self._set = frozenset(words)

    def __contains__(self, word: object) -> bool:
        return ENABLED and word in self._set

    def __iter__(self):
        return iter(self.words if ENABLED else ())


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


def _alternation(phrases) -> str:
    """``phrases`` as one regex alternation, a space standing for any run of whitespace."""
    return "|".join(r"\s+".join(map(re.escape, p.split())) for p in phrases)


# ---------------------------------------------------------------------------- negation (claims and disagreements)

# Words that deny what follows ("does not cure", "isn't safe"): a denial promises no effect.
NEGATORS = CueWords(
    "not", "never", "cannot", "can't", "doesn't", "don't", "won't", "isn't", "aren't", "didn't", "fails", "failed", "no",
)
# Phrases that set what follows aside without a negative word ("rather than treating the cause").
CONTRASTS = CueWords("rather than", "instead of", "without", "beyond")
# A negator or a contrast, as a pattern over running text (the disagreement rules look a few words back).
NEGATION = Cue(rf"\b(?:{_alternation((*NEGATORS, *CONTRASTS))})\b")

# ---------------------------------------------------------------------------- claims: effects and harms

# Verbs that assert a beneficial effect on health.
BENEFIT_VERB = _verbs(
    "relieve", "alleviate", "reduce", "decrease", "lower", "ease", "improve", "enhance", "boost", "increase",
    "promote", "restore", "support", "aid", "help", "heal", "cure", "treat", "manage", "prevent", "protect",
    "optimize", "optimise", "strengthen", "accelerate", "release", "reverse", "eliminate", "resolve", "benefit",
    "soothe", "calm", "fix", "repair", "regenerate", "detoxify", "rejuvenate", "speed", "shorten", "lessen",
    "mitigate", "combat", "counteract", "slow", "halve", "cut", "normalize", "normalise", "stabilize", "stabilise",
)
BENEFIT_VERBS = Cue(rf"\b{BENEFIT_VERB}\b")
# Forms that are often nouns or adjectives ("the benefits", "lower back pain", "a healing energy"): they count
# as verbs only after a word that leads a verb ("can lower", "it boosts", "to support").
NOUN_LIKE = Cue(
    r"(?:benefits?|supports?|aids?|helps?|cures?|releases?|increases?|decreases?|boosts?|lower|ease|eases|fix|fixes|"
    r"speed|speeds|slow|slows|cut|cuts|\w+ing)",
    0,
)
VERB_LEAD = CueWords(
    "can", "may", "might", "could", "will", "would", "should", "does", "do", "did", "to", "help", "helps", "helped",
    "also", "not", "it", "they", "which", "that", "who", "often", "further", "greatly", "actually", "by", "and", "or",
)
NOUN_LEAD = CueWords("a", "an", "the", "this", "that", "its", "their", "his", "her", "our", "your", "of", "for", "with")
# "origins, methods, and benefits": a plural after these is one more noun of a list.
LIST_JOINERS = CueWords("and", "or")
# "the condition being treated", "better than treating": the verb form names no effect of the subject.
NON_ASSERTING_LEADS = CueWords("being", "than")
# Nouns of benefit when something gives them ("offers potential benefits", "lacking the efficacy").
BENEFIT_NOUN = Cue(
    r"\b(?:offer|provide|give|bring|deliver|ha(?:ve|s|d)|promote|produce|show|achieve|experience|feel|find|get|"
    r"report|lack|yield)(?:s|es|ed|ing)?\b(?:\W+\w+){0,5}?\W+(?:benefits?|relief|efficacy|effectiveness|"
    r"improvements?|results|healing|cure)\b"
)
# Effect phrases that claim on their own ("analgesic effect", "therapeutic effects", "more benefits").
EFFECT_PHRASE = Cue(
    r"\b(?:analgesic|therapeutic|beneficial|positive|protective|healing|curative|significant|immediate|"
    r"lasting|long-term|clinical)\s+(?:effects?|benefits?|relief|improvements?|outcomes?)\b"
)
SAFETY_ADJ = Cue(r"\b(?:safe|safer|safest|painless|harmless|risk-free|non-toxic|side-effect-free)\b")
EFFICACY_ADJ = Cue(r"\b(?:effective|efficacious|beneficial|curative)\b")
# Harms: an adverse noun, or a harm verb with a symptom ("can increase pain", "bruising may occur").
HARM_NOUN = Cue(r"\b(?:side[- ]effects?|adverse (?:events?|effects?|reactions?))\b")
_AILMENT = r"(?:pain|complications?|discomfort|bleeding|bruising|soreness|infection|inflammation|swelling|damage|harm|injury|risk|symptoms?|nausea|dizziness|fainting)"
HARM = Cue(
    rf"\b(?:{_verbs('cause', 'produce', 'increase', 'worsen', 'aggravate', 'trigger', 'induce', 'raise')}|lead(?:s)? to|led to|"
    rf"result(?:s|ed)? in)\b(?:\W+\w+){{0,3}}?\W+{_AILMENT}\b"
    rf"|\b{_AILMENT}(?:\W+\w+){{0,6}}?\W+(?:may |can |might |could |will |often |sometimes |rarely )?occur"
    rf"|\b(?:more|higher|greater|increased|lower|less|reduced) risks? of\b"
)
# Comparative or evaluative judgements of a treatment.
COMPARATIVE = Cue(
    r"\b(?:more|less|most|least)\s+(?:\w+\s+)?(?:effective|efficacious|beneficial|benefits?|efficacy|"
    r"powerful|successful|helpful|risky|dangerous|harmful)\b"
    r"|\b(?:safer|safest|superior|inferior|better results|worse results|(?:poor|low|high|inferior|superior)[- ]quality)\b"
    r"|\b(?:significantly|far|much) (?:greater|better|more|safer)\b"
)
# Hedges make a claim "hedged"; an approximator ("generally safe") hedges too.
HEDGE = Cue(
    r"\b(?:may|might|could|can|possibly|possible|potential(?:ly)?|perhaps|probably|likely|presumably|"
    r"appears?|appeared|seems?|seemed|believed|thought to|said to|claimed to|tends? to|generally|usually|typically|"
    r"some people|in some cases)\b"
)

# ---------------------------------------------------------------------------- claims: sentences that are not claims

IMPERATIVE = CueWords(
    "ensure", "inform", "consult", "remember", "choose", "verify", "inquire", "read", "consider", "discuss",
    "ask", "avoid", "make", "seek", "talk", "tell", "check", "find", "try", "keep", "stop", "do", "don't",
    "look", "follow", "contact", "call", "let", "speak", "visit", "see", "book", "schedule", "drink", "take",
    "wear", "rest", "apply", "use", "be", "never", "always", "note", "please",
)
ADVICE = Cue(
    r"\b(?:you should|you must|you need to|we (?:suggest|recommend|advise)|it is (?:essential|crucial|important|"
    r"advisable|best|recommended|wise|vital|necessary) to|remember to|be sure to|make sure|we encourage)\b"
)
PURPOSE = Cue(
    r"\b(?:aims? to|aimed to|aiming to|(?:is|are|was|were) intended to|intended to|designed to|tr(?:y|ies|ying) to|"
    r"seeks? to|(?:the|its|their|primary|main) (?:aim|goal|purpose|objective) (?:is|was|are)|focus(?:es|ed|ing)? "
    r"(?:\w+ )?on|emphasis is on|(?:is|are) based on|in order to)\b"
)
# A purpose that is set aside ("rather than aiming to …") states no purpose of the subject.
PURPOSE_SET_ASIDE = Cue(r"\b(?:rather than|instead of)\W+(?:\w+\W+)?$", 0)
# Words that turn "to <verb>" into a claim ("used to manage", "believed to promote", "helps to reduce").
TO_CLAIM_FRAME = CueWords(
    "used", "help", "helps", "helped", "believed", "thought", "shown", "proven", "proved", "known", "able",
    "likely", "appears", "appear", "seems", "seem", "tends", "tend", "found", "reported", "said", "claimed", "due",
)
# How a study was run ("he examined the effects of X in 241 patients") describes evidence; it claims nothing.
STUDY_METHOD = Cue(
    r"\b(?:we|they|he|she|researchers|investigators|authors|the study|the trial|this study)\s+(?:\w+\s+)?"
    r"(?:examined|investigated|assessed|evaluated|compared|enrolled|assigned|randomi[sz]ed|recruited|measured|studied)\b"
)
IF_CLAUSE = Cue(r"^(?:if|when|before|after|while|once)\b[^,]{0,160},\s*")

# ---------------------------------------------------------------------------- claims: evidence given in the text

REFERENCE = Cue(
    r"\[\d+(?:\s*[,\u2013-]\s*\d+)*\]|\bdoi:\s*\S+|\b10\.\d{4,}/\S+|https?://\S+|\bwww\.\S+|\bPMID:?\s*\d+"
    r"|\((?:[A-Z][\w'-]+(?:\s+et al\.?|\s+(?:and|&)\s+[A-Z][\w'-]+)?,?\s+(?:19|20)\d\d[a-z]?)(?:;[^)]*)?\)"
    r"|\b[A-Z][a-z]+ et al\.?(?:\s*\(?(?:19|20)\d\d\)?)?"
)
SAMPLE = Cue(
    r"\b\d[\d,]*\s+(?:\w+\s+){0,2}?(?:patients|participants|subjects|people|adults|children|women|men|volunteers|"
    r"cases|individuals|persons|athletes|infants|smokers|mice|rats)\b"
)
DATA = Cue(
    r"\b\d+(?:\.\d+)?\s?%|\bp\s?[<=≤]\s?0?\.\d+|\b(?:odds ratio|hazard ratio|relative risk|confidence interval|95% ci)\b"
)
STUDY = Cue(
    r"\b(?:randomi[sz]ed|placebo[- ]controlled|double[- ]blind|controlled trial|clinical trial|meta-analysis|"
    r"systematic review|cohort study)\b"
    r"|\b(?:published in|journal of|the work of)\b"
)
# Appeals that sound like evidence but name nothing a reader could check.
VAGUE = Cue(
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

# ---------------------------------------------------------------------------- claims: the classifier's feature groups

# One 0/1 feature per group for the n-gram half of the claim classifier. The trained weights record a
# fingerprint of these patterns (``claims.lexicon_fingerprint``): editing any of them means retraining.
LEXICON_GROUPS = {
    "modal": Cue(r"\b(?:may|might|could|can|would)\b"),
    "hedge": HEDGE,
    "report": Cue(r"\b(?:suggests?|suggested|indicates?|indicated|demonstrates?|demonstrated|shows?|showed|shown|reveals?|confirms?|found|finds|conclude)\b"),
    "benefit_verb": BENEFIT_VERBS,
    "harm": HARM,
    "causal_verb": Cue(rf"\b(?:{_verbs('cause', 'affect', 'induce', 'attenuate', 'impair', 'influence', 'contribute', 'determine', 'worsen')}|lead(?:s)? to|led to|result(?:s|ed)? in|effects? (?:of|on))\b"),
    "correlational": Cue(r"\b(?:associat\w*|correlat\w*|relationships?|related to|linked|links?|predict\w*|odds|risk factors?)\b"),
    # A feature, frozen with the weights; the rules' negation is NEGATORS / CONTRASTS above.
    "negation": Cue(r"\b(?:no|not|neither|nor|without|none|lack\w*|n't|fail\w*)\b"),
    "comparative": COMPARATIVE,
    "efficacy_adj": EFFICACY_ADJ,
    "safety": SAFETY_ADJ,
    "prevalence": Cue(r"\b(?:prevalence|incidence|rates?|common|frequent\w*|proportion)\b"),
    "number": Cue(r"\d"),
    "purpose": PURPOSE,
    "advice": ADVICE,
    "vague_appeal": VAGUE,
    "evidence": Cue(f"(?:{REFERENCE.pattern})|(?:{SAMPLE.pattern})|(?:{DATA.pattern})"),
}

# ---------------------------------------------------------------------------- claims: wording the explanations

# Words kept in front of a quoted cue: its hedge and helpers ("can help relieve", "is much safer").
QUOTE_LEAD = CueWords(
    "may", "might", "could", "can", "will", "help", "helps", "is", "are", "much", "far", "significantly", "be", "to",
    "believed", "generally", "has", "have", "been", "used", "widely", "effectively", "and", "often", "actually",
    "no", "not", "minimal", "minor", "fewer", "any",
)
# A quote never opens on these ...
QUOTE_OPENER = Cue(r"(?:and|to)\s+")
# ... and never ends on these.
QUOTE_TRAILING = CueWords(
    "in", "the", "a", "an", "of", "for", "from", "by", "at", "and", "or", "to", "with", "when", "than", "after", "on",
    "such", "as",
)
# Openers dropped before looking for the sentence's subject.
SUBJECT_OPENERS = (
    Cue(r"^(?:however|moreover|also|in fact|indeed|no|yes|on the other hand),?\s+"),
    Cue(r"^(?:research|science|studies|evidence|experts?|doctors)\s+\w+\s+that\s+"),
    Cue(r"^(?:in (?:my|our) [^,]{0,40}|according to [^,]{0,60}),\s+"),
)
# The opening noun phrase before its verb ("Dry needling can …"), not an adverbial opener ("When …").
OPENING_SUBJECT = Cue(
    r"^(?i:(?!(?:when|if|while|although|for|by|in|on|during|after|before|because|since|as|some|most|many)\b))"
    r"([A-Z][\w'’-]*(?:\s+[\w'’-]+){0,4}?)\s+(?:is|are|has|have|can|may|might|could|will|was|were|offers?|"
    rf"provides?|helps?|seeks|works|does|releases?|{BENEFIT_VERB})\b",
    0,
)
# A subject after an opening clause ("For most people, cupping can …").
CLAUSE_SUBJECT = Cue(r",\s+([a-z][\w'’-]*(?:\s+[a-z][\w'’-]*){0,2}?)\s+(?:can|may|might|could|is|are|has|will)\b", 0)
PRONOUN_SUBJECTS = CueWords("it", "this", "they", "these", "that", "research")
NOT_A_SUBJECT = CueWords("it", "this", "they", "these", "that", "which", "who", "there", "we", "you", "and", "but")
# "It", "this technique": the subject is the section's topic.
ANAPHOR = Cue(r"^(?:it|this|that|these|they|the)\s+(?:technique|therapy|treatment|practice|method|approach|procedure|remedy)?\b")
REFERS_BACK = Cue(r"\b(?:it|this (?:technique|therapy|treatment|practice|method))\b")
# What a heading says around its topic ("What is cupping?", "How acupuncture works").
HEADING_FRAME = Cue(
    r"^(?:what is|what are|benefits of|the benefits of|how|the origins of|origins of)\s+|\s+works?$|\?$"
)
# Small words a run of capitalised heading words may hold ("Benefits of Dry Needling").
HEADING_WORDS = CueWords("of", "and", "or", "vs", "vs.", "the", "a", "an", "to", "for", "in", "on", "is", "are", "with",
                         "what", "how")

# ---------------------------------------------------------------------------- disagreements: aspects and positions

# Aspect cues, each for one position.
DISTINCT = Cue(r"\b(distinct|different|differ|differs|diverge|diverges|separate|unrelated)\b")
SAME_OF = Cue(r"\b(?:subcategory|sub-category|subtype|subset|kind|type|form|variant|version|branch|style)\s+of\s+(?:an?\s+|the\s+)?"
              r"((?:[\w-]+\s+){0,2}[\w-]+)")
SAME_LIKE = Cue(r"\b(?:is|are)\s+(?:just\s+|basically\s+|essentially\s+|simply\s+|really\s+)?(?:like\s+)?(?:an?|the)\s+"
                r"(?:[\w-]+\s+){0,3}?((?:[\w-]+\s+){0,1}[\w-]+)\s+(?:technique|method|practice|therapy|treatment)\b")
SAME_AS = Cue(r"\b(?:the\s+same\s+as|identical\s+to|no\s+different\s+from|equivalent\s+to|"
              r"(?:too|basically|essentially|virtually|almost|nearly)\s+similar\s+to)\s+((?:[\"'“”\w-]+\s+){0,4}[\w-]+)")
DENIED_DIFFERENCE = Cue(r"\bdiffer\w*\b[^.;]{0,60}?\b(?:it|they)\s+(?:actually\s+|really\s+|truly\s+)?(?:is|are)(?:\s+not|n't)\b")
ROOT_CAUSE = Cue(r"\b(root\s+cause|underlying\s+cause|at\s+(?:its|the|their)\s+root|the\s+root\s+of|cause\s+of\s+(?:the\s+)?(?:pain|problem|symptoms?)|"
            r"source\s+of\s+(?:the\s+)?(?:pain|problem)|(?:is\s+)?leading\s+to|contribut\w*\s+to)\b")
SYMPTOMS_ONLY = Cue(r"\b(symptomatic|(?:only|just|merely)\s+(?:[\w-]+\s+){0,2}symptoms?|"
              r"(?:treat|target|address|mask|reliev|manag)\w*\s+(?:[\w-]+\s+){0,2}symptoms?)\b")
SAFE = Cue(r"\b(safe|safer|safest|harmless|painless|no\s+side\s+effects|risk-free)\b")
UNSAFE = Cue(r"\b(unsafe|dangerous|harmful|hazardous|risky|more\s+risk|higher\s+risk)\b")
WORKS = Cue(r"\b(effective|works|relieves?|alleviates?|improves?|cures?|heals?)\b")
FAILS = Cue(r"\b(ineffective|does\s+not\s+work|doesn't\s+work|no\s+effect|no\s+benefit|useless|worthless)\b")
ASPECT_CUES = (SAME_OF, SAME_AS, SAME_LIKE, DENIED_DIFFERENCE, DISTINCT, ROOT_CAUSE, SYMPTOMS_ONLY, SAFE, UNSAFE, WORKS, FAILS)
# Each clause of "X does this, while Y does that" takes its own position.
CLAUSE_SPLIT = Cue(r",?\s+\b(?:while|whereas|but|however|although|though)\b\s*,?|;\s*")

# Nouns too general to be a subject a disagreement is about.
GENERIC_NOUNS = CueWords(
    "technique", "techniques", "practice", "practices", "treatment", "treatments", "therapy", "therapies",
    "method", "methods", "approach", "approaches", "pain", "body", "patients", "people", "needles", "needle",
    "practitioner", "practitioners", "health", "benefits", "conditions", "medicine", "time", "way", "session",
    "sessions", "tools", "tool", "training", "research", "study", "studies", "evidence", "results", "symptoms",
)
# The verb after a subject ("Dry needling is …", "X and Y are …"), over lower-cased words.
_SUBJECT_VERB = (r"(?:is|are|was|were|has|have|can|could|may|might|will|uses?|involves?|focus(?:es)?|works?|originated|seeks?|"
                 r"offers?|targets?|aims?|helps?|relieves?|treats?|promotes?|provides?|requires?|utili[sz]es?|addresses)")
SUBJECT = Cue(rf"^(?:(?:no|yes|so|also|and|but|however|therefore),?\s+)?(?:the\s+|both\s+)?"
              rf"((?:[a-z][\w-]*\s+){{0,2}}?[a-z][\w-]*)(?:\s+(?:and|or|vs\.?|versus)\s+((?:[a-z][\w-]*\s+){{0,2}}?[a-z][\w-]*))?"
              rf"\s+{_SUBJECT_VERB}\b", 0)
