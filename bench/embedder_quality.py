"""Retrieval quality of the int8 ONNX embedder against fp32 torch on the demo test set.

Run: .venv/bin/python bench/embedder_quality.py [--questions N]   (``--smoke``: 1 question, for tests)
Builds the demo knowledge base twice (once per embedder, each in its own scratch data folder),
asks every test question that names its source document, and prints retrieval hit rate and MRR
(as ``python -m core.eval`` scores them: the rank of the first passage from the gold document)
for hybrid and dense retrieval, plus the cosine between the two embedders' vectors of every demo
chunk, and whether the two are within one question of each other (hits and reciprocal ranks summed
over questions). Last line: ratio=<int8 hybrid MRR divided by fp32 hybrid MRR>  (1.00 = no loss)
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402

from core.config import load_settings  # noqa: E402
from core.demo import DATASETS_DIR, DEMO_KB  # noqa: E402
from core.eval.metrics import reciprocal_rank  # noqa: E402
from core.eval.items import load_test_items  # noqa: E402
from core.knowledge.retrieval.search import search  # noqa: E402
from core.knowledge.service import KnowledgeService  # noqa: E402
from core.seed import reset_demo  # noqa: E402

SMOKE = {"questions": 1}


def scores(service: KnowledgeService, items, mode: str) -> tuple[float, float]:
    """Summed hits and reciprocal ranks over the questions (divide by their number for the rates)."""
    top_k = service.settings.retrieval.top_k
    ranks = [reciprocal_rank([h.doc_name for h in search(service, DEMO_KB, it.question, top_k=top_k, mode=mode)], it.source)
             for it in items]
    return float(sum(r > 0 for r in ranks)), float(sum(ranks))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--questions", type=int, help="only the first N questions (default: all)")
    parser.add_argument("--smoke", action="store_true", help=f"a quick check of the code path: {SMOKE}")
    if "--smoke" in sys.argv[1:]:
        parser.set_defaults(**SMOKE)
    args = parser.parse_args()
    items = [it for it in load_test_items(DATASETS_DIR / "test.jsonl") if it.answerable and it.source][: args.questions]
    results, services = {}, {}
    with tempfile.TemporaryDirectory() as tmp:
        for backend in ("torch", "onnx-int8"):
            settings = load_settings(data_dir=Path(tmp) / backend, demo_seed=False)
            settings.models.embedder_backend = backend
            service = KnowledgeService(settings)
            reset_demo(service)
            services[backend] = service
            results[backend] = {mode: scores(service, items, mode) for mode in ("hybrid", "dense")}
        fp32, int8 = services["torch"], services["onnx-int8"]
        texts = [c["text"] for d in fp32.documents(DEMO_KB) for c in fp32.chunks(DEMO_KB, d.doc_id)]
        a = np.array(fp32.embedder.get_text_embedding_batch(texts))
        b = np.array(int8.embedder.get_text_embedding_batch(texts))
        cosines = (a * b).sum(axis=1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))
        for service in services.values():
            service.close()

    n = len(items)
    print(f"demo test set: {n} answerable questions with a source document; top_k={fp32.settings.retrieval.top_k}")
    within = True
    for mode in ("hybrid", "dense"):
        (h32, r32), (h8, r8) = results["torch"][mode], results["onnx-int8"][mode]
        within &= abs(h32 - h8) <= 1 and abs(r32 - r8) <= 1
        print(f"{mode:6s} fp32 torch: hit rate {h32 / n:.3f} ({h32:.0f}/{n}), MRR {r32 / n:.3f} | "
              f"int8 onnx: hit rate {h8 / n:.3f} ({h8:.0f}/{n}), MRR {r8 / n:.3f}")
    print(f"cosine fp32 vs int8 over {len(texts)} demo chunks: min {cosines.min():.4f}, mean {cosines.mean():.4f}")
    print(f"within_one_question={'yes' if within else 'no'}")
    (_, mrr32), (_, mrr8) = results["torch"]["hybrid"], results["onnx-int8"]["hybrid"]
    print(f"ratio={mrr8 / mrr32:.3f}" if mrr32 else f"ratio={mrr8:.3f}/0")


if __name__ == "__main__":
    main()
