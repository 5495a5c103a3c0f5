"""Every kind of background job, and what differs between them: one table, one runner.

All kinds are queued in the same job store, each job run in its own worker process started by
``core.jobs.supervisor``; where a job runs is the same for every kind. Jobs of one lane run one
at a time: training, evaluations, probes and uploads share the model and the two cores (lane
"model"); a hub download only waits for the network (lane "network"), so it does not wait an hour
behind an evaluation, nor slow one down. What a kind decides is listed here.
"""

from __future__ import annotations

from dataclasses import dataclass

MODEL_LANE = "model"


@dataclass(frozen=True)
class Kind:
    name: str  # as stored in the job record
    label: str  # what the pages call one
    resumable: bool  # continues from its checkpoints after an interruption (otherwise: run it again)
    cancel_grace_s: float  # after a cancel request, time for the worker to stop on its own before SIGTERM
    run: str  # "module:function" called in the worker process with (store, job_id); returns an exit code
    uses: str = "the model"  # what a job waiting behind this one is told it is using
    first: bool = False  # runs before queued jobs of other kinds (someone is waiting for it on a page)
    lane: str = MODEL_LANE  # jobs of one lane run one at a time; lanes run side by side
    online: bool = False  # its worker may reach the Hugging Face hub (every other worker is offline)
    unit: str = "steps"  # what the record's step and total_steps count ("bytes" for a download)
    interrupted: str = ""  # what an interrupted job's record says, where the default does not fit

    @property
    def process(self) -> str:
        """What a killed worker's record calls it: "the training process was killed by a signal"."""
        return self.label.removesuffix(" job") + " process"

    @property
    def interrupted_message(self) -> str:
        if self.interrupted:
            return self.interrupted
        return ("Interrupted: its process stopped. Resume continues from the last checkpoint." if self.resumable
                else "Interrupted: its process stopped. Run it again to redo it.")


# Each runner is named, not imported: the supervisor and the job store read this table without
# loading the packages above core.jobs (nor torch); only a worker process imports its job's runner.
KINDS: dict[str, Kind] = {k.name: k for k in (
    Kind("finetune", "training job", True, 5.0, "core.finetune.worker:run"),
    # An evaluation checks the cancel flag between questions; one question of five arms can take a minute.
    Kind("eval", "evaluation", False, 90.0, "core.eval.worker:run"),
    Kind("freshness", "freshness probe", False, 90.0, "core.eval.worker:run_probe"),
    # A large upload or re-index builds a copy of the knowledge base, switched in when done
    # (core.knowledge.ingestion.bulk).
    # An upload is what someone waits for on the knowledge-base page, and takes minutes: it goes before
    # queued training and evaluations (the demo adapter's, at first start), never before a running job.
    Kind("ingest", "upload job", False, 30.0, "core.knowledge.bulk_worker:run", uses="the embedder", first=True),
    # A hub model for the Models page (core.models.hub): its worker checks the cancel flag as bytes
    # arrive; files already in the cache are kept, so starting it again goes on where it stopped.
    Kind("download", "download", False, 5.0, "core.models.hub_worker:run", uses="the network", lane="network",
         online=True, unit="bytes",
         interrupted="Interrupted: its process stopped. Start the download again: it keeps the files already here."),
)}


def kind(name: str) -> Kind:
    return KINDS[name]


def first_kinds() -> list[str]:
    """Kinds that run before queued jobs of other kinds (``Kind.first``)."""
    return [k.name for k in KINDS.values() if k.first]


def lanes() -> list[str]:
    """Every lane, the model's first."""
    return list(dict.fromkeys([MODEL_LANE, *(k.lane for k in KINDS.values())]))


def lane_of(kind_name: str) -> str:
    """The lane of a kind; a kind this table does not know is the model lane's (its supervisor
    records that it has no runner)."""
    return KINDS[kind_name].lane if kind_name in KINDS else MODEL_LANE


def other_lanes_kinds(lane: str) -> list[str]:
    """The kinds that run in lanes other than ``lane``."""
    return [k.name for k in KINDS.values() if k.lane != lane]


def waiting_reason(queued, running) -> str:
    """Why a queued job waits, in the words the pages show: ``running`` is the job of its lane
    running now (None when the runner is just starting)."""
    if running is None:
        return "waiting: starting the job runner"
    return f"waiting: the {KINDS[running.kind].label} '{running.name}' is using {KINDS[running.kind].uses}"


def progress_text(job) -> str:
    """A running job's progress as the pages count it: "12 / 40", or "1.2 MB / 988.1 MB" for bytes;
    empty before the job knows its total."""
    if not job.total_steps:
        return ""
    if job.kind in KINDS and KINDS[job.kind].unit == "bytes":
        return f"{job.step / 1e6:,.1f} MB / {job.total_steps / 1e6:,.1f} MB"
    return f"{job.step} / {job.total_steps}"
