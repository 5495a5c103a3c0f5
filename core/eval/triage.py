"""Why an answer went wrong: one label per wrong answer, so each failure points at its fix.

A right answer gets no label. The labels are checked in order: a refusal of an answerable
question, then (for arms that read passages) whether retrieval found the gold document,
and last an answer the model made up.
"""

from __future__ import annotations

from core.compare.arms import ARMS_BY_NAME
from core.eval.run import ArmScore, EvalRun, TestItem

RIGHT_F1 = 0.5  # without key facts, an answer this close to the reference (token F1) counts as right

WRONG_REFUSAL = "wrong refusal"
RETRIEVAL_MISS = "retrieval miss"
PASSAGE_IGNORED = "passage ignored"
HALLUCINATION = "hallucination"
LABELS = (WRONG_REFUSAL, RETRIEVAL_MISS, PASSAGE_IGNORED, HALLUCINATION)
TRIAGE_HELP = {
    WRONG_REFUSAL: "The documents answer the question, but the model said it did not know.",
    RETRIEVAL_MISS: "The search did not bring back the document that holds the answer: fix retrieval "
                    "(chunking, top-k).",
    PASSAGE_IGNORED: "The right document was in the prompt, but the answer missed its facts: the model did not use it.",
    HALLUCINATION: "The model answered from memory and got it wrong, or answered what the documents cannot answer.",
}


def is_right(item: TestItem, s: ArmScore) -> bool:
    """Right: every key fact present (or token F1 >= RIGHT_F1 without key facts); on a question
    the documents cannot answer, an abstention."""
    if not item.answerable:
        return s.abstained
    if s.key_fact_hit is not None:
        return s.key_fact_hit == 1.0
    return (s.f1 or 0.0) >= RIGHT_F1


def label(arm: str, item: TestItem, s: ArmScore) -> str | None:
    """The failure label of one scored answer, or None when the answer is right."""
    if is_right(item, s):
        return None
    if not item.answerable:
        return HALLUCINATION
    if s.abstained:
        return WRONG_REFUSAL
    if ARMS_BY_NAME[arm].open_book:
        if s.hit == 0.0:
            return RETRIEVAL_MISS
        if s.hit == 1.0 or (ARMS_BY_NAME[arm].reads_gold and item.source):  # the oracle is always handed the gold document
            return PASSAGE_IGNORED
    # a closed-book arm answering wrongly, or an open-book arm whose gold document is unknown
    return HALLUCINATION


def counts(run: EvalRun) -> dict[str, dict[str, int]]:
    """Per arm: how many answers got each label (every label present, zero included)."""
    out = {arm: dict.fromkeys(LABELS, 0) for arm in run.arms}
    for r in run.results:
        for arm, s in r.arms.items():
            found = label(arm, r.item, s)
            if found:
                out.setdefault(arm, dict.fromkeys(LABELS, 0))[found] += 1
    return out
