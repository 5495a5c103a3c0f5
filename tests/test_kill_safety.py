"""A kill at any point leaves a knowledge base as it was or as it will be: each state a killed
write can leave is made here by hand, then the next start (recovery) or a re-upload repairs it.
bench/kill_trials.py kills real ingests at every store write."""

from __future__ import annotations

import hashlib
import json

from core.knowledge.ingestion.ingest import build_nodes
from core.knowledge.retrieval.search import search
from core.knowledge.service import KnowledgeService
from core.knowledge.storage import documents as stored

V1 = b"Kettle guide. The Lumora kettle boils water in four minutes."
V2 = " ".join(f"Kettle fact {i}: the Lumora kettle now boils water in two minutes." for i in range(40)).encode()


def restart(service, settings, embedder) -> KnowledgeService:
    """The next start, as the app makes it: open the data folder, then recover."""
    service.close()
    again = KnowledgeService(settings, embedder=embedder)
    again.recover()
    return again


def version_matches(service, kb) -> bool:
    snap = service.catalog.snapshot(kb)
    return service.version(kb) == hashlib.sha256(json.dumps(snap, sort_keys=True).encode()).hexdigest()[:12]


def prepared(service, kb, name, data):
    """A document embedded but not yet written, as ``ingest_files`` holds it just before writing."""
    info = service.get_kb(kb)
    from core.db import now
    from core.knowledge.storage.catalog import DocumentInfo
    from core.knowledge.storage.ids import document_id

    doc_id = document_id(kb, name)
    nodes = build_nodes(service.embedder, doc_id, name, "text", data.decode(), info.chunk_size, info.chunk_overlap)
    row = DocumentInfo(doc_id, name, "text", len(data), len(nodes), now(), hashlib.sha256(data).hexdigest())
    return info, row, nodes, data.decode()


def test_chunks_written_before_the_catalog_row_are_never_searchable_and_are_rolled_back(service, kb, settings, embedder, caplog):
    info, row, nodes, text = prepared(service, kb, "kettle.txt", V1)
    stored.write_pending(service, info, row, nodes, text)  # killed before the commit
    assert search(service, kb, "How fast does the Lumora kettle boil?") == []
    service = restart(service, settings, embedder)
    assert service.vector_store(info).count_version(row.doc_id) == 0
    assert any("rolled back" in r.message for r in caplog.records)
    service.close()


def test_opening_a_service_repairs_nothing_until_the_owner_asks(service, kb, settings, embedder):
    info, row, nodes, text = prepared(service, kb, "kettle.txt", V1)
    stored.write_pending(service, info, row, nodes, text)  # killed before the commit
    service.close()
    again = KnowledgeService(settings, embedder=embedder)
    assert not again.is_open  # constructing opened nothing
    assert again.vector_store(info).count_version(row.doc_id) == len(nodes)  # first use opened it, and repaired nothing
    assert again.recover()["rolled_back_chunks"] == len(nodes)
    assert again.vector_store(info).count_version(row.doc_id) == 0
    assert again.recover()["rolled_back_chunks"] == 0  # a second call finds nothing to do
    again.close()


def test_a_committed_update_that_was_not_yet_shown_is_finished_at_the_next_start(service, kb, settings, embedder):
    service.ingest_files(kb, [("kettle.txt", V1)])
    info, row, nodes, text = prepared(service, kb, "kettle.txt", V2)
    stored.write_pending(service, info, row, nodes, text)
    service.catalog.commit_document(kb, row)  # killed between the commit and showing the new chunks
    service = restart(service, settings, embedder)
    doc = service.documents(kb)[0]
    assert doc.content_hash == row.content_hash and service.intact(info, doc)
    assert all("two minutes" in c["text"] for c in service.chunks(kb, doc.doc_id))
    assert version_matches(service, kb)
    service.close()


def test_an_update_killed_midway_leaves_the_old_version_whole(service, kb, settings, embedder):
    service.ingest_files(kb, [("kettle.txt", V1)])
    before = service.version(kb)
    info, row, nodes, text = prepared(service, kb, "kettle.txt", V2)
    stored.write_pending(service, info, row, nodes[: len(nodes) // 2], text)
    service = restart(service, settings, embedder)
    [doc] = service.documents(kb)
    assert doc.content_hash == hashlib.sha256(V1).hexdigest() and service.intact(info, doc)
    assert [c["text"] for c in service.chunks(kb, doc.doc_id)] == [V1.decode()]
    assert service.version(kb) == before
    [hit] = search(service, kb, "How fast does the Lumora kettle boil?", top_k=3)
    assert "four minutes" in hit.text
    service.close()


def test_a_deletion_killed_after_its_commit_drops_the_chunks_at_the_next_start(service, kb, settings, embedder):
    service.ingest_files(kb, [("kettle.txt", V1), ("other.md", b"Filters last six months.")])
    doc = next(d for d in service.documents(kb) if d.name == "kettle.txt")
    service.catalog.remove_document(kb, doc.doc_id)  # killed before the chunks were deleted
    service = restart(service, settings, embedder)
    assert [h.doc_name for h in search(service, kb, "Lumora kettle boils water", top_k=5)] == ["other.md"]
    assert version_matches(service, kb)
    service.close()


def test_reuploading_an_unchanged_file_repairs_missing_chunks(service, kb):
    service.ingest_files(kb, [("kettle.txt", V2)])
    info = service.get_kb(kb)
    doc = service.documents(kb)[0]
    service.vector_store(info).delete_chunks_from(doc.doc_id, 3)  # damage from outside the lab
    assert not service.intact(info, doc)
    [result] = service.ingest_files(kb, [("kettle.txt", V2)])
    assert result.status == "updated"
    assert service.intact(info, service.documents(kb)[0]) and version_matches(service, kb)
    [again] = service.ingest_files(kb, [("kettle.txt", V2)])
    assert again.status == "unchanged"


def test_a_document_whose_chunks_are_lost_is_re_embedded_from_its_kept_text_at_start(service, kb, settings, embedder):
    service.ingest_files(kb, [("kettle.txt", V2)])
    info = service.get_kb(kb)
    doc = service.documents(kb)[0]
    service.vector_store(info).delete_chunks_from(doc.doc_id, 0)
    service = restart(service, settings, embedder)
    assert service.intact(info, service.documents(kb)[0])
    assert search(service, kb, "How fast does the Lumora kettle boil?")[0].doc_name == "kettle.txt"
    service.close()


def test_progress_moves_per_slice_of_chunks_within_one_large_file(service, kb, monkeypatch):
    from core.knowledge.ingestion import uploads

    monkeypatch.setattr(uploads, "EMBED_SLICE", 8)
    monkeypatch.setattr(stored, "WRITE_BATCH", 8)
    big = " ".join(f"Line {i} about kettles and filters." for i in range(600)).encode()
    seen = []
    service.ingest_files(kb, [("big.txt", big)], progress=lambda f, m: seen.append((f, m)))
    within = [f for f, m in seen if "chunks" in m]
    assert len(within) >= 3 and within == sorted(within) and within[-1] < 1.0
