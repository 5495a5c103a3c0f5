"""What each arm costs: tokens per question, the adapter's training, and when training pays back.

RAG pays for every question in prompt tokens (the passages); fine-tuning pays once, up front,
to train, and then answers with a short prompt. Pure arithmetic on the measured token counts.
"""

from __future__ import annotations

from typing import Sequence

from pydantic import BaseModel, Field

from core.compare.arms import ARMS_BY_NAME, FINETUNED, RAG


class Prices(BaseModel):
    """Placeholder list prices in US dollars; set them to your provider's or your own hardware's.

    The defaults are in the range of a small hosted model (0.50 / 1.50 USD per million prompt /
    completion tokens) and an on-demand cloud GPU hour for training."""

    usd_per_1k_prompt_tokens: float = Field(0.0005, ge=0, description="USD per 1,000 prompt tokens.")
    usd_per_1k_completion_tokens: float = Field(0.0015, ge=0, description="USD per 1,000 generated tokens.")
    usd_per_training_hour: float = Field(2.0, ge=0, description="USD per hour of training (one GPU).")


class Economics(BaseModel):
    """The measured costs of one evaluation run, priced."""

    prices: Prices
    per_question: dict[str, float]  # USD per question, per arm name
    upfront: dict[str, float]  # USD spent before the first question (training), per arm name
    training_cost: float | None  # USD to train the adapter once; None when the training time is unknown
    break_even: float | None  # questions after which fine-tuning is cheaper than RAG; None if never (or unknown)


def cost_per_question(prompt_tokens: float, completion_tokens: float, prices: Prices) -> float:
    return (prompt_tokens * prices.usd_per_1k_prompt_tokens
            + completion_tokens * prices.usd_per_1k_completion_tokens) / 1000


def training_cost(training_seconds: float, prices: Prices) -> float:
    return training_seconds / 3600 * prices.usd_per_training_hour


def break_even_questions(training_cost: float, cost_per_q_rag: float, cost_per_q_ft: float) -> float | None:
    """Questions after which fine-tuning's training is paid back by its cheaper answers;
    None when a fine-tuned answer is not cheaper, so it never pays back."""
    saving = cost_per_q_rag - cost_per_q_ft
    if saving <= 0:
        return None
    return training_cost / saving


def cumulative_costs(volumes: Sequence[int], per_question: dict[str, float],
                     upfront: dict[str, float] | None = None) -> dict[str, list[float]]:
    """Per arm: the total spent after answering each number of questions in ``volumes``."""
    upfront = upfront or {}
    return {arm: [upfront.get(arm, 0.0) + n * cost for n in volumes] for arm, cost in per_question.items()}


def price_run(summary: dict, prices: Prices, training_seconds: float | None) -> Economics:
    """Price a run's summary (per arm name, an ``ArmSummary``: its mean prompt and completion tokens)."""
    per_question = {arm: cost_per_question(row.prompt_tokens, row.completion_tokens, prices)
                    for arm, row in summary.items()}
    trained = None if training_seconds is None else training_cost(training_seconds, prices)
    # the arms that run through the adapter carry its training cost
    upfront = {arm: (trained or 0.0) if ARMS_BY_NAME[arm].uses_adapter else 0.0 for arm in per_question}
    even = None
    if trained is not None and RAG.name in per_question and FINETUNED.name in per_question:
        even = break_even_questions(trained, per_question[RAG.name], per_question[FINETUNED.name])
    return Economics(prices=prices, per_question=per_question, upfront=upfront, training_cost=trained, break_even=even)
