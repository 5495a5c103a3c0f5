"""After a kill: make every knowledge base's vectors match its catalog again.

The catalog is the truth (a document version becomes the knowledge base's when its row is
committed, together with the new version hash). At each start every knowledge base's chunks
are grouped by document, version key and hidden flag (one scroll of three payload fields), and:
- a committed version whose chunks are all written but not yet shown is finished (shown, older
  versions dropped);
- chunks of versions never committed (hidden writes, documents without a row) are rolled back;
- a document whose committed version is not fully in the store is re-embedded from its kept text.
What was done is logged; a clean knowledge base costs only the scroll.
"""

from __future__ import annotations

import json
import logging

from core.knowledge.storage.ids import chunk_key
from core.knowledge.storage.versions import archive_path

log = logging.getLogger(__name__)


def recover(service) -> dict[str, int]:
    """Repair every knowledge base; returns counts of what was done (all zero when nothing was)."""
    done = {"finished": 0, "rolled_back_chunks": 0, "rebuilt": 0, "lost": 0}
    for info in service.catalog.kbs():
        vectors = service.vector_store(info)
        if not vectors.exists():
            continue
        with service.lock:
            groups = vectors.versions()
        docs = {d.doc_id: d for d in service.catalog.documents(info.name)}
        expected = {doc_id: chunk_key(d.content_hash, info) for doc_id, d in docs.items()}
        stale = [pid for (doc_id, key, _), ids in groups.items() if expected.get(doc_id) != key for pid in ids]
        if stale:
            with service.lock:
                vectors.delete_ids(stale)
            log.warning("recovery: %s: rolled back %d chunks of uncommitted or deleted document versions", info.name, len(stale))
            done["rolled_back_chunks"] += len(stale)
        for doc_id, doc in docs.items():
            key = expected[doc_id]
            live, hidden = len(groups.get((doc_id, key, False), [])), len(groups.get((doc_id, key, True), []))
            if live + hidden == doc.chunks and not hidden:
                continue
            if live + hidden == doc.chunks:
                with service.lock:
                    vectors.publish(doc_id, key)
                log.warning("recovery: %s: finished the interrupted update of %s", info.name, doc.name)
                done["finished"] += 1
            elif _rebuild(service, info, doc):
                log.warning("recovery: %s: re-embedded %s from its kept text (%d of %d chunks were stored)",
                            info.name, doc.name, live + hidden, doc.chunks)
                done["rebuilt"] += 1
            else:
                service.catalog.remove_document(info.name, doc_id)
                log.error("recovery: %s: %s had neither its chunks nor its text; removed it, upload it again",
                          info.name, doc.name)
                done["lost"] += 1
        service.catalog.record_version(info.name)  # a no-op unless the documents changed
    return done


def _rebuild(service, info, doc) -> bool:
    kept = archive_path(service.kb_dir(info), doc.content_hash)
    text_path = service.text_path(info, doc.doc_id)
    if kept.is_file():
        text = json.loads(kept.read_text(encoding="utf-8"))["text"]
    elif text_path.is_file():
        text = text_path.read_text(encoding="utf-8")
    else:
        return False
    nodes = service.embed_document(info, doc.doc_id, doc.name, doc.kind, text)
    row = type(doc)(**{**doc.__dict__, "chunks": len(nodes)})
    service.write_document(info, row, nodes, text)
    return True
