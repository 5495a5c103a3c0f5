"""Large uploads and re-indexes as background jobs (core.knowledge.ingestion.bulk): built by the real job
runner (a supervisor and a worker process) on a snapshot, switched in by the process that owns
the data folder; nothing changes until then, and a kill at any step loses nothing."""

import time
from contextlib import contextmanager

import pytest

from core.errors import KnowledgeBaseError
from core.jobs.store import JobStore
from core.knowledge import bulk_worker
from core.knowledge.ingestion import bulk
from core.knowledge.retrieval.search import search
from core.knowledge.service import KnowledgeService

POLICY = b"Refunds.\nCustomers may return unopened products within 14 days of delivery for a full refund.\n"
NEW = [
    ("parking.md", b"Parking.\nStaff park in the north garage; the access code is Falcon-19.\n"),
    ("badges.txt", b"Badges.\nLost badges are replaced at the front desk for a fee of 12 euros.\n"),
]


def _wait(jobs: JobStore, job_id: str, timeout: float = 300):
    deadline = time.time() + timeout
    while time.time() < deadline:
        job = jobs.get(job_id)
        if job.status not in ("queued", "running"):
            return job
        time.sleep(0.3)
    raise AssertionError(f"timed out: {jobs.get(job_id)}")


@pytest.fixture
def jobs(settings):
    return JobStore(settings.data_dir)


@pytest.fixture
def filled(service, kb):
    service.ingest_files(kb, [("policy.md", POLICY)])
    return kb


@contextmanager
def restarted(settings, service):
    """The data folder opened again, as at the next start (``service`` closed first)."""
    service.close()
    again = KnowledgeService(settings, embedder=service.embedder)
    again.recover()
    try:
        yield again
    finally:
        again.close()


def _job_folders(settings) -> list[str]:
    return sorted(p.name for p in settings.kb_dir.iterdir() if p.is_dir())


def test_background_upload_changes_nothing_until_switched_in(service, filled, jobs, settings):
    kb = filled
    before_version, before_folders = service.version(kb), _job_folders(settings)
    job = bulk.submit_upload(service, jobs, kb, NEW)
    assert bulk.pending(jobs, kb).id == job.id
    with pytest.raises(KnowledgeBaseError, match="being added to 'test' in the background"):
        service.ingest_files(kb, [("other.md", b"Other.\nSomething else entirely.\n")])
    with pytest.raises(KnowledgeBaseError, match="in the background"):
        service.delete_kb(kb)

    done = _wait(jobs, job.id)
    assert done.status == "done", done.message
    assert [r["status"] for r in done.result["results"]] == ["added", "added"] and done.step == done.total_steps
    # Built, not yet switched in: the knowledge base the app serves is as it was.
    assert [d.name for d in service.documents(kb)] == ["policy.md"] and service.version(kb) == before_version
    assert "Falcon-19" not in " ".join(h.text for h in search(service, kb, "parking access code", top_k=3))
    assert bulk.pending(jobs, kb) is not None  # still refused: the switch-in would overwrite a change

    assert bulk.switch_in_finished(service, jobs) == [kb]
    assert sorted(d.name for d in service.documents(kb)) == ["badges.txt", "parking.md", "policy.md"]
    assert service.point_count(kb) == sum(d.chunks for d in service.documents(kb))
    hits = search(service, kb, "What is the parking access code?", top_k=3)
    assert "Falcon-19" in hits[0].text
    assert service.version(kb) != before_version
    assert service.version(kb) in [v.version for v in service.versions(kb)]
    assert service.changes_since(kb, before_version) == ["badges.txt", "parking.md"]
    collection = service.get_kb(kb).collection
    assert collection.endswith(bulk.MARK + job.id.rsplit("-", 1)[-1])
    assert _job_folders(settings) == [collection] and before_folders != [collection]  # the old one is gone
    assert not (jobs.folder(job.id) / bulk.READY).exists()
    assert bulk.pending(jobs, kb) is None and bulk.switch_in_finished(service, jobs) == []
    assert "added" in jobs.get(job.id).message
    service.ingest_files(kb, [("other.md", b"Other.\nSomething else entirely.\n")])  # writable again

    # A restart opens the switched-in knowledge base as it is.
    with restarted(settings, service) as again:
        assert len(again.documents(kb)) == 4 and "Falcon-19" in search(again, kb, "parking access code", top_k=1)[0].text


def test_background_reindex_with_new_chunking_records_the_same_version_as_in_the_page(
        service, filled, jobs, settings, embedder, tmp_path):
    kb = filled
    service.ingest_files(kb, NEW)
    job = bulk.submit_reindex(service, jobs, kb, chunk_size=64, chunk_overlap=8)
    assert _wait(jobs, job.id).status == "done"
    bulk.switch_in_finished(service, jobs)
    info = service.get_kb(kb)
    assert (info.chunk_size, info.chunk_overlap) == (64, 8)
    assert service.point_count(kb) == sum(d.chunks for d in service.documents(kb))

    # The same change made in the page, in another workspace, gives the same version hash.
    other = KnowledgeService(settings.model_copy(update={"data_dir": tmp_path / "other"}), embedder=embedder)
    try:
        other.create_kb(kb)
        other.ingest_files(kb, [("policy.md", POLICY)])
        other.ingest_files(kb, NEW)
        other.update_chunking(kb, 64, 8)
        assert other.version(kb) == service.version(kb)
    finally:
        other.close()
    with pytest.raises(KnowledgeBaseError, match="Chunk size"):
        bulk.submit_reindex(service, jobs, kb, chunk_size=8, chunk_overlap=0)


def test_a_cancelled_upload_leaves_the_knowledge_base_unchanged(service, filled, jobs, settings, monkeypatch):
    kb = filled
    before = (service.version(kb), _job_folders(settings))
    monkeypatch.setattr("core.jobs.supervisor.ensure_running", lambda store: True)  # this test runs the worker
    job = bulk.submit_upload(service, jobs, kb, NEW)
    jobs.claim(job.id, pid=1)
    jobs.request_cancel(job.id)  # seen at the first progress report
    assert bulk_worker.run(jobs, job.id) == 0
    done = jobs.get(job.id)
    assert done.status == "cancelled" and "unchanged" in done.message
    assert not bulk.pending(jobs, kb) and bulk.switch_in_finished(service, jobs) == []
    assert not any(jobs.folder(job.id).glob("*knowledge*")) and not (jobs.folder(job.id) / bulk.READY).exists()
    assert (service.version(kb), _job_folders(settings)) == before


def test_a_kill_during_the_switch_in_is_finished_at_the_next_start(service, filled, jobs, settings, monkeypatch):
    kb = filled
    monkeypatch.setattr("core.jobs.supervisor.ensure_running", lambda store: True)
    job = bulk.submit_upload(service, jobs, kb, NEW)
    jobs.claim(job.id, pid=1)
    assert bulk_worker.run(jobs, job.id) == 0 and jobs.get(job.id).status == "done"
    old = service.get_kb(kb).collection

    # Killed after the built folder moved in, before the catalog said so: an unreferenced folder.
    def killed(*args, **kwargs):
        raise KeyboardInterrupt("killed")

    monkeypatch.setattr(service.catalog, "adopt", killed)
    with pytest.raises(KeyboardInterrupt):
        bulk.switch_in_finished(service, jobs)
    assert len(_job_folders(settings)) == 2 and service.get_kb(kb).collection == old
    monkeypatch.undo()

    # The next start uses the folder where it lies and commits the switch.
    with restarted(settings, service) as again:
        new = again.get_kb(kb).collection
        assert new != old and _job_folders(settings) == [new]
        assert sorted(d.name for d in again.documents(kb)) == ["badges.txt", "parking.md", "policy.md"]
        assert bulk.pending(jobs, kb) is None and jobs.get(job.id).result["switched_in"]


def test_a_kill_after_the_catalog_switched_drops_the_retired_collection_at_the_next_start(
        service, filled, jobs, settings, monkeypatch):
    kb = filled
    monkeypatch.setattr("core.jobs.supervisor.ensure_running", lambda store: True)
    job = bulk.submit_upload(service, jobs, kb, NEW)
    jobs.claim(job.id, pid=1)
    bulk_worker.run(jobs, job.id)
    old = service.get_kb(kb).collection
    monkeypatch.setattr(bulk, "sweep", lambda knowledge: 0)  # killed before the old collection was deleted
    bulk.switch_in_finished(service, jobs)
    new = service.get_kb(kb).collection
    assert sorted(_job_folders(settings)) == sorted([old, new])
    monkeypatch.undo()

    with restarted(settings, service) as again:
        assert _job_folders(settings) == [new] and len(again.documents(kb)) == 3
        assert again.catalog.meta_keys(bulk.RETIRED) == []
        assert "Falcon-19" in search(again, kb, "parking access code", top_k=1)[0].text


def test_an_upload_in_the_page_that_crosses_the_index_line_queues_the_index_build(
        service, filled, jobs, settings, monkeypatch):
    kb = filled
    monkeypatch.setattr("core.jobs.supervisor.ensure_running", lambda store: True)
    before, version = service.point_count(kb), service.version(kb)
    assert bulk.index_after_upload(service, jobs, kb, before) is None  # below the line: nothing to do
    monkeypatch.setattr(bulk, "OPTIMIZE_AT", before + 1)  # the demo-sized line: this upload crosses it
    service.ingest_files(kb, NEW)
    job = bulk.index_after_upload(service, jobs, kb, before)
    assert job is not None and job.config["op"] == "index"
    with pytest.raises(KnowledgeBaseError, match="search index of 'test' is being built"):
        service.ingest_files(kb, [("other.md", b"Other.\nSomething else entirely.\n")])
    optimized = []
    monkeypatch.setattr("core.knowledge.storage.edge_store.EdgeVectorStore.optimize", lambda self: optimized.append(self))
    jobs.claim(job.id, pid=1)
    assert bulk_worker.run(jobs, job.id) == 0 and len(optimized) == 1
    changed_version = service.version(kb)
    assert bulk.switch_in_finished(service, jobs) == [kb] and "built" in jobs.get(job.id).message
    assert service.version(kb) == changed_version != version  # the upload changed it, the index did not
    assert "Falcon-19" in search(service, kb, "parking access code", top_k=1)[0].text
    assert bulk.index_after_upload(service, jobs, kb, service.point_count(kb)) is None  # already past the line


def test_a_deleted_knowledge_base_drops_the_finished_result(service, filled, jobs, settings, monkeypatch):
    kb = filled
    monkeypatch.setattr("core.jobs.supervisor.ensure_running", lambda store: True)
    job = bulk.submit_upload(service, jobs, kb, NEW)
    jobs.claim(job.id, pid=1)
    bulk_worker.run(jobs, job.id)
    service.catalog.delete_kb(kb)  # deleted by another path while the result waited
    assert bulk.switch_in_finished(service, jobs) == []
    assert not (jobs.folder(job.id) / bulk.READY).exists() and service.catalog.kb(kb) is None


def test_large_uploads_and_reindexes_go_to_the_background_small_ones_stay_in_the_page(service, filled, monkeypatch):
    limits = service.settings.ingest
    assert not bulk.upload_in_background(service, filled, NEW)
    assert bulk.upload_in_background(service, filled, [(f"f{i}.txt", b"x") for i in range(limits.background_files)])
    assert bulk.upload_in_background(service, filled, [("big.csv", b"x" * int(limits.background_mb * 1024 * 1024))])
    assert not bulk.reindex_in_background(service, filled)
    monkeypatch.setattr(service, "point_count", lambda name: bulk.OPTIMIZE_AT)  # a knowledge base that large
    assert bulk.upload_in_background(service, filled, NEW) and bulk.reindex_in_background(service, filled)


def test_the_page_asks_core_where_an_upload_or_reindex_runs_and_how_its_job_ended(service, filled, jobs, monkeypatch):
    """What the knowledge-base section used to decide itself: ``add_files`` / ``reindex`` choose the
    page or a job, ``outcome`` says how this session's job ended once it is switched in."""
    kb = filled
    monkeypatch.setattr("core.jobs.supervisor.ensure_running", lambda store: True)  # queued; this test runs it
    results = bulk.add_files(service, jobs, kb, NEW[:1])  # small: in this process, no job
    assert [(r.name, r.status) for r in results] == [("parking.md", "added")] and not jobs.list()
    monkeypatch.setattr(service.settings.ingest, "background_files", 1)
    job = bulk.add_files(service, jobs, kb, NEW[1:])
    assert job.kind == bulk.KIND and job.config["op"] == "upload"
    assert bulk.outcome(jobs, job.id, kb) is None  # queued
    jobs.claim(job.id, pid=1)
    assert bulk_worker.run(jobs, job.id) == 0
    assert bulk.outcome(jobs, job.id, kb) is None  # built, not switched in yet
    assert bulk.switch_in_finished(service, jobs) == [kb]
    ended = bulk.outcome(jobs, job.id, kb)
    assert ended.done and [(r.name, r.status) for r in ended.results] == [("badges.txt", "added")]
    assert bulk.outcome(jobs, job.id, "another") is None and bulk.outcome(jobs, None, kb) is None

    assert bulk.reindex(service, jobs, kb) is None and len(jobs.list()) == 1  # small: done in this process
    monkeypatch.setattr(service, "point_count", lambda name: bulk.OPTIMIZE_AT)  # a knowledge base that large
    again = bulk.reindex(service, jobs, kb, 300, 30)
    assert again.config == {"op": "reindex", "kb": kb, "chunk_size": 300, "chunk_overlap": 30}
    jobs.request_cancel(again.id)
    ended = bulk.outcome(jobs, again.id, kb)
    assert not ended.done and ended.message == "Cancelled before it started." and ended.results == []
