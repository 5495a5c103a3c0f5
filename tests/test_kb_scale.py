"""The knowledge-base page at scale: documents a page at a time from the catalog, counts from the
engine, a chunk preview that reads only the chunks it shows."""

from __future__ import annotations


def test_documents_come_a_page_at_a_time_with_the_total(service, kb):
    service.ingest_files(kb, [(f"doc{i:02d}.md", f"Fact {i}: kettles number {i}.".encode()) for i in range(7)])
    first, total = service.documents_page(kb, 0, per_page=3)
    last, _ = service.documents_page(kb, 2, per_page=3)
    assert total == 7 and len(first) == 3 and len(last) == 1
    everything = [d.name for p in range(3) for d in service.documents_page(kb, p, per_page=3)[0]]
    assert everything == [d.name for d in service.documents(kb)]
    assert service.documents_page(kb, 0, 10, name_contains="DOC0")[1] == 7
    assert service.documents_page(kb, 0, 10, name_contains="doc03")[1] == 1


def test_chunk_preview_reads_only_the_first_chunks(service, kb):
    text = " ".join(f"Sentence {i} about the AeroPure filter and its replacement." for i in range(400)).encode()
    [result] = service.ingest_files(kb, [("long.txt", text)])
    doc = service.documents(kb)[0]
    assert result.chunks > 5
    assert [c["chunk_index"] for c in service.chunks(kb, doc.doc_id, limit=5)] == [0, 1, 2, 3, 4]
    assert len(service.chunks(kb, doc.doc_id)) == result.chunks == service.point_count(kb)
