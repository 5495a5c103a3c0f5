"""Step 2 of a background upload or re-index (``core.knowledge.ingestion.bulk``): the build, in a
job worker process. The knowledge base's snapshot is opened as the worker's own data folder, the
same code as an upload in the page runs on it, and the finished folder waits (``bulk.READY``) for
the process that owns the data folder to switch it in. It sits above ``KnowledgeService`` (it makes
one), so it is not in ``ingestion``, which the service uses.
"""

from __future__ import annotations

import os
import shutil
import time
from dataclasses import asdict

from core.jobs.store import JobStore
from core.jobs.worker import read_settings
from core.knowledge.ingestion import bulk
from core.knowledge.service import KnowledgeService
from core.knowledge.storage import snapshot

STEPS = 1000  # progress is recorded as step / STEPS


class _Cancelled(BaseException):
    """Raised from the progress callback when the job is cancelled; a BaseException so that the
    upload's per-file error handling (``except Exception``) does not swallow it."""


def run(store: JobStore, job_id: str) -> int:
    """The job worker's entry point (``core.jobs.kinds``)."""
    job = store.get(job_id)
    job_dir = store.folder(job_id)
    target = snapshot.folder(job_dir)
    kb, started = job.config["kb"], time.monotonic()
    knowledge = None

    def progress(fraction: float, message: str) -> None:
        if store.get(job_id).cancel_requested:
            raise _Cancelled
        store.update(job_id, step=int(STEPS * 0.95 * fraction), total_steps=STEPS, message=message,
                     elapsed_s=time.monotonic() - started)

    try:
        settings = read_settings(job_dir)
        store.update(job_id, message="Loading the embedder…", total_steps=STEPS)
        knowledge = KnowledgeService(snapshot.settings_for(settings, target))
        knowledge.recover()  # a resumed job finds its snapshot as the killed worker left it
        results = []
        if job.config["op"] == "upload":
            files = [(name, (job_dir / bulk.INPUT / f"{i:05d}").read_bytes()) for i, name in enumerate(job.config["files"])]
            results = knowledge.ingest_files(kb, files, progress)
        elif job.config["op"] == "index":
            pass  # only the index below
        elif job.config.get("chunk_size"):
            knowledge.update_chunking(kb, job.config["chunk_size"], job.config["chunk_overlap"], progress)
        else:
            knowledge.reindex(kb, progress)
        vectors = knowledge.vector_store(knowledge.get_kb(kb))
        if vectors.count() >= bulk.OPTIMIZE_AT:
            progress(1.0, f"Building the search index for {vectors.count():,} chunks…")
            vectors.optimize()
        knowledge.close()
        os.replace(target, job_dir / bulk.READY)
        shutil.rmtree(job_dir / bulk.INPUT, ignore_errors=True)
        changed = sum(r.status in ("added", "updated") for r in results)
        message = {"upload": f"{changed} of {len(results)} files indexed; switching them in…",
                   "index": "Search index built; switching it in…"}.get(job.config["op"], "Re-indexed; switching it in…")
        store.update(job_id, step=STEPS, elapsed_s=time.monotonic() - started)
        store.finish(job_id, "done", message, {"kb": kb, "results": [asdict(r) for r in results], "switched_in": False})
        return 0
    except _Cancelled:
        store.log(job_id, "cancelled")
        store.finish(job_id, "cancelled", "Cancelled by the user; the knowledge base is unchanged.")
        return 0
    except Exception as exc:  # noqa: BLE001  (the record says why, the log has the traceback)
        store.fail(job_id, exc, " The knowledge base is unchanged.")
        return 1
    finally:
        snapshot.discard(knowledge, target)
