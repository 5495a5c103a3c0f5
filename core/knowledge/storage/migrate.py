"""Upgrading a data folder written before Qdrant Edge: local-mode collections become Edge shards.

Earlier versions kept every knowledge base's vectors in ``qdrant-client``'s local mode under
``<data>/qdrant``. At the first start with Edge, each collection the catalog still knows is copied
point by point (vectors and payloads as they are, so nothing is re-embedded and every search
ranks as before) into a new shard, built aside and renamed into place, so an interrupted
migration simply starts again. The catalog is not touched: knowledge bases, documents, kept
texts and version hashes stay as they were. The old folder is then renamed, not deleted.
"""

from __future__ import annotations

import logging
import shutil
from collections.abc import Callable

from core.errors import StoreUnavailable
from core.knowledge.storage import edge_store
from core.knowledge.storage.catalog import Catalog
from core.knowledge.storage.ids import chunk_key

log = logging.getLogger(__name__)
MIGRATED = "qdrant-local-mode.migrated"  # <data>/qdrant is renamed to this once copied
BATCH = 512


def needs_migration(settings) -> bool:
    return (settings.qdrant_path / "collection").is_dir()


def migrate_local_mode(settings, store, catalog: Catalog, progress: Callable[[str], None] = log.info) -> int:
    """Copy every local-mode collection of a catalogued knowledge base into its Edge shard;
    returns the number of points copied."""
    if not needs_migration(settings):
        return 0
    from qdrant_client import QdrantClient

    try:
        client = QdrantClient(path=str(settings.qdrant_path))
    except RuntimeError as exc:
        raise StoreUnavailable(
            f"The knowledge bases in {settings.qdrant_path} are open in an older version of the lab: "
            "close it, then start this one to move them to the new store."
        ) from exc
    copied = 0
    try:
        hashes = {}
        for kb in catalog.kbs():
            hashes[kb.collection] = (kb, {d.doc_id: d.content_hash for d in catalog.documents(kb.name)})
        for collection in sorted(c.name for c in client.get_collections().collections):
            if collection not in hashes:
                progress(f"migration: collection {collection} belongs to no knowledge base; left in the old folder")
                continue
            if store.exists(collection):
                continue  # copied by an earlier, interrupted start
            kb, docs = hashes[collection]
            store.release(collection)
            copied += _copy_collection(client, collection, store, kb, docs, progress)
            store.release(collection)  # next use opens the new shard
    finally:
        client.close()
    target = settings.data_dir / MIGRATED
    if target.exists():
        shutil.rmtree(target)
    settings.qdrant_path.rename(target)
    progress(f"migration: done, {copied} points copied; the old store is kept in {target}")
    return copied


def _copy_collection(client, collection: str, store, kb, docs: dict[str, str], progress) -> int:
    total = client.count(collection, exact=True).count
    final = store.shard_path(collection)
    building = final.with_name(final.name + ".migrating")
    shutil.rmtree(building, ignore_errors=True)
    shard, done, offset = None, 0, None
    while True:
        points, offset = client.scroll(collection, limit=BATCH, offset=offset, with_payload=True, with_vectors=True)
        batch = []
        for p in points:
            vectors = p.vector if isinstance(p.vector, dict) else {edge_store.DENSE: p.vector}
            dense = vectors[edge_store.DENSE]
            named = {edge_store.DENSE: list(dense)}
            sparse = vectors.get(edge_store.SPARSE)
            if sparse is not None:
                named[edge_store.SPARSE] = edge_store.qe.SparseVector(list(sparse.indices), list(sparse.values))
            payload = dict(p.payload or {})
            payload[edge_store.HIDDEN] = 0
            content_hash = docs.get(payload.get("doc_id", ""))
            if content_hash is not None:
                payload[edge_store.KEY] = chunk_key(content_hash, kb)
            batch.append(edge_store.qe.Point(str(p.id), named, payload))
        if batch:
            if shard is None:
                shard = edge_store.create_shard(building, len(batch[0].vector[edge_store.DENSE]))
            shard.update(edge_store.qe.UpdateOperation.upsert_points(batch))
        done += len(points)
        progress(f"migration: {kb.name}: {done:,} of {total:,} chunks copied")
        if offset is None:
            break
    if shard is not None:
        shard.flush()
        shard.close()
        building.rename(final)
    return done
