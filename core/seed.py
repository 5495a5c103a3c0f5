"""The demo workspace: a knowledge base of the fictional company's documents."""

from __future__ import annotations

from core.demo import CORPUS_DIR, DEMO_KB
from core.knowledge.service import FileResult, KnowledgeService, Progress, no_progress


def demo_files() -> list[tuple[str, bytes]]:
    return [(p.name, p.read_bytes()) for p in sorted(CORPUS_DIR.iterdir()) if p.is_file()]


def seed_demo(service: KnowledgeService, progress: Progress = no_progress) -> list[FileResult]:
    """Create and fill the demo knowledge base if the workspace has no knowledge base yet."""
    if service.list_kbs():
        return []
    return reset_demo(service, progress)


def reset_demo(service: KnowledgeService, progress: Progress = no_progress) -> list[FileResult]:
    """Restore the demo knowledge base to its shipped state and make it active."""
    if service.catalog.kb(DEMO_KB):
        service.delete_kb(DEMO_KB)
    service.create_kb(DEMO_KB)
    results = service.ingest_files(DEMO_KB, demo_files(), progress)
    service.set_active(DEMO_KB)
    return results


DEMO_DATASET = "Lumora demo Q&A (hand-written)"


def demo_pairs(split: str):
    """The shipped hand-written demo pairs: 'train' (105) or 'test' (42, with key facts)."""
    import json

    from core.demo import DATASETS_DIR
    from core.finetune.datasets import QAPair

    rows = [json.loads(line) for line in (DATASETS_DIR / f"{split}.jsonl").read_text(encoding="utf-8").splitlines() if line.strip()]
    return [QAPair(question=r["question"], answer=r["answer"], source=r.get("source"),
                   answerable=r.get("answerable", r["answer"].strip() != "I don't know.")) for r in rows]


def seed_demo_dataset(datasets, knowledge: KnowledgeService):
    """Save the demo training set (with its held-out test set), ready to train with one click,
    if the workspace has no dataset yet."""
    if datasets.list() or not knowledge.catalog.kb(DEMO_KB):
        return None
    return datasets.save(DEMO_DATASET, demo_pairs("train"), demo_pairs("test"), DEMO_KB, knowledge.version(DEMO_KB), "demo")
