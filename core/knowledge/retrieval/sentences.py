"""The sentences of a passage and which of them to mark: the one closeness measure (embedding
cosine plus half the keyword share) and the one marking rule, behind a search's highlights and
the answer-support check built on them (``core.compare.support``)."""

from __future__ import annotations

import re
from collections.abc import Callable

import numpy as np

from core.knowledge.embedding import sparse

FLOOR = 0.5  # measured on the demo test set (README, Evaluation): off-topic sentences stay below it
MARGIN = 0.05  # sentences this close to the best one are marked too

_SENTENCE_END = re.compile(r"((?<=[.!?。！？])[ \t]+|\n+)")


def split_sentences(text: str) -> list[str]:
    """Sentences and lines of ``text``, each keeping the whitespace that follows it, so that
    joining them gives back the text exactly (line breaks included)."""
    parts = _SENTENCE_END.split(text)
    out: list[str] = []
    for i in range(0, len(parts), 2):
        sentence = parts[i] + (parts[i + 1] if i + 1 < len(parts) else "")
        if sentence.strip():
            out.append(sentence)
        elif out:
            out[-1] += sentence
    return out


def closeness(embedder, claim: str, sentences: list[str]) -> list[float]:
    """Embedding cosine plus half the keyword share, for each sentence against ``claim`` (the
    keyword share carries non-English text, which the English-only default embedder cannot)."""
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


def mark(texts: list[str], score: Callable[[list[str]], list[float]]) -> list[list[tuple[str, bool]]]:
    """Each text's sentences, each with whether it is marked. ``score`` rates the sentences of all
    the texts in one call (one embedding batch); the best sentence of a text is marked if it clears
    ``FLOOR`` (set so that off-topic passages get no highlight), others within ``MARGIN`` of it too."""
    all_sentences = [split_sentences(t) for t in texts]
    flat = [s for sents in all_sentences for s in sents]
    scores = score(flat) if flat else []
    out, pos = [], 0
    for sents in all_sentences:
        mine = scores[pos:pos + len(sents)]
        pos += len(sents)
        best = max(mine, default=0.0)
        out.append([(s, best >= FLOOR and sc >= best - MARGIN) for s, sc in zip(sents, mine)])
    return out
