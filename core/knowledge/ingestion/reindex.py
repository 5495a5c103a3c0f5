"""Re-chunk and re-embed every document of a knowledge base from its stored text: after a chunking change, or to
move it to the current embedder. ``KnowledgeService.reindex`` hands itself in."""

from __future__ import annotations

import logging

from core.knowledge.storage.catalog import DocumentInfo

log = logging.getLogger(__name__)


def reindex_all(service, name: str, progress) -> None:
    """Every document of ``name`` written again with the current embedder and the knowledge base's chunking; a new
    version is recorded at the end."""
    info = service.get_kb(name)
    service.check_writable(name)
    if info.embedder != service.embedder_id:
        log.info("re-indexing %r moves it from embedder %r to %r", name, info.embedder, service.embedder_id)
        service.catalog.update_kb(name, embedder=service.embedder_id)
        info = service.get_kb(name)
    docs = service.catalog.documents(name)
    for i, doc in enumerate(docs):
        progress(i / max(len(docs), 1), f"Re-indexing {doc.name} ({i + 1} of {len(docs)})")
        text = service.document_text(name, doc.doc_id)
        nodes = service.embed_document(info, doc.doc_id, doc.name, doc.kind, text)
        row = DocumentInfo(**{**doc.__dict__, "chunks": len(nodes)})
        service.write_document(info, row, nodes, text)
    service.catalog.record_version(name)
    progress(1.0, "Done")
