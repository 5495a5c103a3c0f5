"""The stable ids of what a knowledge base stores: a document's, a version of its chunks', a chunk's.

Chunk ids are ``uuid5(doc_id, version key, chunk_index)``, so writing a version twice overwrites
the same points and a crash mid-ingest can never leave duplicates.
"""

from __future__ import annotations

import hashlib
import uuid

NAMESPACE = uuid.UUID("6f1c5a52-8d0e-4f4b-9d43-6b0a3f1f7a10")


def document_id(kb: str, name: str) -> str:
    """Stable id: the same file name in the same knowledge base is the same document."""
    return str(uuid.uuid5(NAMESPACE, f"{kb}/{name.lower()}"))


def chunk_id(doc_id: str, index: int, key: str = "") -> str:
    """Stable id of one chunk of one version (``key``, see ``chunk_key``) of a document."""
    return str(uuid.uuid5(NAMESPACE, f"{doc_id}:{key}:{index}" if key else f"{doc_id}:{index}"))


def chunk_key(content_hash: str, kb) -> str:
    """Names one version of a document's chunks: its content, the knowledge base's chunking and
    embedder. A new version is written beside the old one (other ids), hidden until committed."""
    return hashlib.sha256(f"{content_hash}:{kb.chunk_size}:{kb.chunk_overlap}:{kb.embedder}".encode()).hexdigest()[:16]
