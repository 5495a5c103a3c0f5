"""Qdrant: one client per process, one collection per knowledge base, hybrid fusion.

The same code serves the embedded store (``QdrantClient(path=...)``) and a Qdrant server or
cluster (``QDRANT_URL``); only the client differs.
"""

from __future__ import annotations

import warnings

from llama_index.core.vector_stores.types import VectorStoreQueryResult
from llama_index.vector_stores.qdrant import QdrantVectorStore
from qdrant_client import QdrantClient, models

from core.config import Settings
from core.knowledge import sparse

DENSE = "dense"
SPARSE = "sparse-bm25"


def open_client(settings: Settings) -> QdrantClient:
    """The process's one Qdrant client. Local mode locks its folder: never open it twice."""
    if settings.qdrant.url:
        key = settings.qdrant.api_key.get_secret_value() if settings.qdrant.api_key else None
        return QdrantClient(url=settings.qdrant.url, api_key=key)
    settings.qdrant_path.mkdir(parents=True, exist_ok=True)
    # LlamaIndex indexes doc_id for servers; the local store says (rightly) that it has no effect.
    warnings.filterwarnings("ignore", message="Payload indexes have no effect in the local Qdrant")
    return QdrantClient(path=str(settings.qdrant_path))


def reciprocal_rank_fusion(rrf_k: int):
    """A LlamaIndex hybrid fusion function: RRF over the dense and sparse result lists.

    The fused score is kept as the ranking score; each node also carries its dense cosine
    and BM25 rank in metadata so pages can show why it was retrieved.
    """

    def fuse(dense: VectorStoreQueryResult, sparse_: VectorStoreQueryResult, alpha: float = 0.5, top_k: int = 2):
        scores: dict[str, float] = {}
        nodes = {}
        for weight, result, label in ((1 - alpha, dense, "dense"), (alpha, sparse_, "sparse")):
            for rank, (node, sim) in enumerate(zip(result.nodes or [], result.similarities or [])):
                nodes.setdefault(node.node_id, node)
                scores[node.node_id] = scores.get(node.node_id, 0.0) + 2 * weight / (rrf_k + rank + 1)
                nodes[node.node_id].metadata[f"{label}_score"] = float(sim)
                nodes[node.node_id].metadata[f"{label}_rank"] = rank + 1
        ranked = sorted(scores, key=scores.get, reverse=True)[:top_k]
        return VectorStoreQueryResult(
            nodes=[nodes[i] for i in ranked], similarities=[scores[i] for i in ranked], ids=ranked
        )

    return fuse


def vector_store(client: QdrantClient, collection: str, rrf_k: int) -> QdrantVectorStore:
    """LlamaIndex's Qdrant store with our sparse encoder and fusion; the collection is
    created on first insert with a dense vector and an IDF-weighted sparse vector."""
    return QdrantVectorStore(
        collection_name=collection,
        client=client,
        enable_hybrid=True,
        dense_vector_name=DENSE,
        sparse_vector_name=SPARSE,
        sparse_doc_fn=sparse.encode_documents,
        sparse_query_fn=sparse.encode_queries,
        hybrid_fusion_fn=reciprocal_rank_fusion(rrf_k),
        sparse_config=models.SparseVectorParams(modifier=models.Modifier.IDF),
        batch_size=256,
    )


def delete_chunks_from(client: QdrantClient, collection: str, doc_id: str, first_stale_index: int) -> None:
    """Delete a document's chunks whose index is >= ``first_stale_index`` (0 deletes all)."""
    if not client.collection_exists(collection):
        return
    conditions = [models.FieldCondition(key="doc_id", match=models.MatchValue(value=doc_id))]
    if first_stale_index > 0:
        conditions.append(models.FieldCondition(key="chunk_index", range=models.Range(gte=first_stale_index)))
    client.delete(collection, points_selector=models.FilterSelector(filter=models.Filter(must=conditions)))


def document_chunks(client: QdrantClient, collection: str, doc_id: str) -> list[dict]:
    """Payloads of a document's chunks, in chunk order."""
    if not client.collection_exists(collection):
        return []
    points, offset, out = None, None, []
    while True:
        points, offset = client.scroll(
            collection,
            scroll_filter=models.Filter(must=[models.FieldCondition(key="doc_id", match=models.MatchValue(value=doc_id))]),
            with_payload=True,
            limit=256,
            offset=offset,
        )
        out.extend(p.payload for p in points)
        if offset is None:
            break
    return sorted(out, key=lambda p: p.get("chunk_index", 0))


def count_points(client: QdrantClient, collection: str) -> int:
    if not client.collection_exists(collection):
        return 0
    return client.count(collection, exact=True).count
