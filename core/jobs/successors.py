"""A job step: a job that queues its successor when it ends, recorded in the job store.

The demo adapter's training is followed by its evaluation this way. Whoever attaches the
successor prepares what it reads *now*, in the process that can (the app: the settings in use and
a snapshot of the knowledge base it holds open), into ``<predecessor>/next/``; the record (the
``successors`` table) says which job comes next, its kind, name and config, and which values it
takes from the predecessor's result (``fill``: successor config key -> result key, e.g. the
adapter the training saved).

``queue_due`` turns every successor whose predecessor is done into a queued job: its folder moves
to the new job's and one transaction queues the record, marks the step taken and sets
``meta_key`` (the workspace's note that it was queued). The supervisor calls it after every job
and ``reconcile`` at every start-up and submission, so a job that finished while nobody was
looking still gets its successor, once. It reads records only: nothing above ``core.jobs`` is
imported. A successor whose predecessor was cancelled or deleted is dropped; one whose
predecessor failed or was interrupted waits, since that job can be resumed.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import uuid
from pathlib import Path
from typing import Callable

from core.db import now
from core.jobs.store import Job, JobError, JobStore

log = logging.getLogger(__name__)
NEXT = "next"  # in a predecessor's folder: what its successor reads, prepared when it was attached


def attach(store: JobStore, job_id: str, kind: str, name: str, config: dict, prepare: Callable[[Path], None],
           fill: dict[str, str] | None = None, meta_key: str | None = None) -> str:
    """Record that when job ``job_id`` is done, a job of ``kind`` named ``name`` is queued with
    ``config`` (plus ``fill``: its keys set from the predecessor's result). ``prepare`` writes what
    the successor reads into its folder now; if it fails, nothing is recorded. Returns the id the
    successor will have. One successor per job."""
    store.get(job_id)  # a plain error for a job that does not exist
    if successor(store, job_id) is not None:
        raise JobError(f"Job '{job_id}' already has a next step.")
    next_id = f"{now()[:10].replace('-', '')}-{uuid.uuid4().hex[:8]}"
    folder = store.folder(job_id) / NEXT
    partial = folder.with_name(NEXT + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    try:
        prepare(partial)
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    shutil.rmtree(folder, ignore_errors=True)
    partial.rename(folder)
    with store.db.write() as c:
        c.execute("INSERT INTO successors (job_id, next_id, kind, name, config, fill, meta_key) VALUES (?, ?, ?, ?, ?, ?, ?)",
                  (job_id, next_id, kind, name, json.dumps(config), json.dumps(fill or {}), meta_key))
    return next_id


def successor(store: JobStore, job_id: str) -> dict | None:
    """The next step recorded for ``job_id`` (``next_id``, ``kind``, ``name``, ``state``: waiting,
    queued or dropped), or None."""
    row = store.db.one("SELECT * FROM successors WHERE job_id = ?", (job_id,))
    return dict(row) if row else None


def queue_due(store: JobStore) -> list[str]:
    """Queue the successor of every job that is done, drop those of cancelled or deleted jobs;
    returns the ids queued. Safe to call from several processes at once: each step is taken once."""
    queued = []
    for row in store.db.rows("SELECT * FROM successors WHERE state = 'waiting'"):
        try:
            before = store.get(row["job_id"])
        except JobError:  # deleted
            _drop(store, row, "its job was deleted")
            continue
        if before.status == "cancelled":
            _drop(store, row, "its job was cancelled")
        elif before.status == "done":
            if _queue(store, row, before):
                queued.append(row["next_id"])
    return queued


def _queue(store: JobStore, row, before: Job) -> bool:
    config = json.loads(row["config"])
    result = before.result or {}
    for key, from_result in json.loads(row["fill"]).items():
        if result.get(from_result) is None:
            _drop(store, row, f"the job's result has no {from_result}")
            return False
        config[key] = result[from_result]
    prepared, folder = store.folder(before.id) / NEXT, store.folder(row["next_id"])
    try:
        os.replace(prepared, folder)
    except FileNotFoundError:  # another process moved it a moment ago, or a kill came after the move
        folder.mkdir(parents=True, exist_ok=True)
    (folder / "config.json").write_text(json.dumps(config, indent=2), encoding="utf-8")
    with store.db.write() as c:
        taken = c.execute("UPDATE successors SET state = 'queued' WHERE job_id = ? AND state = 'waiting'",
                          (before.id,)).rowcount
        if not taken:
            return False
        c.execute("INSERT OR IGNORE INTO jobs (id, kind, name, status, config, created_at) VALUES (?, ?, ?, 'queued', ?, ?)",
                  (row["next_id"], row["kind"], row["name"], json.dumps(config), now()))
        if row["meta_key"]:
            c.execute("INSERT INTO job_meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                      (row["meta_key"], row["next_id"]))
    log.info("job %s done: its next step %s (%s) is queued", before.id, row["next_id"], row["kind"])
    return True


def _drop(store: JobStore, row, why: str) -> None:
    with store.db.write() as c:
        c.execute("UPDATE successors SET state = 'dropped' WHERE job_id = ? AND state = 'waiting'", (row["job_id"],))
    shutil.rmtree(store.folder(row["job_id"]) / NEXT, ignore_errors=True)
    log.info("the next step of job %s is dropped: %s", row["job_id"], why)
