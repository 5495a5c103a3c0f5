"""The demo adapter: trained in the background on a fresh demo workspace, then evaluated.

At first start (``seed_demo_adapter``) one training job is queued through the job
supervisor: the product's own recipe on the shipped demo pairs. The compare page shows its
progress where the fine-tuned and hybrid answers will be, and selects the adapter once it is
saved. ``follow`` (a thread of the app process that only reads job records) then queues a saved
evaluation of the demo test set over every arm with that adapter, a job like any other for the job
runner, so the Evaluate page has results before anyone asks for them. The two job ids are kept in the job store's metadata, so
each is queued once per workspace, and a restarted app picks up where it left off.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Callable

from pydantic import BaseModel

from core.compare.results import EVAL_ARMS
from core.config import Settings
from core.demo import DEMO_KB
from core.errors import LabError
from core.eval.service import EvalSpec
from core.eval.testsets import demo_test_set
from core.finetune.recipe import TrainingConfig
from core.finetune.run import FinetuneSpec
from core.jobs.store import ACTIVE, Job, JobError, JobStore
from core.knowledge.service import KnowledgeService
from core.seed import seed_demo_dataset

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
    adapter's training in the background (``ft`` is a FinetuneService). Returns the training job,
    or None when the workspace was not fresh or the setting is off."""
    dataset = seed_demo_dataset(ft.datasets, knowledge)
    return None if dataset is None else queue_training(ft, dataset.id)


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


def queue_evaluation(settings: Settings, evals, adapter_id: str) -> Job | None:
    """Queue the demo evaluation (``evals`` is the app's EvalService): the demo test set, every
    arm, this adapter, the default settings; once per workspace. None when already queued."""
    jobs = JobStore(settings.data_dir)  # its own connection: the evaluation runner's thread writes through evals.jobs
    if jobs.get_meta(EVAL_KEY):
        return None
    items = demo_test_set()[: settings.demo_adapter.eval_questions or None]
    job = evals.start(EvalSpec(name=DEMO_EVAL, kb=DEMO_KB, arms=list(EVAL_ARMS), adapter_id=adapter_id,
                               test_set_name="Demo test set", items=items))
    jobs.set_meta(EVAL_KEY, job.id)
    return job


def follow(settings: Settings, evals_factory: Callable[[], object], poll_s: float = 2.0) -> threading.Thread | None:
    """In the app process: a thread that waits for the demo adapter's training to end and then
    queues its evaluation (``evals_factory()`` gives the app's EvalService, built only then).
    None when there is nothing to wait for. A failed or interrupted job is still followed: it can
    be resumed from the Fine-tuning page."""
    jobs = JobStore(settings.data_dir)
    job_id = jobs.get_meta(JOB_KEY)
    if not settings.demo_adapter.enabled or not job_id or jobs.get_meta(EVAL_KEY):
        return None
    thread = threading.Thread(target=_follow, args=(settings, job_id, evals_factory, poll_s),
                              name="demo-adapter", daemon=True)
    thread.start()
    return thread


def _follow(settings: Settings, job_id: str, evals_factory: Callable[[], object], poll_s: float) -> None:
    jobs = JobStore(settings.data_dir)
    while True:
        try:
            job = jobs.get(job_id)
        except JobError:
            return  # deleted
        if job.status == "done":
            break
        if job.status == "cancelled":
            return
        time.sleep(poll_s)
    adapter_id = (job.result or {}).get("adapter_id")
    if not adapter_id:
        return
    try:
        job = queue_evaluation(settings, evals_factory(), adapter_id)
        if job is not None:
            log.info("demo adapter %s saved: evaluation %s queued", adapter_id, job.id)
    except Exception:  # noqa: BLE001  (a thread's failure must not pass silently, nor end the app)
        log.exception("could not queue the demo evaluation")
