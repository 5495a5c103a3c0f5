"""Runs queued jobs of every kind (``core.jobs.kinds``) one at a time, each in a child process,
oldest first, then exits when the queue is empty. No model work happens in the app's process.

``ensure_running(store)`` is what submitting, resuming and the app's start-up call (never a
listing): it marks jobs whose process died as interrupted (resumable) and starts a supervisor
when there is queued work and none is alive. The supervisor is detached from the app (its own
session), so closing the browser or restarting the app does not stop a job; a restarted app
simply reads the job records again.

A child that dies without writing its status is described by ``core.jobs.exits`` ("killed by a
signal", "out of memory" only when the kernel's OOM killer did it); cancellation escalates from
the flag the worker checks each step, to SIGTERM, to SIGKILL.
"""

from __future__ import annotations

import argparse
import fcntl
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

from core.config import REPO_ROOT
from core.jobs.exits import exit_message, oom_kills
from core.jobs.kinds import KINDS
from core.jobs.store import SNAPSHOT, JobStore, pid_alive

TERM_GRACE_S = 3.0  # after SIGTERM, before SIGKILL (the time before SIGTERM is the kind's cancel_grace_s)
POLL_S = 0.5


def _python_env(data_dir: Path) -> dict:
    env = dict(os.environ)
    env.update(LAB_DATA_DIR=str(data_dir), HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", TOKENIZERS_PARALLELISM="false")
    env["PYTHONPATH"] = str(REPO_ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    return env


def reconcile(store: JobStore) -> None:
    """Jobs marked running whose process is gone (app restarts, machine reboots, a killed command
    line run) become interrupted, and ended jobs lose the snapshot they read. The job a live supervisor is watching is left to it: it records
    how its worker ended."""
    supervisor_alive = pid_alive(int(store.get_meta("supervisor_pid") or 0))
    watched = store.get_meta("supervisor_job") if supervisor_alive else None
    for job in store.list():
        if job.kind in KINDS and job.status == "running" and not pid_alive(job.pid) and job.id != watched:
            store.finish(job.id, "interrupted", KINDS[job.kind].interrupted_message)
        if job.status not in ("queued", "running"):  # a knowledge-base snapshot left by a killed supervisor
            shutil.rmtree(store.folder(job.id) / SNAPSHOT, ignore_errors=True)


def ensure_running(store: JobStore) -> bool:
    """Start a supervisor if there is queued work and none is alive; True if one is running."""
    data_dir = store.root.parent
    reconcile(store)
    if pid_alive(int(store.get_meta("supervisor_pid") or 0)):
        return True
    if not any(j.status == "queued" and j.kind in KINDS for j in store.list()):
        return False
    log = open(store.root / "supervisor.log", "ab")
    proc = subprocess.Popen([sys.executable, "-m", "core.jobs.supervisor", "--data-dir", str(data_dir)],
                            cwd=REPO_ROOT, env=_python_env(data_dir), stdin=subprocess.DEVNULL,
                            stdout=log, stderr=log, start_new_session=True)
    store.set_meta("supervisor_pid", str(proc.pid))
    return True


def stop_recorded(store: JobStore) -> list[int]:
    """Kill (SIGKILL) the supervisor and the workers ``store`` records, by their recorded process
    ids, never by name; returns those signalled. For tearing down a test's data folder."""
    pids = [j.pid for j in store.list() if j.status == "running"] + [int(store.get_meta("supervisor_pid") or 0)]
    stopped = []
    for pid in pids:
        if pid and pid != os.getpid() and pid_alive(pid):
            os.kill(pid, signal.SIGKILL)
            stopped.append(pid)
    return stopped


def _run_one(store: JobStore, job_id: str, data_dir: Path) -> None:
    store.set_meta("supervisor_job", job_id)
    grace = KINDS[store.get(job_id).kind].cancel_grace_s
    oom_before = oom_kills()
    child = subprocess.Popen([sys.executable, "-m", "core.jobs.worker", "--data-dir", str(data_dir), "--job", job_id],
                             cwd=REPO_ROOT, env=_python_env(data_dir), stdin=subprocess.DEVNULL,
                             stdout=subprocess.DEVNULL, stderr=open(store.folder(job_id) / "stderr.txt", "ab"))
    store.update(job_id, pid=child.pid)
    cancel_seen = killed_by_us = None
    while child.poll() is None:
        time.sleep(POLL_S)
        if not store.get(job_id).cancel_requested:
            continue
        cancel_seen = cancel_seen or time.monotonic()
        waited = time.monotonic() - cancel_seen
        if waited > grace + TERM_GRACE_S:
            child.send_signal(signal.SIGKILL)
            killed_by_us = True
        elif waited > grace:
            child.send_signal(signal.SIGTERM)
            killed_by_us = True
    shutil.rmtree(store.folder(job_id) / SNAPSHOT, ignore_errors=True)  # what a killed job left
    job = store.get(job_id)
    if job.status != "running":
        return  # the worker wrote its own final status
    code = child.returncode
    if killed_by_us or job.cancel_requested:
        store.finish(job_id, "cancelled", "Cancelled by the user.")
    else:
        store.finish(job_id, "failed", exit_message(code, oom_before, oom_kills(), KINDS[job.kind].process))
    store.log(job_id, f"worker exit code {code}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data-dir", required=True)
    data_dir = Path(parser.parse_args().data_dir)
    store = JobStore(data_dir)
    lock = open(store.root / "supervisor.lock", "w")
    # Wait (not give up) for a supervisor that is finishing: it may have found the queue empty just
    # before a job was submitted, and that job would otherwise wait for the next submission.
    fcntl.flock(lock, fcntl.LOCK_EX)
    store.set_meta("supervisor_pid", str(os.getpid()))
    while (job := store.claim_next(pid=os.getpid())) is not None:
        if job.kind not in KINDS:
            store.finish(job.id, "failed", f"failed: no runner for jobs of kind '{job.kind}'.")
            continue
        _run_one(store, job.id, data_dir)
    store.set_meta("supervisor_pid", "0")


if __name__ == "__main__":
    main()
