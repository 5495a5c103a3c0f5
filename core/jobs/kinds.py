"""Every kind of background job, and what differs between them: one table, one runner.

All kinds are queued in the same job store and run one at a time (they share the model and the
two cores), each in its own worker process started by ``core.jobs.supervisor``; where a job runs
is the same for every kind. What a kind decides is listed here.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Kind:
    name: str  # as stored in the job record
    label: str  # what the pages call one
    resumable: bool  # continues from its checkpoints after an interruption (otherwise: run it again)
    cancel_grace_s: float  # after a cancel request, time for the worker to stop on its own before SIGTERM
    run: str  # "module:function" called in the worker process with (store, job_id); returns an exit code
    uses: str = "the model"  # what a job waiting behind this one is told it is using
    first: bool = False  # runs before queued jobs of other kinds (someone is waiting for it on a page)

    @property
    def process(self) -> str:
        """What a killed worker's record calls it: "the training process was killed by a signal"."""
        return self.label.removesuffix(" job") + " process"

    @property
    def interrupted_message(self) -> str:
        return ("Interrupted: its process stopped. Resume continues from the last checkpoint." if self.resumable
                else "Interrupted: its process stopped. Run it again to redo it.")


# Each runner is named, not imported: the supervisor and the job store read this table without
# loading the packages above core.jobs (nor torch); only a worker process imports its job's runner.
KINDS: dict[str, Kind] = {k.name: k for k in (
    Kind("finetune", "training job", True, 5.0, "core.finetune.worker:run"),
    # An evaluation checks the cancel flag between questions; one question of five arms can take a minute.
    Kind("eval", "evaluation", False, 90.0, "core.eval.worker:run"),
    Kind("freshness", "freshness probe", False, 90.0, "core.eval.worker:run_probe"),
    # A large upload or re-index builds a copy of the knowledge base, switched in when done (core.knowledge.bulk).
    # An upload is what someone waits for on the knowledge-base page, and takes minutes: it goes before
    # queued training and evaluations (the demo adapter's, at first start), never before a running job.
    Kind("ingest", "upload job", False, 30.0, "core.knowledge.bulk_worker:run", uses="the embedder", first=True),
)}


def kind(name: str) -> Kind:
    return KINDS[name]


def first_kinds() -> list[str]:
    """Kinds that run before queued jobs of other kinds (``Kind.first``)."""
    return [k.name for k in KINDS.values() if k.first]


def waiting_reason(queued, running) -> str:
    """Why a queued job waits, in the words the pages show: ``running`` is the job using the model
    now (None when the runner is just starting)."""
    if running is None:
        return "waiting: starting the job runner"
    return f"waiting: the {KINDS[running.kind].label} '{running.name}' is using {KINDS[running.kind].uses}"
