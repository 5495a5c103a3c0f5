"""Evaluations and freshness probes in a job worker process (``core.jobs.kinds``).

The app queues them with the settings in use (``settings.json``: the model picked, decoding,
retrieval) and a snapshot of the knowledge base they read (``core.knowledge.storage.snapshot``); here the
worker loads its own model and embedder, opens the snapshot, runs the job through the same
``EvalService`` code the command line uses, and deletes the snapshot. The app's process does no
model work for them, so an open page does not slow them down.
"""

from __future__ import annotations

import logging

from core.jobs.store import JobStore
from core.jobs.worker import read_settings
from core.knowledge.storage import snapshot

log = logging.getLogger(__name__)
def _run(store: JobStore, job_id: str, probe: bool) -> int:
    from core.compare.engine import CompareEngine
    from core.eval.service import EvalService
    from core.finetune.adapters import AdapterRegistry
    from core.knowledge.service import KnowledgeService
    from core.models.runtime import ModelRuntime

    job_dir = store.folder(job_id)
    target = snapshot.folder(job_dir)
    knowledge = None
    try:
        settings = read_settings(job_dir)
        store.update(job_id, message="Loading the model…")
        knowledge = KnowledgeService(snapshot.settings_for(settings, target))
        knowledge.recover()  # a resumed job finds its snapshot as the killed worker left it
        runtime = ModelRuntime(settings)
        engine = CompareEngine(runtime, knowledge, AdapterRegistry(settings.adapters_dir), settings)
        evals = EvalService(settings, lambda: engine, knowledge=knowledge)
        store.update(job_id, message="")
        done = evals.run_probe_job(job_id) if probe else evals.run_job(job_id)
        return 0 if done is not None or store.get(job_id).status != "failed" else 1
    except Exception as exc:  # noqa: BLE001  (the record says why, the log has the traceback)
        store.fail(job_id, exc)
        return 1
    finally:
        snapshot.discard(knowledge, target)


def run(store: JobStore, job_id: str) -> int:
    return _run(store, job_id, probe=False)


def run_probe(store: JobStore, job_id: str) -> int:
    return _run(store, job_id, probe=True)
