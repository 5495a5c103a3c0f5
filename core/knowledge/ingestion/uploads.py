"""Uploads into a knowledge base: check, parse (in a sandboxed child), split, embed and write each
file, with one result line per file. ``KnowledgeService.ingest_files`` is the entry point; the
crash-safe write of one document is ``KnowledgeService.write_document``.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Literal

from core.errors import RejectedFile
from core.db import now
from core.knowledge.ingestion.filenames import safe_display_name
from core.knowledge.ingestion.ingest import embed_nodes, split_document
from core.knowledge.ingestion.sandbox import Parser
from core.knowledge.storage.catalog import DocumentInfo, KBInfo
from core.knowledge.storage.ids import document_id

log = logging.getLogger(__name__)
Progress = Callable[[float, str], None]


@dataclass(frozen=True)
class FileResult:
    name: str
    status: Literal["added", "updated", "unchanged", "rejected"]
    chunks: int = 0
    reason: str = ""


@dataclass
class _Pending:
    """A parsed and split file waiting to be embedded and written."""

    doc_id: str
    content_hash: str
    row: DocumentInfo
    text: str
    nodes: list
    is_update: bool
    position: int = -1
    note: str = ""  # shown in the file's result line, e.g. a guessed text encoding


EMBED_ROUND_CHUNKS = 128  # small enough to overlap with reading, big enough for full batches
EMBED_SLICE = 512  # chunks embedded (and progress reported) at a time within a large file
INTERNAL_ERROR = "an internal error stopped this file; nothing was changed."


def ingest_files(service, name: str, files: list[tuple[str, bytes]], progress: Progress = lambda fraction, message: None) -> list[FileResult]:
    """Add or update files; each file succeeds or fails on its own, with a reason.

    A background thread parses and splits the next files while this one embeds rounds of
    several files at once (fewer, fuller batches) and writes them.
    """
    info = service.get_kb(name)
    existing = {d.doc_id: d for d in service.catalog.documents(info.name)}
    results: dict[int, FileResult] = {}
    pending: list[_Pending] = []
    seen: set[str] = set()
    limits = service.settings.ingest
    parser = Parser(service.settings.tmp_dir, timeout_s=limits.parse_timeout_s,
                    memory_mb=limits.parse_memory_mb, max_unpacked_mb=limits.max_unpacked_mb)
    with parser, ThreadPoolExecutor(max_workers=1, thread_name_prefix="ingest-read") as reader:
        prepared = reader.map(lambda f: _prepare_safely(service, info, parser, f[0], f[1], existing), files)
        for i, item in enumerate(prepared):
            progress(0.95 * i / max(len(files), 1), f"Indexing {item.row.name if isinstance(item, _Pending) else item.name} ({i + 1} of {len(files)})")
            if isinstance(item, FileResult):
                results[i] = item
                continue
            if {item.doc_id, item.content_hash} & seen:
                results[i] = FileResult(item.row.name, "rejected", reason="the same file appears twice in this upload.")
                continue
            seen |= {item.doc_id, item.content_hash}
            item.position = i
            pending.append(item)
            if sum(len(p.nodes) for p in pending) >= EMBED_ROUND_CHUNKS:
                results.update(_flush(service, info, pending, _chunk_progress(progress, i, len(files))))
                pending = []
    if pending:
        results.update(_flush(service, info, pending, _chunk_progress(progress, len(files) - 1, len(files))))
    ordered = [results[i] for i in range(len(files))]
    if any(r.status in ("added", "updated") for r in ordered):
        service.catalog.record_version(name)
    progress(1.0, "Done")
    return ordered

def _prepare_safely(service, info: KBInfo, parser: Parser, raw_name: str, data: bytes, existing: dict) -> _Pending | FileResult:
    try:
        return _prepare(service, info, parser, raw_name, data, existing)
    except RejectedFile as exc:
        return FileResult(_label(raw_name), "rejected", reason=str(exc))
    except Exception:  # never lose the batch to one file; the log keeps the detail
        log.exception("reading %r failed", _label(raw_name))
        return FileResult(_label(raw_name), "rejected", reason=INTERNAL_ERROR)

def _prepare(service, info: KBInfo, parser: Parser, raw_name: str, data: bytes, existing: dict) -> _Pending | FileResult:
    """Check, parse and split one file; a FileResult means there is nothing to embed."""
    name = safe_display_name(raw_name)
    limit = service.settings.ingest.max_file_mb
    if len(data) > limit * 1024 * 1024:
        raise RejectedFile(f"the file is larger than the {limit:g} MB limit.")
    if not data:
        raise RejectedFile("the file is empty.")
    content_hash = hashlib.sha256(data).hexdigest()
    doc_id = document_id(info.name, name)
    if doc_id in existing and existing[doc_id].content_hash == content_hash and service.intact(info, existing[doc_id]):
        return FileResult(name, "unchanged", existing[doc_id].chunks, "already in the knowledge base, unchanged.")
    twin = next((d for d in existing.values() if d.content_hash == content_hash and d.doc_id != doc_id), None)
    if twin is not None:
        return FileResult(name, "unchanged", twin.chunks, f"same content as '{twin.name}', already in the knowledge base.")
    parsed = parser.parse(name, data)
    nodes = split_document(service.embedder_for(info), doc_id, name, parsed.kind, parsed.text, info.chunk_size, info.chunk_overlap)
    info_row = DocumentInfo(doc_id, name, parsed.kind, len(data), len(nodes), now(), content_hash)
    return _Pending(doc_id, content_hash, info_row, parsed.text, nodes, is_update=doc_id in existing, note=parsed.note)

def _chunk_progress(progress: Progress, last: int, files: int) -> Callable[[int, int, str], None]:
    """Progress within a round of files, per slice of chunks (a large file moves the bar too)."""
    def report(done: int, total: int, what: str) -> None:
        # embedding takes most of the time: the first 80% of the file's share, writing the rest
        share = 0.8 * done / max(total, 1) if what == "Embedding" else 0.8 + 0.2 * done / max(total, 1)
        progress(0.95 * (last + share) / max(files, 1), f"{what}: {done:,} of {total:,} chunks")
    return report

def _embed(embedder, nodes: list, report: Callable[[int, int, str], None]) -> None:
    for start in range(0, len(nodes), EMBED_SLICE):
        report(start, len(nodes), "Embedding")
        embed_nodes(embedder, nodes[start : start + EMBED_SLICE])

def _flush(service, info: KBInfo, pending: list[_Pending], report=lambda done, total, what: None) -> dict[int, FileResult]:
    """Embed the pending files together (one by one if that fails), then write each."""
    try:
        _embed(service.embedder_for(info), [n for p in pending for n in p.nodes], report)
        ready = pending
    except Exception:
        log.exception("embedding a round of %d files failed; retrying one by one", len(pending))
        ready = []
        for p in pending:
            try:
                embed_nodes(service.embedder_for(info), p.nodes)
                ready.append(p)
            except Exception:
                log.exception("embedding %r failed", p.row.name)
    out = {p.position: FileResult(p.row.name, "rejected", reason=INTERNAL_ERROR) for p in pending}
    for p in ready:
        try:
            service.write_document(info, p.row, p.nodes, p.text, report)
        except Exception:
            log.exception("writing %r failed", p.row.name)
            continue
        out[p.position] = FileResult(p.row.name, "updated" if p.is_update else "added", len(p.nodes), p.note)
    return out


def _label(raw_name: str) -> str:
    try:
        return safe_display_name(raw_name)
    except RejectedFile:
        return "(unnamed file)"
