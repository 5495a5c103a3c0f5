"""KnowledgeService: named knowledge bases, their documents, ingestion and versions.

One instance per process owns the vector store (an Edge shard admits one process at a time);
the Streamlit app keeps it in ``st.cache_resource``. Calls are serialised by a lock because
Streamlit runs each browser session on its own thread. Constructing one opens nothing; the first
use opens it, and the process that owns the data folder calls ``recover`` once.
"""

from __future__ import annotations

import hashlib
import logging
import re
import shutil
import threading
from collections.abc import Callable
from pathlib import Path

from core.config import Settings
from core.db import now
from core.errors import KnowledgeBaseError
from core.knowledge.embedding.embeddings import embedder_identity, load_embedder
from core.knowledge.ingestion import bulk, uploads
from core.knowledge.ingestion.reindex import reindex_all
from core.knowledge.ingestion.ingest import build_nodes
from core.knowledge.ingestion.uploads import FileResult  # noqa: F401  (callers import it from here)
from core.knowledge.storage import documents as stored, recovery, store, versions
from core.knowledge.storage.catalog import Catalog, DocumentInfo, KBInfo
from core.knowledge.storage.migrate import migrate_local_mode
from core.knowledge.storage.versions import VersionInfo

log = logging.getLogger(__name__)
Progress = Callable[[float, str], None]
ACTIVE_KEY = "active_kb"
COPY_KEY = "copy-of:"  # catalog meta key prefix: a scratch copy the lab made of another knowledge base


def no_progress(fraction: float, message: str) -> None:
    """The default ``Progress``: nobody is listening."""


class KnowledgeService:
    def __init__(self, settings: Settings, embedder=None, vectors=None):
        """Opens nothing and starts no work: the vector store, the catalog and the embedder open on
        first use (``open``), and repairs run only when the owner of the data folder asks (``recover``).
        ``embedder`` and ``vectors`` are used instead of loading and opening the settings' own."""
        self.settings = settings
        self._lock = threading.RLock()
        self._given = (embedder, vectors)
        self._store = self._catalog = self._embedder = None
        self._embedder_id = ""
        self._embedders: dict[str, object] = {}  # identity -> loaded embedder (embedder_for)
        self._jobs = None  # the job records, opened on first use (job_store)

    def open(self) -> KnowledgeService:
        """Open the vector store, then the catalog (moving an old local-mode store into Edge shards),
        then the embedder: a locked or damaged store is reported before the embedder loads. Every
        member that needs them calls this; a second call does nothing."""
        if self._embedder is not None:
            return self
        with self._lock:
            if self._embedder is not None:
                return self
            embedder, vectors = self._given
            opened = vectors or store.open_store(self.settings)
            try:
                catalog = Catalog(self.settings.catalog_path)
                if isinstance(opened, store.EdgeStore):
                    migrate_local_mode(self.settings, opened, catalog)
                embedder = embedder or load_embedder(self.settings)
            except BaseException:
                opened.close()
                raise
            self._store, self._catalog = opened, catalog
            self._embedder_id = embedder_identity(embedder, self.settings)  # what new knowledge bases record
            self._embedders.setdefault(self._embedder_id, embedder)
            self._embedder = embedder
        return self

    @property
    def is_open(self) -> bool:
        """Whether ``open`` has run (``close`` releases the store but leaves this True: a closed
        service is not reopened)."""
        return self._embedder is not None

    @property
    def store(self):
        """The process's vector store (``core.knowledge.storage.store``: Edge shards or a Qdrant server)."""
        self.open()
        return self._store

    @property
    def catalog(self) -> Catalog:
        self.open()
        return self._catalog

    @property
    def embedder(self):
        """The settings' embedder: new knowledge bases are built with it."""
        self.open()
        return self._embedder

    @property
    def embedder_id(self) -> str:
        """The identity the catalog records for ``embedder``."""
        self.open()
        return self._embedder_id

    def recover(self) -> dict[str, int]:
        """Put the data folder right after a kill: finish or roll back half-written documents
        (``core.knowledge.storage.recovery``; returns its counts), delete what a background job's switch-in
        left behind, and switch in background uploads that finished while no process owned the
        folder. The process that owns the data folder calls it once, when it opens it (the app, the
        command line), and so does a job process on its snapshot."""
        done = recovery.recover(self.open())
        bulk.sweep(self)
        if self.settings.knowledge_dir is None and (self.settings.data_dir / "jobs.db").is_file():
            bulk.switch_in_finished(self, self.job_store())
        return done

    @property
    def lock(self) -> threading.RLock:
        """Held around every use of the vector store and every catalog change that goes with one.
        Neighbours that work on the store directly (recovery, snapshots, switch-ins, searches) take it too."""
        return self._lock

    def close(self) -> None:
        """Release the vector store (and its folder lock) for another process; nothing to do if it
        was never opened."""
        with self._lock:
            if self._store is not None:
                self._store.close()

    # ---- knowledge bases -------------------------------------------------------------
    def list_kbs(self, include_copies: bool = False) -> list[KBInfo]:
        """The knowledge bases people made; the lab's scratch copies (older versions, freshness
        probes) only with ``include_copies``."""
        kbs = self.catalog.kbs()
        return kbs if include_copies else [k for k in kbs if not self.copy_of(k.name)]

    def copy_of(self, name: str) -> str | None:
        """The knowledge base ``name`` is a scratch copy of, or None for a knowledge base of its own."""
        return self.catalog.get_meta(COPY_KEY + name) or None

    def copies(self, name: str) -> list[KBInfo]:
        """The lab's scratch copies of ``name``: older versions rebuilt for evaluations, the freshness
        probe's copy. They are rebuilt when needed, so they can be deleted at any time nothing reads them."""
        return [k for k in self.catalog.kbs() if self.copy_of(k.name) == name]

    def get_kb(self, name: str) -> KBInfo:
        info = self.catalog.kb(name)
        if info is None:
            raise KnowledgeBaseError(f"There is no knowledge base named '{name}'.")
        return info

    def create_kb(
        self, name: str, chunk_size: int | None = None, chunk_overlap: int | None = None, mode: str | None = None,
        copy_of: str | None = None, embedder: str | None = None,
    ) -> KBInfo:
        """A new, empty knowledge base. ``copy_of`` marks it as the lab's scratch copy of another one:
        hidden from the pickers and deleted with it."""
        name = name.strip()
        if not re.fullmatch(r"[\w][\w .-]{0,47}", name):
            raise KnowledgeBaseError("A knowledge-base name needs 1-48 letters, digits, spaces, '.', '-' or '_'.")
        if self.catalog.kb(name):
            raise KnowledgeBaseError(f"A knowledge base named '{name}' already exists.")
        r = self.settings.retrieval
        size, overlap = chunk_size or r.chunk_size, r.chunk_overlap if chunk_overlap is None else chunk_overlap
        self.check_chunking(size, overlap)
        slug = re.sub(r"\W+", "_", name.lower()).strip("_")[:24] or "kb"
        # A job's snapshot (knowledge_dir set) names its own copies apart from the app's on a shared Qdrant server.
        salt = str(self.settings.knowledge_dir or "")
        collection = f"kb_{slug}_{hashlib.sha1((salt + name).encode()).hexdigest()[:8]}"
        info = KBInfo(name, collection, size, overlap, mode or r.mode, embedder or self.embedder_id, now())
        with self._lock:
            self.catalog.add_kb(info)
            if copy_of:
                self.catalog.set_meta(COPY_KEY + name, copy_of)
            self.catalog.record_version(name)
            if self.catalog.get_meta(ACTIVE_KEY) is None and not copy_of:
                self.catalog.set_meta(ACTIVE_KEY, name)
        return info

    @staticmethod
    def check_chunking(size: int, overlap: int) -> None:
        """Refuse chunk settings outside the bounds the pages offer, with a sentence."""
        if not 32 <= size <= 4096:
            raise KnowledgeBaseError("Chunk size must be between 32 and 4096 tokens.")
        if not 0 <= overlap < size // 2 + 1:
            raise KnowledgeBaseError("Chunk overlap must be at least 0 and at most half the chunk size.")

    def delete_kb(self, name: str) -> None:
        """Delete a knowledge base, its files and its scratch copies."""
        info = self.get_kb(name)
        self.check_writable(name)
        with self._lock:
            for copy in self.copies(name):
                self.delete_kb(copy.name)
            self.store.drop(info.collection)
            shutil.rmtree(self.kb_dir(info), ignore_errors=True)
            self.catalog.delete_kb(name)
            self.catalog.set_meta(COPY_KEY + name, "")
            if self.catalog.get_meta(ACTIVE_KEY) == name:
                rest = self.catalog.kbs()
                self.catalog.set_meta(ACTIVE_KEY, rest[0].name if rest else "")

    def active_kb(self) -> KBInfo | None:
        """The workspace's default knowledge base: where a new browser session (or the CLI) starts.
        Each session keeps its own choice (ui.widgets.session_kb)."""
        name = self.catalog.get_meta(ACTIVE_KEY)
        return self.catalog.kb(name) if name else None

    def embedder_for(self, kb: KBInfo | str):
        """The embedder a knowledge base was built with (recorded in the catalog): its vectors
        compare only with that embedder's, so it keeps it until it is re-indexed."""
        self.open()
        recorded = (kb if isinstance(kb, KBInfo) else self.get_kb(kb)).embedder
        with self._lock:
            if recorded not in self._embedders:
                log.info("loading embedder %r for knowledge bases built with it", recorded)
                self._embedders[recorded] = load_embedder(self.settings, recorded)
            return self._embedders[recorded]

    def set_active(self, name: str) -> None:
        """Set the workspace's default for new sessions; sessions already open keep their choice."""
        self.get_kb(name)
        self.catalog.set_meta(ACTIVE_KEY, name)

    def set_mode(self, name: str, mode: str) -> None:
        if mode not in ("hybrid", "dense"):
            raise KnowledgeBaseError("Retrieval mode must be 'hybrid' or 'dense'.")
        self.get_kb(name)
        self.catalog.update_kb(name, mode=mode)

    # ---- versions --------------------------------------------------------------------
    def version(self, name: str) -> str:
        self.get_kb(name)
        return self.catalog.get_meta(f"version:{name}") or self.catalog.record_version(name)

    def changes_since(self, name: str, old_version: str) -> list[str]:
        """Names of documents added, changed or removed since ``old_version``.
        Raises if the version is unknown; a settings change with no document change gives []."""
        old = self.catalog.version_snapshot(name, old_version)
        if old is None:
            raise KnowledgeBaseError(f"Version {old_version} is not a version of '{name}'.")
        return versions.changed_documents(old["documents"], self.catalog.snapshot(name)["documents"])

    def versions(self, name: str) -> list[VersionInfo]:
        """Every recorded version, newest first, with what changed since and whether it can be rebuilt."""
        return versions.history(self, name)

    def version_copy(self, name: str, version: str, progress: Progress = no_progress) -> str:
        """A knowledge base holding ``version`` of ``name``: itself, or a rebuilt hidden copy."""
        return versions.rebuild(self, name, version, progress)

    # ---- documents -------------------------------------------------------------------
    def documents(self, name: str) -> list[DocumentInfo]:
        self.get_kb(name)
        return self.catalog.documents(name)

    def documents_page(self, name: str, page: int, per_page: int = 50, name_contains: str = "") -> tuple[list[DocumentInfo], int]:
        """Page ``page`` (from 0) of a knowledge base's documents, and the number of matching documents."""
        self.get_kb(name)
        return self.catalog.documents_page(name, page * per_page, per_page, name_contains)

    def kb_dir(self, info: KBInfo) -> Path:
        """The knowledge base's folder: its shard, document texts and archived versions."""
        return self.settings.kb_dir / info.collection

    def text_path(self, info: KBInfo, doc_id: str) -> Path:
        """Where the current text of a document is kept (re-indexing and recovery read it)."""
        return self.kb_dir(info) / "texts" / f"{doc_id}.txt"

    def document_text(self, name: str, doc_id: str) -> str:
        path = self.text_path(self.get_kb(name), doc_id)
        if not path.is_file():
            raise KnowledgeBaseError("That document is no longer in the knowledge base.")
        return path.read_text(encoding="utf-8")

    def chunks(self, name: str, doc_id: str, limit: int | None = None) -> list[dict]:
        """The stored chunks of one document (the first ``limit`` of them when given), in order."""
        return stored.chunk_texts(self, self.get_kb(name), doc_id, limit)

    def ingest_files(self, name: str, files: list[tuple[str, bytes]], progress: Progress = no_progress) -> list[FileResult]:
        """Add or update files; each file succeeds or fails on its own, with a reason
        (``core.knowledge.ingestion.uploads``)."""
        self.check_writable(name)
        return uploads.ingest_files(self, name, files, progress)

    def job_store(self):
        """The workspace's job records (background uploads are jobs), opened on first use."""
        from core.jobs.store import JobStore

        if self._jobs is None:
            self._jobs = JobStore(self.settings.data_dir)
        return self._jobs

    def check_writable(self, name: str) -> None:
        """Refuse a change to a knowledge base that a background upload or re-index is rebuilding
        (``core.knowledge.ingestion.bulk``): its result replaces the knowledge base, so the change would be lost."""
        if self.settings.knowledge_dir is not None:  # a job's own snapshot: the job is the writer
            return
        job = bulk.pending(self.job_store(), name)
        if job is not None:
            raise KnowledgeBaseError(bulk.busy_message(job))

    def embed_document(self, info: KBInfo, doc_id: str, name: str, kind: str, text: str) -> list:
        """Split and embed one document's text as knowledge base ``info`` does (its chunking, the
        embedder it was built with); nothing is stored (``write_document`` does that)."""
        return build_nodes(self.embedder_for(info), doc_id, name, kind, text, info.chunk_size, info.chunk_overlap)

    def write_document(self, info: KBInfo, row: DocumentInfo, nodes, text: str, report=None) -> None:
        """Store one embedded document so that a kill at any point leaves either the old version or the new one
        (``core.knowledge.storage.documents``)."""
        stored.write(self, info, row, nodes, text, report)

    def intact(self, info: KBInfo, doc: DocumentInfo) -> bool:
        """Whether the store holds exactly the catalogued version of a document, all of it searchable."""
        return stored.intact(self, info, doc)

    def delete_document(self, name: str, doc_id: str) -> None:
        info = self.get_kb(name)
        self.check_writable(name)
        stored.remove(self, info, doc_id)

    def update_chunking(self, name: str, chunk_size: int, chunk_overlap: int, progress: Progress = no_progress) -> None:
        """Store new chunk settings and re-index every document with them."""
        self.check_chunking(chunk_size, chunk_overlap)
        self.get_kb(name)
        self.check_writable(name)
        self.catalog.update_kb(name, chunk_size=chunk_size, chunk_overlap=chunk_overlap)
        self.reindex(name, progress)

    def reindex(self, name: str, progress: Progress = no_progress) -> None:
        """Re-chunk and re-embed every document from its stored text, with the current embedder."""
        reindex_all(self, name, progress)

    def point_count(self, name: str) -> int:
        info = self.get_kb(name)
        with self._lock:
            return self.vector_store(info).count()

    def vector_store(self, info: KBInfo):
        """The knowledge base's LlamaIndex vector store (Edge shard or server collection)."""
        return self.store.collection(info.collection)

    def copy_vectors(self, name: str, target: Path) -> Path | None:
        """Copy a knowledge base's Edge shard to ``target`` so that another process can open it
        with ``store.open_copy``; None with a Qdrant server (reachable from any process) or no vectors."""
        info = self.get_kb(name)
        with self._lock:
            return self.store.copy(info.collection, target)

