"""What the evaluation page does, without Streamlit: background runs and freshness probes (run
the same way, their results kept beside the runs). Test sets are in ``core.eval.testsets``, saved
runs and their comparison in ``core.eval.runs``.

Evaluations and probes are jobs like training (``core.jobs.kinds``): queued in the job store,
run one at a time by the job supervisor, each in its own worker process (``core.eval.worker``),
never in a thread of the app. When one is queued, the app writes the settings in use and a
snapshot of the knowledge base it reads into the job's folder (an Edge shard admits one process
at a time, and the app keeps its shards open). Each finished run is saved as JSON with
everything it was pinned to.
"""

from __future__ import annotations

import hashlib
import logging
from datetime import UTC, datetime
from pathlib import Path
from typing import Callable, TypeVar

from pydantic import BaseModel, Field

from core.compare.arms import ARMS_BY_NAME, known, using_adapter
from core.config import Settings
from core.errors import LabError
from core.eval.freshness import FreshnessResult, ProbeQuestion, ProbeSpec, check_change, run_probe
from core.eval.run import EvalRun, TestItem, run_eval
from core.eval.runs import RunStore
from core.jobs import successors, supervisor
from core.jobs.store import Job, JobError, JobStore
from core.knowledge.storage import snapshot

log = logging.getLogger(__name__)
KIND = "eval"
PROBE_KIND = "freshness"
PROBE_INPUT = "input.bin"  # in a probe job's folder: the new version of the document
T = TypeVar("T")


class EvalSpec(BaseModel):
    name: str = Field(min_length=1, max_length=120)
    kb: str
    kb_version: str | None = None  # None: the knowledge base as it is when the run starts
    arms: list[str]
    adapter_id: str | None = None
    test_set_name: str
    items: list[TestItem] = Field(min_length=1)
    max_new_tokens: int | None = Field(None, ge=1, le=1024)
    top_k: int | None = Field(None, ge=1, le=50)
    require_support: bool | None = None  # None: the retrieval.require_support setting


def _checked_arms(arms: list[str], adapter_id: str | None, verb: str) -> list[str]:
    """The known arms of ``arms`` in their usual order, or one sentence on why they cannot run."""
    arms = known(arms)
    if not arms:
        raise LabError(f"Pick at least one arm to {verb}.")
    if using_adapter(arms) and not adapter_id:
        raise LabError("The fine-tuned and hybrid arms need an adapter: pick one, or leave those arms out.")
    return arms


# --- scratch copies ------------------------------------------------------------------------
def delete_scratch_copies(settings: Settings, knowledge, kb: str) -> int:
    """Delete ``kb``'s scratch copies (rebuilt versions, the freshness probe's copy), which hold
    points in memory in the embedded store; returns how many. Evaluations and probes are what read
    copies, so it is refused, in one sentence, while one is queued or running."""
    knowledge.get_kb(kb)
    jobs = JobStore(settings.data_dir)
    if any(j.status in ("queued", "running") for j in jobs.list(KIND) + jobs.list(PROBE_KIND)):
        raise LabError("An evaluation or freshness probe is under way and may be reading a copy: "
                       "delete the copies when it has finished.")
    copies = knowledge.copies(kb)
    for copy in copies:
        knowledge.delete_kb(copy.name)
    return len(copies)


# --- the service ---------------------------------------------------------------------------
class EvalService:
    """``knowledge`` (the app's KnowledgeService) is what queued jobs snapshot; ``engine_factory``
    gives the engine that runs a claimed job in this process (the job worker's)."""

    def __init__(self, settings: Settings, engine_factory: Callable[[], object] | None = None, knowledge=None):
        self.settings, self._engine_factory, self.knowledge = settings, engine_factory, knowledge
        self.jobs = JobStore(settings.data_dir)
        self.runs = RunStore(settings.data_dir / "evals")
        self.probes = RunStore(settings.data_dir / "evals" / "freshness", FreshnessResult, "freshness probe")
        self._probe_inputs = settings.data_dir / "evals" / "freshness" / "inputs"

    def reconcile(self) -> None:
        """What the app does at start-up: jobs whose process died become interrupted, queued jobs
        get a supervisor, probe inputs nobody needs go. Listing jobs never does this."""
        supervisor.ensure_running(self.jobs)
        self.sweep_probe_inputs()

    def _prepare(self, kbs: list[str], also=None) -> Callable[[Path], None]:
        """What a queued job's folder gets: the settings in use and a snapshot of the knowledge bases it reads."""
        from core.jobs.worker import write_settings

        if self.knowledge is None:
            raise LabError("This evaluation service cannot queue jobs: it was made without the knowledge bases.")

        def prepare(folder: Path) -> None:
            write_settings(self.settings, folder)
            snapshot.take(self.knowledge, kbs, snapshot.folder(folder))
            if also is not None:
                also(folder)

        return prepare

    def _submit(self, kind: str, name: str, config: dict, kbs: list[str], also=None) -> Job:
        """Queue a job with the settings in use and a snapshot of the knowledge bases it reads, and
        make sure the job runner is up."""
        job = self.jobs.submit(kind, name, config, prepare=self._prepare(kbs, also))
        supervisor.ensure_running(self.jobs)
        return job

    def _snapshot_names(self, kb: str, version: str | None) -> list[str]:
        """``kb``, and its existing scratch copy at ``version`` (so the job need not rebuild it)."""
        names = [kb]
        if version and version != self.knowledge.version(kb):
            names += [c.name for c in self.knowledge.copies(kb) if self.knowledge.version(c.name) == version][:1]
        return names

    def start(self, spec: EvalSpec) -> Job:
        spec.arms = _checked_arms(spec.arms, spec.adapter_id, "evaluate")
        return self._submit(KIND, spec.name, spec.model_dump(), self._snapshot_names(spec.kb, spec.kb_version))

    def start_after(self, training_id: str, spec: EvalSpec, meta_key: str | None = None) -> str:
        """Make ``spec`` the next step of the training job ``training_id``: the job runner queues it
        when that job is done, with the adapter it saved as ``spec.adapter_id`` (``core.jobs.successors``).
        The settings in use and the knowledge base's snapshot are taken now, in this process, which
        holds the knowledge base open; ``meta_key`` is set to the evaluation's id once it is queued.
        Returns the id the evaluation will have."""
        spec.arms = _checked_arms(spec.arms, "the adapter the training saves", "evaluate")
        next_id = successors.attach(self.jobs, training_id, KIND, spec.name, spec.model_dump(),
                                    self._prepare(self._snapshot_names(spec.kb, spec.kb_version)),
                                    fill={"adapter_id": "adapter_id"}, meta_key=meta_key)
        supervisor.ensure_running(self.jobs)  # the training may have ended already: then it is queued now
        return next_id

    def rerun(self, run_id: str) -> Job:
        """Start the same evaluation again: same questions, arms, adapter, knowledge base and settings."""
        run = self.runs.get(run_id)
        if not run.spec:
            raise LabError("This run does not record how it was started, so it cannot be re-run.")
        spec = EvalSpec.model_validate(run.spec)
        spec.name = f"{spec.name} (re-run)"[:120]
        spec.kb_version = run.kb_version  # the version it read, even if the knowledge base has changed since
        spec.require_support = run.require_support  # as it ran, whatever the setting is now
        return self.start(spec)

    def list_jobs(self) -> list[Job]:
        return self.jobs.list(KIND)

    # --- freshness probes, run the same way ------------------------------------------------
    def start_probe(self, knowledge, kb: str, doc_name: str, new_bytes: bytes, questions: list[ProbeQuestion],
                    arms: list[str], adapter_id: str | None = None, new_name: str | None = None,
                    top_k: int | None = None, max_new_tokens: int | None = None) -> Job:
        """Queue a freshness probe; what cannot be probed is refused here, in one sentence, before any work."""
        if not questions:
            raise LabError("Add at least one question to re-ask.")
        arms = _checked_arms([a for a in arms if a in ARMS_BY_NAME and not ARMS_BY_NAME[a].reads_gold], adapter_id, "compare")
        check_change(knowledge, kb, doc_name, new_bytes, new_name)
        sha = hashlib.sha256(new_bytes).hexdigest()
        spec = ProbeSpec(kb=kb, doc_name=doc_name, new_name=new_name, data_sha256=sha, questions=questions,
                         arms=arms, adapter_id=adapter_id, top_k=top_k, max_new_tokens=max_new_tokens)
        # The new version goes in the job's folder, written before the job exists (no runner sees half a file).
        return self._submit(PROBE_KIND, spec.name, spec.model_dump(), [kb],
                            lambda folder: (folder / PROBE_INPUT).write_bytes(new_bytes))

    def sweep_probe_inputs(self) -> None:
        """Delete the new document versions no queued or running probe still needs: a finished probe
        keeps its result (answers before and after), not a copy of the document it was given. (The
        worker deletes its own; this catches killed ones, and the shared folder older versions used.)"""
        jobs = self.jobs.list(PROBE_KIND)
        needed = {job.config.get("data_sha256") for job in jobs if job.status in ("queued", "running")}
        for job in jobs:
            if job.status not in ("queued", "running"):
                (self.jobs.folder(job.id) / PROBE_INPUT).unlink(missing_ok=True)
        for path in self._probe_inputs.glob("*"):
            if path.is_file() and path.name not in needed:
                path.unlink(missing_ok=True)

    def delete_probe(self, probe_id: str) -> None:
        """Forget a probe: its saved result and its job record (a probe still under way must be cancelled first)."""
        try:
            job = self.jobs.get(probe_id)
        except JobError:  # a result whose job record is gone can still be deleted
            job = None
        if job is not None and job.status in ("queued", "running"):
            raise LabError("Cancel the probe before deleting it.")
        self.probes.delete(probe_id)
        if job is not None:
            self.jobs.delete(probe_id)
        self.sweep_probe_inputs()

    def list_probe_jobs(self) -> list[Job]:
        return self.jobs.list(PROBE_KIND)

    def run_probe_job(self, job_id: str) -> FreshnessResult | None:
        """Run one claimed probe job to the end, recording progress, the result and the outcome."""
        started = datetime.now(UTC)

        def work() -> FreshnessResult | None:
            spec = ProbeSpec.model_validate(self.jobs.get(job_id).config)
            found = [p for p in (self.jobs.folder(job_id) / PROBE_INPUT, self._probe_inputs / spec.data_sha256) if p.is_file()]
            if not found:
                raise LabError("the new version of the document is no longer on disk.")
            data = found[0].read_bytes()
            engine = self._engine_factory()
            overrides = {"max_new_tokens": spec.max_new_tokens} if spec.max_new_tokens else {}

            def progress(fraction: float, message: str) -> None:
                self.jobs.update(job_id, step=round(100 * min(fraction, 1.0)), total_steps=100, message=message,
                                 elapsed_s=(datetime.now(UTC) - started).total_seconds())

            return run_probe(engine, spec.kb, spec.questions, spec.doc_name, data, spec.arms, spec.adapter_id,
                             engine.decoding(**overrides), spec.top_k, progress, spec.new_name,
                             should_stop=lambda: self.jobs.get(job_id).cancel_requested)

        try:
            ok, result = self._attempt(job_id, "freshness probe", work)
        finally:
            (self.jobs.folder(job_id) / PROBE_INPUT).unlink(missing_ok=True)
        if not ok:
            return None
        if result is None:
            self.jobs.finish(job_id, "cancelled", "Cancelled by the user.")
            return None
        result.id, result.created = job_id, datetime.now(UTC).isoformat(timespec="seconds")
        self.probes.save(result)
        self.jobs.finish(job_id, "done", f"{len(result.questions)} questions in {result.seconds:.0f} s.",
                         {"probe_id": result.id})
        return result

    def cancel(self, job_id: str) -> None:
        self.jobs.request_cancel(job_id)
        self.sweep_probe_inputs()  # a queued probe cancelled never runs: its input is not needed any more

    def _attempt(self, job_id: str, what: str, work: Callable[[], T]) -> tuple[bool, T | None]:
        """(True, what ``work`` returned), or (False, None) with the failure recorded on the job: one
        sentence for the page, the traceback in the app's log for anything unexpected."""
        try:
            return True, work()
        except LabError as exc:
            self.jobs.finish(job_id, "failed", f"failed: {exc}")
        except Exception as exc:  # noqa: BLE001  (any failure ends the job, never the worker thread)
            log.exception("%s %s failed", what, job_id)
            self.jobs.finish(job_id, "failed", f"failed: {exc}"[:500])
        return False, None

    def run_job(self, job_id: str, echo: Callable[[int, int], None] | None = None) -> EvalRun | None:
        """Run one claimed evaluation job to the end, recording progress, the run and the outcome;
        ``echo`` also sees the progress (the command line prints it)."""
        ok, spec = self._attempt(job_id, "evaluation", lambda: EvalSpec.model_validate(self.jobs.get(job_id).config))
        if not ok:
            return None

        def work() -> EvalRun:
            engine = self._engine_factory()
            overrides = {"max_new_tokens": spec.max_new_tokens} if spec.max_new_tokens else {}
            started = datetime.now(UTC)

            def progress(i: int, n: int) -> None:
                self.jobs.update(job_id, step=i, total_steps=n, elapsed_s=(datetime.now(UTC) - started).total_seconds())
                if echo:
                    echo(i, n)

            kb = spec.kb
            if spec.kb_version and spec.kb_version != engine.knowledge.version(spec.kb):
                self.jobs.update(job_id, message=f"Rebuilding version {spec.kb_version[:8]} of '{spec.kb}'")
                kb = engine.knowledge.version_copy(spec.kb, spec.kb_version)
            self.jobs.update(job_id, total_steps=len(spec.items), message="")
            return run_eval(engine, kb, spec.items, spec.arms, spec.adapter_id, engine.decoding(**overrides),
                            spec.top_k, progress=progress, should_stop=lambda: self.jobs.get(job_id).cancel_requested,
                            require_support=spec.require_support)

        ok, run = self._attempt(job_id, "evaluation", work)
        if not ok:
            return None
        run.id, run.name, run.test_set_name, run.kb = job_id, spec.name, spec.test_set_name, spec.kb
        run.created, run.spec = datetime.now(UTC).isoformat(timespec="seconds"), spec.model_dump()
        if run.stopped and not run.results:
            self.jobs.finish(job_id, "cancelled", "Cancelled before the first question.")
            return None
        self.runs.save(run)
        if run.stopped:
            self.jobs.finish(job_id, "cancelled", f"Stopped after {len(run.results)} of {len(spec.items)} questions; "
                             "the partial run is saved.", {"run_id": run.id})
        else:
            self.jobs.finish(job_id, "done", f"{len(run.results)} questions in {run.seconds:.0f} s.", {"run_id": run.id})
        return run
