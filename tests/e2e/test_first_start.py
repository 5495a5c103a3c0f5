"""First start in a real browser: an empty data folder, the demo adapter training in the background.

The compare page says when the fine-tuned and hybrid panes will answer, the panes answer once
the adapter is saved (it is selected by itself), and the Evaluate page then shows the demo
evaluation. Behind the pages, read from the app's data folder: the adapter's lineage ties it to
the demo dataset, the bundled model and the demo knowledge base, and its evaluation is the
training job's next step (queued by the job runner itself, once). This is the one run of the
whole first-start path (seed, background training, job step, evaluation); tests/test_demo_adapter.py
covers its parts without a model. The demo adapter is capped to a few steps
(LAB_DEMO_ADAPTER__MAX_STEPS) and its evaluation to one question, so this runs in minutes;
screenshots go to test-artifacts/e2e/.
"""

from __future__ import annotations

import pytest

from tests.e2e.harness import ARTIFACTS, LONG, browser_page, require_chromium, running_app

require_chromium()
from playwright.sync_api import expect  # noqa: E402

STEPS = "4"  # enough for the panes to show progress before the question's base and RAG answers are in (measured: 8 steps
# ended about 90 s after base and RAG had answered on 2 busy cores)
TRAINING = 1_800_000  # ms: training runs beside the app; on a shared 2-core machine a step can take minutes
QUESTION = "How many paid sick days do employees get?"


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return tmp_path_factory.mktemp("first-start-data")


@pytest.fixture(scope="module")
def fresh_app(data):
    with running_app(data, "first_start_streamlit.log",
                     LAB_DEMO_SEED="true", LAB_DEMO_ADAPTER__ENABLED="true", LAB_DEMO_ADAPTER__MAX_STEPS=STEPS,
                     LAB_DEMO_ADAPTER__EVAL_QUESTIONS="1", LAB_GENERATION__MAX_NEW_TOKENS="16") as url:
        yield url


@pytest.fixture(scope="module")
def page(fresh_app):
    with browser_page() as page:
        yield page


def test_fine_tuned_panes_show_the_demo_training_then_answer(page, fresh_app):
    expect.set_options(timeout=LONG)
    page.goto(f"{fresh_app}/compare")
    expect(page.get_by_text("The demo adapter is ", exact=False).first).to_be_visible()  # the first visit says when
    page.screenshot(path=str(ARTIFACTS / "first_start_1_training.png"), full_page=True)
    box = page.get_by_placeholder("Ask a question about your documents")
    box.fill(QUESTION)
    box.press("Enter")
    expect(page.get_by_text("This pane answers your question as soon as it is ready").first).to_be_visible()
    expect(page.get_by_text("first token").nth(1)).to_be_visible()  # base and RAG answered meanwhile
    page.screenshot(path=str(ARTIFACTS / "first_start_2_panes_waiting.png"), full_page=True)
    expect(page.get_by_text("first token").nth(3)).to_be_visible(timeout=TRAINING)  # then all four, adapter selected
    expect(page.get_by_text("Lumora demo adapter").first).to_be_visible()
    expect(page.get_by_text("This pane answers your question as soon as it is ready")).to_have_count(0)
    page.screenshot(path=str(ARTIFACTS / "first_start_3_answered.png"), full_page=True)


def test_evaluate_page_shows_the_demo_evaluation(page, fresh_app):
    page.goto(f"{fresh_app}/evaluate")
    page.get_by_role("tab", name="Results", exact=True).click()
    expect(page.get_by_text("Demo test set · all arms · demo adapter").first).to_be_attached(timeout=TRAINING)
    from core.eval.decision import NEED_QUESTIONS

    for name, question in NEED_QUESTIONS.items():  # nothing is pre-ticked: the situation is asked first
        if name != "expected_questions":
            page.locator("[data-testid='stRadio']", has_text=question).get_by_text("no", exact=True).click()
    expect(page.get_by_text("Recommendation:").or_(page.get_by_text("by your answers:")).first).to_be_visible()
    page.screenshot(path=str(ARTIFACTS / "first_start_4_evaluation.png"), full_page=True)


def test_the_demo_adapter_has_the_demo_lineage_and_its_evaluation_was_its_job_step(data, fresh_app, runtime, tmp_path):
    from core import demo_adapter
    from core.compare.results import EVAL_ARMS
    from core.config import BUNDLED_LLM, load_settings
    from core.demo import DEMO_KB
    from core.eval.runs import RunStore
    from core.eval.service import EvalSpec
    from core.eval.testsets import demo_test_set
    from core.finetune.datasets import DatasetStore
    from core.finetune.service import FinetuneService
    from core.jobs import supervisor
    from core.jobs.store import JobStore
    from core.seed import DEMO_DATASET, demo_pairs

    settings = load_settings(data_dir=data)
    ft = FinetuneService(settings)
    status = demo_adapter.status(ft)
    assert status.ready, status.job.message
    adapter = ft.adapters.get(status.adapter_id)
    lineage = adapter.lineage
    shipped = DatasetStore(tmp_path / "shipped").save("x", demo_pairs("train"), demo_pairs("test"))
    assert (lineage.dataset_name, lineage.dataset_hash) == (DEMO_DATASET, shipped.hash)
    assert (lineage.base_model, lineage.base_fingerprint) == (BUNDLED_LLM, runtime.fingerprint)
    assert lineage.training["steps"] == int(STEPS) and lineage.training["train_examples"] == 105
    assert lineage.job_id == status.job.id and lineage.kb_name == DEMO_KB

    store = JobStore(data)
    eval_id = store.get_meta(demo_adapter.EVAL_KEY)
    assert store.get(eval_id).status == "done" and store.get(eval_id).config["adapter_id"] == adapter.id
    run = RunStore(data / "evals").get(store.get(eval_id).result["run_id"])
    assert run.name == demo_adapter.DEMO_EVAL and run.arms == list(EVAL_ARMS) and len(run.results) == 1
    assert run.adapter_fingerprint == adapter.fingerprint and run.kb_version == lineage.kb_version
    supervisor.reconcile(store)  # the next start-up: nothing queued twice
    assert [j.id for j in store.list("eval")] == [eval_id]
    spec = EvalSpec.model_validate(run.spec)  # what "Re-run" starts again, exactly (EvalService.rerun)
    assert (spec.adapter_id, spec.arms, spec.items) == (adapter.id, list(EVAL_ARMS), demo_test_set()[:1])
