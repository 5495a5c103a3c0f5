"""Where the vectors live: Qdrant Edge shards under the data folder (the default), or a Qdrant
server or cluster (``QDRANT_URL``) through ``qdrant-client``.

Both hand out one LlamaIndex vector store per knowledge base with the same contract: add,
delete, delete a document's chunks from an index on, a document's chunks, count, and queries
in dense, sparse and hybrid modes with the fusion done inside the engine (RRF with the
configured k) and each fused passage carrying its dense cosine and BM25 rank.
"""

from __future__ import annotations

import fcntl
import shutil
import threading
import warnings
from pathlib import Path
from typing import Any

from llama_index.core.vector_stores.types import VectorStoreQuery, VectorStoreQueryMode, VectorStoreQueryResult
from llama_index.vector_stores.qdrant import QdrantVectorStore
from qdrant_client import QdrantClient, models
import qdrant_edge as qe

from core.config import Settings
from core.errors import StoreUnavailable
from core.knowledge.embedding import sparse
from core.knowledge.storage.edge_store import DENSE, HIDDEN, KEY, SPARSE, EdgeVectorStore, copy_shard, is_shard, to_result

SHARD_DIR = "shard"  # <data>/kb/<collection>/shard


class EdgeStore:
    """One Edge shard per knowledge base, opened once per process and kept open.

    The data folder is locked for this process (a shard admits one process at a time), and
    every existing shard is opened up front, so a second process or a damaged shard is reported
    in one sentence before any model loads.
    """

    def __init__(self, settings: Settings, check: bool = True):
        self.settings = settings
        self.rrf_k = settings.retrieval.rrf_k
        self._stores: dict[str, EdgeVectorStore] = {}
        self._lock = threading.RLock()
        settings.kb_dir.mkdir(parents=True, exist_ok=True)
        self._lockfile = open(settings.kb_dir / ".lock", "w")
        try:
            fcntl.flock(self._lockfile, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self._lockfile.close()
            raise StoreUnavailable(
                f"The knowledge bases in {settings.data_dir} are open in another process of the lab "
                "(the app, or python -m core.eval): close it first, or give this one another data folder "
                "(LAB_DATA_DIR)."
            ) from None
        if check:
            try:
                for path in sorted(settings.kb_dir.glob(f"*/{SHARD_DIR}")):
                    self.collection(path.parent.name)
            except BaseException:
                self.close()
                raise

    def shard_path(self, collection: str) -> Path:
        return self.settings.kb_dir / collection / SHARD_DIR

    def collection(self, collection: str) -> EdgeVectorStore:
        """The knowledge base's vector store (its shard is created on first add)."""
        with self._lock:
            found = self._stores.get(collection)
            if found is None:
                path = self.shard_path(collection)
                shard = None
                if is_shard(path):
                    try:
                        shard = qe.EdgeShard.load(str(path))
                    except Exception as exc:
                        raise StoreUnavailable(
                            f"The vector store in {path} cannot be opened ({_first_line(exc)}): "
                            "if no other process uses it, move that folder away and re-upload the "
                            "knowledge base's files (its texts are kept in the folder above)."
                        ) from exc
                found = self._stores[collection] = EdgeVectorStore(path, self.rrf_k, shard)
            return found

    def exists(self, collection: str) -> bool:
        return self.collection(collection).exists()

    def release(self, collection: str) -> None:
        """Close a knowledge base's shard; the next use loads it again from its folder."""
        with self._lock:
            store = self._stores.pop(collection, None)
            if store is not None:
                store.close()

    def drop(self, collection: str) -> None:
        with self._lock:
            self.release(collection)
            shutil.rmtree(self.shard_path(collection), ignore_errors=True)

    def copy(self, collection: str, target: Path) -> Path | None:
        """Copy a knowledge base's shard to ``target`` for another process to open (``open_copy``);
        None when the knowledge base has no vectors yet."""
        with self._lock:
            store = self.collection(collection)
            if not store.exists():
                return None
            return copy_shard(store.client, self.shard_path(collection), target)

    def close(self) -> None:
        with self._lock:
            for store in self._stores.values():
                store.close()
            self._stores.clear()
            if not self._lockfile.closed:
                self._lockfile.close()


def open_copy(path: Path, rrf_k: int = 60) -> EdgeVectorStore:
    """Open a shard copied with ``EdgeStore.copy`` (for instance in a worker process)."""
    return EdgeVectorStore(path, rrf_k, qe.EdgeShard.load(str(path)))


def _first_line(exc: Exception) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]


# --- a Qdrant server or cluster -----------------------------------------------------------------
def _match(key: str, value) -> models.FieldCondition:
    return models.FieldCondition(key=key, match=models.MatchValue(value=value))


class ServerVectorStore(QdrantVectorStore):
    """LlamaIndex's Qdrant store, with hybrid fusion done by the server (one batch: the fused
    query and its two prefetches) and the same per-document helpers as the Edge store."""

    rrf_k: int = 60
    _extra: dict = {}

    def _filter(self, doc_id: str, first_index: int = 0) -> models.Filter:
        must = [_match("doc_id", doc_id)]
        if first_index > 0:
            must.append(models.FieldCondition(key="chunk_index", range=models.Range(gte=first_index)))
        return models.Filter(must=must)

    def exists(self) -> bool:
        return self.client.collection_exists(self.collection_name)

    def count(self, flt: models.Filter | None = None) -> int:
        flt = flt or models.Filter(must_not=[_match(HIDDEN, 1)])
        return self.client.count(self.collection_name, count_filter=flt, exact=True).count if self.exists() else 0

    def add(self, nodes, pending: bool = False, key: str | None = None, **kwargs: Any) -> list[str]:
        self._extra = {HIDDEN: int(pending), **({KEY: key} if key is not None else {})}
        return super().add(nodes, **kwargs)

    def _build_points(self, nodes, sparse_vector_name):
        points, ids = super()._build_points(nodes, sparse_vector_name)
        for point in points:
            point.payload.update(self._extra)
        return points, ids

    def publish(self, doc_id: str, key: str) -> None:
        if not self.exists():
            return
        self.client.delete(self.collection_name, points_selector=models.FilterSelector(
            filter=models.Filter(must=[_match("doc_id", doc_id)], must_not=[_match(KEY, key)])))
        self.client.set_payload(self.collection_name, {HIDDEN: 0}, points=models.FilterSelector(
            filter=models.Filter(must=[_match("doc_id", doc_id), _match(KEY, key)])))

    def count_version(self, doc_id: str, key: str | None = None, pending: bool = False) -> int:
        if key is None:
            return self.count(self._filter(doc_id))
        return self.count(models.Filter(must=[_match("doc_id", doc_id), _match(KEY, key), _match(HIDDEN, int(pending))]))

    def versions(self) -> dict[tuple, list[str]]:
        out: dict[tuple, list[str]] = {}
        for pid, p in self.scroll(fields=["doc_id", KEY, HIDDEN]):
            out.setdefault((p.get("doc_id"), p.get(KEY), bool(p.get(HIDDEN))), []).append(pid)
        return out

    def delete_ids(self, ids: list[str]) -> None:
        if ids:
            self.client.delete(self.collection_name, points_selector=models.PointIdsList(points=ids))

    def delete_chunks_from(self, doc_id: str, first_stale_index: int) -> None:
        if self.exists():
            self.client.delete(self.collection_name, points_selector=models.FilterSelector(
                filter=self._filter(doc_id, first_stale_index)))

    def scroll(self, flt: models.Filter | None = None, fields: list[str] | None = None):
        if not self.exists():
            return
        offset = None
        while True:
            points, offset = self.client.scroll(self.collection_name, scroll_filter=flt, limit=1024, offset=offset,
                                                with_payload=fields or True)
            for p in points:
                yield str(p.id), p.payload or {}
            if offset is None:
                return

    def document_chunks(self, doc_id: str, limit: int | None = None) -> list[dict]:
        below = [models.FieldCondition(key="chunk_index", range=models.Range(lt=limit))] if limit else []
        flt = models.Filter(must=[_match("doc_id", doc_id), *below], must_not=[_match(HIDDEN, 1)])
        return sorted((p for _, p in self.scroll(flt)), key=lambda p: p.get("chunk_index", 0))

    def query(self, query: VectorStoreQuery, **kwargs: Any) -> VectorStoreQueryResult:
        if not self.exists():
            return VectorStoreQueryResult(nodes=[], similarities=[], ids=[])
        visible = models.Filter(must_not=[_match(HIDDEN, 1)])
        [idx], [vals] = sparse.encode_queries([query.query_str or ""])
        dense_k, sparse_k = query.similarity_top_k, query.sparse_top_k or query.similarity_top_k
        dense = models.QueryRequest(query=list(query.query_embedding or []), using=DENSE, limit=dense_k, filter=visible)
        keywords = models.QueryRequest(query=models.SparseVector(indices=idx, values=vals), using=SPARSE,
                                       limit=sparse_k, filter=visible)
        if query.mode == VectorStoreQueryMode.HYBRID:
            fused = models.QueryRequest(
                prefetch=[models.Prefetch(query=dense.query, using=DENSE, limit=dense_k, filter=visible),
                          models.Prefetch(query=keywords.query, using=SPARSE, limit=sparse_k, filter=visible)],
                query=models.RrfQuery(rrf=models.Rrf(k=self.rrf_k)), limit=query.hybrid_top_k or dense_k,
                filter=visible, with_payload=True)
            results = self.client.query_batch_points(self.collection_name, [fused, dense, keywords])
            return to_result(*(r.points for r in results))
        request = keywords if query.mode == VectorStoreQueryMode.SPARSE else dense
        request.with_payload = True
        return to_result(self.client.query_batch_points(self.collection_name, [request])[0].points)


class ServerStore:
    """Collections on a Qdrant server (or, in tests, ``qdrant-client``'s local mode)."""

    def __init__(self, settings: Settings, client: QdrantClient | None = None):
        self.settings = settings
        if client is None:
            key = settings.qdrant.api_key.get_secret_value() if settings.qdrant.api_key else None
            client = QdrantClient(url=settings.qdrant.url, api_key=key)
        # LlamaIndex indexes doc_id for servers; local mode says (rightly) that it has no effect.
        warnings.filterwarnings("ignore", message="Payload indexes have no effect in the local Qdrant")
        self.client = client

    def collection(self, collection: str) -> ServerVectorStore:
        store = ServerVectorStore(
            collection_name=collection, client=self.client, enable_hybrid=True,
            dense_vector_name=DENSE, sparse_vector_name=SPARSE,
            sparse_doc_fn=sparse.encode_documents, sparse_query_fn=sparse.encode_queries,
            sparse_config=models.SparseVectorParams(modifier=models.Modifier.IDF), batch_size=256,
        )
        store.rrf_k = self.settings.retrieval.rrf_k
        return store

    def exists(self, collection: str) -> bool:
        return self.client.collection_exists(collection)

    def drop(self, collection: str) -> None:
        if self.client.collection_exists(collection):
            self.client.delete_collection(collection)

    def copy(self, collection: str, target: Path) -> None:
        return None  # a server is reachable from any process: nothing to copy

    def close(self) -> None:
        self.client.close()


def open_store(settings: Settings) -> EdgeStore | ServerStore:
    """The process's vector store: a Qdrant server when ``QDRANT_URL`` is set, else Edge shards."""
    return ServerStore(settings) if settings.qdrant.url else EdgeStore(settings)
