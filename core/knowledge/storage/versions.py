"""Knowledge-base versions you can go back to.

A version is a hash of a knowledge base's documents (names and content hashes), chunking and
embedder (``Catalog.record_version``). Every document text the knowledge base has held is kept
by content hash, so any recorded version can be rebuilt: in a hidden copy whose own version hash
must come out equal to the one asked for, which proves it holds the same knowledge base.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from core.errors import KnowledgeBaseError
from core.db import now
from core.knowledge.storage.catalog import DocumentInfo
from core.knowledge.embedding.embeddings import parse_identity
from core.knowledge.storage.ids import document_id

VERSION_COPY = " - version "  # KB names allow only letters, digits, spaces, '.', '-', '_'


@dataclass(frozen=True)
class VersionInfo:
    """One recorded state of a knowledge base, compared with its current state."""

    version: str
    created_at: str
    documents: int
    current: bool
    changes: list[str]  # documents added, changed or removed between this version and the current one
    problem: str = ""  # why this version cannot be rebuilt ("" when it can)

    @property
    def restorable(self) -> bool:
        return not self.problem


def changed_documents(before: dict[str, str], after: dict[str, str]) -> list[str]:
    """Names whose content hash differs between two snapshots' documents (added, changed or removed)."""
    return sorted(n for n in before.keys() | after.keys() if before.get(n) != after.get(n))


def write_atomic(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


# --- the text archive: <kb dir>/archive/<content hash>.json -----------------------------------
def archive_path(kb_dir: Path, content_hash: str) -> Path:
    return kb_dir / "archive" / f"{content_hash}.json"


def keep_text(kb_dir: Path, row: DocumentInfo, text: str) -> None:
    path = archive_path(kb_dir, row.content_hash)
    if not path.is_file():
        write_atomic(path, json.dumps({"name": row.name, "kind": row.kind, "size_bytes": row.size_bytes, "text": text}))


def _keep_current_texts(service, info) -> None:
    """Keep the texts of documents ingested before texts were archived (their current state)."""
    for doc in service.catalog.documents(info.name):
        text_path = service.text_path(info, doc.doc_id)
        if not archive_path(service.kb_dir(info), doc.content_hash).is_file() and text_path.is_file():
            keep_text(service.kb_dir(info), doc, text_path.read_text(encoding="utf-8"))


# --- history and rebuilding -----------------------------------------------------------------
def history(service, name: str) -> list[VersionInfo]:
    """Every recorded version of ``name``, newest first, with what changed since and whether it can be rebuilt."""
    info = service.get_kb(name)
    _keep_current_texts(service, info)
    current = service.version(name)
    now_docs = service.catalog.snapshot(name)["documents"]
    out = []
    for version, created in reversed(service.catalog.versions(name)):
        snap = service.catalog.version_snapshot(name, version)
        docs = snap["documents"]
        missing = sorted(n for n, h in docs.items() if not archive_path(service.kb_dir(info), h).is_file())
        problem = (
            f"it was made with another embedding model ({snap['embedder']})."
            if parse_identity(snap["embedder"])[0] != parse_identity(info.embedder)[0]
            else f"the text of {len(missing)} of its documents was not kept ({', '.join(missing[:3])}"
                 f"{', …' if len(missing) > 3 else ''}); versions recorded from now on can be rebuilt." if missing
            else ""
        )
        out.append(VersionInfo(version, created, len(docs), version == current, changed_documents(docs, now_docs), problem))
    return out


def rebuild(service, name: str, version: str, progress: Callable[[float, str], None]) -> str:
    """The name of a knowledge base holding ``version`` of ``name``: ``name`` itself when that is
    its current version, else a hidden copy rebuilt from the kept document texts (reused while
    it still matches)."""
    info = service.get_kb(name)
    if version == service.version(name):
        return name
    found = next((v for v in history(service, name) if v.version == version), None)
    if found is None:
        raise KnowledgeBaseError(f"Version {version} is not a version of '{name}'.")
    if found.problem:
        raise KnowledgeBaseError(f"Version {version} of '{name}' cannot be rebuilt: {found.problem}")
    copy = name[: 48 - len(VERSION_COPY) - 8] + VERSION_COPY + version[:8]
    if service.catalog.kb(copy) is not None:
        if service.copy_of(copy) != name:
            raise KnowledgeBaseError(f"A knowledge base named '{copy}' already exists: rename it to rebuild version {version}.")
        if service.version(copy) == version:
            return copy
        service.delete_kb(copy)
    snap = service.catalog.version_snapshot(name, version)
    # The copy embeds with the embedder the version was made with (fp32 or int8), so its hash matches.
    target = service.create_kb(copy, snap["chunk_size"], snap["chunk_overlap"], info.mode, copy_of=name,
                               embedder=snap["embedder"])
    try:
        docs = sorted(snap["documents"].items())
        for i, (doc_name, content_hash) in enumerate(docs):
            progress(i / max(len(docs), 1), f"Rebuilding version {version[:8]}: {doc_name} ({i + 1} of {len(docs)})")
            kept = json.loads(archive_path(service.kb_dir(info), content_hash).read_text(encoding="utf-8"))
            doc_id = document_id(copy, doc_name)
            nodes = service.embed_document(target, doc_id, doc_name, kept["kind"], kept["text"])
            row = DocumentInfo(doc_id, doc_name, kept["kind"], kept["size_bytes"], len(nodes), now(), content_hash)
            service.write_document(target, row, nodes, kept["text"])
        rebuilt = service.catalog.record_version(copy)
        if rebuilt != version:
            raise KnowledgeBaseError(f"Rebuilding version {version} of '{name}' gave version {rebuilt}; nothing was kept.")
    except Exception:  # leave no half-built copy behind
        service.delete_kb(copy)
        raise
    progress(1.0, "Done")
    return copy
