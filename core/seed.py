"""The demo workspace: a knowledge base of the fictional company's documents."""

from __future__ import annotations

from core.demo import CORPUS_DIR
from core.knowledge.service import FileResult, KnowledgeService, Progress, _quiet

DEMO_KB = "Lumora demo"


def demo_files() -> list[tuple[str, bytes]]:
    return [(p.name, p.read_bytes()) for p in sorted(CORPUS_DIR.iterdir()) if p.is_file()]


def seed_demo(service: KnowledgeService, progress: Progress = _quiet) -> list[FileResult]:
    """Create and fill the demo knowledge base if the workspace has no knowledge base yet."""
    if service.list_kbs():
        return []
    return reset_demo(service, progress)


def reset_demo(service: KnowledgeService, progress: Progress = _quiet) -> list[FileResult]:
    """Restore the demo knowledge base to its shipped state and make it active."""
    if service.catalog.kb(DEMO_KB):
        service.delete_kb(DEMO_KB)
    service.create_kb(DEMO_KB)
    results = service.ingest_files(DEMO_KB, demo_files(), progress)
    service.set_active(DEMO_KB)
    return results
