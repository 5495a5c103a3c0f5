"""The demo adapter: trained in the background on a fresh demo workspace, then evaluated.

At first start (``start_up``, called once by the app) one training job is queued through the job
supervisor: the product's own recipe on the shipped demo pairs. The compare page shows its
progress where the fine-tuned and hybrid answers will be, and selects the adapter once it is
saved. The training job's next step (``core.jobs.successors``) is a saved evaluation of the demo
test set over every arm with that adapter: attached when the training is queued, with the
settings and a snapshot of the demo knowledge base taken then, and queued by the job runner
itself when the training is done, so the Evaluate page has results before anyone asks for them.
Nothing in the app waits or polls for it. The two job ids are kept in the job store's metadata,
so each is queued once per workspace, and a training that ended while the app was down still gets
its evaluation the next time the runner looks.
"""

from __future__ import annotations

import logging

from pydantic import BaseModel

from core.compare.results import EVAL_ARMS
from core.config import Settings
from core.demo import DEMO_KB
from core.errors import LabError
from core.eval.service import EvalService, EvalSpec
from core.eval.testsets import demo_test_set
from core.finetune.recipe import TrainingConfig
from core.finetune.run import FinetuneSpec
from core.jobs import successors
from core.jobs.store import ACTIVE, Job, JobError, JobStore
from core.knowledge.service import KnowledgeService
from core.seed import seed_demo, seed_demo_dataset

log = logging.getLogger(__name__)

DEMO_ADAPTER = "Lumora demo adapter"
DEMO_EVAL = "Demo test set · all arms · demo adapter"
JOB_KEY = "demo_adapter_job"  # job-store metadata: the id of the demo adapter's training job
EVAL_KEY = "demo_eval_job"  # ... and of its evaluation
# The product's own recipe (core.finetune.recipe defaults: LoRA r=16 on all linear layers, 3 epochs
# of the 105 demo pairs = 42 steps), closed book. Measured on this 2-core machine: README, Quick start.
RECIPE = TrainingConfig()


def training_spec(settings: Settings, dataset_id: str) -> FinetuneSpec:
    training = RECIPE.model_copy(update={"max_steps": settings.demo_adapter.max_steps})
    return FinetuneSpec(adapter_name=DEMO_ADAPTER, dataset_id=dataset_id, training=training)


def queue_training(ft, dataset_id: str) -> Job | None:
    """Queue the demo adapter's training (``ft`` is a FinetuneService), once per workspace and
    only when the ``demo_adapter.enabled`` setting is on; None when nothing was queued."""
    if not ft.settings.demo_adapter.enabled or ft.jobs.get_meta(JOB_KEY):
        return None
    job = ft.start(training_spec(ft.settings, dataset_id))
    ft.jobs.set_meta(JOB_KEY, job.id)
    return job


def seed_demo_adapter(ft, knowledge: KnowledgeService) -> Job | None:
    """On a fresh demo workspace (no dataset yet): save the demo dataset and queue the demo
    adapter's training in the background (``ft`` is a FinetuneService), its evaluation as the
    training's next step. Returns the training job, or None when the workspace was not fresh or
    the setting is off."""
    dataset = seed_demo_dataset(ft.datasets, knowledge)
    job = None if dataset is None else queue_training(ft, dataset.id)
    if job is not None:
        attach_evaluation(ft.settings, knowledge)
    return job


def start_up(settings: Settings, knowledge: KnowledgeService) -> Job | None:
    """What the app does once at start, in the process that owns the data folder: a fresh
    workspace gets the demo knowledge base, dataset and adapter training (``demo_seed``); a demo
    training queued before its evaluation was a job step (an older version of the lab) gets that
    step now. Returns the training job queued, if one was."""
    from core.finetune.service import FinetuneService

    job = None
    if settings.demo_seed and seed_demo(knowledge):
        job = seed_demo_adapter(FinetuneService(settings), knowledge)
    attach_evaluation(settings, knowledge)
    return job


def _about(seconds: float) -> str:
    if seconds < 60:
        return f"about {max(5, round(seconds / 5) * 5)} s"
    return f"about {round(seconds / 60)} min"


class DemoStatus(BaseModel):
    """Where the demo adapter stands: its training job, and the adapter once it is saved."""

    job: Job
    adapter_id: str | None = None  # set when the job is done and its adapter is still on disk
    estimate_s: float  # the whole training, estimated before it starts (FinetuneService.estimate_seconds)

    @property
    def ready(self) -> bool:
        return self.adapter_id is not None

    @property
    def training(self) -> bool:
        return self.job.status in ACTIVE

    @property
    def message(self) -> str:
        """One sentence on when the demo adapter will answer (or why it will not)."""
        job = self.job
        if self.ready:
            return "The demo adapter is ready."
        if job.status == "queued":
            return f"The demo adapter is queued for training: {_about(self.estimate_s)} once it starts."
        if job.status == "running" and job.eta_s is not None:
            return f"The demo adapter is training: step {job.step} / {job.total_steps}, {_about(job.eta_s)} left."
        if job.status == "running":
            return f"The demo adapter is starting to train (loading the model): {_about(self.estimate_s)} left."
        if job.status == "done":
            return "The demo adapter was deleted: train another one on the Fine-tuning page."
        return (f"The demo adapter's training {job.status}: resume it, or train another adapter, "
                "on the Fine-tuning page.")


def status(ft) -> DemoStatus | None:
    """The demo adapter's status in this workspace (``ft`` is a FinetuneService), or None when
    this workspace never queued one. A read: it starts nothing."""
    job_id = ft.jobs.get_meta(JOB_KEY)
    if not job_id:
        return None
    try:
        job = ft.jobs.get(job_id)
    except JobError:  # the job record was deleted
        return None
    adapter_id = (job.result or {}).get("adapter_id") if job.status == "done" else None
    if adapter_id and adapter_id not in {a.id for a in ft.adapters.list()}:
        adapter_id = None
    spec = FinetuneSpec.model_validate(job.config)
    try:
        info = ft.datasets.get(spec.dataset_id)
        estimate = ft.estimate_seconds(info.train_count, spec.training, ft.tokens_per_example(spec.dataset_id))
    except LabError:  # the dataset was deleted
        estimate = 0.0
    return DemoStatus(job=job, adapter_id=adapter_id, estimate_s=estimate)


def evaluation_spec(settings: Settings) -> EvalSpec:
    """The demo evaluation: the demo test set, every arm, the demo adapter (filled in when its
    training is done), the default settings."""
    items = demo_test_set()[: settings.demo_adapter.eval_questions or None]
    return EvalSpec(name=DEMO_EVAL, kb=DEMO_KB, arms=list(EVAL_ARMS), test_set_name="Demo test set", items=items)


def attach_evaluation(settings: Settings, knowledge: KnowledgeService) -> str | None:
    """Make the demo evaluation the next step of the demo adapter's training, once per workspace
    (``knowledge`` is the app's: the demo knowledge base's snapshot is taken now). Returns the id the
    evaluation will have; None when there is no demo training, it was cancelled or deleted, or its
    evaluation is already attached or queued. A failed or interrupted training keeps its next step:
    it can be resumed from the Fine-tuning page."""
    jobs = JobStore(settings.data_dir)
    job_id = jobs.get_meta(JOB_KEY)
    if not settings.demo_adapter.enabled or not job_id or jobs.get_meta(EVAL_KEY) or successors.successor(jobs, job_id):
        return None
    try:
        if jobs.get(job_id).status == "cancelled":
            return None
    except JobError:  # the job record was deleted
        return None
    try:
        next_id = EvalService(settings, knowledge=knowledge).start_after(job_id, evaluation_spec(settings), meta_key=EVAL_KEY)
    except LabError as exc:  # e.g. the demo knowledge base was deleted: the app starts all the same
        log.warning("the demo evaluation cannot be attached to training %s: %s", job_id, exc)
        return None
    log.info("demo adapter training %s: its evaluation %s is queued when it is done", job_id, next_id)
    return next_id
