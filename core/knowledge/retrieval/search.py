"""Retrieval over a knowledge base: hybrid (dense + BM25, RRF-fused) or dense only, with the
sentences of each passage closest to the query marked (``core.knowledge.retrieval.sentences``).

Each function reads through the ``KnowledgeService`` it is given (``service``: its store, its
lock, the knowledge base's embedder), as recovery and uploads do; it is not imported here, so
that retrieval sits below the service like them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from llama_index.core import VectorStoreIndex
from llama_index.core.vector_stores.types import VectorStoreQueryMode

from core.knowledge.retrieval.sentences import closeness, mark


@dataclass
class Hit:
    doc_id: str
    doc_name: str
    chunk_index: int
    text: str
    score: float
    dense_score: float | None = None
    sparse_rank: int | None = None
    sentences: list[tuple[str, bool]] = field(default_factory=list)


def search(service, kb: str, query: str, top_k: int | None = None, mode: str | None = None) -> list[Hit]:
    """Top-k passages for ``query``; ``mode`` overrides the knowledge base's own mode."""
    info = service.get_kb(kb)
    query = (query or "").strip()
    if not query or not service.vector_store(info).exists():
        return []
    top_k = top_k or service.settings.retrieval.top_k
    mode = mode or info.mode
    candidates = max(service.settings.retrieval.candidates, top_k)
    index = VectorStoreIndex.from_vector_store(service.vector_store(info), embed_model=service.embedder_for(info))
    if mode == "hybrid":
        retriever = index.as_retriever(
            vector_store_query_mode=VectorStoreQueryMode.HYBRID,
            similarity_top_k=candidates, sparse_top_k=candidates, hybrid_top_k=top_k,
        )
    else:
        retriever = index.as_retriever(similarity_top_k=top_k)
    with service.lock:
        results = retriever.retrieve(query)
    hits = []
    for r in results:
        meta = r.node.metadata
        dense = meta.get("dense_score", r.score if mode != "hybrid" else None)
        hits.append(Hit(
            doc_id=r.node.ref_doc_id or "",
            doc_name=meta.get("doc_name", meta.get("file_name", "?")),
            chunk_index=int(meta.get("chunk_index", 0)),
            text=r.node.get_content(),
            score=float(r.score or 0.0),
            dense_score=None if dense is None else float(dense),
            sparse_rank=meta.get("sparse_rank"),
        ))
    _mark_closest(service.embedder, query, hits)
    return hits


def _mark_closest(embedder, query: str, hits: list[Hit]) -> None:
    """Mark, in each hit, the sentences closest to ``query`` (its highlights on the pages)."""
    marks = mark([h.text for h in hits], lambda sentences: closeness(embedder, query, sentences))
    for hit, marked in zip(hits, marks):
        hit.sentences = marked


def gold_passages(service, kb: str, doc_name: str, query: str, top_k: int) -> list[Hit]:
    """The ``top_k`` chunks of one named document closest to ``query`` (the evaluation's oracle:
    retrieval that always finds the right document). Empty when no such document exists."""
    doc = next((d for d in service.documents(kb) if d.name == doc_name), None)
    if doc is None:
        return []
    chunks = service.chunks(kb, doc.doc_id)
    if not chunks:
        return []
    vectors = np.array(service.embedder.get_text_embedding_batch([query] + [c["text"] for c in chunks]))
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True) + 1e-9
    cosines = vectors[1:] @ vectors[0]
    order = np.argsort(-cosines)[:top_k]
    hits = [Hit(doc_id=doc.doc_id, doc_name=doc.name, chunk_index=int(chunks[i]["chunk_index"]), text=chunks[i]["text"],
                score=float(cosines[i]), dense_score=float(cosines[i])) for i in order]
    _mark_closest(service.embedder, query, hits)
    return hits
