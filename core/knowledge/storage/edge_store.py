"""A LlamaIndex vector store over one Qdrant Edge shard: Qdrant's Rust engine in-process.

One shard per knowledge base (a folder of its own), so a knowledge base, a scratch copy or a
version rebuild can each be opened, copied or deleted on its own. Hybrid search is one engine
call: a batch of the fused query (dense and sparse prefetches, RRF) and the two prefetches on
their own, so each fused passage also carries its dense cosine and BM25 rank.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import qdrant_edge as qe
from llama_index.core.bridge.pydantic import PrivateAttr
from llama_index.core.schema import BaseNode, MetadataMode
from llama_index.core.vector_stores.types import (
    BasePydanticVectorStore,
    FilterOperator,
    MetadataFilters,
    VectorStoreQuery,
    VectorStoreQueryMode,
    VectorStoreQueryResult,
)
from llama_index.core.vector_stores.utils import metadata_dict_to_node, node_to_metadata_dict

from core.knowledge.embedding import sparse

DENSE = "dense"
SPARSE = "sparse-bm25"
# Payload flag, 1 for chunks of a document version whose catalog row is not committed yet.
# An integer: in qdrant-edge 0.9.0 MatchValue(True) never matched a stored boolean.
HIDDEN = "pending"
KEY = "chunk_key"  # payload: which version of a document (content, chunking, embedder) a chunk belongs to
PAGE = 1024


def shard_config(dim: int) -> qe.EdgeConfig:
    # Vectors and payload stay in memory-mapped files (the engine's defaults): the page cache
    # holds what searches touch, so a large knowledge base does not have to fit in RAM.
    return qe.EdgeConfig(
        vectors={DENSE: qe.EdgeVectorParams(size=dim, distance=qe.Distance.Cosine)},
        sparse_vectors={SPARSE: qe.EdgeSparseVectorParams(modifier=qe.Modifier.Idf)},
    )


def create_shard(path: Path, dim: int) -> qe.EdgeShard:
    shard = qe.EdgeShard.create(str(path), shard_config(dim))
    shard.update(qe.UpdateOperation.create_field_index("doc_id", qe.PayloadSchemaType.Keyword))
    shard.update(qe.UpdateOperation.create_field_index("chunk_index", qe.PayloadSchemaType.Integer))
    shard.update(qe.UpdateOperation.create_field_index(HIDDEN, qe.PayloadSchemaType.Integer))
    shard.update(qe.UpdateOperation.create_field_index(KEY, qe.PayloadSchemaType.Keyword))
    return shard


def is_shard(path: Path) -> bool:
    return (path / "edge_config.json").is_file()


def copy_shard(shard: qe.EdgeShard, source: Path, target: Path) -> Path:
    """Flush ``shard`` and copy its folder to ``target``, which another process can then open with
    ``EdgeShard.load`` (the original stays open here; a shard admits one process at a time)."""
    shard.flush()
    if target.exists():
        shutil.rmtree(target)
    shutil.copytree(source, target)
    return target


def _match(key: str, value) -> qe.FieldCondition:
    return qe.FieldCondition(key=key, match=qe.MatchValue(value))


def doc_filter(doc_id: str, first_index: int = 0) -> qe.Filter:
    must = [_match("doc_id", doc_id)]
    if first_index > 0:
        must.append(qe.FieldCondition(key="chunk_index", range=qe.RangeFloat(gte=first_index)))
    return qe.Filter(must=must)


def _filters(query: VectorStoreQuery) -> qe.Filter:
    """Hidden chunks never show; LlamaIndex's equality filters and doc_ids are honoured."""
    must: list = []
    if query.doc_ids:
        must.append(qe.FieldCondition(key="doc_id", match=qe.MatchAny(list(query.doc_ids))))
    filters: MetadataFilters | None = query.filters
    for f in (filters.filters if filters else []):
        if getattr(f, "operator", None) == FilterOperator.EQ:
            must.append(_match(f.key, f.value))
        elif getattr(f, "operator", None) == FilterOperator.IN:
            must.append(qe.FieldCondition(key=f.key, match=qe.MatchAny(list(f.value))))
        else:
            raise ValueError(f"filter {f!r} is not supported by the embedded store")
    return qe.Filter(must=must or None, must_not=[_match(HIDDEN, 1)])


class EdgeVectorStore(BasePydanticVectorStore):
    """LlamaIndex's view of one knowledge base's shard. The shard is created on first add."""

    stores_text: bool = True
    path: str
    rrf_k: int = 60
    _shard: qe.EdgeShard | None = PrivateAttr(default=None)

    def __init__(self, path: Path, rrf_k: int, shard: qe.EdgeShard | None = None) -> None:
        super().__init__(path=str(path), rrf_k=rrf_k)
        self._shard = shard

    @property
    def client(self) -> qe.EdgeShard | None:
        return self._shard

    # ---- writing ----------------------------------------------------------------------
    def _apply(self, operation: qe.UpdateOperation) -> None:
        """Every write to the shard goes through here (the kill trials count them)."""
        self._shard.update(operation)

    def add(self, nodes: list[BaseNode], pending: bool = False, key: str | None = None, **kwargs: Any) -> list[str]:
        if not nodes:
            return []
        if self._shard is None:
            self._shard = create_shard(Path(self.path), len(nodes[0].get_embedding()))
        texts = [n.get_content(metadata_mode=MetadataMode.EMBED) for n in nodes]
        indices, values = sparse.encode_documents(texts)
        points = []
        for node, idx, vals in zip(nodes, indices, values):
            payload = node_to_metadata_dict(node, remove_text=False, flat_metadata=False)
            payload[HIDDEN] = int(pending)
            if key is not None:
                payload[KEY] = key
            vector = {DENSE: list(node.get_embedding()), SPARSE: qe.SparseVector(idx, vals)}
            points.append(qe.Point(node.node_id, vector, payload))
        for start in range(0, len(points), 256):
            self._apply(qe.UpdateOperation.upsert_points(points[start : start + 256]))
        return [n.node_id for n in nodes]

    def delete(self, ref_doc_id: str, **delete_kwargs: Any) -> None:
        self.delete_chunks_from(ref_doc_id, 0)

    def delete_chunks_from(self, doc_id: str, first_stale_index: int) -> None:
        """Delete a document's chunks whose index is >= ``first_stale_index`` (0 deletes all)."""
        if self._shard is not None:
            self._apply(qe.UpdateOperation.delete_points_by_filter(doc_filter(doc_id, first_stale_index)))

    def delete_nodes(self, node_ids: list[str] | None = None, filters=None, **kwargs: Any) -> None:
        if self._shard is not None and node_ids:
            self._apply(qe.UpdateOperation.delete_points(list(node_ids)))

    def clear(self) -> None:
        if self._shard is not None:
            self._apply(qe.UpdateOperation.delete_points_by_filter(qe.Filter()))

    def publish(self, doc_id: str, key: str) -> None:
        """Make version ``key`` of a document the searchable one: drop its other versions, then
        show the new chunks (each step is one engine operation)."""
        if self._shard is None:
            return
        self._apply(qe.UpdateOperation.delete_points_by_filter(
            qe.Filter(must=[_match("doc_id", doc_id)], must_not=[_match(KEY, key)])))
        self._apply(qe.UpdateOperation.set_payload_by_filter(
            qe.Filter(must=[_match("doc_id", doc_id), _match(KEY, key)]), {HIDDEN: 0}))

    def count_version(self, doc_id: str, key: str | None = None, pending: bool = False) -> int:
        """Chunks of a document (of version ``key`` and searchable or not, when given)."""
        if key is None:
            return self.count(doc_filter(doc_id))
        return self.count(qe.Filter(must=[_match("doc_id", doc_id), _match(KEY, key), _match(HIDDEN, int(pending))]))

    # ---- reading ----------------------------------------------------------------------
    def exists(self) -> bool:
        return self._shard is not None

    def count(self, flt: qe.Filter | None = None) -> int:
        """Searchable chunks (or those matching ``flt``), counted by the engine."""
        flt = flt or qe.Filter(must_not=[_match(HIDDEN, 1)])
        return 0 if self._shard is None else self._shard.count(qe.CountRequest(exact=True, filter=flt))

    def scroll(self, flt: qe.Filter | None = None, fields: list[str] | None = None):
        """Every matching point's payload (only ``fields`` when given), one page at a time."""
        if self._shard is None:
            return
        with_payload = qe.PayloadSelector.Include(fields) if fields else True
        offset = None
        while True:
            records, offset = self._shard.scroll(
                qe.ScrollRequest(offset=offset, limit=PAGE, filter=flt, with_payload=with_payload))
            for r in records:
                yield str(r.id), r.payload or {}
            if offset is None:
                return

    def versions(self) -> dict[tuple, list[str]]:
        """Point ids grouped by (document, version key, hidden): what recovery compares with the catalog."""
        out: dict[tuple, list[str]] = {}
        for pid, p in self.scroll(fields=["doc_id", KEY, HIDDEN]):
            out.setdefault((p.get("doc_id"), p.get(KEY), bool(p.get(HIDDEN))), []).append(pid)
        return out

    def delete_ids(self, ids: list[str]) -> None:
        for start in range(0, len(ids), PAGE):
            self._apply(qe.UpdateOperation.delete_points(ids[start : start + PAGE]))

    def document_chunks(self, doc_id: str, limit: int | None = None) -> list[dict]:
        """Payloads of a document's chunks (those with an index below ``limit`` when given), in chunk order."""
        flt = qe.Filter(must=[_match("doc_id", doc_id)] + (
            [qe.FieldCondition(key="chunk_index", range=qe.RangeFloat(lt=limit))] if limit else []),
            must_not=[_match(HIDDEN, 1)])
        return sorted((p for _, p in self.scroll(flt)), key=lambda p: p.get("chunk_index", 0))

    def query(self, query: VectorStoreQuery, **kwargs: Any) -> VectorStoreQueryResult:
        if self._shard is None:
            return VectorStoreQueryResult(nodes=[], similarities=[], ids=[])
        flt = _filters(query)
        dense_k = query.similarity_top_k
        sparse_k = query.sparse_top_k or query.similarity_top_k

        def dense_request(limit: int) -> qe.QueryRequest:
            return qe.QueryRequest(limit=limit, query=qe.Query.Nearest(list(query.query_embedding), using=DENSE),
                                   filter=flt, with_payload=True)

        def sparse_query() -> qe.Query:
            [idx], [vals] = sparse.encode_queries([query.query_str or ""])
            return qe.Query.Nearest(qe.SparseVector(idx, vals), using=SPARSE)

        if query.mode == VectorStoreQueryMode.HYBRID:
            fused = qe.QueryRequest(
                limit=query.hybrid_top_k or dense_k,
                prefetches=[qe.Prefetch(limit=dense_k, query=qe.Query.Nearest(list(query.query_embedding), using=DENSE), filter=flt),
                            qe.Prefetch(limit=sparse_k, query=sparse_query(), filter=flt)],
                query=qe.Fusion.Rrf(k=self.rrf_k), filter=flt, with_payload=True,
            )
            sparse_only = qe.QueryRequest(limit=sparse_k, query=sparse_query(), filter=flt, with_payload=False)
            dense_only = qe.QueryRequest(limit=dense_k, query=qe.Query.Nearest(list(query.query_embedding), using=DENSE),
                                         filter=flt, with_payload=False)
            fused_points, dense_points, sparse_points = self._shard.query_batch(
                qe.QueryBatchRequest([fused, dense_only, sparse_only]))
            return to_result(fused_points, dense_points, sparse_points)
        if query.mode == VectorStoreQueryMode.SPARSE:
            request = qe.QueryRequest(limit=sparse_k, query=sparse_query(), filter=flt, with_payload=True)
            return to_result(self._shard.query(request))
        return to_result(self._shard.query(dense_request(dense_k)))

    def optimize(self) -> None:
        """Build the engine's indexes (HNSW) now, blocking; without it large shards are searched exhaustively."""
        if self._shard is not None:
            self._shard.optimize()

    def close(self) -> None:
        if self._shard is not None:
            self._shard.close()
            self._shard = None


def to_result(points, dense=None, sparse_=None) -> VectorStoreQueryResult:
    """Nodes with their scores; for a fused query each node also carries its dense cosine and
    rank and its BM25 score and rank (from the prefetches run in the same batch)."""
    dense_by_id = {str(p.id): (rank + 1, p.score) for rank, p in enumerate(dense or [])}
    sparse_by_id = {str(p.id): (rank + 1, p.score) for rank, p in enumerate(sparse_ or [])}
    nodes, scores, ids = [], [], []
    for p in points:
        node = metadata_dict_to_node(p.payload)
        pid = str(p.id)
        for label, found in (("dense", dense_by_id.get(pid)), ("sparse", sparse_by_id.get(pid))):
            if found:
                node.metadata[f"{label}_rank"], node.metadata[f"{label}_score"] = found[0], float(found[1])
        nodes.append(node)
        scores.append(float(p.score))
        ids.append(pid)
    return VectorStoreQueryResult(nodes=nodes, similarities=scores, ids=ids)
