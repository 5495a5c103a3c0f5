"""The freshness probe: a scratch copy of a knowledge base with one document changed, and the
arms asked before and after on the real embedder, real Qdrant and the real small model."""

import json

import pytest

from core.compare.engine import CompareEngine
from core.demo import CORPUS_DIR, DATASETS_DIR
from core.errors import LabError
from core.eval.freshness import (
    ProbeQuestion, build_probe_kb, demo_new_version, demo_probe_questions, probe_kb_name, run_probe, text_version,
)
from core.finetune.adapters import AdapterRegistry
from core.models.generation import Decoding

POLICY = ("Refund policy.\nUnopened products can be returned within 14 days of purchase for a full refund.\n"
          "Call the customer centre at 1234-5678 for help.\n").encode()
POLICY_V2 = POLICY.replace(b"14 days", b"30 days")
LEAVE = "Leave.\nEmployees get 15 days of annual leave after one year of service.\n".encode()
PRICES = b"product,price\nKettle,49.00\nPurifier,199.00\n"


def texts(service, kb: str) -> dict[str, str]:
    return {d.name: service.document_text(kb, d.doc_id) for d in service.documents(kb)}


@pytest.fixture
def small_kb(service):
    name = service.create_kb("policies", chunk_size=64, chunk_overlap=8).name
    results = service.ingest_files(name, [("policy.md", POLICY), ("leave.md", LEAVE), ("prices.csv", PRICES)])
    assert all(r.status == "added" for r in results)
    return name


def test_demo_probe_questions_are_the_test_rows_that_change_in_v2():
    rows = [json.loads(line) for line in (DATASETS_DIR / "test.jsonl").read_text(encoding="utf-8").splitlines() if line.strip()]
    changing = [r for r in rows if r.get("changes_in_v2")]
    questions = demo_probe_questions()
    assert len(questions) == len(changing) == 5
    assert [q.question for q in questions] == [r["question"] for r in changing]
    assert [(q.old_facts, q.new_facts) for q in questions] == [
        (["14 days"], ["30 days"]), (["14 days"], ["30 days"]), (["1234-5678"], ["1588-7777"]),
        (["1234-5678"], ["1588-7777"]), (["48 hours"], ["72 hours"])]
    assert {q.source for q in questions} == {"customer_service_policy.md"}
    name, data = demo_new_version()
    old = (CORPUS_DIR / name).read_text(encoding="utf-8")
    for q in questions:  # the shipped documents really hold the facts the probe checks
        assert all(f in old for f in q.old_facts) and not any(f in data.decode() for f in q.old_facts)
        assert all(f in data.decode() for f in q.new_facts)


def test_text_version_keeps_names_whose_reader_gives_the_text_back():
    assert text_version("notes.md", "# Notes\n\nBody") == ("notes.md", b"# Notes\n\nBody")
    assert text_version("faq.html", "# FAQ\n\nShipping is free.")[0] == "faq.html"
    assert text_version("prices.csv", "product: Kettle; price: 49.00")[0] == "prices.csv.txt"
    assert text_version("manual.pdf", "Filter every 6 months.") == ("manual.pdf.txt", b"Filter every 6 months.")


def test_probe_kb_is_a_copy_with_the_new_version_and_the_original_is_untouched(service, small_kb):
    version, before = service.version(small_kb), texts(service, small_kb)
    probe = build_probe_kb(service, small_kb, "policy.md", POLICY_V2)
    assert probe == probe_kb_name(small_kb) == "policies - freshness probe"
    copy = texts(service, probe)
    assert set(copy) == {"policy.md", "leave.md", "prices.csv.txt"}
    assert "within 30 days" in copy["policy.md"] and "14 days" not in copy["policy.md"]
    assert copy["leave.md"] == before["leave.md"] and copy["prices.csv.txt"] == before["prices.csv"]
    info = service.get_kb(probe)
    assert (info.chunk_size, info.chunk_overlap, info.mode) == (64, 8, service.get_kb(small_kb).mode)
    assert service.version(small_kb) == version and texts(service, small_kb) == before

    again = build_probe_kb(service, small_kb, "policy.md", POLICY.replace(b"14 days", b"60 days"))
    assert again == probe
    assert [k.name for k in service.list_kbs(include_copies=True)].count(probe) == 1
    assert probe not in [k.name for k in service.list_kbs()]  # a scratch copy: not in the pickers
    assert "within 60 days" in texts(service, probe)["policy.md"]
    assert service.version(small_kb) == version and texts(service, small_kb) == before


def test_probe_kb_refuses_what_it_cannot_do_in_plain_words(service, small_kb):
    version = service.version(small_kb)
    with pytest.raises(LabError, match="There is no document named 'missing.md' in 'policies'."):
        build_probe_kb(service, small_kb, "missing.md", POLICY_V2)
    with pytest.raises(LabError, match="The new version of 'policy.md' is empty."):
        build_probe_kb(service, small_kb, "policy.md", b"")
    with pytest.raises(LabError, match="is the same as the current one"):
        build_probe_kb(service, small_kb, "policy.md", POLICY)
    with pytest.raises(LabError, match="could not be read: the file is named .md but holds binary data."):
        build_probe_kb(service, small_kb, "policy.md", b"\x00\x01\x02garbage")
    assert service.catalog.kb(probe_kb_name(small_kb)) is None  # no half-built probe left behind
    service.create_kb(probe_kb_name(small_kb))  # a person's own knowledge base with that name
    with pytest.raises(LabError, match="already exists and is not a freshness probe"):
        build_probe_kb(service, small_kb, "policy.md", POLICY_V2)
    assert service.documents(probe_kb_name(small_kb)) == []
    assert service.version(small_kb) == version


def test_rag_reads_the_changed_fact_and_base_cannot_move(service, small_kb, runtime, settings, tmp_path):
    engine = CompareEngine(runtime, service, AdapterRegistry(tmp_path / "adapters"), settings)
    question = ProbeQuestion(question="How many days do I have to return an unopened product?",
                             old_facts=["14 days"], new_facts=["30 days"], source="policy.md")
    result = run_probe(engine, small_kb, [question], "policy.md", POLICY_V2, ["rag", "base"], decoding=Decoding(max_new_tokens=24))
    rag, base = result.questions[0].arms["rag"], result.questions[0].arms["base"]
    assert any("14 days" in s.text for s in rag.sources_before)
    assert any("30 days" in s.text for s in rag.sources_after)
    assert not any("14 days" in s.text for s in rag.sources_after)
    assert rag.sources_after[0].doc_name == "policy.md"
    assert base.before == base.after and base.sources_after == []
    assert result.arms == ["base", "rag"]
    assert result.kb_version_before == service.version(small_kb) != result.kb_version_after
    assert result.probe_kb == "policies - freshness probe" and result.adapter_fingerprint is None
    # Greedy decoding is deterministic; checked on this model: RAG copies the fact it reads.
    assert "14 days" in rag.before and "30 days" in rag.after
    assert (rag.has_old_fact, rag.has_new_fact, rag.picked_up) == (False, True, True)
    assert (base.has_new_fact, base.picked_up) == (False, False)
    assert result.picked_up_share == {"base": 0.0, "rag": 1.0}
    rows = result.table()
    assert [(r["arm"], r["question"]) for r in rows] == [("Base", question.question), ("RAG", question.question)]
    assert set(result.picked_up_share) == {"base", "rag"}


def test_probe_runs_as_a_background_job_and_its_result_is_kept(service, small_kb, runtime, settings, tmp_path):
    import os
    import time

    from core.eval.service import PROBE_INPUT, PROBE_KIND, EvalService

    engine = CompareEngine(runtime, service, AdapterRegistry(tmp_path / "adapters"), settings)
    evals = EvalService(settings, lambda: engine, knowledge=service)
    question = ProbeQuestion(question="How many days do I have to return an unopened product?",
                             old_facts=["14 days"], new_facts=["30 days"], source="policy.md")
    # what cannot be probed is refused before any work, in one sentence
    with pytest.raises(LabError, match="is the same as the current one"):
        evals.start_probe(service, small_kb, "policy.md", POLICY, [question], ["rag"])
    with pytest.raises(LabError, match="need an adapter"):
        evals.start_probe(service, small_kb, "policy.md", POLICY_V2, [question], ["rag", "hybrid"])
    with pytest.raises(LabError, match="at least one question"):
        evals.start_probe(service, small_kb, "policy.md", POLICY_V2, [], ["rag"])
    assert evals.list_probe_jobs() == []

    job = evals.start_probe(service, small_kb, "policy.md", POLICY_V2, [question], ["rag", "base"], max_new_tokens=24)
    assert job.name == "Freshness probe · policy.md · 1 question"
    deadline = time.time() + 600
    while (job := evals.jobs.get(job.id)).status in ("queued", "running") and time.time() < deadline:
        time.sleep(0.3)
    assert job.status == "done", job.message
    saved = evals.probes.get(job.result["probe_id"])
    assert saved.id == job.id and saved.created and saved.kb == small_kb and saved.arms == ["base", "rag"]
    assert saved.picked_up_share == {"base": 0.0, "rag": 1.0}
    assert [r.id for r in evals.probes.list()] == [job.id]
    assert service.version(small_kb) == saved.kb_version_before  # the original is untouched
    assert [k.name for k in service.list_kbs(include_copies=True)] == [small_kb]  # the probe's copy was the job's
    # the evaluation runs' own list is not confused by the probes kept beside it
    assert evals.runs.list() == []
    # a probe whose input went missing fails with one sentence, and the worker goes on
    from core.eval.freshness import ProbeSpec
    from core.jobs.store import pid_alive

    deadline = time.time() + 60  # the runner exits once the queue is empty: nothing below is claimed behind the test's back
    while pid_alive(int(evals.jobs.get_meta("supervisor_pid") or 0)) and time.time() < deadline:
        time.sleep(0.2)
    folder = evals.jobs.folder(job.id)  # once its process is gone, the result is kept, not the document it was given
    assert not (folder / PROBE_INPUT).exists() and not (folder / "knowledge").exists()  # nor the snapshot it read
    spec = ProbeSpec(kb=small_kb, doc_name="policy.md", data_sha256="0" * 64, questions=[question], arms=["rag"])
    lost = evals.jobs.submit(PROBE_KIND, spec.name, spec.model_dump())
    evals.jobs.claim_next(pid=os.getpid(), kind=PROBE_KIND)
    assert evals.run_probe_job(lost.id) is None  # in this process: the worker's code, without its start-up
    lost = evals.jobs.get(lost.id)
    assert lost.status == "failed" and lost.message == "failed: the new version of the document is no longer on disk."

    # a probe result can be deleted (with its job record); one under way must be cancelled first
    evals.delete_probe(job.id)
    assert evals.probes.list() == [] and job.id not in [j.id for j in evals.list_probe_jobs()]
    with pytest.raises(LabError, match="no freshness probe"):
        evals.probes.get(job.id)
    running = evals.jobs.submit(PROBE_KIND, spec.name, spec.model_dump())
    evals.jobs.update(running.id, status="running")
    with pytest.raises(LabError, match="Cancel the probe before deleting it"):
        evals.delete_probe(running.id)
    # a queued probe cancelled never runs, and its input is not kept
    evals.jobs.update(running.id, status="failed")
    queued = evals.jobs.submit(PROBE_KIND, spec.name, spec.model_copy(update={"data_sha256": "1" * 64}).model_dump(),
                               prepare=lambda f: (f / PROBE_INPUT).write_bytes(POLICY_V2))
    evals.sweep_probe_inputs()
    assert (evals.jobs.folder(queued.id) / PROBE_INPUT).is_file()  # still needed by the queued probe
    evals.cancel(queued.id)
    assert evals.jobs.get(queued.id).status == "cancelled" and not (evals.jobs.folder(queued.id) / PROBE_INPUT).exists()
