"""The evaluation service: test-set uploads, background runs with pinning, re-runs, diffs, the oracle.

Started runs go through the real job runner: a supervisor process, a worker process with its own
model, reading a snapshot of the knowledge base (the test's KnowledgeService keeps the store open)."""

import time

import pytest

from core.compare.engine import CompareEngine
from core.errors import LabError
from core.eval.run import TestItem
from core.eval.runs import diff_runs
from core.eval.service import EvalService, EvalSpec
from core.eval.items import parse_test_set
from core.finetune.adapters import AdapterRegistry
from tests.test_eval_run import ITEMS, POLICY

LEAVE = b"Leave.\nEmployees get 15 days of annual leave after one year of service.\n"


@pytest.fixture
def evals(service, kb, runtime, settings, tmp_path):
    service.ingest_files(kb, [("policy.md", POLICY), ("leave.md", LEAVE)])
    engine = CompareEngine(runtime, service, AdapterRegistry(tmp_path / "adapters"), settings)
    return EvalService(settings, lambda: engine, knowledge=service)


def _wait(evals, job_id, timeout=300):
    deadline = time.time() + timeout
    while time.time() < deadline:
        job = evals.jobs.get(job_id)
        if job.status not in ("queued", "running"):
            return job
        time.sleep(0.3)
    raise AssertionError(f"timed out: {evals.jobs.get(job_id)}")


def test_jsonl_and_csv_test_sets_report_bad_rows_by_number():
    data = (b'{"question": "Refund window?", "answer": "14 days", "key_facts": ["14 days"], "source": "policy.md"}\n'
            b'not json\n'
            b'{"question": "", "answer": "x"}\n'
            b'{"question": "Pets?", "not_answerable": true}\n')
    items, problems = parse_test_set(data, "t.jsonl")
    assert [i.question for i in items] == ["Refund window?", "Pets?"]
    assert items[0].key_facts == ["14 days"] and items[1].answerable is False
    assert [p.row for p in problems] == [2, 3] and "not valid JSON" in problems[0].message
    items, problems = parse_test_set(b"question,answer,key_facts,not_answerable\nPhone?,1234-5678,1234-5678;phone,no\n"
                                     b"Cats?,,,yes\nNo answer?,,,\n", "t.csv")
    assert [(i.question, i.key_facts, i.answerable) for i in items] == [
        ("Phone?", ["1234-5678", "phone"], True), ("Cats?", [], False)]
    assert problems[0].row == 4 and "no reference answer" in problems[0].message
    with pytest.raises(LabError, match="header row"):
        parse_test_set(b"a,b\n1,2\n", "t.csv")
    with pytest.raises(LabError, match="UTF-8"):
        parse_test_set("question\n\xe9".encode("latin-1"), "t.csv")
    with pytest.raises(LabError, match="No usable question"):
        parse_test_set(b"[1, 2]\n", "t.jsonl")


def test_background_run_is_pinned_saved_rerun_identically_and_diffed(evals, kb):
    spec = EvalSpec(name="smoke", kb=kb, arms=["rag", "base", "oracle"], test_set_name="unit", items=ITEMS,
                    max_new_tokens=16, require_support=False)
    job = evals.start(spec)
    done = _wait(evals, job.id)
    assert done.status == "done" and done.step == done.total_steps == len(ITEMS)
    run = evals.runs.get(done.result["run_id"])
    assert run.arms == ["base", "rag", "oracle"] and len(run.results) == len(ITEMS)
    assert run.test_set_hash and run.prompt_hash and run.kb_version == evals._engine_factory().knowledge.version(kb)
    oracle = run.results[0].arms["oracle"]
    assert oracle.sources == ["policy.md"] and oracle.prompt_tokens > run.results[0].arms["base"].prompt_tokens
    assert "14 days" in oracle.passages[0].text and run.results[0].arms["base"].passages == []  # what each arm read
    assert "oracle" not in run.results[2].arms  # no source document: the oracle has nothing to read

    assert run.require_support is False and all(r.arms["rag"].withheld is None for r in run.results)
    again = evals.runs.get(_wait(evals, evals.rerun(run.id).id).result["run_id"])
    assert again.require_support is False  # re-run as it ran, though the setting says otherwise
    assert [r.arms["rag"].text for r in again.results] == [r.arms["rag"].text for r in run.results]
    diff = diff_runs(run, again)
    assert diff.same_test_set and diff.pins == [] and diff.questions == []
    assert all(d.delta == 0 for d in diff.metrics if d.metric == "key-fact accuracy")
    assert [r.id for r in evals.runs.list()][:2] == [again.id, run.id]


def test_diff_names_what_changed_and_which_questions_flipped(evals, kb):
    from core.eval.run import ArmScore, EvalRun, QuestionResult

    item = TestItem(question="Refund window?", answer="14 days.", key_facts=["14 days"])
    def run(text, top_k):
        return EvalRun(kb=kb, kb_version="1", model_fingerprint="m", adapter_id=None, adapter_fingerprint=None,
                       decoding={}, top_k=top_k, arms=["rag"], test_set_hash="h",
                       results=[QuestionResult(item=item, arms={"rag": ArmScore(text=text, key_fact_hit=float("14 days" in text))})])
    diff = diff_runs(run("Within 30 days.", 3), run("Within 14 days.", 1))
    assert diff.pins == ["top-k: 3 → 1"]
    assert [(q.arm, q.change) for q in diff.questions] == [("rag", "fixed")]
    assert [d.delta for d in diff.metrics if d.metric == "key-fact accuracy"] == [1.0]
    withheld = run("Within 14 days.", 1).model_copy(update={"require_support": True})
    assert diff_runs(run("Within 14 days.", 1), withheld).pins == ["unsupported answers withheld: False → True"]
    in_bf16 = run("Within 14 days.", 1).model_copy(update={"dtype": "bf16"})  # same weights (fingerprint), lower precision
    assert diff_runs(run("Within 14 days.", 1), in_bf16).pins == ["precision: fp32 → bf16"]


def test_bad_specs_get_plain_messages_and_cancel_keeps_a_partial_run(evals, kb):
    with pytest.raises(LabError, match="need an adapter"):
        evals.start(EvalSpec(name="x", kb=kb, arms=["hybrid"], test_set_name="t", items=ITEMS))
    with pytest.raises(LabError, match="at least one arm"):
        evals.start(EvalSpec(name="x", kb=kb, arms=["nonsense"], test_set_name="t", items=ITEMS))
    job = evals.jobs.submit("eval", "to stop", EvalSpec(name="to stop", kb=kb, arms=["base"], test_set_name="t",
                                                        items=ITEMS * 3, max_new_tokens=8).model_dump())
    evals.jobs.claim_next(pid=1, kind="eval")
    calls = []
    original = evals.jobs.get
    def get(job_id):  # the user presses cancel after two questions
        calls.append(job_id)
        j = original(job_id)
        return j.model_copy(update={"cancel_requested": len(calls) > 2})
    evals.jobs.get = get
    run = evals.run_job(job.id)
    evals.jobs.get = original
    assert run.stopped and 0 < len(run.results) < len(ITEMS) * 3
    assert evals.jobs.get(job.id).status == "cancelled" and "partial run is saved" in evals.jobs.get(job.id).message


def test_a_run_left_running_by_a_dead_process_is_marked_interrupted(settings):
    from core.jobs.store import JobError, JobStore

    store = JobStore(settings.data_dir)
    job = store.submit("eval", "orphan", {})
    store.claim_next(pid=999_999, kind="eval")
    EvalService(settings).list_jobs()
    assert store.get(job.id).status == "running"  # listing has no side effects
    EvalService(settings).reconcile()  # what the app does at start-up
    assert store.get(job.id).status == "interrupted" and "Run it again" in store.get(job.id).message
    with pytest.raises(JobError, match="cannot be resumed"):
        store.requeue(job.id)


def test_a_run_reads_the_knowledge_base_version_it_is_pinned_to(evals, kb):
    knowledge = evals._engine_factory().knowledge
    spec = EvalSpec(name="now", kb=kb, arms=["rag"], test_set_name="unit", items=ITEMS[:1], max_new_tokens=8)
    first = evals.runs.get(_wait(evals, evals.start(spec).id).result["run_id"])
    old = first.kb_version
    assert first.results[0].arms["rag"].sources[0] == "policy.md"
    knowledge.delete_document(kb, next(d.doc_id for d in knowledge.documents(kb) if d.name == "policy.md"))
    assert knowledge.version(kb) != old

    again = evals.runs.get(_wait(evals, evals.rerun(first.id).id).result["run_id"])  # exactly: the old version
    assert again.kb == kb and again.kb_version == old
    assert again.results[0].arms["rag"].sources == first.results[0].arms["rag"].sources
    assert [p.text for p in again.results[0].arms["rag"].passages] == [p.text for p in first.results[0].arms["rag"].passages]
    assert again.results[0].arms["rag"].text == first.results[0].arms["rag"].text
    current = evals.runs.get(_wait(evals, evals.start(spec).id).result["run_id"])
    assert current.kb_version == knowledge.version(kb) and "policy.md" not in current.results[0].arms["rag"].sources
    # the old version was rebuilt inside the job's snapshot, which went with the job: nothing left in the app's store
    assert [k.name for k in knowledge.list_kbs(include_copies=True)] == [kb]
    assert not list((evals.jobs.folder(again.id)).glob("knowledge"))


def test_a_killed_evaluation_worker_is_recorded_as_killed_and_its_snapshot_goes(evals, kb):
    import os
    import signal

    from core.knowledge.storage import snapshot

    spec = EvalSpec(name="to kill", kb=kb, arms=["base"], test_set_name="unit", items=ITEMS * 20, max_new_tokens=16)
    job = evals.start(spec)
    assert snapshot.folder(evals.jobs.folder(job.id)).is_dir()  # taken when queued
    deadline = time.time() + 300
    while (running := evals.jobs.get(job.id)).step < 1 and time.time() < deadline:
        time.sleep(0.2)
    os.kill(running.pid, signal.SIGKILL)
    ended = _wait(evals, job.id, timeout=60)
    assert ended.status == "failed" and "the evaluation process was killed by a signal (SIGKILL)" in ended.message
    assert not snapshot.folder(evals.jobs.folder(job.id)).exists()  # the supervisor removed what the worker left
