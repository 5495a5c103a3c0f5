"""The demo adapter: queued by the seed of a fresh workspace, what the panes say meanwhile, and its
evaluation of the demo test set queued by the job runner itself when the training is done (a job
step: once, also after a restart). The real training, its lineage and the evaluation it is followed
by run once, in a real browser: tests/e2e/test_first_start.py."""

import pytest

from core import demo_adapter
from core.compare.results import EVAL_ARMS
from core.jobs import successors, supervisor
from core.demo import DEMO_KB
from core.demo_adapter import seed_demo_adapter
from core.finetune.service import FinetuneService
from core.jobs.store import Job, JobStore
from core.seed import DEMO_DATASET, demo_pairs

STEPS = 2


@pytest.fixture
def demo_settings(settings):
    settings.demo_adapter.enabled = True
    settings.demo_adapter.max_steps = STEPS
    settings.demo_adapter.eval_questions = 1
    settings.generation.max_new_tokens = 16
    return settings


@pytest.fixture
def empty_demo_kb(service):
    """The demo knowledge base as the seed leaves it, minus the documents (not needed to train)."""
    service.create_kb(DEMO_KB)
    service.set_active(DEMO_KB)
    return service


def job(status, step=0, total=0, elapsed=0.0):
    return Job(id="j", kind="finetune", name=demo_adapter.DEMO_ADAPTER, status=status, config={}, created_at="",
               step=step, total_steps=total, elapsed_s=elapsed)


def test_the_panes_say_when_the_demo_adapter_will_answer():
    def message(j, adapter_id=None):
        return demo_adapter.DemoStatus(job=j, adapter_id=adapter_id, estimate_s=100).message

    assert message(job("queued")) == "The demo adapter is queued for training: about 2 min once it starts."
    assert message(job("running")) == "The demo adapter is starting to train (loading the model): about 2 min left."
    assert message(job("running", 12, 40, 30.0)) == "The demo adapter is training: step 12 / 40, about 1 min left."
    assert message(job("running", 36, 40, 90.0)) == "The demo adapter is training: step 36 / 40, about 10 s left."
    assert "resume it" in message(job("interrupted", 5, 40))
    assert message(job("done"), "a-1") == "The demo adapter is ready."
    assert demo_adapter.DemoStatus(job=job("running"), estimate_s=1).training


def test_a_fresh_workspace_queues_the_demo_adapter_once_and_the_setting_switches_it_off(
        demo_settings, empty_demo_kb, monkeypatch):
    monkeypatch.setattr("core.jobs.supervisor.ensure_running", lambda data_dir: False)  # queued, never run here
    demo_settings.demo_adapter.enabled = False
    off = FinetuneService(demo_settings)
    assert seed_demo_adapter(off, empty_demo_kb) is None
    assert demo_adapter.status(off) is None and not off.jobs.list()

    demo_settings.demo_adapter.enabled = True
    for d in off.datasets.list():  # fresh again
        off.datasets.delete(d.id)
    ft = FinetuneService(demo_settings)
    queued = seed_demo_adapter(ft, empty_demo_kb)
    assert queued.name == demo_adapter.DEMO_ADAPTER and queued.config["training"]["max_steps"] == STEPS
    assert queued.config["dataset_name"] == DEMO_DATASET
    assert seed_demo_adapter(ft, empty_demo_kb) is None  # not a fresh workspace any more
    assert demo_adapter.queue_training(ft, queued.config["dataset_id"]) is None  # once per workspace
    assert [j.id for j in ft.jobs.list()] == [queued.id]
    assert demo_adapter.status(ft).message.startswith("The demo adapter is queued for training: about ")


def test_a_training_that_ended_while_the_app_was_down_gets_its_evaluation_at_the_next_start_once(
        demo_settings, empty_demo_kb, monkeypatch):
    """No model runs here: the training's end is written to its record, as its worker would."""
    monkeypatch.setattr("core.jobs.supervisor.ensure_running", lambda store: False)  # the app is down: nobody runs jobs
    ft = FinetuneService(demo_settings)
    training = seed_demo_adapter(ft, empty_demo_kb)
    store = JobStore(demo_settings.data_dir)
    next_id = successors.successor(store, training.id)["next_id"]
    assert (store.folder(training.id) / successors.NEXT / "knowledge").is_dir()  # the snapshot, taken at the seed
    store.claim_next(pid=2**22 + 99)  # a worker that is gone by now ...
    store.finish(training.id, "done", "Adapter saved.", {"adapter_id": "demo-1"})  # ... after it wrote this
    assert store.get_meta(demo_adapter.EVAL_KEY) is None

    supervisor.reconcile(store)  # what the restarted app's first ensure_running does, before starting a runner
    evaluation = store.get(next_id)
    assert evaluation.status == "queued" and evaluation.config["adapter_id"] == "demo-1"
    assert evaluation.config["arms"] == list(EVAL_ARMS) and len(evaluation.config["items"]) == 1
    assert store.get_meta(demo_adapter.EVAL_KEY) == next_id
    assert (store.folder(next_id) / "knowledge" / "catalog.db").is_file()  # what the evaluation worker opens
    assert (store.folder(next_id) / "settings.json").is_file()

    demo_adapter.start_up(demo_settings, empty_demo_kb)  # the app's start-up call, again
    supervisor.reconcile(store)
    assert [j.id for j in store.list("eval")] == [next_id]  # once


def test_a_demo_training_queued_without_its_step_gets_it_at_start_up_and_a_cancelled_one_never(
        demo_settings, empty_demo_kb, monkeypatch):
    monkeypatch.setattr("core.jobs.supervisor.ensure_running", lambda store: False)
    ft = FinetuneService(demo_settings)
    dataset = ft.datasets.save("demo", demo_pairs("train"), demo_pairs("test"))
    training = demo_adapter.queue_training(ft, dataset.id)  # as an older version left it: no next step
    assert successors.successor(ft.jobs, training.id) is None
    demo_adapter.start_up(demo_settings, empty_demo_kb)  # demo_seed is off here: only the missing step is added
    assert successors.successor(ft.jobs, training.id)["state"] == "waiting"

    ft.jobs.request_cancel(training.id)  # the user cancelled the demo training
    supervisor.reconcile(ft.jobs)
    assert successors.successor(ft.jobs, training.id)["state"] == "dropped"
    assert not ft.jobs.list("eval") and ft.jobs.get_meta(demo_adapter.EVAL_KEY) is None
