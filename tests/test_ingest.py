"""Ingestion correctness: dedup, replace, failure safety, stable ids, bad batches."""


from core.knowledge.storage import documents as stored
from core.knowledge.storage.ids import chunk_id, chunk_key, document_id
from core.knowledge.retrieval.search import search

POLICY_V1 = b"# Refunds\n\nUnopened products can be returned within 14 days of delivery."
POLICY_V2 = b"# Refunds\n\nUnopened products can be returned within 30 days of delivery. Keep the receipt."


def point_ids(service, kb):
    info = service.get_kb(kb)
    return sorted(pid for pid, _ in service.vector_store(info).scroll())


def test_upload_adds_chunks_and_reupload_of_unchanged_file_adds_nothing(service, kb):
    [first] = service.ingest_files(kb, [("policy.md", POLICY_V1)])
    assert first.status == "added" and first.chunks == 1
    before = point_ids(service, kb)
    version = service.version(kb)
    [again] = service.ingest_files(kb, [("policy.md", POLICY_V1)])
    assert again.status == "unchanged"
    assert point_ids(service, kb) == before
    assert service.version(kb) == version


def test_same_content_under_another_name_is_not_added_twice(service, kb):
    service.ingest_files(kb, [("policy.md", POLICY_V1)])
    [copy] = service.ingest_files(kb, [("policy copy.md", POLICY_V1)])
    assert copy.status == "unchanged" and "policy.md" in copy.reason
    assert len(service.documents(kb)) == 1


def test_changed_version_replaces_the_old_chunks(service, kb):
    long_v1 = ("Sentence about kettles number %d. " * 200 % tuple(range(200))).encode()
    service.ingest_files(kb, [("policy.md", long_v1)])
    assert service.point_count(kb) > 2
    [result] = service.ingest_files(kb, [("policy.md", POLICY_V2)])
    assert result.status == "updated"
    assert service.point_count(kb) == 1
    [hit] = search(service, kb, "how many days to return", top_k=1)
    assert "30 days" in hit.text


def test_embedding_failure_keeps_the_old_version_searchable(service, kb, monkeypatch):
    service.ingest_files(kb, [("policy.md", POLICY_V1)])

    def broken(*args, **kwargs):
        raise RuntimeError("embedding backend died")

    monkeypatch.setattr("core.knowledge.ingestion.uploads.embed_nodes", broken)
    [result] = service.ingest_files(kb, [("policy.md", POLICY_V2)])
    assert result.status == "rejected" and "nothing was changed" in result.reason
    [hit] = search(service, kb, "return unopened products", top_k=1)
    assert "14 days" in hit.text
    assert service.documents(kb)[0].chunks == 1


def test_chunk_ids_are_deterministic_so_a_repeated_write_never_duplicates(service, kb):
    service.ingest_files(kb, [("policy.md", POLICY_V1)])
    doc_id = document_id(kb, "policy.md")
    key = chunk_key(service.documents(kb)[0].content_hash, service.get_kb(kb))
    assert point_ids(service, kb) == [chunk_id(doc_id, 0, key)]
    # Simulate a crash after the vectors were written but before the catalog was: the retry
    # rewrites the same point ids.
    info = service.get_kb(kb)
    from core.knowledge.ingestion.ingest import build_nodes

    nodes = build_nodes(service.embedder, doc_id, "policy.md", "markdown", POLICY_V1.decode(), 200, 20)
    row = service.documents(kb)[0]
    stored.write_pending(service, info, row, nodes, POLICY_V1.decode())
    stored.write_pending(service, info, row, nodes, POLICY_V1.decode())
    assert point_ids(service, kb) == [chunk_id(doc_id, 0, key)]


def test_a_bad_batch_still_ingests_the_good_files(service, kb, settings):
    results = service.ingest_files(
        kb,
        [
            ("good.md", POLICY_V1),
            ("../../outside.txt", b"Escapes the data folder? No."),
            ("empty.txt", b""),
            ("fake.pdf", b"not a pdf"),
            ("x" * 300 + ".txt", b"A long-named note about kettles."),
            ("nul\x00name.txt", b"A note with a NUL in its name."),
        ],
    )
    status = {r.name: r.status for r in results}
    assert status["good.md"] == "added"
    assert status["outside.txt"] == "added"
    assert status["empty.txt"] == "rejected" and status["fake.pdf"] == "rejected"
    assert status["nulname.txt"] == "added"
    assert all(r.reason for r in results if r.status == "rejected")
    assert not (settings.data_dir.parent / "outside.txt").exists()
    assert not (settings.data_dir.parent.parent / "outside.txt").exists()
    assert len(service.documents(kb)) == 4


def test_oversized_files_are_rejected_before_parsing(service, kb):
    service.settings.ingest.max_file_mb = 0.001
    [result] = service.ingest_files(kb, [("big.txt", b"x" * 5000)])
    assert result.status == "rejected" and "limit" in result.reason


def test_delete_document_removes_its_vectors(service, kb):
    service.ingest_files(kb, [("a.md", POLICY_V1), ("b.md", b"Kettles boil water in 3 minutes.")])
    doc = next(d for d in service.documents(kb) if d.name == "a.md")
    service.delete_document(kb, doc.doc_id)
    assert [d.name for d in service.documents(kb)] == ["b.md"]
    assert service.point_count(kb) == 1
    assert service.vector_store(service.get_kb(kb)).document_chunks(doc.doc_id) == []


def test_changing_chunking_reindexes_and_changes_the_version(service, kb):
    text = " ".join(f"Fact number {i} is about the AeroPure filter." for i in range(120)).encode()
    service.ingest_files(kb, [("facts.txt", text)])
    before_chunks, before_version = service.point_count(kb), service.version(kb)
    service.update_chunking(kb, 64, 8)
    assert service.point_count(kb) > before_chunks
    assert service.documents(kb)[0].chunks == service.point_count(kb)
    assert service.version(kb) != before_version
    assert service.get_kb(kb).chunk_size == 64


def test_version_tracks_document_changes(service, kb):
    service.ingest_files(kb, [("a.md", POLICY_V1), ("b.md", b"Kettles boil water in 3 minutes.")])
    old = service.version(kb)
    service.ingest_files(kb, [("a.md", POLICY_V2), ("c.md", b"Vacuums map the floor.")])
    assert service.version(kb) != old
    assert service.changes_since(kb, old) == ["a.md", "c.md"]
    assert service.changes_since(kb, service.version(kb)) == []
