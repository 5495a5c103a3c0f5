"""A knowledge base handed to a job process: a private, read-consistent copy of it.

An Edge shard admits one process at a time, and the app keeps its shards open. So the app (the
process that owns the data folder) copies what a job reads into the job's folder when it queues
the job, and the job process opens that copy as its own small data folder of knowledge bases
(``Settings.knowledge_dir``):

    jobs/<id>/knowledge/catalog.db            the catalog, reduced to the knowledge bases copied
    jobs/<id>/knowledge/kbs/<collection>/     shard/ (copied), texts/ and archive/ (hard links)

Texts and archived versions are written once and replaced atomically, never changed in place,
so hard links are safe and cost no space. A version copy the job rebuilds, or a freshness
probe's changed copy, is made inside the snapshot and deleted with it. With a Qdrant server the
vectors are not copied (every process reaches the server); a job's own copies get collection
names of their own (``collection_salt``) and are dropped from the server when the job ends.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
from pathlib import Path

from core.config import Settings
from core.db import connect
from core.jobs.store import SNAPSHOT

SNAPSHOT_KEY = "snapshot_of"  # in the copied catalog: the knowledge bases copied from the app's


def folder(job_dir: Path) -> Path:
    return Path(job_dir) / SNAPSHOT


def take(knowledge, names: list[str], target: Path) -> Path:
    """Copy the knowledge bases ``names`` (and nothing else) of ``knowledge`` (the app's
    KnowledgeService) to ``target``; the copy is consistent: no ingest runs while it is taken."""
    infos = [knowledge.get_kb(n) for n in dict.fromkeys(names)]
    target.mkdir(parents=True, exist_ok=True)
    (target / "kbs").mkdir(exist_ok=True)
    with knowledge.lock:
        _copy_catalog(knowledge.settings.catalog_path, target / "catalog.db", [i.name for i in infos])
        for info in infos:
            source, dest = knowledge.settings.kb_dir / info.collection, target / "kbs" / info.collection
            for part in ("texts", "archive"):
                if (source / part).is_dir():
                    _link_tree(source / part, dest / part)
            knowledge.copy_vectors(info.name, dest / "shard")
    return target


def settings_for(settings: Settings, target: Path) -> Settings:
    """The job's settings: everything as queued, the knowledge bases read from the snapshot."""
    return settings.model_copy(update={"knowledge_dir": Path(target)})


def discard(knowledge, target: Path) -> None:
    """Close the job's knowledge service and delete the snapshot; with a Qdrant server, also drop
    the collections the job created there (its version copies and probe copies)."""
    from core.knowledge.storage.store import ServerStore

    if knowledge is not None:
        if knowledge.is_open and isinstance(knowledge.store, ServerStore):
            copied = set((knowledge.catalog.get_meta(SNAPSHOT_KEY) or "").split("\n"))
            for info in knowledge.catalog.kbs():
                if info.name not in copied:
                    knowledge.store.drop(info.collection)
        knowledge.close()
    shutil.rmtree(target, ignore_errors=True)


def _copy_catalog(source: Path, dest: Path, keep: list[str]) -> None:
    """SQLite's online backup (a consistent copy while other connections write), then everything
    but ``keep`` removed (documents and versions go with their knowledge base)."""
    if dest.exists():
        dest.unlink()
    src = connect(source)
    out = sqlite3.connect(dest)
    try:
        src.backup(out)
    finally:
        out.close()
        src.close()
    conn = connect(dest)
    try:
        marks = ",".join("?" * len(keep))
        conn.execute("BEGIN IMMEDIATE")
        conn.execute(f"DELETE FROM kbs WHERE name NOT IN ({marks})", keep)
        conn.execute("INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                     (SNAPSHOT_KEY, "\n".join(keep)))
        conn.execute("COMMIT")
    finally:
        conn.close()


def _link_tree(source: Path, dest: Path) -> None:
    """Hard links where the file system allows them, copies where it does not (another device)."""
    def link(src: str, dst: str) -> None:
        try:
            os.link(src, dst)
        except OSError:
            shutil.copy2(src, dst)

    shutil.copytree(source, dest, copy_function=link, dirs_exist_ok=True)
