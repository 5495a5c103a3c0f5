"""Deterministic answer metrics (no LLM judge): the same answers always get the same numbers.

Token F1 and the normalisation follow SQuAD's evaluation script; key-fact recall checks that
each expected fact (a number, a name, a phrase) appears in the answer; whether an answer abstains
is ``core.models.abstention.is_abstention``, the same test the engine and the compare page use.
"""

from __future__ import annotations

import re
import string
import unicodedata
from collections import Counter
from typing import Literal

import numpy as np

from core.compare.support import NUMBER_WORDS, contradicts_itself, is_yes_no_question, restates  # noqa: F401  (scored here, defined with the support rules)
from core.models.abstention import is_abstention

Verdict = Literal["right", "wrong", "abstained"]

_ARTICLES = re.compile(r"\b(a|an|the)\b")


_CONTRACTIONS = [(re.compile(p), r) for p, r in (
    (r"\bcan't\b|\bcannot\b", "can not"), (r"\bwon't\b", "will not"), (r"\bshan't\b", "shall not"),
    (r"n't\b", " not"))]


def _punctuation(ch: str) -> bool:
    # Any Unicode punctuation or symbol ("…", "–", "“", "`"), not only ASCII's: "61184…65519" is two numbers.
    return ch in string.punctuation or unicodedata.category(ch)[0] in "PS"


def normalize(text: str) -> str:
    """Lower case, contractions written out ("doesn't" -> "does not"), punctuation to spaces (but
    "-" and "'" inside words), articles dropped, number words as digits (SQuAD's normalisation, grown)."""
    text = (text or "").lower().replace("’", "'")
    for pattern, written in _CONTRACTIONS:
        text = pattern.sub(written, text)
    text = "".join(" " if _punctuation(ch) and ch not in "-'" else ch for ch in text)
    words = [NUMBER_WORDS.get(w, w) for w in _ARTICLES.sub(" ", text).split()]
    return " ".join(words)


def token_f1(prediction: str, reference: str) -> float:
    pred, ref = normalize(prediction).split(), normalize(reference).split()
    if not pred or not ref:
        return float(pred == ref)
    common = sum((Counter(pred) & Counter(ref)).values())
    if common == 0:
        return 0.0
    precision, recall = common / len(pred), common / len(ref)
    return 2 * precision * recall / (precision + recall)


_CLAUSE_END = re.compile(r"[,.;:!?。！？]+(?=\s|$)|\n")  # "1,000" and "1.6" stay whole
_NEGATORS = {"not", "no", "never", "without", "neither", "nor"}
_HANGUL = "\uac00-\ud7a3"


def _occurrences(clause: str, phrase: str) -> list[int]:
    """Where ``phrase`` starts in ``clause`` (both normalised), as a whole word at its start; at its
    end a Korean particle or ending may follow (Korean writes them onto the word: "2014년에",
    "빌드하지 않는다", "kube-public입니다")."""
    pattern = re.compile(rf"(?:^|(?<=\s)){re.escape(phrase)}(?=$|\s|[{_HANGUL}])")
    return [m.start() for m in pattern.finditer(clause)]


def _negated(clause: str, start: int) -> bool:
    """Whether a negator stands just before the match, within two words ("does not waive",
    "no longer grants"): a fact said under a negation is denied, not stated."""
    return bool(_NEGATORS & set(clause[:start].split()[-2:]))


def states_fact(prediction: str, phrasings: str | list[str]) -> bool:
    """Whether the answer states one key fact: any of its acceptable phrasings, as a whole phrase
    inside one clause (a comma or full stop ends a clause, so "No, the restrictions are active" does
    not state "no restrictions"), and not under a negation the phrasing does not carry itself
    ("does not waive" does not state "waive"; "not grant" is stated by "does not grant")."""
    clauses = [normalize(c) for c in _CLAUSE_END.split(prediction or "")]
    for phrasing in [phrasings] if isinstance(phrasings, str) else phrasings:
        phrase = normalize(phrasing)
        if not phrase:
            continue
        negative = bool(_NEGATORS & set(phrase.split()))
        for clause in clauses:
            if any(negative or not _negated(clause, at) for at in _occurrences(clause, phrase)):
                return True
    return False


def key_fact_recall(prediction: str, facts: list[str | list[str]]) -> float | None:
    """Share of the key facts the answer states (a fact given as a list counts when any of its
    phrasings is stated); None when the question has no key facts."""
    if not facts:
        return None
    return sum(states_fact(prediction, fact) for fact in facts) / len(facts)


_POLARITY = re.compile(r"^\W*(?:(?:the\s+)?answer\s+is\s*:?\s*)?(yes|no)\b", re.IGNORECASE)


def polarity(text: str, question: str = "") -> str | None:
    """"yes" or "no" when the text opens by committing to one ("No, …", "Yes.", "The answer is no."),
    else None. With ``question``: "echo" when the rest of the first sentence restates the question
    with the opposite polarity ("No, rbash's restrictions are still active inside a shell script it
    runs." to "Are rbash's restrictions still active inside a shell script it runs?"): the answer
    says no and then yes in one breath."""
    found = _POLARITY.match(text or "")
    if not found:
        return None
    said = found.group(1).lower()
    rest = re.split(r"(?<=[.!?])\s+|\n", text[found.end():].lstrip(" ,.:;!-"), maxsplit=1)[0]
    if question and rest and restates(rest, question):
        negated = bool(_NEGATORS & set(normalize(rest).split()))
        if negated != (said == "no"):
            return "echo"
    return said


def judge(question: str, answerable: bool, facts: list[str | list[str]], answer: str,
          reference: str = "") -> Verdict | None:
    """The scorer's reading of one answer, as a person labels it: "abstained" when it says it does
    not know, "right" when it states every key fact without denying it ("No. … 14 days" to a
    how-many question), else "wrong" (any claim to an unanswerable question is wrong). None for an
    answerable question without key facts (scored by F1 only).

    A yes/no question whose ``reference`` answer opens with "Yes" or "No" is read as a person reads
    it: an answer that opens with the same word is right, one that opens with the other is wrong,
    whatever else it says ("No, XZ Utils does not support .7z archives." is right without naming
    7-Zip; "No, other packages do not have to declare explicit dependencies" is wrong although it
    contains "explicit"; "No, the restrictions are still active …", the question restated after a
    "No", is wrong). An answer that commits to neither is judged on its key facts."""
    if is_abstention(answer):
        return "abstained"
    if not answerable:
        return "wrong"
    expected = polarity(reference) if is_yes_no_question(question) else None
    if expected is not None and (given := polarity(answer, question)) is not None:
        return "right" if given == expected else "wrong"
    recall = key_fact_recall(answer, facts)
    if recall is None:
        return None
    return "right" if recall == 1.0 and not contradicts_itself(question, answer) else "wrong"


_ECHO_FILLER = re.compile(r"\b(the|answer|answers|is|are|to|this|question|passage|passages|reference|source|sources|"
                          r"according|based|on|in|ref)\b|\[\d{1,2}\]|<[^>]*>|\S+\.(?:md|txt|csv|html?|pdf|docx|json|rst)\b",
                          re.IGNORECASE)


def is_format_echo(answer: str, doc_names: list[str] = ()) -> bool:
    """Whether the answer is only the prompt's format copied back: "The answer is:" with nothing
    after it, or passage labels and file names ("The answer is: [1] policy.md [2] faq.html").
    An abstention is not an echo."""
    if not answer or not answer.strip():
        return True
    if is_abstention(answer):
        return False
    text = answer
    for name in doc_names:
        text = text.replace(name, " ")
    text = _ECHO_FILLER.sub(" ", text)
    return not re.search(r"\w", text)


def cosine_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    a = a / (np.linalg.norm(a, axis=1, keepdims=True) + 1e-9)
    b = b / (np.linalg.norm(b, axis=1, keepdims=True) + 1e-9)
    return a @ b.T


def reciprocal_rank(ranked_docs: list[str], gold: str | None) -> float | None:
    """1/rank of the first passage from the gold document; 0 if absent; None if no gold is known."""
    if not gold:
        return None
    for i, name in enumerate(ranked_docs, 1):
        if name == gold:
            return 1.0 / i
    return 0.0


def bootstrap_ci(values: list[float], n_resamples: int = 1000, seed: int = 0, level: float = 0.95) -> tuple[float, float, float]:
    """(mean, low, high): percentile bootstrap over questions, with a fixed seed.

    Where every value is 0 or every value is 1 (no question right, or all of them), every resample has the same mean
    and the bootstrap's interval is that point: "right on 0% [0%-0%] of 2 questions" claims a certainty two questions
    cannot give. There the Wilson score interval of the proportion is returned instead (scipy's binomtest): 0 of 2 is
    0% to 66%, 0 of 34 is 0% to 10%."""
    data = np.asarray([v for v in values if v is not None], dtype=float)
    if data.size == 0:
        return (float("nan"),) * 3
    if np.all(data == data[0]) and data[0] in (0.0, 1.0):
        from scipy.stats import binomtest

        ci = binomtest(int(data.sum()), int(data.size)).proportion_ci(confidence_level=level, method="wilson")
        return float(data[0]), float(ci.low), float(ci.high)
    rng = np.random.default_rng(seed)
    means = data[rng.integers(0, data.size, size=(n_resamples, data.size))].mean(axis=1)
    tail = (1 - level) / 2 * 100
    return float(data.mean()), float(np.percentile(means, tail)), float(np.percentile(means, 100 - tail))
