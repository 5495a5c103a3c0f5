"""Large uploads and re-indexes as background jobs (kind "ingest"), run by the one job runner.

An Edge shard admits one process at a time and the app keeps its shards open, so a job cannot
write into the knowledge base the app serves. It builds the new state beside it instead:

1. **Queue** (the app): the uploaded files go into the job's folder (``input/``) with the
   settings in use, and a snapshot of the knowledge base (``core.knowledge.storage.snapshot``).
2. **Build** (the worker, ``core.knowledge.bulk_worker``): the snapshot is opened as the
   worker's own data folder and the same code as an upload in the page runs on it
   (``KnowledgeService.ingest_files`` / ``reindex``, crash-safe per document); a large result gets
   its HNSW index built; the finished folder is renamed ``ready/``. Cancelling or killing the
   worker loses only the copy.
3. **Switch in** (the process that owns the data folder: ``KnowledgeService.recover`` at every
   start, and the app every few seconds in the sidebar): the built shard, texts and archive move under a new
   collection name and one catalog transaction makes them the knowledge base's, with its documents
   and versions; the old collection is then deleted. A kill between two steps is finished at the
   next start: a built folder already moved in is used where it lies, a retired collection is
   dropped, and a folder no knowledge base or waiting job claims is removed (``sweep``).

An upload in the page that takes a knowledge base past ``OPTIMIZE_AT`` chunks queues a job of the
same kind that only builds the index (``index_after_upload``).

Until the switch, searches, comparisons and evaluations read the knowledge base as it was, and
writes to it are refused with a sentence (``pending``), so nothing done meanwhile is lost.
With a Qdrant server (reachable from every process) uploads stay in the page.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
from dataclasses import dataclass, replace
from pathlib import Path

from core.errors import KnowledgeBaseError
from core.jobs import supervisor
from core.jobs.store import ACTIVE, Job, JobError, JobStore
from core.jobs.worker import write_settings
from core.knowledge.ingestion.uploads import FileResult
from core.knowledge.storage import snapshot
from core.knowledge.storage.catalog import Catalog

log = logging.getLogger(__name__)
KIND = "ingest"
INPUT = "input"  # the uploaded files, named by their position; their names are in the config
READY = "ready"  # the built knowledge base, waiting to be switched in
MARK = "__j"  # collection names built by a job end in __j<job>
RETIRED = "retired:"  # catalog meta key prefix: a collection replaced by a switch, to delete
OPTIMIZE_AT = 20_000  # chunks from which the worker builds the HNSW index (exhaustive search is fine below)


def available(knowledge) -> bool:
    """Whether this knowledge service can hand work to a job: the embedded store, in the process
    that owns the data folder (not inside a job's snapshot)."""
    from core.knowledge.storage.store import EdgeStore

    return isinstance(knowledge.store, EdgeStore) and knowledge.settings.knowledge_dir is None


def upload_in_background(knowledge, kb: str, files: list[tuple[str, bytes]]) -> bool:
    """Whether an upload runs as a job: a large one (``ingest.background_mb`` / ``background_files``),
    or any upload to a knowledge base large enough for the HNSW index (the job rebuilds it)."""
    limits = knowledge.settings.ingest
    large = len(files) >= limits.background_files or sum(len(d) for _, d in files) >= limits.background_mb * 1024 * 1024
    return available(knowledge) and (large or knowledge.point_count(kb) >= OPTIMIZE_AT)


def reindex_in_background(knowledge, kb: str) -> bool:
    return available(knowledge) and knowledge.point_count(kb) >= knowledge.settings.ingest.background_reindex_chunks


def pending(jobs: JobStore, kb: str) -> Job | None:
    """The background upload or re-index of ``kb`` not yet switched in, if any."""
    for job in jobs.list(KIND):
        if job.config.get("kb") != kb:
            continue
        if job.status in ACTIVE or (job.status == "done" and not (job.result or {}).get("switched_in")
                                    and (jobs.folder(job.id) / READY).is_dir()):
            return job
    return None


def under_way(job: Job) -> str:
    """What the job is doing to its knowledge base, as the pages say it: "20 files are being added
    to 'Policies' in the background"."""
    kb, op = job.config.get("kb", ""), job.config.get("op")
    doing = {"upload": f"{len(job.config.get('files', []))} files are being added to '{kb}'",
             "index": f"The search index of '{kb}' is being built"}.get(op, f"'{kb}' is being re-indexed")
    return f"{doing} in the background"


@dataclass(frozen=True)
class Outcome:
    """How a background upload or re-index ended, for the session that queued it."""

    done: bool  # switched in; otherwise ``message`` says why not (failed, cancelled, interrupted)
    message: str
    results: list[FileResult]  # an upload's line per file


def outcome(jobs: JobStore, job_id: str | None, kb: str) -> Outcome | None:
    """How the background job ``job_id`` on ``kb`` ended, once it has and nothing of it waits to be
    switched in; None while it runs (or waits), or when it is gone or was on another knowledge base."""
    try:
        job = jobs.get(job_id) if job_id else None
    except JobError:
        return None
    if job is None or job.status in ACTIVE or job.config.get("kb") != kb or pending(jobs, kb) is not None:
        return None
    results = [FileResult(**r) for r in (job.result or {}).get("results", [])] if job.status == "done" else []
    return Outcome(done=job.status == "done", message=job.message, results=results)


def busy_message(job: Job) -> str:
    """Why a change to the job's knowledge base is refused meanwhile."""
    return f"{under_way(job)}: wait until that finishes (or cancel it) before changing it again."


# --- 1. queue (the app) --------------------------------------------------------------------
def submit_upload(knowledge, jobs: JobStore, kb: str, files: list[tuple[str, bytes]]) -> Job:
    """Queue ``files`` to be added to ``kb`` by the job runner."""
    if not files:
        raise KnowledgeBaseError("Choose one or more files first.")

    def write_input(folder: Path) -> None:
        (folder / INPUT).mkdir()
        for i, (_, data) in enumerate(files):
            (folder / INPUT / f"{i:05d}").write_bytes(data)

    config = {"op": "upload", "kb": kb, "files": [name for name, _ in files]}
    return _submit(knowledge, jobs, kb, f"Add {len(files)} files to {kb}", config, write_input)


def submit_reindex(knowledge, jobs: JobStore, kb: str, chunk_size: int | None = None,
                   chunk_overlap: int | None = None) -> Job:
    """Queue a re-index of ``kb`` (with new chunk settings, if given) for the job runner."""
    if chunk_size is not None:
        knowledge.check_chunking(chunk_size, chunk_overlap)
    config = {"op": "reindex", "kb": kb, "chunk_size": chunk_size, "chunk_overlap": chunk_overlap}
    return _submit(knowledge, jobs, kb, f"Re-index {kb}", config, lambda folder: None)


def index_after_upload(knowledge, jobs: JobStore, kb: str, chunks_before: int) -> Job | None:
    """After an upload in the page: if it took ``kb`` past ``OPTIMIZE_AT`` chunks, queue a job that
    builds its HNSW index (on a snapshot, switched in like an upload); None when nothing is needed."""
    if not available(knowledge) or not chunks_before < OPTIMIZE_AT <= knowledge.point_count(kb):
        return None
    return _submit(knowledge, jobs, kb, f"Build the search index of {kb}", {"op": "index", "kb": kb}, lambda folder: None)


def _submit(knowledge, jobs: JobStore, kb: str, name: str, config: dict, write_input) -> Job:
    if not available(knowledge):
        raise KnowledgeBaseError("Background uploads need the embedded store; with a Qdrant server, "
                                 "add the files here in smaller batches.")
    knowledge.get_kb(kb)
    knowledge.check_writable(kb)

    def prepare(folder: Path) -> None:
        write_settings(knowledge.settings, folder)
        write_input(folder)
        snapshot.take(knowledge, [kb], snapshot.folder(folder))

    job = jobs.submit(KIND, name[:120], config, prepare=prepare)
    supervisor.ensure_running(jobs)
    return job


# --- where an upload or a re-index runs: the one decision the knowledge-base page asks for -----
def add_files(knowledge, jobs: JobStore, kb: str, files: list[tuple[str, bytes]], progress=None) -> Job | list:
    """Add ``files`` to ``kb`` where they belong: a large upload is queued as a job (returned); any
    other runs here (its ``FileResult`` per file returned), followed by a job that builds the
    search index if it took ``kb`` past ``OPTIMIZE_AT`` chunks."""
    if upload_in_background(knowledge, kb, files):
        return submit_upload(knowledge, jobs, kb, files)
    before = knowledge.point_count(kb)
    results = knowledge.ingest_files(kb, files, *([progress] if progress else []))
    index_after_upload(knowledge, jobs, kb, before)
    return results


def reindex(knowledge, jobs: JobStore, kb: str, chunk_size: int | None = None, chunk_overlap: int | None = None,
            progress=None) -> Job | None:
    """Re-index ``kb`` (with new chunk settings, if given): queued as a job (returned) when it is
    large (``ingest.background_reindex_chunks``), done here otherwise (None)."""
    if reindex_in_background(knowledge, kb):
        return submit_reindex(knowledge, jobs, kb, chunk_size, chunk_overlap)
    more = [progress] if progress else []
    if chunk_size is None:
        knowledge.reindex(kb, *more)
    else:
        knowledge.update_chunking(kb, chunk_size, chunk_overlap, *more)
    return None


# --- 3. switch in (the process that owns the data folder) ---------------------------------------
def finished(jobs: JobStore) -> list[Job]:
    """Background uploads and re-indexes done but not yet switched in (one query of the job records)."""
    return [j for j in jobs.list(KIND) if j.status == "done" and not (j.result or {}).get("switched_in")]


def switch_in_finished(knowledge, jobs: JobStore) -> list[str]:
    """Switch in every finished background upload or re-index; returns the knowledge bases changed."""
    changed = []
    for job in finished(jobs):
        ready = jobs.folder(job.id) / READY
        if ready.is_dir() and _switch_in(knowledge, job, ready):
            changed.append(job.config["kb"])
        jobs.update(job.id, result={**(job.result or {}), "switched_in": True},
                    message=job.message.replace("switching them in…", "added.").replace("switching it in…", "done."))
    return changed


def _switch_in(knowledge, job: Job, ready: Path) -> bool:
    kb = job.config["kb"]
    built_catalog = Catalog(ready / "catalog.db")
    try:
        built = built_catalog.kb(kb)
        documents, version_rows = built_catalog.documents(kb), built_catalog.version_rows(kb)
    finally:
        built_catalog.close()
    with knowledge.lock:
        current = knowledge.catalog.kb(kb)
        if current is None or built is None:  # deleted meanwhile: nothing to switch in
            log.warning("background job %s: knowledge base %r is gone; its result is dropped", job.id, kb)
            shutil.rmtree(ready, ignore_errors=True)
            return False
        collection = re.sub(re.escape(MARK) + r"\w+$", "", current.collection) + MARK + job.id.rsplit("-", 1)[-1]
        if current.collection != collection:  # not already switched in before a kill
            dest = knowledge.settings.kb_dir / collection
            if not dest.exists():
                os.replace(ready / "kbs" / built.collection, dest)
            knowledge.catalog.adopt(replace(built, collection=collection), documents, version_rows,
                                    RETIRED + current.collection)
            log.info("background job %s: switched in %r (%d documents)", job.id, kb, len(documents))
        sweep(knowledge)
    shutil.rmtree(ready, ignore_errors=True)
    return True


def sweep(knowledge) -> int:
    """Delete what a switch-in left behind: collections it retired, and built folders that no
    knowledge base references and no job still waits to switch in (a kill after the folder moved
    in but before the catalog said so is finished by the switch-in, which finds it in place).
    Returns folders removed."""
    removed = 0
    referenced = {info.collection for info in knowledge.catalog.kbs()}
    if knowledge.settings.knowledge_dir is None and (knowledge.settings.data_dir / "jobs.db").is_file():
        referenced |= {path.name for job in finished(knowledge.job_store())
                       for path in knowledge.settings.kb_dir.glob(f"*{MARK}{job.id.rsplit('-', 1)[-1]}")}
    with knowledge.lock:
        for key in knowledge.catalog.meta_keys(RETIRED):
            collection = key.removeprefix(RETIRED)
            if collection not in referenced:
                knowledge.store.drop(collection)
                shutil.rmtree(knowledge.settings.kb_dir / collection, ignore_errors=True)
                removed += 1
            knowledge.catalog.delete_meta(key)
        for path in knowledge.settings.kb_dir.glob(f"*{MARK}*"):
            if path.is_dir() and path.name not in referenced:
                knowledge.store.drop(path.name)
                shutil.rmtree(path, ignore_errors=True)
                removed += 1
    return removed
