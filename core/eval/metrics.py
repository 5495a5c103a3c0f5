"""Deterministic answer metrics (no LLM judge): the same answers always get the same numbers.

Token F1 and the normalisation follow SQuAD's evaluation script; key-fact recall checks that
each expected fact (a number, a name, a phrase) appears in the answer; whether an answer abstains
is ``core.models.abstention.is_abstention``, the same test the engine and the compare page use.
"""

from __future__ import annotations

import re
import string
from collections import Counter
from typing import Literal

import numpy as np

from core.knowledge.support import NUMBER_WORDS, contradicts_itself  # noqa: F401  (scored here, defined with the support rules)
from core.models.abstention import is_abstention

Verdict = Literal["right", "wrong", "abstained"]

_ARTICLES = re.compile(r"\b(a|an|the)\b")


def normalize(text: str) -> str:
    text = (text or "").lower().replace("’", "'")
    text = "".join(" " if ch in string.punctuation and ch not in "-'" else ch for ch in text)
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


def states_fact(prediction: str, phrasings: str | list[str]) -> bool:
    """Whether the answer states one key fact: any of its acceptable phrasings, word-boundary match
    after normalisation."""
    answer = f" {normalize(prediction)} "
    return any(f" {normalize(p)} " in answer for p in ([phrasings] if isinstance(phrasings, str) else phrasings))


def key_fact_recall(prediction: str, facts: list[str | list[str]]) -> float | None:
    """Share of the key facts the answer states (a fact given as a list counts when any of its
    phrasings is stated); None when the question has no key facts."""
    if not facts:
        return None
    return sum(states_fact(prediction, fact) for fact in facts) / len(facts)


def judge(question: str, answerable: bool, facts: list[str | list[str]], answer: str) -> Verdict | None:
    """The scorer's reading of one answer, as a person labels it: "abstained" when it says it does
    not know, "right" when it states every key fact without denying it ("No. … 14 days" to a
    how-many question), else "wrong" (any claim to an unanswerable question is wrong). None for an
    answerable question without key facts (scored by F1 only)."""
    if is_abstention(answer):
        return "abstained"
    if not answerable:
        return "wrong"
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
    """(mean, low, high): percentile bootstrap over questions, with a fixed seed."""
    data = np.asarray([v for v in values if v is not None], dtype=float)
    if data.size == 0:
        return (float("nan"),) * 3
    rng = np.random.default_rng(seed)
    means = data[rng.integers(0, data.size, size=(n_resamples, data.size))].mean(axis=1)
    tail = (1 - level) / 2 * 100
    return float(data.mean()), float(np.percentile(means, tail)), float(np.percentile(means, 100 - tail))
