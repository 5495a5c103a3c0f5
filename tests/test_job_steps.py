"""One runner for all background work: a job's next step (``core.jobs.successors``) is queued by the
runner when the job is done, once, also after a restart; lanes let a download run beside the model's
jobs without a second job system. No model, no real worker process: the records and the
supervisor's loop are what is tested here (tests/e2e/test_first_start.py runs the real chain)."""

import json
import sys
import threading

import pytest

from core.jobs import successors, supervisor
from core.jobs.kinds import KINDS
from core.jobs.store import JobError, JobStore


def attach(store, job_id, **kw):
    def prepare(folder):
        (folder / "settings.json").write_text("{}")
        (folder / "knowledge").mkdir()

    return successors.attach(store, job_id, "eval", "its evaluation", {"name": "its evaluation", "adapter_id": None},
                             prepare, fill={"adapter_id": "adapter_id"}, meta_key="demo_eval_job", **kw)


def test_a_done_job_gets_its_next_step_queued_once_with_what_it_saved(tmp_path):
    store = JobStore(tmp_path)
    training = store.submit("finetune", "demo adapter", {})
    next_id = attach(store, training.id)
    assert (store.folder(training.id) / successors.NEXT / "settings.json").is_file()  # prepared now
    assert successors.queue_due(store) == [] and store.get_meta("demo_eval_job") is None  # not done yet
    with pytest.raises(JobError, match="already has a next step"):
        attach(store, training.id)

    store.finish(training.id, "done", result={"adapter_id": "a-1"})
    assert successors.queue_due(store) == [next_id]
    queued = store.get(next_id)
    assert (queued.kind, queued.name, queued.status) == ("eval", "its evaluation", "queued")
    assert queued.config["adapter_id"] == "a-1"
    assert json.loads((store.folder(next_id) / "config.json").read_text())["adapter_id"] == "a-1"
    assert (store.folder(next_id) / "settings.json").is_file() and (store.folder(next_id) / "knowledge").is_dir()
    assert not (store.folder(training.id) / successors.NEXT).exists()
    assert store.get_meta("demo_eval_job") == next_id
    assert successors.queue_due(store) == [] and len(store.list("eval")) == 1  # once
    assert successors.successor(store, training.id)["state"] == "queued"


def test_two_processes_looking_at_once_queue_the_next_step_once(tmp_path):
    store = JobStore(tmp_path)
    training = store.submit("finetune", "demo adapter", {})
    attach(store, training.id)
    store.finish(training.id, "done", result={"adapter_id": "a-1"})
    found, start = [], threading.Barrier(4)

    def look():
        start.wait()
        found.extend(successors.queue_due(JobStore(tmp_path)))  # its own connection, like another process

    threads = [threading.Thread(target=look) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(found) == 1 and [j.id for j in store.list("eval")] == found


def test_a_cancelled_job_drops_its_next_step_and_a_failed_one_keeps_it_for_the_resume(tmp_path):
    store = JobStore(tmp_path)
    cancelled, failed = store.submit("finetune", "a", {}), store.submit("finetune", "b", {})
    attach(store, cancelled.id)
    failed_next = successors.attach(store, failed.id, "eval", "b's evaluation", {}, lambda folder: None,
                                    fill={"adapter_id": "adapter_id"})
    store.request_cancel(cancelled.id)
    store.finish(failed.id, "failed", "failed: out of memory")
    assert successors.queue_due(store) == []
    assert successors.successor(store, cancelled.id)["state"] == "dropped"
    assert not (store.folder(cancelled.id) / successors.NEXT).exists()
    assert successors.successor(store, failed.id)["state"] == "waiting"  # it can be resumed

    store.requeue(failed.id)
    store.finish(failed.id, "done", result={"adapter_id": "a-2"})
    assert successors.queue_due(store) == [failed_next] and store.get(failed_next).config == {"adapter_id": "a-2"}


def test_a_done_job_without_the_value_its_step_needs_drops_the_step(tmp_path):
    store = JobStore(tmp_path)
    training = store.submit("finetune", "x", {})
    attach(store, training.id)
    store.finish(training.id, "done", result={})  # e.g. its adapter was not saved
    assert successors.queue_due(store) == [] and not store.list("eval")
    assert successors.successor(store, training.id)["state"] == "dropped"


def test_a_job_that_finished_while_nobody_looked_gets_its_step_at_the_next_start(tmp_path, monkeypatch):
    """The app was down (no supervisor either) when the training ended: the start-up's reconcile
    queues the evaluation, and ensure_running then starts a supervisor for it."""
    store = JobStore(tmp_path)
    training = store.submit("finetune", "demo adapter", {})
    next_id = attach(store, training.id)
    store.update(training.id, status="running", pid=2**22 + 12345)  # a process that no longer exists
    store.finish(training.id, "done", result={"adapter_id": "a-1"})  # ... wrote this before it went
    started = []
    monkeypatch.setattr(supervisor.subprocess, "Popen", lambda args, **kw: started.append(args) or
                        type("P", (), {"pid": 2**22 + 54321})())
    assert supervisor.ensure_running(JobStore(tmp_path))  # the restarted app
    assert store.get(next_id).status == "queued" and store.get_meta("demo_eval_job") == next_id
    assert [a[a.index("--lane") + 1] for a in started] == ["model"]


def test_the_supervisor_queues_a_jobs_next_step_itself_and_runs_it_next(tmp_path, monkeypatch):
    """The runner's loop, in this process: after each job it queues that job's successor before it
    claims the next, so the evaluation follows the training with nobody else looking."""
    store = JobStore(tmp_path)
    training = store.submit("finetune", "demo adapter", {})
    next_id = attach(store, training.id)
    other = store.submit("finetune", "queued earlier than the evaluation", {})
    ran = []

    def run_one(s, job_id, data_dir, lane, nice):
        ran.append(job_id)
        s.finish(job_id, "done", result={"adapter_id": "a-1"})

    monkeypatch.setattr(supervisor, "_run_one", run_one)
    monkeypatch.setattr(supervisor, "ensure_running", lambda s: True)  # no second supervisor process
    monkeypatch.setattr(sys, "argv", ["supervisor", "--data-dir", str(tmp_path)])
    supervisor.main()
    assert ran == [training.id, other.id, next_id]  # queued when the training was done, so after the other job
    assert store.get(next_id).config["adapter_id"] == "a-1"


def test_a_download_runs_in_its_own_lane_beside_the_model_jobs(tmp_path):
    store = JobStore(tmp_path)
    training = store.submit("finetune", "adapter", {})
    evaluation = store.submit("eval", "evaluation", {})
    first, second = store.submit("download", "Download a/b", {}), store.submit("download", "Download c/d", {})
    assert store.claim_next(pid=1, lane="model").id == training.id
    assert store.claim_next(pid=2, lane="network").id == first.id  # not behind the training
    assert store.running("model").id == training.id and store.running("network").id == first.id
    assert store.waiting_reason(store.get(evaluation.id)) == "waiting: the training job 'adapter' is using the model"
    assert store.waiting_reason(store.get(second.id)) == "waiting: the download 'Download a/b' is using the network"
    assert store.claim_next(pid=1, lane="model").id == evaluation.id
    assert store.claim_next(pid=1, lane="model") is None  # the model lane never takes a download
    assert store.claim_next(pid=2, lane="network").id == second.id
    unknown = store.submit("no-such-kind", "x", {})
    assert store.claim_next(pid=2, lane="network") is None and store.claim_next(pid=1, lane="model").id == unknown.id
    assert KINDS["download"].online and not any(k.online for k in KINDS.values() if k.name != "download")


def test_only_an_online_kind_gets_a_worker_that_may_reach_the_hub(tmp_path):
    assert supervisor._python_env(tmp_path)["HF_HUB_OFFLINE"] == "1"
    assert supervisor._python_env(tmp_path, online=True)["HF_HUB_OFFLINE"] == "0"
