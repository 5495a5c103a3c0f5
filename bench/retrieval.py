"""Retrieval at analyst scale: qdrant-client's local mode against Qdrant Edge at 20k chunks, and
Edge alone at 100k chunks.

Chunks are the demo knowledge base's real chunks (embedded once) and perturbed copies of them:
each copy's text gets a reference tag and a few of its words dropped, its vector a little noise,
so the store sees 20k / 100k distinct passages without embedding them all. Queries are the demo
test set's questions. Store-only = the hybrid query through the LlamaIndex vector store with a
precomputed query vector; end-to-end = ``retrieval.search`` (query embedding, the query, sentence
highlighting). The two stores are measured alternately, query by query, best of --repeats each.

Run: .venv/bin/python bench/retrieval.py [--small 20000] [--large 100000] [--repeats 3] [--questions 40]
The defaults are the sizes of the README's figures (the 20k ratio of the idle re-run and the 100k rows).
``--smoke`` runs the same steps on 100 and 150 chunks and 2 questions, without the LLM (for tests).
Last line: ratio=<local-mode end-to-end p95 at 20k divided by Edge end-to-end p95 at 20k>
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402
from llama_index.core.schema import NodeRelationship, RelatedNodeInfo, TextNode  # noqa: E402
from llama_index.core.vector_stores.types import VectorStoreQuery, VectorStoreQueryMode  # noqa: E402
from qdrant_client import QdrantClient  # noqa: E402

from core.config import load_settings  # noqa: E402
from core.demo import DATASETS_DIR, DEMO_KB  # noqa: E402
from core.knowledge.embedding.embeddings import load_embedder  # noqa: E402
from core.knowledge.ingestion.ingest import NOT_EMBEDDED  # noqa: E402
from core.knowledge.retrieval.search import search  # noqa: E402
from core.knowledge.service import KnowledgeService  # noqa: E402
from core.knowledge.storage.ids import chunk_id  # noqa: E402
from core.knowledge.storage.store import ServerStore  # noqa: E402
from core.seed import seed_demo  # noqa: E402


SMOKE = {"small": 100, "large": 150, "repeats": 1, "questions": 2, "llm": False}


def pct(values, q):
    return float(np.percentile(values, q)) * 1000


def corpus(service: KnowledgeService) -> list[TextNode]:
    """The demo knowledge base's chunks with their vectors."""
    seed_demo(service)
    info = service.get_kb(DEMO_KB)
    nodes = []
    for doc in service.documents(DEMO_KB):
        for c in service.chunks(DEMO_KB, doc.doc_id):
            nodes.append(TextNode(text=c["text"], metadata={"doc_name": doc.name, "chunk_index": c["chunk_index"]}))
    vectors = service.embedder.get_text_embedding_batch([n.text for n in nodes])
    for n, v in zip(nodes, vectors):
        n.embedding = v
    print(f"{len(nodes)} real chunks from the demo knowledge base ({info.chunk_size} tokens)", flush=True)
    return nodes


def copies(base: list[TextNode], start: int, count: int, seed: int = 0):
    """Perturbed copies number start..start+count of the base chunks, in batches."""
    rng = np.random.default_rng(seed + start)
    pyrng = random.Random(seed + start)
    batch = []
    for i in range(start, start + count):
        src = base[i % len(base)]
        words = src.text.split()
        kept = [w for w in words if pyrng.random() > 0.1] or words
        v = np.asarray(src.embedding) + rng.normal(0, 0.02, len(src.embedding))
        doc_id = f"copy-{i // 10}"
        node = TextNode(id_=chunk_id(doc_id, i % 10, "bench"), text=" ".join(kept) + f" (ref {i})",
                        metadata={"doc_name": f"{src.metadata['doc_name']} #{i // 10}", "chunk_index": i % 10},
                        excluded_embed_metadata_keys=NOT_EMBEDDED, excluded_llm_metadata_keys=NOT_EMBEDDED,
                        embedding=(v / np.linalg.norm(v)).tolist())
        node.relationships[NodeRelationship.SOURCE] = RelatedNodeInfo(node_id=doc_id)
        batch.append(node)
        if len(batch) == 1024:
            yield batch
            batch = []
    if batch:
        yield batch


def fill(service: KnowledgeService, base, total: int, optimize: bool) -> float:
    info = service.get_kb(DEMO_KB) if service.catalog.kb(DEMO_KB) else service.create_kb(DEMO_KB)
    vectors = service.vector_store(info)
    started = time.perf_counter()
    for batch in copies(base, vectors.count(), total - vectors.count()):
        vectors.add(batch, key="bench")
    if optimize and hasattr(vectors, "optimize"):
        vectors.optimize()
    return time.perf_counter() - started


def store_query(service, question_vec, question, candidates, top_k):
    return VectorStoreQuery(query_embedding=question_vec, query_str=question, similarity_top_k=candidates,
                            sparse_top_k=candidates, hybrid_top_k=top_k, mode=VectorStoreQueryMode.HYBRID)


def measure(services: dict, questions, vecs, repeats) -> dict:
    """Per store: store-only and end-to-end seconds per question, best of ``repeats``, the stores alternating."""
    settings = next(iter(services.values())).settings
    cand, top_k = settings.retrieval.candidates, settings.retrieval.top_k
    out = {name: {"store": [], "e2e": []} for name in services}
    for q, v in zip(questions, vecs):
        best = {name: [float("inf"), float("inf")] for name in services}
        for _ in range(repeats):
            for name, svc in services.items():
                vs = svc.vector_store(svc.get_kb(DEMO_KB))
                t = time.perf_counter()
                vs.query(store_query(svc, v, q, cand, top_k))
                best[name][0] = min(best[name][0], time.perf_counter() - t)
                t = time.perf_counter()
                search(svc, DEMO_KB, q, top_k=top_k)
                best[name][1] = min(best[name][1], time.perf_counter() - t)
        for name in services:
            out[name]["store"].append(best[name][0])
            out[name]["e2e"].append(best[name][1])
    return out


def line(label, r):
    return (f"{label}: store-only hybrid p50 {pct(r['store'], 50):.1f} / p95 {pct(r['store'], 95):.1f} ms, "
            f"end-to-end search() p50 {pct(r['e2e'], 50):.1f} / p95 {pct(r['e2e'], 95):.1f} ms")


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--small", type=int, default=20_000)
    p.add_argument("--large", type=int, default=100_000)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--questions", type=int, default=40)
    p.add_argument("--optimize", action=argparse.BooleanOptionalAction, default=True,
                   help="build Edge's HNSW index after filling (slow on a busy machine)")
    p.add_argument("--llm", action=argparse.BooleanOptionalAction, default=True,
                   help="also load the language model, so peak RSS is the app's with its models")
    p.add_argument("--smoke", action="store_true", help=f"a quick check of the code path: {SMOKE}")
    if "--smoke" in sys.argv[1:]:
        p.set_defaults(**SMOKE)
    args = p.parse_args()
    questions = [json.loads(x)["question"] for x in (DATASETS_DIR / "test.jsonl").read_text().splitlines()][: args.questions]
    embedder = load_embedder(load_settings())
    if args.llm:
        from core.models.loader import load_base_model

        llm = load_base_model(load_settings())  # noqa: F841  (kept alive for the RSS figure)
    vecs = embedder.get_text_embedding_batch(questions)
    with tempfile.TemporaryDirectory() as tmp:
        edge = KnowledgeService(load_settings(data_dir=Path(tmp) / "edge", demo_seed=False), embedder=embedder)
        base = corpus(edge)
        # --- 100k, Edge alone (first, so the peak RSS is not the local mode's) ---------------
        seconds = fill(edge, base, args.large, args.optimize)
        print(f"Edge: filled to {edge.point_count(DEMO_KB):,} chunks in {seconds:.1f} s "
              f"({args.large / seconds:,.0f} chunks/s, {'with' if args.optimize else 'without'} the HNSW build)", flush=True)
        large = measure({"edge": edge}, questions, vecs, args.repeats)["edge"]
        rss_gb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 / 1024
        print(line(f"Edge at {args.large:,}", large) + f"; peak RSS {rss_gb:.2f} GB (embedder"
              f"{' and LLM' if args.llm else ''} loaded)", flush=True)
        edge.delete_kb(DEMO_KB)
        seed_demo(edge)
        # --- 20k: local mode against Edge ------------------------------------------------------
        local_settings = load_settings(data_dir=Path(tmp) / "local", demo_seed=False)
        local = KnowledgeService(local_settings, embedder=embedder, vectors=ServerStore(
            local_settings, QdrantClient(path=str(local_settings.qdrant_path))))
        base = corpus(local)
        for name, svc in (("local mode", local), ("Edge", edge)):
            seconds = fill(svc, base, args.small, args.optimize)
            print(f"{name}: filled to {svc.point_count(DEMO_KB):,} chunks in {seconds:.1f} s", flush=True)
        small = measure({"local": local, "edge": edge}, questions, vecs, args.repeats)
        print(line(f"local mode at {args.small:,}", small["local"]), flush=True)
        print(line(f"Edge at {args.small:,}", small["edge"]), flush=True)
        local.close()
        edge.close()
    print("machine: shared with other work while measuring; figures are one run")
    print(f"ratio={pct(small['local']['e2e'], 95) / pct(small['edge']['e2e'], 95):.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
