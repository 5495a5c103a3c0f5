"""Streamlit AppTest runs of the pages, headless, against the real stack and a temp data folder.

The app's resources are process-wide (st.cache_resource), so all page tests share one data
folder; the first run seeds the demo knowledge base exactly as ``make run`` does. So that no test
depends on another's order, each test puts back what it changes (documents, adapters, copies) and
looks only at the jobs it started; the folder's job processes are stopped, by recorded PID, at the end.
"""

import os
import re

import pytest
from streamlit.testing.v1 import AppTest

from core.config import REPO_ROOT as ROOT
from tests.apptest import session
from core.demo import DEMO_KB

TIMEOUT = 180


@pytest.fixture(scope="module")
def app_env(tmp_path_factory):
    data = tmp_path_factory.mktemp("app-data")
    old = os.environ.get("LAB_DATA_DIR")
    os.environ["LAB_DATA_DIR"] = str(data)
    yield data
    from core.jobs.store import JobStore
    from core.jobs.supervisor import stop_recorded

    stop_recorded(JobStore(data))  # a training job a test started outlives the app: stop it
    if old is None:
        os.environ.pop("LAB_DATA_DIR")
    else:
        os.environ["LAB_DATA_DIR"] = old


def open_page(page: str) -> AppTest:
    return session(page)


def test_home_page_explains_the_four_arms_and_shows_the_demo_kb(app_env):
    at = open_page("pages/home.py")
    text = " ".join(m.value for m in at.markdown)
    for arm in ("Base", "RAG", "Fine-tuned", "Hybrid", "open-book"):
        assert arm in text
    assert any(m.value == DEMO_KB for m in at.metric)


def test_knowledge_base_page_lists_the_seeded_demo_documents(app_env):
    at = open_page("pages/knowledge_base.py")
    table = at.dataframe[0].value
    assert "customer_service_policy.md" in set(table["name"])
    assert len(table) == 7


def test_upload_shows_a_result_per_file_and_the_new_document(app_env):
    at = open_page("pages/knowledge_base.py")
    at.file_uploader[0].set_value([
        ("kettle_faq.md", b"# Kettle\n\nThe Lumora kettle boils 1.7 litres in 4 minutes.", "text/markdown"),
        ("broken.pdf", b"not really a pdf", "application/pdf"),
    ])
    try:
        at.button[0].click().run()
        _check_upload(at)
    finally:  # the other page tests expect the demo documents as seeded
        from ui.resources import knowledge

        for doc in knowledge().documents(DEMO_KB):
            if doc.name == "kettle_faq.md":
                knowledge().delete_document(DEMO_KB, doc.doc_id)


def _check_upload(at: AppTest) -> None:
    assert not at.exception
    results = at.dataframe[0].value
    assert dict(zip(results["file"], results["result"])) == {"kettle_faq.md": "✅ added", "broken.pdf": "❌ rejected"}
    assert "not a PDF" in results.loc[results["file"] == "broken.pdf", "detail"].item()
    assert any("1 rejected" in w.value for w in at.warning)
    documents = at.dataframe[1].value
    assert "kettle_faq.md" in set(documents["name"])
    history = next(d.value for d in at.dataframe if "changed since" in d.value.columns)
    assert history.iloc[0]["changed since"] == "current" and history.iloc[1]["changed since"] == "kettle_faq.md"
    assert history.iloc[1]["can be rebuilt"] == "yes"


def test_retrieval_panel_shows_passages_with_sources(app_env):
    at = open_page("pages/knowledge_base.py")
    at.text_input[0].input("How many paid sick days do employees get?").run()
    assert not at.exception
    headers = [m.value for m in at.markdown if m.value.startswith("**1.")]
    assert headers and "hr_handbook.docx" in headers[0].replace("\\", "")  # names are Markdown-escaped
    assert any("10 paid sick days" in h.body for h in at.get("html"))


def test_creating_a_knowledge_base_with_a_bad_name_shows_one_sentence(app_env):
    at = open_page("pages/knowledge_base.py")
    form_input = at.sidebar.text_input[0]
    form_input.input("../bad;name")
    at.sidebar.button[0].click().run()
    assert not at.exception
    assert any("knowledge-base name" in e.value for e in at.error)


def test_compare_page_shows_four_answers_with_sources_and_numbers(app_env, tiny_adapter):
    import shutil

    shutil.copytree(tiny_adapter.path, app_env / "adapters" / tiny_adapter.id)
    at = open_page("pages/compare.py")
    picker = at.sidebar.selectbox[1]
    assert any("tiny secret" in option for option in picker.options)
    picker.set_value(tiny_adapter.id)  # whatever other adapter another test left, this one
    at.sidebar.slider[1].set_value(32)  # max new tokens: keep the test short
    at.chat_input[0].set_value("How many paid sick days do employees get?").run()
    assert not at.exception and not at.error
    answers = [re.sub(r"<[^>]+>", "", h.body).strip() for h in at.get("html") if "min-height:2.5rem" in h.body]
    assert len(answers) == 4 and all(answers), answers
    labels = [e.label.replace("\\", "") for e in at.expander]  # names are Markdown-escaped
    assert any("hr_handbook.docx" in label for label in labels)  # RAG and hybrid show their sources
    captions = " ".join(c.value for c in at.caption)
    assert "prompt" in captions and "first token" in captions and "retrieval" in captions
    # each open-book answer says which source sentence it rests on, or that none does
    flags = " ".join(w.value for w in at.warning)
    assert captions.count("Supported by [") + captions.count("🙈 Withheld") + flags.count("Not found in the sources") >= 1
    assert any(b.label == "JSON" for b in at.sidebar.get("download_button"))
    # the fairness strip says whether unsupported answers are withheld; the sidebar switches it for every arm
    assert "unsupported answers withheld" in " ".join(m.value for m in at.markdown)
    at.toggle(key="compare_require_support").set_value(False).run()
    assert not at.exception and "unsupported answers withheld" not in " ".join(m.value for m in at.markdown)


def _support_lines():
    from core.compare.results import ArmAnswer, Source
    from ui import compare_view

    sentence = "Refunds are accepted within 14 days of delivery."
    src = Source(rank=1, doc_name="policy.md", chunk_index=0, score=0.5, text=sentence, sentences=[(sentence, False)])
    compare_view.support_line(ArmAnswer(arm="rag", text="You have 30 days.", sources=[src]))  # kept, unsupported
    supported = src.model_copy(update={"sentences": [(sentence, True)]})
    compare_view.support_line(ArmAnswer(arm="rag", text="Within 14 days.", sources=[supported]))
    compare_view.support_line(ArmAnswer(arm="rag", text="I don't know.", withheld="You have 30 days.", sources=[src]))


def test_an_unsupported_answer_kept_on_the_pane_is_flagged_not_found_in_the_sources():
    from ui.compare_view import NOT_FOUND

    at = AppTest.from_function(_support_lines).run()
    assert not at.exception
    assert [w.value for w in at.warning] == [NOT_FOUND]  # once: the supported and the withheld answers are not flagged
    captions = [c.value for c in at.caption]
    assert any("Supported by [1] policy.md" in c for c in captions) and any("Withheld answer" in c for c in captions)


def test_compare_page_empty_and_arm_less_inputs_get_a_sentence(app_env):
    at = open_page("pages/compare.py")
    at.sidebar.get("button_group")[0].set_value([]).run()
    at.chat_input[0].set_value("Anything?").run()
    assert not at.exception
    assert any("at least one arm" in w.value for w in at.warning)


def test_model_output_is_escaped_not_rendered():
    from ui.compare_view import answer_html

    hostile = "<script>alert(1)</script><img src='http://evil.example/x.png'> ![x](http://evil.example/y.png) [1]"
    out = answer_html(hostile)
    assert "<script>" not in out and "<img" not in out
    assert "&lt;script&gt;" in out and "&lt;img" in out


@pytest.mark.parametrize("steps, dtick", [(2, 1), (8, 1), (42, 6), (300, 38)])
def test_loss_chart_ticks_are_whole_steps(steps, dtick):
    from ui.finetune_sections import loss_chart

    fig = loss_chart([{"step": s, "train_loss": 3.0 / s} for s in range(1, steps + 1)])
    assert fig.layout.xaxis.dtick == dtick and fig.layout.xaxis.tick0 == 0


def test_finetune_page_builds_data_validates_uploads_and_starts_a_job(app_env):
    from core.config import load_settings
    from core.jobs.store import JobStore

    at = open_page("pages/finetune.py")
    assert any("Lumora demo Q&A (hand-written)" in str(d.value) for d in at.dataframe)  # seeded, ready to train
    at.button(key="FormSubmitter:build_dataset-Build dataset").click().run()
    assert not at.exception and any("training and" in s.value for s in at.success)

    bad = b'{"question": "Q1?", "answer": "A1."}\n{"question": "", "answer": "x"}\nnot json\n{"question": "Q1?", "answer": "A1."}\n'
    at.get("file_uploader")[0].set_value([("pairs.jsonl", bad, "application/json")]).run()
    problems = next(d.value for d in at.dataframe if "problem" in d.value.columns)
    assert list(problems["row"]) == [2, 3, 4]

    steps = next(n for n in at.number_input if n.label.startswith("Max steps"))
    steps.set_value(2)
    name = next(t for t in at.text_input if t.label == "Adapter name")
    name.set_value("page test adapter")
    at.button(key="FormSubmitter:train_form-Start training").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert any("queued" in s.value for s in at.success)
    store = JobStore(load_settings().data_dir)
    [job] = [j for j in store.list("finetune") if j.name == "page test adapter"]
    assert job.config["training"]["max_steps"] == 2
    if job.status in ("queued", "running"):
        store.request_cancel(job.id)
    from ui.resources import adapters

    for adapter in adapters().list():  # if it finished already: the compare test expects only its own adapter
        if adapter.name == "page test adapter":
            adapters().delete(adapter.id)


def _wait_for_eval(app_env, timeout=600, kind="eval"):
    import time

    from core.config import load_settings
    from core.jobs.store import JobStore

    store = JobStore(load_settings().data_dir)
    deadline = time.time() + timeout
    while time.time() < deadline:
        jobs = store.list(kind)
        if jobs and jobs[0].status not in ("queued", "running"):
            return jobs[0]
        time.sleep(0.5)
    raise AssertionError(f"{kind} job did not finish: {store.list(kind)}")


def test_evaluate_page_runs_in_the_background_and_shows_the_decision_report(app_env):
    at = open_page("pages/evaluate.py")
    assert any("42 questions" in c.value for c in at.caption)  # the demo test set is ready
    at.get("button_group")[0].set_value(["base", "rag", "oracle"]).run()
    next(n for n in at.number_input if n.label.startswith("Questions")).set_value(2).run()
    next(n for n in at.number_input if n.label == "Max new tokens").set_value(16).run()
    next(b for b in at.button if b.label == "Run evaluation").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert any("started" in s.value for s in at.success)
    job = _wait_for_eval(app_env)
    assert job.status == "done", job.message

    at = open_page("pages/evaluate.py")
    assert not at.exception and not at.error
    assert not any("Recommendation:" in s.value for s in at.success)  # not before the situation is answered
    for need in [r for r in at.radio if (r.key or "").startswith("need_")]:
        need.set_value("no")
    at.run()
    assert any("Recommendation:" in s.value or "by your answers:" in s.value for s in at.success)
    metrics = next(d.value for d in at.dataframe if "RAG" in d.value.columns)
    assert {"Base", "RAG", "Oracle (gold passage)"} <= set(metrics.columns) and "key-fact accuracy" in metrics.index
    assert len(at.get("plotly_chart")) >= 6
    assert any(b.label == "HTML report" for b in at.get("download_button"))
    assert any(" · chunk " in e.label for e in at.expander)  # the question detail opens the passages each arm read


def test_evaluate_page_runs_on_an_older_knowledge_base_version(app_env):
    from ui.resources import knowledge

    service = knowledge()  # the process's one service, shared with the page's script runs
    for copy in service.copies(DEMO_KB):  # a freshness probe's copy, say: this test counts its own
        service.delete_kb(copy.name)
    at = open_page("pages/evaluate.py")
    versions = at.selectbox(key="eval_kb_version")
    assert "current" in versions.options[0]
    doc = next(d for d in service.documents(DEMO_KB) if d.name == "customer_service_policy.md")
    old_text, old_version = service.document_text(DEMO_KB, doc.doc_id), service.version(DEMO_KB)
    service.ingest_files(DEMO_KB, [(doc.name, old_text.replace("1234-5678", "1588-7777").encode())])
    try:
        at = open_page("pages/evaluate.py")
        versions = at.selectbox(key="eval_kb_version")
        assert "current" in versions.options[0]
        assert "1 changed since" in next(o for o in versions.options if o.startswith(old_version[:8]))
        versions.set_value(old_version).run()
        assert any(c.value.startswith("Changed since then: customer") and "policy" in c.value for c in at.caption)
        at.get("button_group")[0].set_value(["rag"]).run()
        next(n for n in at.number_input if n.label.startswith("Questions")).set_value(1).run()
        next(n for n in at.number_input if n.label == "Max new tokens").set_value(8).run()
        next(b for b in at.button if b.label == "Run evaluation").click().run()
        assert not at.exception and not at.error, [e.value for e in at.error]
        job = _wait_for_eval(app_env)
        assert job.status == "done", job.message
        from core.eval.runs import RunStore

        run = RunStore(app_env / "evals").get(job.result["run_id"])
        assert run.kb == DEMO_KB and run.kb_version == old_version != service.version(DEMO_KB)
        # the job rebuilt the old version in its own snapshot: nothing was added to the app's store
        assert [k.name for k in service.list_kbs(include_copies=True)] == [DEMO_KB]
        service.version_copy(DEMO_KB, old_version)  # what the command line (python -m core.eval --kb-version) leaves
    finally:  # the other page tests expect the demo documents as seeded
        service.ingest_files(DEMO_KB, [(doc.name, (ROOT / "core" / "demo" / "corpus" / doc.name).read_bytes())])

    # a rebuilt version kept in the app's store is a scratch copy: the knowledge-base page says so and can free it
    at = open_page("pages/knowledge_base.py")
    assert any("1 scratch copy" in c.value and "chunks in memory" in c.value for c in at.caption)
    at.button(key="kb_delete_copies").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert service.copies(DEMO_KB) == [] and "kb_delete_copies" not in [b.key for b in at.button]


def test_evaluate_page_upload_reports_bad_rows_and_freshness_probe_shows_who_picked_up_the_change(app_env):
    at = open_page("pages/evaluate.py")
    at.radio[0].set_value("upload").run()
    at.get("file_uploader")[0].set_value([("t.jsonl", b'{"question": "Refund?", "answer": "14 days"}\nnope\n',
                                           "application/json")]).run()
    assert not at.exception and any("1 questions read, 1 rows skipped" in c.value for c in at.caption)

    at.radio(key="fresh_kind").set_value("edit").run()
    at.selectbox(key="fresh_doc").set_value("customer_service_policy.md").run()
    area = at.text_area(key="fresh_text_customer_service_policy.md")
    area.set_value(area.value.replace("1234-5678", "1588-7777")).run()
    at.text_input(key="fresh_old").set_value("1234-5678")
    at.text_input(key="fresh_new").set_value("1588-7777")
    at.text_area(key="fresh_questions").set_value("What is the phone number of the customer centre?")
    at.get("button_group")[-1].set_value(["base", "rag"]).run()
    next(b for b in at.button if b.label == "Run the freshness probe").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert any("Probe started in the background" in s.value for s in at.success)
    job = _wait_for_eval(app_env, kind="freshness")
    assert job.status == "done", job.message
    at.run()  # the page (not the test) would pick the finished probe up on its next refresh
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert any(o.startswith("customer_service_policy.md · 1 question · Base, RAG")
               for o in at.selectbox(key="fresh_result_pick").options)
    table = next(d.value for d in at.dataframe if "picked up" in d.value.columns)
    assert list(table["arm"]) == ["Base", "RAG"]
    base = table[table["arm"] == "Base"].iloc[0]
    assert base["before"] == base["after"]  # the base model reads no documents: nothing can change

    # a new version can also be uploaded; an unchanged upload gets one plain sentence
    from ui.resources import knowledge

    doc = next(d for d in knowledge().documents(DEMO_KB) if d.name == "customer_service_policy.md")
    same = (ROOT / "core" / "demo" / "corpus" / doc.name).read_bytes()
    at.radio(key="fresh_kind").set_value("upload").run()
    at.get("file_uploader")[-1].set_value([(doc.name, same, "text/markdown")]).run()
    next(b for b in at.button if b.label == "Run the freshness probe").click().run()
    assert not at.exception and any("is the same as the current one" in e.value for e in at.error)


def test_cancel_button_turns_into_cancelling_and_a_job_is_not_offered_cancel_twice(app_env):
    import os as _os

    from core.config import load_settings
    from core.jobs.store import JobStore

    at = open_page("pages/evaluate.py")  # first: the service's start-up marks orphaned running jobs interrupted
    store = JobStore(load_settings().data_dir)
    job = store.submit("eval", "A long evaluation", {})
    store.update(job.id, status="running", pid=_os.getpid())  # running: the worker only claims queued jobs
    try:
        at.run()
        # every kind of background job is listed in the sidebar of every page
        assert any(c.value.startswith("🏃 Evaluation 'A long evaluation'") for c in at.sidebar.caption)
        at.button(key=f"eval_cancel_{job.id}").click().run()
        assert not at.exception and not at.error, [e.value for e in at.error]
        assert store.get(job.id).cancel_requested
        assert any(c.value == "⏹️ Cancelling…" for c in at.caption)
        at.run()  # the next refresh: still running until the job's next step, and no second Cancel button
        assert f"eval_cancel_{job.id}" not in [b.key for b in at.button]
        assert any(c.value == "⏹️ Cancelling…" for c in at.caption)
    finally:
        store.finish(job.id, "cancelled", "Cancelled by the test.")


def test_a_large_upload_runs_in_the_background_and_its_results_appear_when_switched_in(app_env):
    import time

    from ui.resources import knowledge
    from ui.widgets import SESSION_KB

    knowledge().create_kb("Bulk upload")
    limits = knowledge().settings.ingest
    at = open_page("pages/knowledge_base.py")
    try:
        limits.background_files = 20  # as LAB_INGEST__BACKGROUND_FILES=20 would: the app's settings are cached
        at.session_state[SESSION_KB] = "Bulk upload"
        at.run()
        files = [(f"note_{i:02d}.txt", f"Note {i}.\nRoom {100 + i} holds archive box {i}.".encode(), "text/plain")
                 for i in range(20)]
        at.file_uploader[0].set_value(files)
        at.button[0].click().run()
        assert not at.exception and not at.error, [e.value for e in at.error]
        assert any("20 files are being added to 'Bulk upload'" in i.value for i in at.info)
        assert any("20 files are being added to 'Bulk upload' in the background: answers" in c.value
                   for c in at.sidebar.caption)  # every page with the picker says so
        deadline = time.time() + TIMEOUT
        while any("being added" in i.value for i in at.info) and time.time() < deadline:
            time.sleep(1)
            at.run()
        assert not at.exception
        results = at.dataframe[0].value
        assert len(results) == 20 and set(results["result"]) == {"✅ added"}
        assert any(m.label == "Documents" and m.value == "20" for m in at.metric)
    finally:
        limits.background_files = type(limits)().background_files
        knowledge().delete_kb("Bulk upload")
