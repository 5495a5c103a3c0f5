"""The job store on its own (``core.jobs.store``): records, their life cycle and each job's files,
without a worker or a supervisor process. Written so that each test fails when the rule it names is
broken (docs/MUTANTS.md)."""

import json
import os
import subprocess
import sys

import pytest

from core.jobs.store import Job, JobError, JobStore, pid_alive


def job(**kw) -> Job:
    return Job(**{"id": "j", "kind": "finetune", "name": "n", "status": "running", "config": {},
                  "created_at": "2026-01-01T00:00:00+00:00", **kw})


def test_progress_is_the_share_of_steps_done_capped_at_one():
    assert job(step=3, total_steps=12).progress == 0.25
    assert job(step=15, total_steps=12).progress == 1.0
    assert job(step=3, total_steps=0).progress == 0.0


def test_eta_is_the_pace_so_far_times_the_steps_left_and_only_while_running():
    assert job(step=4, total_steps=10, elapsed_s=20.0).eta_s == 30.0
    assert job(step=0, total_steps=10, elapsed_s=20.0).eta_s is None
    assert job(step=4, total_steps=0, elapsed_s=20.0).eta_s is None
    assert job(step=4, total_steps=10, elapsed_s=20.0, status="queued").eta_s is None


def test_a_submitted_job_is_queued_with_its_config_in_the_record_and_in_its_folder(tmp_path):
    store = JobStore(tmp_path)
    queued = store.submit("eval", "an evaluation", {"arms": ["rag"], "top_k": 3})
    assert (queued.kind, queued.name, queued.status) == ("eval", "an evaluation", "queued")
    assert queued.config == {"arms": ["rag"], "top_k": 3} and queued.pid is None and queued.started_at is None
    assert queued.created_at and queued.result is None and queued.cancel_requested is False
    assert json.loads((store.folder(queued.id) / "config.json").read_text()) == {"arms": ["rag"], "top_k": 3}
    assert store.folder(queued.id) == tmp_path / "jobs" / queued.id

    own = store.submit("finetune", "run by the command line", {}, run_by=4321)
    assert (own.status, own.pid) == ("running", 4321) and own.started_at is not None
    assert store.claim_next(pid=1).id == queued.id  # no runner claims the command line's own job
    assert store.claim_next(pid=1) is None


def test_prepare_writes_before_the_record_exists_and_a_failed_one_queues_nothing(tmp_path):
    store = JobStore(tmp_path)
    seen = []

    def prepare(folder):
        seen.append(store.list())  # the record does not exist yet: no runner can claim a half-written job
        (folder / "input.txt").write_text("x")

    prepared = store.submit("ingest", "upload", {}, prepare=prepare)
    assert seen == [[]] and (store.folder(prepared.id) / "input.txt").read_text() == "x"

    def broken(folder):
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        store.submit("ingest", "broken upload", {}, prepare=broken)
    assert [j.id for j in store.list()] == [prepared.id]
    assert [p.name for p in (tmp_path / "jobs").iterdir()] == [prepared.id]


def test_claim_moves_only_a_queued_job_to_running_in_that_process(tmp_path):
    store = JobStore(tmp_path)
    queued = store.submit("finetune", "resumed", {})
    store.update(queued.id, message="Resuming from the last checkpoint.")
    claimed = store.claim(queued.id, pid=777)
    assert (claimed.status, claimed.pid, claimed.message) == ("running", 777, "")
    assert claimed.started_at is not None
    with pytest.raises(JobError, match="'.*' is not waiting to run"):
        store.claim(queued.id, pid=778)
    assert store.get(queued.id).pid == 777


def test_claim_next_takes_the_oldest_queued_job_of_the_kind_asked_and_says_so_in_the_record(tmp_path):
    store = JobStore(tmp_path)
    older, newer = store.submit("finetune", "older", {}), store.submit("finetune", "newer", {})
    store.submit("eval", "an evaluation", {})
    store.update(older.id, message="waiting")
    claimed = store.claim_next(pid=55, kind="finetune")
    assert claimed.id == older.id and (claimed.status, claimed.pid, claimed.message) == ("running", 55, "")
    assert claimed.started_at is not None
    assert store.claim_next(pid=55, kind="finetune").id == newer.id
    assert store.claim_next(pid=55, kind="finetune") is None  # the evaluation is another runner's
    assert store.claim_next(pid=55, kind="freshness") is None


def test_list_is_newest_first_and_filters_by_kind(tmp_path):
    store = JobStore(tmp_path)
    a, b, c = (store.submit(k, n, {}) for k, n in (("finetune", "a"), ("eval", "b"), ("finetune", "c")))
    assert [j.id for j in store.list()] == [c.id, b.id, a.id]
    assert [j.id for j in store.list("finetune")] == [c.id, a.id]
    assert store.list("download") == []
    with pytest.raises(JobError, match="There is no job 'nope'"):
        store.get("nope")


def test_finish_records_status_message_result_and_time_and_clears_the_pid(tmp_path):
    store = JobStore(tmp_path)
    done = store.submit("finetune", "x", {}, run_by=99)
    store.update(done.id, step=5, total_steps=5, cancel_requested=1)
    store.finish(done.id, "done", "Saved.", result={"adapter_id": "a-1", "loss": 0.5})
    record = store.get(done.id)
    assert (record.status, record.message, record.pid) == ("done", "Saved.", None)
    assert record.result == {"adapter_id": "a-1", "loss": 0.5} and record.finished_at is not None
    assert record.cancel_requested is True and record.step == 5

    plain = store.submit("finetune", "y", {})
    store.finish(plain.id, "cancelled")
    assert (store.get(plain.id).message, store.get(plain.id).result) == ("", None)
    with pytest.raises(AssertionError):
        store.finish(plain.id, "finished")  # not a status


def test_fail_keeps_the_traceback_in_the_log_and_one_line_on_the_record(tmp_path):
    store = JobStore(tmp_path)
    failed = store.submit("eval", "x", {})
    try:
        raise ValueError("no such arm")
    except ValueError as exc:
        store.fail(failed.id, exc, " (see the log)")
    record = store.get(failed.id)
    assert record.status == "failed" and record.message == "failed: no such arm (see the log)"
    log = store.read_log(failed.id)
    assert "Traceback" in log and "ValueError: no such arm" in log and "raise ValueError" in log

    long = store.submit("eval", "y", {})
    store.fail(long.id, RuntimeError("x" * 600))
    assert store.get(long.id).message == ("failed: " + "x" * 600)[:500]


def test_cancel_ends_a_queued_job_and_asks_a_running_one_to_stop(tmp_path):
    store = JobStore(tmp_path)
    queued, running = store.submit("eval", "queued", {}), store.submit("finetune", "running", {}, run_by=os.getpid())
    store.request_cancel(queued.id)
    record = store.get(queued.id)
    assert (record.status, record.message) == ("cancelled", "Cancelled before it started.")
    assert record.finished_at is not None and record.cancel_requested is False
    store.request_cancel(running.id)
    record = store.get(running.id)
    assert (record.status, record.cancel_requested, record.finished_at) == ("running", True, None)
    store.finish(running.id, "cancelled")
    with pytest.raises(JobError, match="Job 'running' is cancelled; only queued or running"):
        store.request_cancel(running.id)


def test_requeue_resumes_interrupted_or_failed_resumable_jobs_only(tmp_path):
    store = JobStore(tmp_path)
    training = store.submit("finetune", "t", {}, run_by=1)
    store.update(training.id, cancel_requested=1)
    store.finish(training.id, "interrupted", "Interrupted.")
    again = store.requeue(training.id)
    assert (again.status, again.cancel_requested, again.finished_at) == ("queued", False, None)
    assert again.message == "Resuming from the last checkpoint."
    store.finish(training.id, "failed", "failed: x")
    assert store.requeue(training.id).status == "queued"
    with pytest.raises(JobError, match="Job 't' is queued; only interrupted or failed"):
        store.requeue(training.id)
    store.finish(training.id, "done")
    with pytest.raises(JobError, match="only interrupted or failed"):
        store.requeue(training.id)

    evaluation = store.submit("eval", "e", {})
    store.finish(evaluation.id, "interrupted")
    with pytest.raises(JobError, match="^An evaluation cannot be resumed: run it again.$"):
        store.requeue(evaluation.id)
    unknown = store.submit("no-such-kind", "u", {})
    store.finish(unknown.id, "failed")
    assert store.requeue(unknown.id).status == "queued"  # a kind the table does not know is not refused


def test_delete_removes_a_finished_job_its_folder_and_its_waiting_next_step(tmp_path):
    store = JobStore(tmp_path)
    kept, gone = store.submit("eval", "kept", {}), store.submit("eval", "gone", {})
    with store.db.write() as c:
        for job_id in (kept.id, gone.id):
            c.execute("INSERT INTO successors (job_id, next_id, kind, name, config, fill) VALUES (?, ?, 'eval', 'n', '{}', '{}')",
                      (job_id, job_id + "-next"))
    with pytest.raises(JobError, match="Cancel the job before deleting it."):
        store.delete(gone.id)
    store.finish(gone.id, "done")
    store.delete(gone.id)
    assert [j.id for j in store.list()] == [kept.id] and not store.folder(gone.id).exists()
    assert [r["job_id"] for r in store.db.rows("SELECT job_id FROM successors", ())] == [kept.id]
    assert store.folder(kept.id).is_dir()


def test_running_is_the_longest_running_job_of_the_lane(tmp_path):
    store = JobStore(tmp_path)
    assert store.running() is None
    first, second = store.submit("finetune", "first", {}), store.submit("eval", "second", {})
    store.update(first.id, status="running", started_at="2026-01-01T10:00:00+00:00")
    store.update(second.id, status="running", started_at="2026-01-01T09:00:00+00:00")
    assert store.running().id == second.id and store.running("model").id == second.id
    assert store.running("network") is None
    download = store.submit("download", "Download a/b", {}, run_by=1)
    assert store.running("network").id == download.id and store.running().id == second.id
    assert store.waiting_reason(store.get(first.id)) is None  # running, not waiting


def test_meta_values_are_set_and_replaced(tmp_path):
    store = JobStore(tmp_path)
    assert store.get_meta("supervisor_pid") is None
    store.set_meta("supervisor_pid", "12")
    store.set_meta("supervisor_pid", "34")
    store.set_meta("other", "x")
    assert (store.get_meta("supervisor_pid"), store.get_meta("other")) == ("34", "x")
    assert JobStore(tmp_path).get_meta("supervisor_pid") == "34"  # kept in the database, not the object


def test_metrics_are_kept_in_order_and_cut_back_to_a_resumed_step(tmp_path):
    store = JobStore(tmp_path)
    j = store.submit("finetune", "t", {}).id
    assert store.metrics(j) == []
    for step in (1, 2, 3, 4):
        store.append_metrics(j, {"step": step, "train_loss": 1.0 / step})
    store.append_metrics(j, {"note": "no step"})
    assert [r.get("step") for r in store.metrics(j)] == [1, 2, 3, 4, None]
    store.keep_metrics_up_to(j, 2)
    assert store.metrics(j) == [{"step": 1, "train_loss": 1.0}, {"step": 2, "train_loss": 0.5}, {"note": "no step"}]
    assert not list(store.folder(j).glob("*.partial"))
    store.keep_metrics_up_to(j, 2)  # nothing to drop
    assert [r.get("step") for r in store.metrics(j)] == [1, 2, None]
    with (store.folder(j) / "metrics.jsonl").open("a") as fh:
        fh.write('{"step": 3, "train_lo')  # a line being written right now
    assert [r.get("step") for r in store.metrics(j)] == [1, 2, None]


def test_the_log_is_appended_with_times_and_read_back_to_its_tail(tmp_path):
    store = JobStore(tmp_path)
    j = store.submit("finetune", "t", {}).id
    assert store.read_log(j) == ""
    for i in range(5):
        store.log(j, f"line {i}")
    lines = store.read_log(j).split("\n")
    assert len(lines) == 5 and lines[0].endswith(" line 0") and lines[0][:4].isdigit()
    assert [line.split(" ", 1)[1] for line in store.read_log(j, tail=2).split("\n")] == ["line 3", "line 4"]


def test_pid_alive_is_false_for_no_pid_a_gone_process_and_a_zombie():
    assert pid_alive(os.getpid())
    assert not pid_alive(None) and not pid_alive(0)
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    assert not pid_alive(gone.pid)
    zombie = subprocess.Popen([sys.executable, "-c", "pass"])
    try:
        os.waitid(os.P_PID, zombie.pid, os.WEXITED | os.WNOWAIT)  # exited, not yet reaped
        assert not pid_alive(zombie.pid)
    finally:
        zombie.wait()


def test_pid_alive_reads_the_state_after_the_last_parenthesis_of_the_name(tmp_path):
    """/proc/<pid>/stat is "<pid> (<name>) <state> ...": a name may hold ") R" itself."""
    odd = tmp_path / "a) R"
    odd.symlink_to("/bin/true")
    zombie = subprocess.Popen([str(odd)])
    try:
        os.waitid(os.P_PID, zombie.pid, os.WEXITED | os.WNOWAIT)
        assert not pid_alive(zombie.pid)
    finally:
        zombie.wait()


def test_a_process_we_may_not_signal_or_whose_state_cannot_be_read_counts_as_alive(monkeypatch):
    import core.jobs.store as store_module

    def not_ours(pid, sig):
        raise PermissionError(pid)

    monkeypatch.setattr(store_module.os, "kill", not_ours)
    assert pid_alive(12345)
    monkeypatch.undo()

    def no_proc(path, *a, **kw):
        raise OSError(path)

    monkeypatch.setattr(store_module, "open", no_proc, raising=False)  # no /proc (not Linux)
    assert pid_alive(os.getpid())


def test_finishing_without_a_result_keeps_the_one_recorded_and_deleting_twice_is_safe(tmp_path):
    store = JobStore(tmp_path)
    j = store.submit("finetune", "t", {}, run_by=1).id
    store.update(j, result={"adapter_id": "a-1"})
    store.finish(j, "failed", "failed: x")
    assert store.get(j).result == {"adapter_id": "a-1"}
    store.folder(j).rename(tmp_path / "elsewhere")  # its folder already gone
    store.delete(j)
    assert store.list() == []


def test_a_job_id_is_its_day_and_eight_random_hex_digits(tmp_path):
    import re

    from core.db import now

    ids = {JobStore(tmp_path).submit("eval", "x", {}).id for _ in range(3)}
    assert len(ids) == 3 and all(re.fullmatch(r"\d{8}-[0-9a-f]{8}", i) for i in ids)
    assert all(i.startswith(now()[:10].replace("-", "")) for i in ids)


def test_fail_without_a_note_and_the_whole_traceback_in_the_log(tmp_path):
    import traceback

    store = JobStore(tmp_path)
    j = store.submit("eval", "x", {}).id
    try:
        raise KeyError("rag")
    except KeyError as exc:
        store.fail(j, exc)
        written = "".join(traceback.format_exception(exc)).rstrip("\n")
    assert store.get(j).message == "failed: 'rag'"
    assert written in store.read_log(j)


def test_a_bad_line_in_the_metrics_does_not_hide_the_lines_after_it_and_notes_survive_a_cut_to_step_0(tmp_path):
    store = JobStore(tmp_path)
    j = store.submit("finetune", "t", {}).id
    with (store.folder(j) / "metrics.jsonl").open("w") as fh:
        fh.write('{"step": 1}\n{"step": 2, "tra\n{"note": "resumed"}\n{"step": 2}\n')
    assert store.metrics(j) == [{"step": 1}, {"note": "resumed"}, {"step": 2}]
    store.keep_metrics_up_to(j, 0)  # resumed with no checkpoint: every step goes, notes stay
    assert store.metrics(j) == [{"note": "resumed"}]


def test_the_log_is_read_back_to_its_last_200_lines_by_default(tmp_path):
    store = JobStore(tmp_path)
    j = store.submit("finetune", "t", {}).id
    store.log(j, "\n".join(f"line {i}" for i in range(250)))
    lines = store.read_log(j).split("\n")
    assert len(lines) == 200 and lines[-1] == "line 249" and lines[0] == "line 50"


def test_a_store_on_a_new_folder_makes_it_and_keeps_its_records_in_jobs_db(tmp_path):
    data = tmp_path / "new" / "data"
    store = JobStore(data)
    j = store.submit("eval", "x", {"arms": ["rag"]}).id
    assert (data / "jobs.db").is_file() and (data / "jobs" / j).is_dir()  # where other processes look for them
    assert (data / "jobs" / j / "config.json").read_text().startswith('{\n  "arms": [')  # indented for a reader
    store.finish(j, "done")
    store.delete(j)
    with pytest.raises(JobError, match=r"^There is no job"):
        store.get(j)
    running = store.submit("eval", "y", {})
    with pytest.raises(JobError, match=r"^Cancel the job before deleting it\.$"):
        store.delete(running.id)


def test_pid_alive_only_asks_and_never_signals_the_process():
    child = subprocess.Popen(["sleep", "30"])
    try:
        assert pid_alive(child.pid)
        assert child.poll() is None  # still running
    finally:
        child.kill()
        child.wait()
