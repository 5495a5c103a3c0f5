"""Nothing lost on upgrade: a data folder whose vectors are in qdrant-client's local mode (the
embedded store before Qdrant Edge) opens with its knowledge bases, documents, versions and
search results as they were, the vectors copied into Edge shards, the old folder kept."""

from __future__ import annotations

import logging

from llama_index.vector_stores.qdrant import QdrantVectorStore
from qdrant_client import QdrantClient, models

from core.knowledge.embedding import sparse
from core.knowledge.ingestion.ingest import build_nodes
from core.knowledge.storage.migrate import MIGRATED
from core.knowledge.retrieval.search import search
from core.knowledge.service import KnowledgeService

DOCS = [
    ("policy.md", b"# Refunds\n\nUnopened products can be returned within 30 days of delivery."),
    ("parts.md", b"Spare part ZX-4471 is the fan for the AeroPure 300. It fixes a loud fan noise."),
    ("kettle.txt", " ".join(f"Kettle fact {i}: the Lumora kettle boils water quickly." for i in range(80)).encode()),
]


def old_local_mode_folder(service: KnowledgeService, settings) -> None:
    """Rewrite the service's vectors the way the lab before Qdrant Edge stored them: LlamaIndex's
    QdrantVectorStore over qdrant-client's local mode in <data>/qdrant, ids uuid5(doc, index), no
    version fields; then remove the Edge shards, as if they had never been made."""
    client = QdrantClient(path=str(settings.qdrant_path))
    for info in service.list_kbs(include_copies=True):
        vs = QdrantVectorStore(
            collection_name=info.collection, client=client, enable_hybrid=True, dense_vector_name="dense",
            sparse_vector_name="sparse-bm25", sparse_doc_fn=sparse.encode_documents, sparse_query_fn=sparse.encode_queries,
            sparse_config=models.SparseVectorParams(modifier=models.Modifier.IDF), batch_size=256)
        for doc in service.documents(info.name):
            text = service.document_text(info.name, doc.doc_id)
            vs.add(build_nodes(service.embedder, doc.doc_id, doc.name, doc.kind, text, info.chunk_size, info.chunk_overlap))
        service.store.drop(info.collection)
    client.close()


def state(service, kb):
    return {
        "version": service.version(kb),
        "versions": [(v.version, v.restorable) for v in service.versions(kb)],
        "documents": [(d.name, d.content_hash, d.chunks) for d in service.documents(kb)],
        "points": service.point_count(kb),
        "hits": [(h.doc_name, h.chunk_index, round(h.dense_score or 0, 4), h.sparse_rank)
                 for h in search(service, kb, "fan noise ZX-4471", top_k=3)],
    }


def test_a_local_mode_data_folder_opens_migrated_with_versions_unchanged(settings, embedder, caplog):
    service = KnowledgeService(settings, embedder=embedder)
    service.create_kb("main")
    service.ingest_files("main", DOCS[:2])
    service.ingest_files("main", DOCS[2:])
    service.create_kb("other", chunk_size=64, chunk_overlap=8)
    service.ingest_files("other", DOCS[2:])
    before = {kb: state(service, kb) for kb in ("main", "other")}
    old_local_mode_folder(service, settings)
    service.close()

    with caplog.at_level(logging.INFO):
        upgraded = KnowledgeService(settings, embedder=embedder)
        upgraded.recover()  # as the app opens it: the store first (migrating), then recovery
    try:
        for kb in ("main", "other"):
            assert state(upgraded, kb) == before[kb]
        assert not settings.qdrant_path.exists() and (settings.data_dir / MIGRATED).is_dir()
        assert any("chunks copied" in r.message for r in caplog.records)
        assert not [r.message for r in caplog.records if r.message.startswith("recovery:")]  # nothing re-embedded
        [result] = upgraded.ingest_files("main", [DOCS[0]])
        assert result.status == "unchanged"  # a migrated document counts as intact
    finally:
        upgraded.close()
    again = KnowledgeService(settings, embedder=embedder)  # the second start finds nothing to migrate
    assert state(again, "main") == before["main"]
    again.close()
