"""Whether a passage sentence supports a claim: the one scorer behind the compare page's
"Supported by" line, the rule that withholds unsupported open-book answers, and the
evaluation's groundedness.

A sentence supports a claim when two things hold:
1. it is close to the claim: embedding cosine plus half the share of the claim's keywords it
   contains (the keyword share carries non-English text, which the English-only default
   embedder cannot), at least ``FLOOR``;
2. it states the claim's facts: every number, date and name of the claim that the question did
   not already contain is in the sentence. Without this rule "A: No." was taken as support for
   the wrong answer "A: 1" (same format, nothing else in common).
"""

from __future__ import annotations

import re

import numpy as np

from core.knowledge import sparse

FLOOR = 0.5  # measured on the demo test set (README, Evaluation): off-topic sentences stay below it
MARGIN = 0.05  # sentences this close to the best one are marked too

NUMBER_WORDS = {w: str(i) for i, w in enumerate(
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen "
    "seventeen eighteen nineteen twenty".split())}
NUMBER_WORDS.update({"thirty": "30", "forty": "40", "fifty": "50", "sixty": "60", "ninety": "90", "hundred": "100"})

_CITATION = re.compile(r"\[\d{1,2}\]")
_LEAD = re.compile(r"^\s*(?:[A-Za-z]:|\d{1,2}[.)])\s+")  # "A: 1", "1. Fourteen days": labels, not facts
_NUMBER = re.compile(r"\d+(?:[.,:/-]\d+)*")
_WORD = re.compile(r"[A-Za-z][A-Za-z'’-]*")
_SENTENCE_START = re.compile(r"(?:^|[.!?:\n]\s*)([A-Za-z][A-Za-z'’-]*)")
# Capitalised words that are not names (they open sentences, or are the reader's own words).
_NOT_NAMES = {"i", "a", "an", "the", "yes", "no", "you", "your", "we", "our", "it", "its", "this", "that", "there",
              "they", "he", "she", "please", "answer", "question", "q", "note", "ok"}


def _numbers(text: str) -> set[str]:
    found = {n.replace(",", "") if re.fullmatch(r"\d{1,3}(,\d{3})+", n) else n for n in _NUMBER.findall(text)}
    found |= {NUMBER_WORDS[w] for w in re.findall(r"[a-z]+", text.lower()) if w in NUMBER_WORDS}
    return found


def key_facts(claim: str, question: str = "") -> set[str]:
    """The numbers, dates and names of ``claim`` (lower-cased) that ``question`` does not contain:
    what a supporting sentence must state too. Citation marks and list labels do not count."""
    text = _LEAD.sub("", _CITATION.sub(" ", claim))
    starts = {m.group(1) for m in _SENTENCE_START.finditer(text)}
    names = {w.lower() for w in _WORD.findall(text)
             if (w[0].isupper() or any(c.isdigit() for c in w)) and w not in starts and w.lower() not in _NOT_NAMES}
    names |= {w.lower() for w in _WORD.findall(text) if len(w) > 1 and w.isupper() and w.lower() not in _NOT_NAMES}
    asked = _numbers(question) | {w.lower() for w in _WORD.findall(question)}
    return (_numbers(text) | names) - asked


def states(sentence: str, facts: set[str]) -> bool:
    """Whether ``sentence`` contains every fact of ``facts`` (numbers as numbers, names as words)."""
    if not facts:
        return True
    have = _numbers(sentence) | {w.lower() for w in _WORD.findall(sentence)}
    return facts <= have


def closeness(embedder, claim: str, sentences: list[str]) -> list[float]:
    """Embedding cosine plus half the keyword share, for each sentence against ``claim``."""
    if not sentences:
        return []
    vectors = np.array(embedder.get_text_embedding_batch([claim] + sentences))
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True) + 1e-9
    cosines = vectors[1:] @ vectors[0]
    claim_tokens = set(sparse.tokenize(claim))
    out = []
    for s, cos in zip(sentences, cosines):
        overlap = len(set(sparse.tokenize(s)) & claim_tokens) / max(len(claim_tokens), 1)
        out.append(float(cos) + 0.5 * overlap)
    return out


def supporting(embedder, claim: str, sentences: list[str], question: str = "") -> list[float | None]:
    """For each sentence, its closeness to ``claim`` when it states the claim's facts, else None.
    A sentence supports the claim when its value is at least ``FLOOR``."""
    facts = key_facts(claim, question)
    scores = closeness(embedder, claim, sentences)
    return [sc if states(s, facts) else None for s, sc in zip(sentences, scores)]
