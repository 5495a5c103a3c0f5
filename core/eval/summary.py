"""A run's numbers per arm: ``summarize(run)`` gives one typed ``ArmSummary`` per arm name.

Code reads fields (``summary["rag"].key_fact_hit``); the display labels live here, in ``METRIC_LABELS``,
for the tables and charts only. Summaries are computed from a run's saved answers when shown, never
saved, so every saved run (old ones too) gets them the same way.
"""

from __future__ import annotations

import numpy as np
from pydantic import BaseModel

from core.eval import metrics as m
from core.eval.run import EvalRun, QuestionResult

CI = tuple[float, float, float]  # mean, 95% low, 95% high (bootstrap over questions)

QUALITY = {  # ArmScore field -> label; each is a mean over the questions that have it, with its interval
    "key_fact_hit": "key-fact accuracy",
    "key_fact_recall": "key-fact recall",
    "f1": "token F1",
    "similarity": "semantic similarity",
    "grounded": "groundedness",
    "correct_abstention": "correct abstention",
    "wrong_refusal": "wrong refusals",
    "hit": "retrieval hit rate",
    "reciprocal_rank": "retrieval MRR",
}
SELECTIVE = {  # the selective-answering trade-off, derived from the saved answers (``selective_values``)
    "answered": "answers shown",
    "right_when_answered": "accuracy of answers shown",
}
COST = {"latency_p50_s": "latency p50 (s)", "latency_p95_s": "latency p95 (s)",
        "prompt_tokens": "prompt tokens", "completion_tokens": "completion tokens"}
METRIC_LABELS = {**QUALITY, **SELECTIVE, **COST}


class ArmSummary(BaseModel):
    """One arm over a run: each quality metric as a ``CI`` (None where no question had it), then
    latency percentiles and mean tokens per question."""

    key_fact_hit: CI | None = None
    key_fact_recall: CI | None = None
    f1: CI | None = None
    similarity: CI | None = None
    grounded: CI | None = None
    correct_abstention: CI | None = None
    wrong_refusal: CI | None = None
    hit: CI | None = None
    reciprocal_rank: CI | None = None
    answered: CI | None = None  # share of all questions answered (not an abstention or a withheld answer)
    right_when_answered: CI | None = None  # of the answers shown, the share right (a claim to an unanswerable question is wrong)
    latency_p50_s: float = 0.0
    latency_p95_s: float = 0.0
    prompt_tokens: float = 0.0
    completion_tokens: float = 0.0

    def mean(self, field: str) -> float | None:
        """The mean of one metric (a quality metric's point estimate, or a cost figure as it is)."""
        value = getattr(self, field)
        return value[0] if isinstance(value, tuple) else value

    def rows(self) -> list[tuple[str, str, CI | float | None]]:
        """(field, label, value) in display order."""
        return [(f, label, getattr(self, f)) for f, label in METRIC_LABELS.items()]


def selective_values(r: QuestionResult, arm: str) -> dict[str, float | None]:
    """One answer's share in the selective-answering figures: whether it was shown, and if shown
    whether it was right (None when it cannot be told: an answerable question without key facts)."""
    s = r.arms[arm]
    if s.abstained:
        return {"answered": 0.0, "right_when_answered": None}
    right = s.key_fact_hit if r.item.answerable else 0.0
    return {"answered": 1.0, "right_when_answered": right}


def summarize(run: EvalRun, seed: int = 0) -> dict[str, ArmSummary]:
    """Per arm name: each metric as (mean, 95% low, 95% high) by bootstrap over questions, plus
    latency p50/p95 and mean tokens."""
    out: dict[str, ArmSummary] = {}
    for arm in run.arms:
        scores = [r.arms[arm] for r in run.results if arm in r.arms]
        if not scores:
            continue
        quality = {}
        for field in QUALITY:
            values = [getattr(s, field) for s in scores if getattr(s, field) is not None]
            quality[field] = m.bootstrap_ci(values, seed=seed) if values else None
        chosen = [selective_values(r, arm) for r in run.results if arm in r.arms]
        for field in SELECTIVE:
            values = [v[field] for v in chosen if v[field] is not None]
            quality[field] = m.bootstrap_ci(values, seed=seed) if values else None
        walls = [s.wall_s for s in scores]
        out[arm] = ArmSummary(**quality, latency_p50_s=float(np.percentile(walls, 50)),
                              latency_p95_s=float(np.percentile(walls, 95)),
                              prompt_tokens=float(np.mean([s.prompt_tokens for s in scores])),
                              completion_tokens=float(np.mean([s.completion_tokens for s in scores])))
    return out


def format_table(summary: dict[str, ArmSummary]) -> str:
    arms = list(summary)
    lines = [f"{'metric':24}" + "".join(f"{a:>24}" for a in arms)]
    for field, label in METRIC_LABELS.items():
        cells = []
        for a in arms:
            v = getattr(summary[a], field)
            if v is None:
                cells.append(f"{'—':>24}")
            elif isinstance(v, tuple):
                cells.append(f"{v[0]:>8.2f} [{v[1]:.2f}, {v[2]:.2f}]".rjust(24))
            else:
                cells.append(f"{v:>24.1f}")
        lines.append(f"{label:24}" + "".join(cells))
    return "\n".join(lines)
