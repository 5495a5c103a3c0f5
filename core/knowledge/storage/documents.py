"""One document in a knowledge base's store: its crash-safe write, the check that the stored version is whole, its
removal, and its chunks read back. ``KnowledgeService`` hands itself in (its catalog, vector stores, folders and
lock); storage imports no service.

A write leaves either the old version or the new one after a kill at any point: the text is kept first, the chunks
are written hidden beside the old version's (``write_pending``), the catalog row with the new version hash is the
commit, and only then are the new chunks shown and the old ones dropped (``core.knowledge.storage.recovery`` finishes
that after a kill).
"""

from __future__ import annotations

import json

from core.knowledge.storage.catalog import DocumentInfo, KBInfo
from core.knowledge.storage.ids import chunk_id, chunk_key
from core.knowledge.storage.versions import keep_text, write_atomic

WRITE_BATCH = 256  # chunks per store write: the store lock is free between two


def write(service, info: KBInfo, row: DocumentInfo, nodes, text: str, report=None) -> None:
    """Store one embedded document, committed and shown (see the module's docstring)."""
    write_pending(service, info, row, nodes, text, report)
    with service.lock:
        service.catalog.commit_document(info.name, row)
        service.vector_store(info).publish(row.doc_id, chunk_key(row.content_hash, info))


def write_pending(service, info: KBInfo, row: DocumentInfo, nodes, text: str, report=None) -> None:
    """The write up to its commit: the text kept and the chunks stored hidden. What a kill before the commit
    leaves behind (the kill-safety tests stop here)."""
    key = chunk_key(row.content_hash, info)
    for index, node in enumerate(nodes):
        node.id_ = chunk_id(row.doc_id, index, key)
    keep_text(service.kb_dir(info), row, text)
    for start in range(0, len(nodes), WRITE_BATCH):
        if report:
            report(start, len(nodes), f"Writing {row.name}")
        with service.lock:
            service.vector_store(info).add(nodes[start : start + WRITE_BATCH], pending=True, key=key)
    with service.lock:
        write_atomic(service.text_path(info, row.doc_id), text)


def intact(service, info: KBInfo, doc: DocumentInfo) -> bool:
    """Whether the store holds exactly the catalogued version of a document, all of it searchable."""
    vectors = service.vector_store(info)
    with service.lock:
        return (vectors.count_version(doc.doc_id, chunk_key(doc.content_hash, info)) == doc.chunks
                == vectors.count_version(doc.doc_id))


def remove(service, info: KBInfo, doc_id: str) -> None:
    """The catalog row first (the commit), then the chunks and the text; recovery drops chunks left after a kill."""
    with service.lock:
        service.catalog.remove_document(info.name, doc_id)
        service.vector_store(info).delete_chunks_from(doc_id, 0)
        service.text_path(info, doc_id).unlink(missing_ok=True)


def chunk_texts(service, info: KBInfo, doc_id: str, limit: int | None = None) -> list[dict]:
    """The stored chunks of one document (the first ``limit`` of them when given), in order."""
    with service.lock:
        payloads = service.vector_store(info).document_chunks(doc_id, limit)
    return [{"chunk_index": p.get("chunk_index", 0), "text": _node_text(p)} for p in payloads]


def _node_text(payload: dict) -> str:
    try:
        return json.loads(payload.get("_node_content", "{}")).get("text", "")
    except json.JSONDecodeError:
        return ""
