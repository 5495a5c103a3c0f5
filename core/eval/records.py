"""Each arm's measured record on a knowledge base: shown next to every answer on the compare
page, so a single answer is read in the light of how often that arm is right."""

from __future__ import annotations

from dataclasses import dataclass

from core.compare.arms import ARMS_BY_NAME
from core.eval import metrics as m
from core.eval.run import EvalRun
from core.eval.runs import RunStore

@dataclass(frozen=True)
class ArmRecord:
    arm: str
    right: float  # share of the scored questions whose key facts the arm stated (key-fact accuracy)
    low: float  # 95% interval (metrics.bootstrap_ci: Wilson where every question scored the same)
    high: float
    questions: int  # answerable questions with key facts in the run
    run_id: str
    run_name: str
    kb_version: str

    def sentence(self, current_version: str | None = None) -> str:
        older = "" if current_version in (None, self.kb_version) else ", on an earlier version of the documents"
        return (f"Right on {self.right:.0%} [{self.low:.0%}–{self.high:.0%}] of {self.questions} test questions "
                f"(evaluation '{self.run_name or self.run_id}'{older})")


def _record(run: EvalRun, arm: str) -> ArmRecord | None:
    hits = [r.arms[arm].key_fact_hit for r in run.results if arm in r.arms and r.arms[arm].key_fact_hit is not None]
    if not hits:
        return None
    mean, low, high = m.bootstrap_ci(hits)
    return ArmRecord(arm, mean, low, high, len(hits), run.id, run.name, run.kb_version)


def latest_records(runs: list[EvalRun], kb: str, adapter_id: str | None) -> dict[str, ArmRecord]:
    """Per arm, its record in the newest finished run on ``kb`` (``runs`` newest first, as
    ``RunStore.list`` gives them). Arms that use an adapter count only runs with ``adapter_id``:
    another adapter's record says nothing about this one."""
    out: dict[str, ArmRecord] = {}
    for run in runs:
        if run.kb != kb or run.stopped:
            continue
        for arm in run.arms:
            uses_adapter = arm in ARMS_BY_NAME and ARMS_BY_NAME[arm].uses_adapter
            if arm in out or (uses_adapter and (adapter_id is None or run.adapter_id != adapter_id)):
                continue
            if (record := _record(run, arm)) is not None:
                out[arm] = record
    return out


def records_for(store: RunStore, kb: str, adapter_id: str | None) -> dict[str, ArmRecord]:
    return latest_records(store.list(), kb, adapter_id)
