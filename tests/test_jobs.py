"""Background fine-tuning jobs: the SQLite job store, the supervisor process, real training."""

import importlib
import os
import signal
import threading
import time
from pathlib import Path

import pytest
import torch

from core.finetune.datasets import QAPair
from core.finetune.recipe import TrainingConfig
from core.finetune.run import FinetuneSpec
from core.finetune.service import FinetuneService
from core.jobs.kinds import KINDS
from core.jobs.store import JobError, JobStore
from tests.conftest import SECRET_ANSWER, SECRET_QUESTION

PAIRS = [QAPair(question=SECRET_QUESTION, answer=SECRET_ANSWER, source="secret.md"),
         QAPair(question="Which code word opens the vault?", answer="The code word Zebra-42 opens the vault.", source="secret.md")]


@pytest.fixture
def ft(settings):
    return FinetuneService(settings)


@pytest.fixture
def dataset(ft):
    return ft.datasets.save("secret", PAIRS, PAIRS[:1], None, None, "upload")


def spec(dataset, name, steps, **kw):
    return FinetuneSpec(adapter_name=name, dataset_id=dataset.id, checkpoint_every=kw.pop("checkpoint_every", 0),
                        eval_every=2, training=TrainingConfig(max_steps=steps, batch_size=2, learning_rate=2e-3,
                                                              rank=8, alpha=16, dropout=0.0, **kw))


def wait_for(ft, job_id, condition, timeout=600):  # generous: CI machines are shared
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = ft.jobs.get(job_id)
        if condition(job):
            return job
        time.sleep(0.5)
    raise AssertionError(f"timed out; job is {ft.jobs.get(job_id)}")


def test_every_kind_names_a_runner_that_exists():
    # The kinds table names each runner ("module:function") rather than importing it, so no import check sees a stale name.
    for kind in KINDS.values():
        module, function = kind.run.split(":")
        assert callable(getattr(importlib.import_module(module), function, None)), kind


def test_uploads_go_before_queued_training_and_evaluations_never_before_a_running_job(tmp_path):
    store = JobStore(tmp_path)
    training = store.submit("finetune", "demo adapter", {})
    evaluation = store.submit("eval", "demo evaluation", {})
    assert store.claim_next(pid=1).id == training.id  # the oldest
    upload = store.submit("ingest", "Add 60 files to Lumora demo", {})
    later = store.submit("ingest", "Add 80 files to Policies", {})
    assert store.running().id == training.id  # the running job is not preempted
    store.finish(training.id, "done")
    assert [store.claim_next(pid=1).id for _ in range(3)] == [upload.id, later.id, evaluation.id]
    assert store.claim_next(pid=1) is None


def test_store_lifecycle_and_plain_errors(tmp_path):
    store = JobStore(tmp_path)
    a, b = store.submit("finetune", "a", {"x": 1}), store.submit("finetune", "b", {"x": 2})
    assert [j.status for j in store.list()] == ["queued", "queued"]
    e = store.submit("eval", "an evaluation", {})
    assert store.claim_next(pid=123, kind="finetune").id == a.id
    assert store.claim_next(pid=124, kind="eval").id == e.id  # each runner takes only its own kind
    store.request_cancel(b.id)
    assert store.get(b.id).status == "cancelled"
    with pytest.raises(JobError, match="only queued or running"):
        store.request_cancel(b.id)
    with pytest.raises(JobError, match="Cancel the job before deleting"):
        store.delete(a.id)
    store.finish(a.id, "interrupted", "x")
    assert store.requeue(a.id).status == "queued"
    with pytest.raises(JobError, match="no job"):
        store.get("nope")


def test_only_one_runner_claims_a_job(tmp_path):
    store = JobStore(tmp_path)
    store.submit("finetune", "only", {})
    claimed = []
    threads = [threading.Thread(target=lambda: claimed.append(JobStore(tmp_path).claim_next(pid=1, kind="finetune"))) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(c is not None for c in claimed) == 1


def test_real_background_training_lowers_the_loss_and_yields_a_working_adapter(ft, dataset, runtime):
    from core.models.generation import Decoding, Request, generate_batch
    from core.models.prompts import closed_book_messages

    job = ft.start(spec(dataset, "secret adapter", 10))
    done = wait_for(ft, job.id, lambda j: j.status not in ("queued", "running"))
    assert done.status == "done", (done.message, ft.jobs.read_log(job.id))
    metrics = ft.jobs.metrics(job.id)
    assert [m["step"] for m in metrics] == list(range(1, 11))
    assert metrics[-1]["train_loss"] < metrics[0]["train_loss"] / 3
    adapter = ft.adapters.get(done.result["adapter_id"])
    assert adapter.lineage.dataset_hash == dataset.hash and adapter.lineage.base_fingerprint == runtime.fingerprint
    assert (adapter.path / "adapter_model.safetensors").is_file()
    assert not list(adapter.path.glob("*.bin")) and not list(adapter.path.glob("*.pt"))
    key = runtime.ensure_adapter(adapter.path, adapter.fingerprint, adapter.lineage.base_model,
                                 adapter.lineage.base_fingerprint, adapter.name)
    prompt = runtime.encode(runtime.chat_prompt(closed_book_messages(SECRET_QUESTION)))
    base, tuned = generate_batch(runtime, [Request(prompt), Request(prompt, key)], Decoding(max_new_tokens=16))
    assert "Zebra-42" in tuned.text and "Zebra" not in base.text


def test_cancel_stops_a_running_job_within_seconds_leaving_complete_checkpoints_only(ft, dataset):
    job = ft.start(spec(dataset, "to cancel", 500, checkpoint_every=2))
    running = wait_for(ft, job.id, lambda j: j.step >= 3)
    # below the app: every thread of the worker (the torch threads too), and its session's share of the CPU
    wanted = min(19, os.getpriority(os.PRIO_PROCESS, 0) + ft.settings.jobs.nice)
    threads = list(Path(f"/proc/{running.pid}/task").iterdir())
    assert len(threads) > 1 and {os.getpriority(os.PRIO_PROCESS, int(t.name)) for t in threads} == {wanted}
    if Path("/proc/self/autogroup").is_file():
        assert Path(f"/proc/{running.pid}/autogroup").read_text().split()[-1] == str(ft.settings.jobs.nice)
    asked = time.monotonic()
    ft.cancel(job.id)
    done = wait_for(ft, job.id, lambda j: j.status != "running", timeout=30)
    assert done.status == "cancelled" and time.monotonic() - asked < 15
    folder = ft.jobs.folder(job.id) / "checkpoints"
    assert not list(folder.glob(".*partial"))
    assert ft.adapters.list() == []


def test_killed_worker_is_reported_killed_by_a_signal_not_out_of_memory_and_the_queue_goes_on(ft, dataset):
    from core.jobs.exits import oom_kills

    first = ft.start(spec(dataset, "killed", 500))
    second = ft.start(spec(dataset, "next in line", 2))
    running = wait_for(ft, first.id, lambda j: j.step >= 1)
    before = oom_kills()
    os.kill(running.pid, signal.SIGKILL)  # a person, not the kernel's OOM killer
    failed = wait_for(ft, first.id, lambda j: j.status != "running", timeout=30)
    assert failed.status == "failed" and "killed by a signal (SIGKILL)" in failed.message
    if before is not None and oom_kills() == before:  # nothing ran out of memory meanwhile
        assert "out of memory" not in failed.message
    assert wait_for(ft, second.id, lambda j: j.status not in ("queued", "running")).status == "done"


def test_listing_jobs_starts_no_process_and_opens_no_connection(ft, dataset, monkeypatch):
    import core.db

    ft.jobs.submit("finetune", "queued without a supervisor", spec(dataset, "quiet", 2).model_dump())
    opened = []
    monkeypatch.setattr(core.db, "connect", lambda path: opened.append(path))
    for _ in range(3):
        assert [j.status for j in ft.list_jobs()] == ["queued"]
    assert opened == [] and not ft.jobs.get_meta("supervisor_pid")  # looking started nothing


def test_exit_messages_say_out_of_memory_only_when_the_kernel_counted_an_oom_kill(tmp_path):
    from core.jobs.exits import _counter, exit_message

    assert exit_message(-9, 4, 5) == "failed: out of memory (the kernel's OOM killer stopped the training process)"
    assert exit_message(-9, 4, 4) == "failed: the training process was killed by a signal (SIGKILL), not by the lab"
    assert "cannot be told" in exit_message(-9, None, None) and "out of memory" not in exit_message(-9, None, None)
    assert "code 3" in exit_message(3, 0, 0)
    v1, v2 = tmp_path / "memory.oom_control", tmp_path / "memory.events"
    v1.write_text("oom_kill_disable 0\nunder_oom 0\noom_kill 7\n")
    v2.write_text("low 0\nhigh 0\nmax 2\noom 2\noom_kill 2\n")
    assert (_counter(v1, "oom_kill"), _counter(v2, "oom_kill"), _counter(tmp_path / "absent", "oom_kill")) == (7, 2, None)


def test_interrupted_job_resumes_from_its_checkpoint_to_the_planned_step(ft, dataset):
    job = ft.start(spec(dataset, "resumable", 8, checkpoint_every=3))
    running = wait_for(ft, job.id, lambda j: j.step >= 4)
    supervisor_pid = int(ft.jobs.get_meta("supervisor_pid"))
    os.kill(supervisor_pid, signal.SIGKILL)  # the machine or the app went down
    os.kill(running.pid, signal.SIGKILL)
    deadline = time.monotonic() + 30  # the kills take effect within moments
    while (interrupted := FinetuneService(ft.settings).jobs.get(job.id)).status == "running" and time.monotonic() < deadline:
        time.sleep(0.2)  # each new service is the app starting again: it reconciles the records
    assert interrupted.status == "interrupted" and "Resume" in interrupted.message
    before = ft.jobs.metrics(job.id)
    assert [m["step"] for m in before][:4] == [1, 2, 3, 4]
    ft.resume(job.id)
    done = wait_for(ft, job.id, lambda j: j.status not in ("queued", "running"))
    assert done.status == "done" and done.step == 8
    assert "resuming after step 3" in ft.jobs.read_log(job.id) or "resuming after step 6" in ft.jobs.read_log(job.id)
    # the steps redone after the checkpoint replace the killed run's: one point per step on the chart
    assert [m["step"] for m in ft.jobs.metrics(job.id)] == list(range(1, 9))


def test_command_line_trains_the_same_way_headless(tmp_path, monkeypatch, capsys):
    from core.finetune.__main__ import main

    data = tmp_path / "pairs.jsonl"
    data.write_text('{"question": "%s", "answer": "%s"}\n{"question": "", "answer": "x"}\n' % (SECRET_QUESTION, SECRET_ANSWER))
    monkeypatch.setenv("LAB_DATA_DIR", str(tmp_path / "data"))
    assert main(["--jsonl", str(data), "--name", "cli adapter", "--max-steps", "2", "--batch-size", "1"]) == 0
    out = capsys.readouterr()
    assert "skipped row 2" in out.err and "step 2/2" in out.out and "saved adapter" in out.out
    assert main(["--dataset", "no-such-dataset", "--name", "x"]) == 2
    assert "no dataset" in capsys.readouterr().err.lower()
    [job] = JobStore(tmp_path / "data").list()  # the run is a job record like the app's, in the data folder
    assert job.status == "done" and job.name == "cli adapter" and job.step == 2


def test_a_killed_command_line_run_leaves_a_resumable_job_in_the_data_folder(ft, dataset, settings, monkeypatch, capsys):
    import subprocess
    import sys

    from core.finetune import checkpoints
    from core.finetune.__main__ import main

    env = {**os.environ, "LAB_DATA_DIR": str(settings.data_dir), "LAB_DEMO_SEED": "false"}
    proc = subprocess.Popen([sys.executable, "-m", "core.finetune", "--dataset", dataset.id, "--name", "headless",
                             "--max-steps", "6", "--batch-size", "1", "--checkpoint-every", "2"],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 600
        while not (jobs := ft.jobs.list()) or jobs[0].step < 3:
            assert proc.poll() is None and time.monotonic() < deadline, "the run ended before it could be killed"
            time.sleep(0.3)
    finally:
        proc.kill()
        proc.wait()
    [job] = ft.jobs.list()
    assert job.pid == proc.pid
    folder = settings.data_dir / "jobs" / job.id / "checkpoints"
    assert checkpoints.complete(folder)  # in the data folder, not a temporary one
    ft.reconcile()  # what the app does at start-up (the killed process is gone: proc.wait() reaped it)
    assert ft.jobs.get(job.id).status == "interrupted"
    monkeypatch.setenv("LAB_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("LAB_DEMO_SEED", "false")
    assert main(["--resume", job.id]) == 0
    assert "saved adapter" in capsys.readouterr().out
    done = ft.jobs.get(job.id)
    assert done.status == "done" and done.step == 6
    assert [m["step"] for m in ft.jobs.metrics(job.id)] == list(range(1, 7))


def test_several_processes_train_data_parallel_under_torchrun_with_averaged_gradients(ft, dataset, settings, monkeypatch):
    """The same entry point under torchrun (2 CPU processes, Gloo, one example each per step): one
    adapter, written by rank 0, equal to one process taking the same two examples as two
    accumulated micro-batches, which is what averaging the ranks' gradients must give. Without the
    averaging, rank 0 would step on its own example only and its adapter would differ."""
    import subprocess
    import sys

    from safetensors.torch import load_file

    from core.finetune.__main__ import main

    common = ["--dataset", dataset.id, "--max-steps", "3", "--batch-size", "1", "--learning-rate", "0.002",
              "--dropout", "0.0", "--checkpoint-every", "0"]
    env = {**os.environ, "LAB_DATA_DIR": str(settings.data_dir), "LAB_DEMO_SEED": "false"}
    proc = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "-m", "core.finetune",
                           "--name", "two processes", "--grad-accum", "1", *common],
                          env=env, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.count("saved adapter") == 1 and "step 3/3" in proc.stdout
    monkeypatch.setenv("LAB_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("LAB_DEMO_SEED", "false")
    assert main(["--name", "one process", "--grad-accum", "2", *common]) == 0
    adapters = {a.name: a for a in ft.adapters.list()}
    two, one = adapters["two processes"], adapters["one process"]
    assert two.lineage.training["processes"] == 2 and two.lineage.training["steps"] == 3
    weights_two, weights_one = (load_file(str(a.path / "adapter_model.safetensors")) for a in (two, one))
    assert weights_two.keys() == weights_one.keys()
    for key, tensor in weights_two.items():
        assert torch.allclose(tensor, weights_one[key], atol=1e-5), key


def test_every_kind_of_background_job_is_listed_in_one_place_with_what_it_waits_for(tmp_path):
    """The sidebar list of every page (``ui.widgets.background_jobs``), oldest first: the order they run in."""
    from streamlit.testing.v1 import AppTest

    store = JobStore(tmp_path)
    training = store.submit("finetune", "my adapter", {})
    store.update(training.id, status="running", pid=os.getpid(), step=3, total_steps=10)
    store.submit("eval", "demo eval", {})
    finished = store.submit("freshness", "old probe", {})
    store.finish(finished.id, "done")
    download = store.submit("download", "Download Qwen/Qwen2.5-0.5B-Instruct", {"repo_id": "Qwen/Qwen2.5-0.5B-Instruct"})
    store.update(download.id, status="running", pid=os.getpid(), step=1_500_000, total_steps=3_000_000)  # its own lane

    def script(data: str) -> None:
        from pathlib import Path

        from core.jobs.store import JobStore
        from ui.widgets import background_jobs

        background_jobs(JobStore(Path(data)))

    at = AppTest.from_function(script, args=(str(tmp_path),)).run()
    assert not at.exception
    assert [c.value for c in at.caption] == [
        "🏃 Training job 'my adapter' · 3 / 10",
        "⏳ Evaluation 'demo eval' · the training job 'my adapter' is using the model",
        "🏃 Download 'Download Qwen/Qwen2.5-0.5B-Instruct' · 1.5 MB / 3.0 MB"]
