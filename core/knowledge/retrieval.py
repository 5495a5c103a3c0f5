"""Retrieval over a knowledge base: hybrid (dense + BM25, RRF-fused) or dense only,
plus the sentences of each passage that best match a query or an answer."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np
from llama_index.core import VectorStoreIndex
from llama_index.core.vector_stores.types import VectorStoreQueryMode

from core.knowledge import support
from core.knowledge.service import KnowledgeService

_SENTENCE_END = re.compile(r"((?<=[.!?。！？])[ \t]+|\n+)")


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


def search(service: KnowledgeService, kb: str, query: str, top_k: int | None = None, mode: str | None = None) -> list[Hit]:
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
    mark_sentences(service.embedder, query, hits)
    return hits


def split_sentences(text: str) -> list[str]:
    """Sentences and lines of ``text``, each keeping the whitespace that follows it, so that
    joining them gives back the text exactly (line breaks included)."""
    parts = _SENTENCE_END.split(text)
    out: list[str] = []
    for i in range(0, len(parts), 2):
        sentence = parts[i] + (parts[i + 1] if i + 1 < len(parts) else "")
        if sentence.strip():
            out.append(sentence)
        elif out:
            out[-1] += sentence
    return out


def mark_sentences(embedder, reference: str, hits: list[Hit], question: str | None = None) -> None:
    """Mark, in each hit, the sentences closest to ``reference``: a query, or an answer (then pass
    the ``question``, and a sentence is marked only if it supports the answer by
    ``core.knowledge.support``: close enough and stating the answer's numbers and names).

    The best sentence of a hit is marked if it clears ``support.FLOOR`` (set so that off-topic
    passages get no highlight); others within ``support.MARGIN`` of it too.
    """
    all_sentences = [split_sentences(h.text) for h in hits]
    flat = [s for sents in all_sentences for s in sents]
    if not flat:
        return
    if question is None:
        scores = support.closeness(embedder, reference, flat)
    else:
        scores = [-1.0 if sc is None else sc for sc in support.supporting(embedder, reference, flat, question)]
    pos = 0
    for hit, sents in zip(hits, all_sentences):
        mine = scores[pos:pos + len(sents)]
        pos += len(sents)
        best = max(mine, default=0.0)
        hit.sentences = [(s, best >= support.FLOOR and sc >= best - support.MARGIN) for s, sc in zip(sents, mine)]


def gold_passages(service: KnowledgeService, kb: str, doc_name: str, query: str, top_k: int) -> list[Hit]:
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
    mark_sentences(service.embedder, query, hits)
    return hits
