"""The compare page on a fresh workspace: the fine-tuned and hybrid panes show the demo adapter's
training, then it is selected and they answer; its evaluation is saved for the Evaluate page.

The app's resources are process-wide (st.cache_resource): this test builds its own from an
empty data folder and clears them before and after, so other page tests keep theirs.
"""

import re
import time

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from core.config import REPO_ROOT, load_settings
from core.jobs.store import JobStore

QUESTION = "How many paid sick days do employees get?"


@pytest.fixture
def fresh_app(tmp_path, monkeypatch):
    data = tmp_path / "data"
    data.mkdir()
    for name, value in {"LAB_DATA_DIR": str(data), "LAB_DEMO_SEED": "true", "LAB_DEMO_ADAPTER__ENABLED": "true",
                        "LAB_DEMO_ADAPTER__MAX_STEPS": "2", "LAB_DEMO_ADAPTER__EVAL_QUESTIONS": "1",
                        "LAB_GENERATION__MAX_NEW_TOKENS": "16"}.items():
        monkeypatch.setenv(name, value)
    st.cache_resource.clear()
    yield data
    st.cache_resource.clear()


def answers(at) -> list[str]:
    return [re.sub(r"<[^>]+>", "", h.body).strip() for h in at.get("html") if "min-height:2.5rem" in h.body]


@pytest.mark.timeout(2700)  # seeding, training and a 5-arm evaluation: minutes on a busy shared machine
def test_fine_tuned_panes_show_the_demo_training_then_the_adapter_is_selected_and_answers(fresh_app):
    from core import demo_adapter
    from core.finetune.service import FinetuneService

    at = AppTest.from_file(str(REPO_ROOT / "app.py"), default_timeout=300)
    at.run()
    at.switch_page("pages/compare.py").run()
    assert not at.exception, at.exception
    waiting = " ".join(i.value for i in at.info)
    assert "The demo adapter is " in waiting and "as soon as it is ready" in waiting, waiting
    assert at.selectbox(key="compare_adapter").value is None

    at.chat_input[0].set_value(QUESTION).run()
    assert not at.exception and not at.error, at.exception
    panes = " ".join(i.value for i in at.info)
    assert len(answers(at)) == 4 or "This pane answers your question as soon as it is ready" in panes, panes

    ft = FinetuneService(load_settings())
    deadline = time.monotonic() + 900
    while not demo_adapter.status(ft).ready and time.monotonic() < deadline:
        time.sleep(1)
        at.run()  # what the panes' 2-second refresh does
    at.run()
    status = demo_adapter.status(ft)
    assert status.ready and at.selectbox(key="compare_adapter").value == status.adapter_id
    shown = answers(at)
    assert len(shown) == 4 and all(shown), shown  # the waiting panes answered the question
    assert "No adapter selected" not in " ".join(i.value for i in at.info)

    store = JobStore(load_settings().data_dir)
    deadline = time.monotonic() + 900  # the job runner queues the evaluation once the adapter is saved
    while not store.get_meta(demo_adapter.EVAL_KEY) and time.monotonic() < deadline:
        time.sleep(0.5)
    eval_id = store.get_meta(demo_adapter.EVAL_KEY)
    while store.get(eval_id).status in ("queued", "running") and time.monotonic() < deadline:
        time.sleep(0.5)
    assert store.get(eval_id).status == "done", store.get(eval_id).message
    at.switch_page("pages/evaluate.py").run()
    assert not at.exception
    for need in [r for r in at.radio if (r.key or "").startswith("need_")]:  # asked before any recommendation
        need.set_value("no")
    at.run()
    assert any("Recommendation:" in s.value or "by your answers:" in s.value for s in at.success)
