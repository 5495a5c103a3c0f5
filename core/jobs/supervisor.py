"""Runs queued jobs of every kind (``core.jobs.kinds``), one at a time per lane, each in a child
process, oldest first, then exits when its lane's queue is empty. No model work happens in the
app's process, and no download either.

``ensure_running(store)`` is what submitting, resuming and the app's start-up call (never a
listing): it marks jobs whose process died as interrupted (resumable), queues the next steps of
jobs that are done (``core.jobs.successors``) and starts a supervisor for each lane with queued
work and none alive. A supervisor is detached from the app (its own session), so closing the
browser or restarting the app does not stop a job; a restarted app simply reads the job records
again. After each job a supervisor queues that job's next step itself, so a job's successor
does not wait for the app.

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

from core.config import REPO_ROOT, load_settings
from core.jobs.exits import exit_message, oom_kills
from core.jobs import successors
from core.jobs.kinds import KINDS, MODEL_LANE, lanes
from core.jobs.store import SNAPSHOT, JobStore, pid_alive

TERM_GRACE_S = 3.0  # after SIGTERM, before SIGKILL (the time before SIGTERM is the kind's cancel_grace_s)
POLL_S = 0.5


def _python_env(data_dir: Path, online: bool = False) -> dict:
    """A supervisor's or worker's environment: offline, except a worker of an ``online`` kind."""
    env = dict(os.environ)
    offline = "0" if online else "1"
    env.update(LAB_DATA_DIR=str(data_dir), HF_HUB_OFFLINE=offline, TRANSFORMERS_OFFLINE=offline,
               TOKENIZERS_PARALLELISM="false")
    if online:
        env["HF_HUB_DISABLE_PROGRESS_BARS"] = "1"
    env["PYTHONPATH"] = str(REPO_ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    return env


def _key(name: str, lane: str) -> str:
    """A lane's job-store metadata key ("supervisor_pid" for the model lane, as before lanes)."""
    return name if lane == MODEL_LANE else f"{name}:{lane}"


def supervisor_pid(store: JobStore, lane: str = MODEL_LANE) -> int:
    """The recorded process id of ``lane``'s supervisor (0 when none was recorded)."""
    return int(store.get_meta(_key("supervisor_pid", lane)) or 0)


def reconcile(store: JobStore) -> None:
    """Jobs marked running whose process is gone (app restarts, machine reboots, a killed command
    line run) become interrupted, ended jobs lose the snapshot they read, and jobs that are done
    get their next step queued. The job a live supervisor is watching is left to it: it records
    how its worker ended."""
    watched = {store.get_meta(_key("supervisor_job", lane)) for lane in lanes() if pid_alive(supervisor_pid(store, lane))}
    for job in store.list():
        if job.kind in KINDS and job.status == "running" and not pid_alive(job.pid) and job.id not in watched:
            store.finish(job.id, "interrupted", KINDS[job.kind].interrupted_message)
        if job.status not in ("queued", "running"):  # a knowledge-base snapshot left by a killed supervisor
            shutil.rmtree(store.folder(job.id) / SNAPSHOT, ignore_errors=True)
    successors.queue_due(store)


def ensure_running(store: JobStore) -> bool:
    """Start a supervisor for each lane with queued work and none alive; True if one is running."""
    data_dir = store.root.parent
    reconcile(store)
    queued = {KINDS[j.kind].lane for j in store.list() if j.status == "queued" and j.kind in KINDS}
    running = False
    for lane in lanes():
        if pid_alive(supervisor_pid(store, lane)):
            running = True
            continue
        if lane not in queued:
            continue
        log = open(store.root / "supervisor.log", "ab")
        proc = subprocess.Popen([sys.executable, "-m", "core.jobs.supervisor", "--data-dir", str(data_dir), "--lane", lane],
                                cwd=REPO_ROOT, env=_python_env(data_dir), stdin=subprocess.DEVNULL,
                                stdout=log, stderr=log, start_new_session=True)
        store.set_meta(_key("supervisor_pid", lane), str(proc.pid))
        running = True
    return running


def stop_recorded(store: JobStore) -> list[int]:
    """Kill (SIGKILL) the supervisors and the workers ``store`` records, by their recorded process
    ids, never by name; returns those signalled. For tearing down a test's data folder."""
    pids = [j.pid for j in store.list() if j.status == "running"] + [supervisor_pid(store, lane) for lane in lanes()]
    stopped = []
    for pid in pids:
        if pid and pid != os.getpid() and pid_alive(pid):
            os.kill(pid, signal.SIGKILL)
            stopped.append(pid)
    return stopped


def _below_the_app(nice: int):
    """The worker's CPU priority, set in the child before it starts (so every thread it makes has it).

    Why: a job's torch threads and the app's share the cores; at the same priority each side's
    OpenMP threads wait at every barrier for a thread the other side holds, and both slow several-fold
    (bench/contention.py). Lower, the job yields to the app's answers and works in the gaps.
    The supervisor runs in a session of its own (it outlives the app), and Linux shares the CPU
    between sessions first (autogroups) and by nice only inside one: so the session's share is
    lowered too, where the kernel has autogroups. (The supervisor has no threads, so a
    ``preexec_fn`` is safe here.)"""
    if not nice:
        return None

    def lower() -> None:
        os.nice(nice)
        try:
            Path("/proc/self/autogroup").write_text(str(nice))
        except OSError:  # no autogroups (another OS, or switched off): nice alone is what counts there
            pass

    return lower


def _run_one(store: JobStore, job_id: str, data_dir: Path, lane: str, nice: int = 0) -> None:
    store.set_meta(_key("supervisor_job", lane), job_id)
    kind = KINDS[store.get(job_id).kind]
    grace = kind.cancel_grace_s
    oom_before = oom_kills()
    child = subprocess.Popen([sys.executable, "-m", "core.jobs.worker", "--data-dir", str(data_dir), "--job", job_id],
                             cwd=REPO_ROOT, env=_python_env(data_dir, kind.online), stdin=subprocess.DEVNULL,
                             stdout=subprocess.DEVNULL, stderr=open(store.folder(job_id) / "stderr.txt", "ab"),
                             preexec_fn=_below_the_app(nice))
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
    parser.add_argument("--lane", default=MODEL_LANE)
    args = parser.parse_args()
    data_dir, lane = Path(args.data_dir), args.lane
    nice = load_settings(data_dir=data_dir).jobs.nice
    store = JobStore(data_dir)
    lock = open(store.root / ("supervisor.lock" if lane == MODEL_LANE else f"supervisor-{lane}.lock"), "w")
    # Wait (not give up) for a supervisor that is finishing: it may have found the queue empty just
    # before a job was submitted, and that job would otherwise wait for the next submission.
    fcntl.flock(lock, fcntl.LOCK_EX)
    store.set_meta(_key("supervisor_pid", lane), str(os.getpid()))
    successors.queue_due(store)  # a job that ended while no supervisor was looking
    while (job := store.claim_next(pid=os.getpid(), lane=lane)) is not None:
        if job.kind not in KINDS:
            store.finish(job.id, "failed", f"failed: no runner for jobs of kind '{job.kind}'.")
            continue
        _run_one(store, job.id, data_dir, lane, nice)
        if successors.queue_due(store):  # the job's next step is queued before the next claim
            ensure_running(store)  # (and gets its lane's supervisor, if that lane is another)
    store.set_meta(_key("supervisor_pid", lane), "0")


if __name__ == "__main__":
    main()
