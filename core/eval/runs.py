"""Saved evaluation runs (and freshness probes) on disk, and the comparison of two runs."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ValidationError

from core.compare.arms import known
from core.errors import LabError
from core.eval import triage
from core.eval.run import EvalRun
from core.eval.summary import METRIC_LABELS, summarize

log = logging.getLogger(__name__)


class RunStore:
    """Saved results, one JSON file each: evaluation runs, or (``model=FreshnessResult``) probes."""

    def __init__(self, root: Path, model: type[BaseModel] = EvalRun, what: str = "evaluation run"):
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self.model, self.what = model, what

    def save(self, run) -> None:
        tmp = self.root / f".{run.id}.partial"
        tmp.write_text(run.model_dump_json(), encoding="utf-8")
        tmp.replace(self.root / f"{run.id}.json")

    def get(self, run_id: str):
        path = self.root / f"{run_id}.json"
        if not path.is_file():
            raise LabError(f"There is no {self.what} '{run_id}'.")
        return self.model.model_validate_json(path.read_text(encoding="utf-8"))

    def list(self) -> list:
        """Saved runs, newest first (unreadable files are skipped)."""
        runs = []
        for path in self.root.glob("*.json"):
            try:
                runs.append(self.model.model_validate_json(path.read_text(encoding="utf-8")))
            except (ValidationError, ValueError, OSError):
                log.warning("skipping unreadable %s %s", self.what, path)
        return sorted(runs, key=lambda r: (r.created, r.id), reverse=True)

    def delete(self, run_id: str) -> None:
        (self.root / f"{run_id}.json").unlink(missing_ok=True)


# --- comparing two runs --------------------------------------------------------------------
class MetricDelta(BaseModel):
    arm: str
    metric: str
    a: float | None
    b: float | None

    @property
    def delta(self) -> float | None:
        return None if self.a is None or self.b is None else self.b - self.a


class QuestionDelta(BaseModel):
    question: str
    arm: str
    change: Literal["fixed", "broken"]
    answer_a: str
    answer_b: str


class RunDiff(BaseModel):
    pins: list[str]  # what differs between the runs' set-ups
    metrics: list[MetricDelta]
    questions: list[QuestionDelta]
    same_test_set: bool


PIN_FIELDS = {"model_fingerprint": "model", "dtype": "precision", "adapter_fingerprint": "adapter", "kb_version": "knowledge-base version",
              "test_set_hash": "test set", "prompt_hash": "prompts", "decoding": "decoding", "top_k": "top-k",
              "require_support": "unsupported answers withheld"}


def diff_runs(a: EvalRun, b: EvalRun) -> RunDiff:
    """Run ``b`` against run ``a``: what set-up changed, metric deltas per arm, and (on the same
    test set) the questions each arm now gets right or wrong."""
    pins = [f"{label}: {getattr(a, f)} → {getattr(b, f)}" for f, label in PIN_FIELDS.items() if getattr(a, f) != getattr(b, f)]
    sa, sb = summarize(a), summarize(b)
    metrics = []
    for arm in known(set(sa) | set(sb)):
        for field in ("key_fact_hit", "f1", "similarity", "grounded", "correct_abstention", "latency_p50_s", "prompt_tokens"):
            va, vb = (s[arm].mean(field) if arm in s else None for s in (sa, sb))
            if va is not None or vb is not None:
                metrics.append(MetricDelta(arm=arm, metric=METRIC_LABELS[field], a=va, b=vb))
    questions = []
    same = a.test_set_hash == b.test_set_hash and bool(a.test_set_hash)
    if same:
        for ra, rb in zip(a.results, b.results):
            for arm in [x for x in ra.arms if x in rb.arms]:
                before, after = triage.is_right(ra.item, ra.arms[arm]), triage.is_right(rb.item, rb.arms[arm])
                if before != after:
                    questions.append(QuestionDelta(question=ra.item.question, arm=arm, change="fixed" if after else "broken",
                                                   answer_a=ra.arms[arm].text, answer_b=rb.arms[arm].text))
    return RunDiff(pins=pins, metrics=metrics, questions=questions, same_test_set=same)
