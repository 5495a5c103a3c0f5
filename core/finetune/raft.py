"""Retrieval-augmented fine-tuning (RAFT) examples, so one adapter serves both fine-tuned arms.

Each question/answer pair is kept as a closed-book example (the fine-tuned arm) and, for a
share of the pairs, also rendered open-book the way the hybrid arm reads: the gold passage
(the source document's chunk closest to the question) mixed with distractor passages
retrieved from the knowledge base. Sometimes the gold passage is left out and the answer
becomes "I don't know.", so the adapter learns to answer from what it reads and to abstain
when the passages do not hold the answer (Zhang et al., 2024, "RAFT: Adapting Language Model
to Domain Specific RAG"). Questions the documents cannot answer get their retrieved
passages and the abstention. Retrieval happens here, when the dataset is built, so a
training job needs no access to the knowledge base and the dataset shows what was read.
"""

from __future__ import annotations

import random
import re

from pydantic import BaseModel, Field

from core.finetune.datasets import QAPair, RefPassage
from core.knowledge.retrieval.search import gold_passages, search
from core.models.prompts import ABSTAIN

_STOP = set("the a an of to in on for and or is are was be by with at from that this it as your you".split())


class RaftConfig(BaseModel):
    open_book_share: float = Field(1.0, ge=0, le=1, description="Share of the pairs also rendered open book.")
    gold_share: float = Field(0.85, ge=0, le=1, description="Share of open-book examples that include the gold passage "
                              "(0.85 measured best of 0.8, 0.85 and 0.9 on the demo: see the README).")
    passages: int = Field(3, ge=1, le=8, description="Passages per open-book example (match the arm's top-k).")
    seed: int = 0


def _salient(answer: str) -> set[str]:
    """Words that carry an answer's fact: numbers and longer content words."""
    words = re.findall(r"[\w-]+", answer.lower())
    return {w for w in words if w not in _STOP and (any(c.isdigit() for c in w) or len(w) > 3)}


def _holds_answer(text: str, answer: str) -> bool:
    """Whether a passage states the answer's fact: every salient word of it appears there.
    Such a passage cannot serve as a distractor for an "I don't know." example."""
    salient = _salient(answer)
    present = set(re.findall(r"[\w-]+", text.lower()))
    return bool(salient) and salient <= present


def open_book_example(knowledge, kb: str, pair: QAPair, config: RaftConfig, rng: random.Random) -> QAPair | None:
    """One RAFT example for ``pair``, or None when its gold passage cannot be found."""
    retrieved = search(knowledge, kb, pair.question, top_k=config.passages + 3)
    if not pair.answerable:
        chosen = retrieved[: config.passages]
        return QAPair(question=pair.question, answer=ABSTAIN, answerable=False, source=pair.source,
                      passages=[RefPassage(doc_name=h.doc_name, text=h.text) for h in chosen]) if chosen else None
    gold = gold_passages(knowledge, kb, pair.source, pair.question, 1) if pair.source else []
    if not gold:
        return None
    g = gold[0]
    with_gold = rng.random() < config.gold_share
    distractors = [h for h in retrieved if (h.doc_name, h.chunk_index) != (g.doc_name, g.chunk_index)
                   and not _holds_answer(h.text, pair.answer)]
    if with_gold:
        passages = [RefPassage(doc_name=h.doc_name, text=h.text) for h in distractors[: config.passages - 1]]
        passages.insert(rng.randrange(len(passages) + 1), RefPassage(doc_name=g.doc_name, text=g.text, gold=True))
        answer = pair.answer
    else:
        passages = [RefPassage(doc_name=h.doc_name, text=h.text) for h in distractors[: config.passages]]
        answer = ABSTAIN
    if not passages:
        return None
    return QAPair(question=pair.question, answer=answer, source=pair.source, answerable=with_gold, passages=passages)


def raft_pairs(knowledge, kb: str, pairs: list[QAPair], config: RaftConfig) -> list[QAPair]:
    """The closed-book pairs plus open-book examples for ``open_book_share`` of them."""
    rng = random.Random(config.seed)
    out = [p.model_copy(update={"passages": None}) for p in pairs]
    chosen = [p for p in pairs if p.passages is None and rng.random() < config.open_book_share]
    for pair in chosen:
        example = open_book_example(knowledge, kb, pair, config, rng)
        if example is not None:
            out.append(example)
    return out
