"""The demo adapter: queued by the seed of a fresh workspace, trained by the job supervisor with
the product's recipe (capped to 2 steps here), its lineage tied to the demo dataset and the
bundled model, and its evaluation of the demo test set queued by the job runner itself when the
training is done (a job step: once, also after a restart), saved and re-runnable."""

import time

import pytest

from core import demo_adapter
from core.compare.results import EVAL_ARMS
from core.jobs import successors, supervisor
from core.config import BUNDLED_LLM
from core.demo import DEMO_KB
from core.demo_adapter import seed_demo_adapter
from core.finetune.datasets import DatasetStore
from core.finetune.service import FinetuneService
from core.jobs.store import Job, JobStore
from core.seed import DEMO_DATASET, demo_pairs

STEPS = 2


def wait_for(read, condition, timeout=1500):  # generous: on a shared 2-core machine a step can take minutes
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = read()
        if condition(value):
            return value
        time.sleep(0.5)
    raise AssertionError(f"timed out; last seen {read()}")


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


@pytest.mark.timeout(2700)
def test_demo_adapter_trains_in_the_background_with_the_demo_lineage_then_its_evaluation_is_saved(
        demo_settings, empty_demo_kb, runtime):
    from core.eval.service import EvalService, EvalSpec
    from core.eval.testsets import demo_test_set

    bundled = runtime.fingerprint  # taken when the shared model was loaded: other tests may have put adapters on it since
    ft = FinetuneService(demo_settings)
    queued = seed_demo_adapter(ft, empty_demo_kb)
    step = successors.successor(ft.jobs, queued.id)  # its evaluation: the training's next step, not a thread here
    assert step["kind"] == "eval" and step["name"] == demo_adapter.DEMO_EVAL and step["state"] == "waiting"
    evals = EvalService(demo_settings, knowledge=empty_demo_kb)
    seen = wait_for(lambda: demo_adapter.status(ft), lambda s: s.job.status != "queued")
    assert seen.message.startswith("The demo adapter is")

    done = wait_for(lambda: demo_adapter.status(ft), lambda s: not s.training)
    assert done.ready, done.job.message
    adapter = ft.adapters.get(done.adapter_id)
    lineage = adapter.lineage
    shipped = DatasetStore(demo_settings.data_dir / "shipped").save("x", demo_pairs("train"), demo_pairs("test"))
    assert (lineage.dataset_name, lineage.dataset_hash) == (DEMO_DATASET, shipped.hash)
    assert (lineage.base_model, lineage.base_fingerprint) == (BUNDLED_LLM, bundled)
    assert (lineage.kb_name, lineage.kb_version) == (DEMO_KB, empty_demo_kb.version(DEMO_KB))
    assert lineage.training["steps"] == STEPS and lineage.training["train_examples"] == 105
    assert lineage.job_id == queued.id

    # the job runner queued the demo evaluation itself once the training was done, and runs it in a worker
    store = JobStore(demo_settings.data_dir)
    eval_id = wait_for(lambda: store.get_meta(demo_adapter.EVAL_KEY), bool, timeout=120)
    assert eval_id == step["next_id"] and store.get(eval_id).config["adapter_id"] == adapter.id
    finished = wait_for(lambda: store.get(eval_id), lambda j: j.status not in ("queued", "running"))
    assert finished.status == "done", finished.message
    run = evals.runs.get(finished.result["run_id"])
    assert run.name == demo_adapter.DEMO_EVAL and run.arms == list(EVAL_ARMS)
    assert run.adapter_fingerprint == adapter.fingerprint and len(run.results) == 1
    assert demo_adapter.attach_evaluation(demo_settings, empty_demo_kb) is None  # once per workspace
    supervisor.reconcile(store)  # the next start-up: nothing queued twice
    assert [j.id for j in store.list("eval")] == [eval_id]

    spec = EvalSpec.model_validate(run.spec)  # what "Re-run" starts again, exactly (EvalService.rerun)
    assert (spec.adapter_id, spec.arms, spec.items) == (adapter.id, list(EVAL_ARMS), demo_test_set()[:1])


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
