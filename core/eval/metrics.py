"""Deterministic answer metrics (no LLM judge): the same answers always get the same numbers.

Token F1 and the normalisation follow SQuAD's evaluation script; key-fact recall checks that
each expected fact (a number, a name, a phrase) appears in the answer; whether an answer abstains
is ``core.models.abstention.is_abstention``, the same test the engine and the compare page use.
"""

from __future__ import annotations

import re
import string
from collections import Counter

import numpy as np

from core.knowledge.support import NUMBER_WORDS, contradicts_itself  # noqa: F401  (scored here, defined with the support rules)

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


def key_fact_recall(prediction: str, facts: list[str]) -> float | None:
    """Share of the key facts found in the answer (word-boundary match after normalisation);
    None when the question has no key facts."""
    if not facts:
        return None
    answer = f" {normalize(prediction)} "
    return sum(f" {normalize(fact)} " in answer for fact in facts) / len(facts)


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
