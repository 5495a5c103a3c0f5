"""The knowledge-base catalog in SQLite: knowledge bases, their documents, their versions.

Qdrant holds the vectors; this holds what a person asks about: which files are in which
knowledge base, their hashes, and every version the knowledge base has been in.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from dataclasses import dataclass
from pathlib import Path

from core.db import Database, now

SCHEMA = """
CREATE TABLE IF NOT EXISTS kbs (
    name TEXT PRIMARY KEY, collection TEXT NOT NULL UNIQUE, chunk_size INTEGER NOT NULL,
    chunk_overlap INTEGER NOT NULL, mode TEXT NOT NULL, embedder TEXT NOT NULL, created_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS documents (
    kb TEXT NOT NULL REFERENCES kbs(name) ON DELETE CASCADE, doc_id TEXT NOT NULL, name TEXT NOT NULL,
    kind TEXT NOT NULL, size_bytes INTEGER NOT NULL, chunks INTEGER NOT NULL, added_at TEXT NOT NULL,
    content_hash TEXT NOT NULL, PRIMARY KEY (kb, doc_id));
CREATE TABLE IF NOT EXISTS kb_versions (
    kb TEXT NOT NULL REFERENCES kbs(name) ON DELETE CASCADE, version TEXT NOT NULL,
    created_at TEXT NOT NULL, snapshot TEXT NOT NULL, PRIMARY KEY (kb, version));
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""


@dataclass(frozen=True)
class KBInfo:
    name: str
    collection: str
    chunk_size: int
    chunk_overlap: int
    mode: str
    embedder: str
    created_at: str


@dataclass(frozen=True)
class DocumentInfo:
    doc_id: str
    name: str
    kind: str
    size_bytes: int
    chunks: int
    added_at: str
    content_hash: str


class Catalog:
    def __init__(self, path: Path):
        self._db = Database(path, SCHEMA)  # shared by Streamlit's session threads: it locks

    def _rows(self, sql: str, *args) -> list[sqlite3.Row]:
        return self._db.rows(sql, args)

    def _write(self, *statements: tuple[str, tuple]) -> None:
        with self._db.write() as conn:
            for sql, args in statements:
                conn.execute(sql, args)

    # knowledge bases
    def add_kb(self, info: KBInfo) -> None:
        self._write(("INSERT INTO kbs VALUES (?,?,?,?,?,?,?)", tuple(info.__dict__.values())))

    def kbs(self) -> list[KBInfo]:
        return [KBInfo(**dict(r)) for r in self._rows("SELECT * FROM kbs ORDER BY created_at, name")]

    def kb(self, name: str) -> KBInfo | None:
        rows = self._rows("SELECT * FROM kbs WHERE name=?", name)
        return KBInfo(**dict(rows[0])) if rows else None

    def update_kb(self, name: str, **fields) -> None:
        sets = ", ".join(f"{k}=?" for k in fields)
        self._write((f"UPDATE kbs SET {sets} WHERE name=?", (*fields.values(), name)))

    def delete_kb(self, name: str) -> None:
        self._write(("DELETE FROM kbs WHERE name=?", (name,)))

    def get_meta(self, key: str) -> str | None:
        rows = self._rows("SELECT value FROM meta WHERE key=?", key)
        return rows[0]["value"] if rows else None

    def set_meta(self, key: str, value: str) -> None:
        self._write(("INSERT OR REPLACE INTO meta VALUES (?,?)", (key, value)))

    def meta_keys(self, prefix: str) -> list[str]:
        return [r["key"] for r in self._rows("SELECT key FROM meta WHERE substr(key, 1, ?) = ?", len(prefix), prefix)]

    def delete_meta(self, key: str) -> None:
        self._write(("DELETE FROM meta WHERE key=?", (key,)))

    def close(self) -> None:
        self._db.close()

    # documents
    def documents(self, kb: str) -> list[DocumentInfo]:
        rows = self._rows("SELECT * FROM documents WHERE kb=? ORDER BY added_at, name", kb)
        return [DocumentInfo(**{k: r[k] for k in r.keys() if k != "kb"}) for r in rows]

    def documents_page(self, kb: str, offset: int, limit: int, name_contains: str = "") -> tuple[list[DocumentInfo], int]:
        """One page of a knowledge base's documents (optionally those whose name contains a text), and how many match."""
        where, args = "kb=? AND instr(lower(name), ?) > 0", (kb, name_contains.lower())
        total = self._rows(f"SELECT count(*) AS n FROM documents WHERE {where}", *args)[0]["n"]
        rows = self._rows(f"SELECT * FROM documents WHERE {where} ORDER BY added_at, name LIMIT ? OFFSET ?", *args, limit, offset)
        return [DocumentInfo(**{k: r[k] for k in r.keys() if k != "kb"}) for r in rows], total

    def document(self, kb: str, doc_id: str) -> DocumentInfo | None:
        return next((d for d in self.documents(kb) if d.doc_id == doc_id), None)

    def upsert_document(self, kb: str, doc: DocumentInfo) -> None:
        self._write(("INSERT OR REPLACE INTO documents VALUES (?,?,?,?,?,?,?,?)", (kb, *doc.__dict__.values())))

    def delete_document(self, kb: str, doc_id: str) -> None:
        self._write(("DELETE FROM documents WHERE kb=? AND doc_id=?", (kb, doc_id)))

    # versions
    def snapshot(self, kb: str) -> dict:
        info = self.kb(kb)
        return {
            "embedder": info.embedder,
            "chunk_size": info.chunk_size,
            "chunk_overlap": info.chunk_overlap,
            "documents": {d.name: d.content_hash for d in self.documents(kb)},
        }

    def record_version(self, kb: str) -> str:
        """Hash the current documents and settings; remember the snapshot under that hash."""
        with self._db.write() as conn:
            return self._record_version(conn, kb)

    def _record_version(self, conn: sqlite3.Connection, kb: str) -> str:
        snap = self.snapshot(kb)  # same connection: sees this transaction's own changes
        version = hashlib.sha256(json.dumps(snap, sort_keys=True).encode()).hexdigest()[:12]
        conn.execute("INSERT OR IGNORE INTO kb_versions VALUES (?,?,?,?)", (kb, version, now(), json.dumps(snap)))
        conn.execute("INSERT OR REPLACE INTO meta VALUES (?,?)", (f"version:{kb}", version))
        return version

    def commit_document(self, kb: str, doc: DocumentInfo) -> str:
        """Add or replace a document's row and record the new version, in one transaction: the
        moment a document version becomes the knowledge base's."""
        with self._db.write() as conn:
            conn.execute("INSERT OR REPLACE INTO documents VALUES (?,?,?,?,?,?,?,?)", (kb, *doc.__dict__.values()))
            return self._record_version(conn, kb)

    def remove_document(self, kb: str, doc_id: str) -> str:
        """Delete a document's row and record the new version, in one transaction."""
        with self._db.write() as conn:
            conn.execute("DELETE FROM documents WHERE kb=? AND doc_id=?", (kb, doc_id))
            return self._record_version(conn, kb)

    def version_rows(self, kb: str) -> list[tuple[str, str, str]]:
        """Every recorded version of ``kb`` as stored: (version, created_at, snapshot JSON)."""
        return [(r["version"], r["created_at"], r["snapshot"]) for r in self._rows(
            "SELECT version, created_at, snapshot FROM kb_versions WHERE kb=? ORDER BY created_at, rowid", kb)]

    def adopt(self, built: KBInfo, documents: list[DocumentInfo], version_rows: list[tuple[str, str, str]],
              retired_key: str) -> str:
        """Make a knowledge base built elsewhere (a background upload or re-index) this one's, in one
        transaction: its collection, chunking and embedder, its documents, the versions it recorded;
        ``retired_key`` marks the old collection for deletion. Returns the new version."""
        with self._db.write() as conn:
            conn.execute("UPDATE kbs SET collection=?, chunk_size=?, chunk_overlap=?, embedder=? WHERE name=?",
                         (built.collection, built.chunk_size, built.chunk_overlap, built.embedder, built.name))
            conn.execute("DELETE FROM documents WHERE kb=?", (built.name,))
            conn.executemany("INSERT INTO documents VALUES (?,?,?,?,?,?,?,?)",
                             [(built.name, *d.__dict__.values()) for d in documents])
            conn.executemany("INSERT OR IGNORE INTO kb_versions VALUES (?,?,?,?)",
                             [(built.name, *row) for row in version_rows])
            conn.execute("INSERT OR REPLACE INTO meta VALUES (?,?)", (retired_key, "1"))
            return self._record_version(conn, built.name)

    def version_snapshot(self, kb: str, version: str) -> dict | None:
        rows = self._rows("SELECT snapshot FROM kb_versions WHERE kb=? AND version=?", kb, version)
        return json.loads(rows[0]["snapshot"]) if rows else None

    def versions(self, kb: str) -> list[tuple[str, str]]:
        return [(r["version"], r["created_at"]) for r in self._rows(
            "SELECT version, created_at FROM kb_versions WHERE kb=? ORDER BY created_at, rowid", kb)]
