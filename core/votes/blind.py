"""Blind mode: a question's answers shown as A, B, C, D in a random order, chosen per question.

The order is random in use (``rng=None``: fresh randomness for every question) and fixed by a
seed in tests. Until the vote is cast a viewer sees only the letter and the answer's text, with
its [n] passage markers taken out: a marker says the answer read passages.
"""

from __future__ import annotations

import random
from collections.abc import Sequence

from core.compare.results import ArmAnswer
from core.models.prompts import strip_citations

LETTERS = "ABCDEFGH"


def blind_order(arms: Sequence[str], rng: random.Random | int | None = None) -> dict[str, str]:
    """Letter -> arm for ``arms`` in a random order. ``rng``: a ``random.Random``, a seed, or None
    (a new unpredictable order each call)."""
    if len(arms) > len(LETTERS):
        raise ValueError(f"at most {len(LETTERS)} answers can be shown blind, not {len(arms)}")
    rng = rng if isinstance(rng, random.Random) else random.Random(rng)
    order = list(arms)
    rng.shuffle(order)
    return dict(zip(LETTERS, order))


def keep_answered(letters: dict[str, str], answered: Sequence[str]) -> dict[str, str]:
    """The order ``letters`` drew, for the arms that answered only, lettered again from A: an arm
    that could not answer (no adapter yet) leaves no gap that would hint at which it was."""
    return dict(zip(LETTERS, [arm for arm in letters.values() if arm in answered]))


def answered(answers: dict[str, ArmAnswer]) -> list[str]:
    """The arms with an answer to show (an arm that could not answer is left out of the vote)."""
    return [arm for arm, a in answers.items() if not a.unavailable]


def blind_text(answer: ArmAnswer) -> str:
    """What a viewer reads before the vote: the shown answer without its passage markers."""
    return strip_citations(answer.text or "")
