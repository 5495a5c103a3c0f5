"""What the pages say about the background jobs under way: one line per job, every kind, in the
order they run (oldest first; each lane runs its own one at a time)."""

from __future__ import annotations

from dataclasses import dataclass

from core.jobs.kinds import KINDS, progress_text
from core.jobs.store import ACTIVE, Job, JobStore


@dataclass(frozen=True)
class JobLine:
    job: Job
    label: str  # its kind's label: "Training job", "Download"
    detail: str  # how far a running job is ("3 / 10"), or what a queued one waits for; may be empty


def under_way(store: JobStore) -> list[JobLine]:
    """Every queued or running job, oldest first, with what the sidebar says about it. A read."""
    lines = []
    for job in reversed(store.list()):
        if job.status not in ACTIVE:
            continue
        label = KINDS[job.kind].label.capitalize() if job.kind in KINDS else job.kind
        if job.status == "running":
            detail = progress_text(job)
        else:
            detail = (store.waiting_reason(job) or "").removeprefix("waiting: ")
        lines.append(JobLine(job=job, label=label, detail=detail))
    return lines
