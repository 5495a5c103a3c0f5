"""Job records in SQLite (``core.db.Database``: safe from any thread and process) plus each job's folder.

A job's folder ``<data>/jobs/<id>/`` holds ``config.json``, ``metrics.jsonl`` (one line per
step), ``log.txt``, ``checkpoints/step-N/`` (complete or absent: written as ``.partial``
and renamed) and, while the job is queued or running, ``knowledge/``: the private copy of the
knowledge bases it reads (``SNAPSHOT``; taken by ``core.knowledge.storage.snapshot``, removed by the
supervisor when the job ends).
"""

from __future__ import annotations

import json
import os
import shutil
import traceback
import uuid
from pathlib import Path
from typing import Callable

from pydantic import BaseModel

from core.db import Database, now
from core.errors import LabError

STATUSES = ("queued", "running", "done", "failed", "cancelled", "interrupted")
ACTIVE = ("queued", "running")
SNAPSHOT = "knowledge"  # in a job's folder: what the job reads, copied for it; gone once the job ends

SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    id TEXT PRIMARY KEY, kind TEXT NOT NULL, name TEXT NOT NULL, status TEXT NOT NULL,
    config TEXT NOT NULL, created_at TEXT NOT NULL, started_at TEXT, finished_at TEXT,
    pid INTEGER, step INTEGER NOT NULL DEFAULT 0, total_steps INTEGER NOT NULL DEFAULT 0,
    elapsed_s REAL NOT NULL DEFAULT 0, message TEXT NOT NULL DEFAULT '',
    cancel_requested INTEGER NOT NULL DEFAULT 0, result TEXT);
CREATE TABLE IF NOT EXISTS job_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS successors (
    job_id TEXT PRIMARY KEY, next_id TEXT NOT NULL, kind TEXT NOT NULL, name TEXT NOT NULL,
    config TEXT NOT NULL, fill TEXT NOT NULL, meta_key TEXT, state TEXT NOT NULL DEFAULT 'waiting');
"""


class JobError(LabError):
    """A job that cannot be found, started, cancelled or resumed."""


class Job(BaseModel):
    id: str
    kind: str
    name: str
    status: str
    config: dict
    created_at: str
    started_at: str | None = None
    finished_at: str | None = None
    pid: int | None = None
    step: int = 0
    total_steps: int = 0
    elapsed_s: float = 0.0
    message: str = ""
    cancel_requested: bool = False
    result: dict | None = None

    @property
    def progress(self) -> float:
        return min(self.step / self.total_steps, 1.0) if self.total_steps else 0.0

    @property
    def eta_s(self) -> float | None:
        """Seconds left at the pace so far (None before the first step)."""
        if self.status != "running" or not self.step or not self.total_steps:
            return None
        return self.elapsed_s / self.step * (self.total_steps - self.step)


class JobStore:
    def __init__(self, data_dir: Path):
        self.root = Path(data_dir) / "jobs"
        self.root.mkdir(parents=True, exist_ok=True)
        self.db = Database(Path(data_dir) / "jobs.db", SCHEMA)

    def folder(self, job_id: str) -> Path:
        return self.root / job_id

    # --- records ---------------------------------------------------------------------------
    def submit(self, kind: str, name: str, config: dict, run_by: int | None = None,
               prepare: Callable[[Path], None] | None = None) -> Job:
        """A new queued job; with ``run_by`` (a process id) it is recorded as running in that
        process at once, so no runner claims it (the command line runs its own job). ``prepare``
        writes what the job reads into its folder before the record exists (no runner can claim a
        job whose files are half written); if it fails, the folder goes and nothing is queued."""
        job_id = f"{now()[:10].replace('-', '')}-{uuid.uuid4().hex[:8]}"
        folder = self.folder(job_id)
        folder.mkdir(parents=True)
        (folder / "config.json").write_text(json.dumps(config, indent=2), encoding="utf-8")
        if prepare is not None:
            try:
                prepare(folder)
            except BaseException:
                shutil.rmtree(folder, ignore_errors=True)
                raise
        status, started = ("running", now()) if run_by else ("queued", None)
        with self.db.write() as c:
            c.execute("INSERT INTO jobs (id, kind, name, status, config, created_at, pid, started_at) "
                      "VALUES (?, ?, ?, ?, ?, ?, ?, ?)", (job_id, kind, name, status, json.dumps(config), now(), run_by, started))
        return self.get(job_id)

    def claim(self, job_id: str, pid: int) -> Job:
        """Move this queued job to running in process ``pid`` (the command line resuming its own job)."""
        with self.db.write() as c:
            claimed = c.execute("UPDATE jobs SET status = 'running', pid = ?, started_at = COALESCE(started_at, ?), "
                                "message = '' WHERE id = ? AND status = 'queued'", (pid, now(), job_id)).rowcount
        if not claimed:
            raise JobError(f"Job '{job_id}' is not waiting to run (another runner may have taken it).")
        return self.get(job_id)

    def _job(self, row) -> Job:
        data = dict(row)
        data["config"] = json.loads(data["config"])
        data["result"] = json.loads(data["result"]) if data["result"] else None
        data["cancel_requested"] = bool(data["cancel_requested"])
        return Job(**data)

    def get(self, job_id: str) -> Job:
        row = self.db.one("SELECT * FROM jobs WHERE id = ?", (job_id,))
        if row is None:
            raise JobError(f"There is no job '{job_id}'.")
        return self._job(row)

    def list(self, kind: str | None = None) -> list[Job]:
        sql, args = "SELECT * FROM jobs", ()
        if kind:
            sql, args = sql + " WHERE kind = ?", (kind,)
        return [self._job(r) for r in self.db.rows(sql + " ORDER BY created_at DESC, rowid DESC", args)]

    def update(self, job_id: str, **fields) -> None:
        if "result" in fields and fields["result"] is not None:
            fields["result"] = json.dumps(fields["result"])
        cols = ", ".join(f"{k} = ?" for k in fields)
        with self.db.write() as c:
            c.execute(f"UPDATE jobs SET {cols} WHERE id = ?", (*fields.values(), job_id))

    def claim_next(self, pid: int, kind: str | None = None, lane: str | None = None) -> Job | None:
        """Atomically move the next queued job (of ``kind``, of ``lane``, or of any kind) to running
        (one runner wins): the oldest, kinds marked ``first`` (uploads) before the others."""
        from core.jobs.kinds import first_kinds

        where, args = ("status = 'queued' AND kind = ?", (kind,)) if kind else ("status = 'queued'", ())
        if lane is not None:
            in_lane, lane_args = _in_lane(lane)
            where, args = f"{where} AND {in_lane}", (*args, *lane_args)
        first = first_kinds()
        order = f"CASE WHEN kind IN ({','.join('?' * len(first))}) THEN 0 ELSE 1 END, " if first else ""
        with self.db.write() as c:
            row = c.execute(f"SELECT id FROM jobs WHERE {where} ORDER BY {order}created_at, rowid LIMIT 1",
                            (*args, *first)).fetchone()
            if row is None:
                return None
            c.execute("UPDATE jobs SET status = 'running', pid = ?, started_at = COALESCE(started_at, ?), message = '' "
                      "WHERE id = ?", (pid, now(), row["id"]))
        return self.get(row["id"])

    def finish(self, job_id: str, status: str, message: str = "", result: dict | None = None) -> None:
        assert status in STATUSES
        self.update(job_id, status=status, message=message, finished_at=now(), pid=None,
                    **({"result": result} if result is not None else {}))

    def fail(self, job_id: str, exc: BaseException, note: str = "") -> None:
        """Record that the job raised ``exc``: the traceback in its log, one line on the record."""
        self.log(job_id, "".join(traceback.format_exception(exc)))
        self.finish(job_id, "failed", f"failed: {exc}{note}"[:500])

    def request_cancel(self, job_id: str) -> None:
        job = self.get(job_id)
        if job.status == "queued":
            self.finish(job_id, "cancelled", "Cancelled before it started.")
        elif job.status == "running":
            self.update(job_id, cancel_requested=1)
        else:
            raise JobError(f"Job '{job.name}' is {job.status}; only queued or running jobs can be cancelled.")

    def running(self, lane: str = "model") -> Job | None:
        """The job of ``lane`` running now (a lane runs one job at a time; "model": the job using the
        model), if any."""
        in_lane, args = _in_lane(lane)
        row = self.db.one(f"SELECT * FROM jobs WHERE status = 'running' AND {in_lane} ORDER BY started_at LIMIT 1", args)
        return self._job(row) if row else None

    def waiting_reason(self, job: Job) -> str | None:
        """Why a queued job has not started ("waiting: the evaluation 'x' is using the model"); None otherwise."""
        from core.jobs.kinds import lane_of, waiting_reason

        return waiting_reason(job, self.running(lane_of(job.kind))) if job.status == "queued" else None

    def requeue(self, job_id: str) -> Job:
        """Resume an interrupted (or failed) job: back in the queue, to continue from its last checkpoint."""
        from core.jobs.kinds import KINDS

        job = self.get(job_id)
        if job.kind in KINDS and not KINDS[job.kind].resumable:
            label = KINDS[job.kind].label
            raise JobError(f"{'An' if label[:1] in 'aeiou' else 'A'} {label} cannot be resumed: run it again.")
        if job.status not in ("interrupted", "failed"):
            raise JobError(f"Job '{job.name}' is {job.status}; only interrupted or failed jobs can be resumed.")
        self.update(job_id, status="queued", cancel_requested=0, finished_at=None, message="Resuming from the last checkpoint.")
        return self.get(job_id)

    def delete(self, job_id: str) -> None:
        job = self.get(job_id)
        if job.status in ACTIVE:
            raise JobError("Cancel the job before deleting it.")
        with self.db.write() as c:
            c.execute("DELETE FROM jobs WHERE id = ?", (job_id,))
            c.execute("DELETE FROM successors WHERE job_id = ? AND state = 'waiting'", (job_id,))  # its prepared files go below
        shutil.rmtree(self.folder(job_id), ignore_errors=True)

    # --- supervisor bookkeeping -----------------------------------------------------------
    def get_meta(self, key: str) -> str | None:
        row = self.db.one("SELECT value FROM job_meta WHERE key = ?", (key,))
        return row["value"] if row else None

    def set_meta(self, key: str, value: str) -> None:
        with self.db.write() as c:
            c.execute("INSERT INTO job_meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                      (key, value))

    # --- per-job files --------------------------------------------------------------------
    def append_metrics(self, job_id: str, record: dict) -> None:
        with (self.folder(job_id) / "metrics.jsonl").open("a", encoding="utf-8") as fh:
            fh.write(json.dumps(record) + "\n")

    def keep_metrics_up_to(self, job_id: str, step: int) -> None:
        """Drop the metrics after ``step``: a job resumed from its checkpoint at ``step`` redoes the
        steps after it, and the loss chart must not show them twice."""
        path = self.folder(job_id) / "metrics.jsonl"
        rows = self.metrics(job_id)
        kept = [r for r in rows if r.get("step", 0) <= step]
        if len(kept) == len(rows):
            return
        tmp = path.with_suffix(".partial")
        tmp.write_text("".join(json.dumps(r) + "\n" for r in kept), encoding="utf-8")
        tmp.replace(path)

    def metrics(self, job_id: str) -> list[dict]:
        path = self.folder(job_id) / "metrics.jsonl"
        if not path.is_file():
            return []
        rows = []
        for line in path.read_text(encoding="utf-8").splitlines():
            try:
                rows.append(json.loads(line))
            except ValueError:
                continue  # a line being written right now
        return rows

    def log(self, job_id: str, text: str) -> None:
        with (self.folder(job_id) / "log.txt").open("a", encoding="utf-8") as fh:
            fh.write(f"{now()} {text}\n")

    def read_log(self, job_id: str, tail: int = 200) -> str:
        path = self.folder(job_id) / "log.txt"
        return "\n".join(path.read_text(encoding="utf-8").splitlines()[-tail:]) if path.is_file() else ""


def _in_lane(lane: str) -> tuple[str, tuple]:
    """SQL for "the job's kind runs in ``lane``", and its arguments. A kind the table does not
    know is the model lane's (its supervisor records that it has no runner)."""
    from core.jobs.kinds import KINDS, MODEL_LANE

    if lane == MODEL_LANE:
        kinds, test = [k.name for k in KINDS.values() if k.lane != lane], "NOT IN"
    else:
        kinds, test = [k.name for k in KINDS.values() if k.lane == lane], "IN"
    return f"kind {test} ({','.join('?' * len(kinds))})", tuple(kinds)


def pid_alive(pid: int | None) -> bool:
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a zombie (exited, not yet reaped) is not alive
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return True
