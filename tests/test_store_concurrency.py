"""The SQLite stores are safe from several threads and several processes at once: no error, no
lost update. (Before ``core.db.Database``, 4 threads x 300 ``JobStore.update`` calls on one store
gave 875 errors "cannot start a transaction within a transaction".)"""

from __future__ import annotations

import multiprocessing
import threading
from pathlib import Path

from core.jobs.store import JobStore
from core.knowledge.storage.catalog import Catalog, DocumentInfo, KBInfo

THREADS, CALLS = 4, 300
PROCESSES, PROCESS_CALLS = 3, 100


def _hammer(workers: int, work) -> list[BaseException]:
    errors: list[BaseException] = []

    def run(n: int) -> None:
        for i in range(CALLS):
            try:
                work(n, i)
            except Exception as exc:  # noqa: BLE001  (counted: the test is that there are none)
                errors.append(exc)

    threads = [threading.Thread(target=run, args=(n,)) for n in range(workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return errors


def test_one_job_store_shared_by_threads_has_no_errors_and_loses_no_update(tmp_path):
    store = JobStore(tmp_path)
    jobs = [store.submit("finetune", f"job {n}", {}) for n in range(THREADS)]
    submitted: list[str] = []

    def work(n: int, i: int) -> None:
        store.update(jobs[n].id, step=i + 1, message=f"thread {n} call {i}")
        store.get(jobs[n].id)
        if i % 50 == 0:
            submitted.append(store.submit("eval", f"from thread {n}", {}).id)
            store.list()

    assert _hammer(THREADS, work) == []
    assert [store.get(j.id).step for j in jobs] == [CALLS] * THREADS  # every thread's last write landed
    assert {j.id for j in store.list("eval")} == set(submitted) and len(submitted) == THREADS * CALLS // 50


def test_claims_from_threads_hand_each_queued_job_out_once(tmp_path):
    store = JobStore(tmp_path)
    queued = {store.submit("finetune", f"job {n}", {}).id for n in range(40)}
    claimed: list[str] = []

    def work(n: int, i: int) -> None:
        if (job := store.claim_next(pid=n + 1, kind="finetune")) is not None:
            claimed.append(job.id)

    assert _hammer(THREADS, work) == []
    assert sorted(claimed) == sorted(queued)


def test_one_catalog_shared_by_threads_has_no_errors_and_loses_no_document(tmp_path):
    catalog = Catalog(tmp_path / "catalog.db")
    catalog.add_kb(KBInfo("kb", "kb_c", 512, 64, "dense", "minilm", "2026-01-01"))

    def work(n: int, i: int) -> None:
        catalog.upsert_document("kb", DocumentInfo(f"{n}-{i}", f"doc {n}-{i}.md", "md", 10, 1, "t", "h"))
        catalog.set_meta(f"thread:{n}", str(i))
        catalog.documents("kb")

    assert _hammer(THREADS, work) == []
    assert len(catalog.documents("kb")) == THREADS * CALLS
    assert [catalog.get_meta(f"thread:{n}") for n in range(THREADS)] == [str(CALLS - 1)] * THREADS


def _job_process(data_dir: str, job_id: str, n: int) -> None:
    store = JobStore(Path(data_dir))
    for i in range(PROCESS_CALLS):
        store.update(job_id, step=i + 1)
        store.set_meta(f"process:{n}", str(i))
    store.submit("eval", f"from process {n}", {})


def _catalog_process(path: str, n: int) -> None:
    catalog = Catalog(Path(path))
    for i in range(PROCESS_CALLS):
        catalog.upsert_document("kb", DocumentInfo(f"{n}-{i}", f"doc {n}-{i}.md", "md", 10, 1, "t", "h"))


def _run_processes(target, args_for) -> list[int]:
    ctx = multiprocessing.get_context("spawn")  # no inherited connection: each process opens its own
    procs = [ctx.Process(target=target, args=args_for(n)) for n in range(PROCESSES)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=120)
    return [p.exitcode for p in procs]


def test_job_store_written_by_several_processes_loses_no_update(tmp_path):
    store = JobStore(tmp_path)
    jobs = [store.submit("finetune", f"job {n}", {}) for n in range(PROCESSES)]
    assert _run_processes(_job_process, lambda n: (str(tmp_path), jobs[n].id, n)) == [0] * PROCESSES
    assert [store.get(j.id).step for j in jobs] == [PROCESS_CALLS] * PROCESSES
    assert [store.get_meta(f"process:{n}") for n in range(PROCESSES)] == [str(PROCESS_CALLS - 1)] * PROCESSES
    assert len(store.list("eval")) == PROCESSES


def test_catalog_written_by_several_processes_loses_no_document(tmp_path):
    path = tmp_path / "catalog.db"
    Catalog(path).add_kb(KBInfo("kb", "kb_c", 512, 64, "dense", "minilm", "2026-01-01"))
    assert _run_processes(_catalog_process, lambda n: (str(path), n)) == [0] * PROCESSES
    assert len(Catalog(path).documents("kb")) == PROCESSES * PROCESS_CALLS
