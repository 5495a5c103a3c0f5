"""The vector-store contract on both backends (Qdrant Edge, and qdrant-client's code path for a
server, run here in its local mode): add, delete, delete by document, a document's chunks, and
dense, sparse and hybrid rankings equal to a brute-force reference on a small collection."""

from __future__ import annotations

import math
import random
import subprocess
import sys
import uuid

import numpy as np
import pytest
from llama_index.core.schema import NodeRelationship, RelatedNodeInfo, TextNode
from llama_index.core.vector_stores.types import VectorStoreQuery, VectorStoreQueryMode
from qdrant_client import QdrantClient

from core.config import load_settings
from core.knowledge.embedding import sparse
from core.knowledge.storage.store import EdgeStore, ServerStore, open_copy

DIM = 16
RRF_K = 60
WORDS = [f"term{i}" for i in range(40)]


def make_nodes(n: int, docs: int = 5, seed: int = 0) -> list[TextNode]:
    rng = random.Random(seed)
    nodes = []
    for i in range(n):
        doc = f"doc-{i % docs}"
        text = " ".join(rng.choice(WORDS) for _ in range(rng.randint(3, 30)))
        node = TextNode(id_=str(uuid.uuid5(uuid.NAMESPACE_OID, f"{doc}:{i}")), text=text,
                        metadata={"chunk_index": i // docs, "doc_name": doc},
                        excluded_embed_metadata_keys=["chunk_index", "doc_name"],
                        embedding=[rng.gauss(0, 1) for _ in range(DIM)])
        node.relationships[NodeRelationship.SOURCE] = RelatedNodeInfo(node_id=doc)
        nodes.append(node)
    return nodes


@pytest.fixture(params=["edge", "server"])
def backend(request, tmp_path):
    settings = load_settings(data_dir=tmp_path / "data", demo_seed=False)
    settings.retrieval.rrf_k = RRF_K
    store = EdgeStore(settings) if request.param == "edge" else ServerStore(settings, QdrantClient(path=str(tmp_path / "q")))
    yield store
    store.close()


# --- brute-force reference -----------------------------------------------------------------
def ref_dense(nodes, query, k):
    m = np.array([n.embedding for n in nodes])
    cos = m @ query / (np.linalg.norm(m, axis=1) * np.linalg.norm(query))
    order = np.argsort(-cos)[:k]
    return [(nodes[i].node_id, float(cos[i])) for i in order]


def ref_sparse(nodes, text, k):
    """Qdrant's IDF modifier: idf = ln((N - n + 0.5) / (n + 0.5) + 1) times the stored weight."""
    d_idx, d_val = sparse.encode_documents([n.text for n in nodes])
    [q_idx], _ = sparse.encode_queries([text])
    docs = [dict(zip(i, v)) for i, v in zip(d_idx, d_val)]
    df = {t: sum(t in d for d in docs) for t in q_idx}
    idf = {t: math.log((len(docs) - df[t] + 0.5) / (df[t] + 0.5) + 1) for t in q_idx}
    scores = [(n.node_id, sum(idf[t] * d[t] for t in q_idx if t in d)) for n, d in zip(nodes, docs)]
    scores = [s for s in scores if s[1] > 0]
    return sorted(scores, key=lambda s: -s[1])[:k]


def ref_rrf(dense, sparse_):
    fused: dict[str, float] = {}
    for ranking in (dense, sparse_):
        for rank, (pid, _) in enumerate(ranking):
            fused[pid] = fused.get(pid, 0.0) + 1 / (RRF_K + rank)
    return sorted(fused.items(), key=lambda s: -s[1])


def assert_same_ranking(result, reference, k):
    """Equal rankings: the same score at every position of the top ``k``, and every returned passage
    scored as the reference scores it (ties may come in either order, also at the cut-off)."""
    got = list(zip(result.ids, result.similarities))
    assert [s for _, s in got] == pytest.approx([s for _, s in reference[:k]], rel=1e-4)
    ref = dict(reference)
    for pid, score in got:
        assert pid in ref and ref[pid] == pytest.approx(score, rel=1e-4)


def test_dense_sparse_and_hybrid_rankings_equal_brute_force(backend):
    nodes = make_nodes(120)
    vs = backend.collection("kb_test")
    vs.add(nodes)
    rng = np.random.default_rng(1)
    for trial in range(5):
        q = rng.normal(size=DIM)
        text = " ".join(random.Random(trial).sample(WORDS, 3))
        dense = vs.query(VectorStoreQuery(query_embedding=q.tolist(), similarity_top_k=10))
        assert_same_ranking(dense, ref_dense(nodes, q, 10), 10)
        sparse_ = vs.query(VectorStoreQuery(query_embedding=q.tolist(), query_str=text, similarity_top_k=10,
                                            sparse_top_k=10, mode=VectorStoreQueryMode.SPARSE))
        assert_same_ranking(sparse_, ref_sparse(nodes, text, 200), 10)
        hybrid = vs.query(VectorStoreQuery(query_embedding=q.tolist(), query_str=text, similarity_top_k=20,
                                           sparse_top_k=20, hybrid_top_k=5, mode=VectorStoreQueryMode.HYBRID))
        reference_dense, reference_sparse = ref_dense(nodes, q, 20), ref_sparse(nodes, text, 20)
        assert_same_ranking(hybrid, ref_rrf(reference_dense, reference_sparse), 5)
        # each fused passage shows its dense cosine and BM25 rank from the same call
        dense_rank = {pid: r + 1 for r, (pid, _) in enumerate(reference_dense)}
        for node, pid in zip(hybrid.nodes, hybrid.ids):
            if pid in dense_rank:
                assert node.metadata["dense_rank"] == dense_rank[pid]
                assert node.metadata["dense_score"] == pytest.approx(dict(reference_dense)[pid], abs=1e-4)
            if "sparse_rank" in node.metadata:
                assert dict(reference_sparse)[pid] == pytest.approx(node.metadata["sparse_score"], abs=1e-4)


def test_delete_by_document_and_from_an_index_on(backend):
    nodes = make_nodes(50)
    vs = backend.collection("kb_test")
    vs.add(nodes)
    assert vs.count() == 50
    vs.delete("doc-1")
    assert vs.count() == 40 and vs.document_chunks("doc-1") == []
    vs.delete_chunks_from("doc-2", 4)
    assert [p["chunk_index"] for p in vs.document_chunks("doc-2")] == [0, 1, 2, 3]
    vs.add(nodes)  # the same ids overwrite: no duplicates
    assert vs.count() == 50
    assert len({pid for pid, _ in vs.scroll()}) == 50


def test_an_empty_knowledge_base_answers_every_query_with_nothing(backend):
    vs = backend.collection("kb_empty")
    assert not vs.exists() and vs.count() == 0
    q = VectorStoreQuery(query_embedding=[0.1] * DIM, query_str="term1", similarity_top_k=3, hybrid_top_k=3,
                         mode=VectorStoreQueryMode.HYBRID)
    assert vs.query(q).ids == []
    backend.drop("kb_empty")


def test_a_shard_copy_opens_in_another_process_while_the_app_holds_the_original(tmp_path):
    settings = load_settings(data_dir=tmp_path / "data", demo_seed=False)
    store = EdgeStore(settings)
    try:
        store.collection("kb_a").add(make_nodes(30))
        copy = store.copy("kb_a", tmp_path / "copy")
        code = ("import sys; from core.knowledge.storage.store import open_copy; "
                "print(open_copy(__import__('pathlib').Path(sys.argv[1])).count())")
        out = subprocess.run([sys.executable, "-c", code, str(copy)], capture_output=True, text=True, timeout=120)
        assert out.returncode == 0, out.stderr
        assert out.stdout.strip() == "30"
        assert store.collection("kb_a").count() == 30  # the original is still open and whole
    finally:
        store.close()
    assert open_copy(tmp_path / "copy").count() == 30


def test_hidden_chunks_are_not_searchable_until_published_and_publish_drops_other_versions(backend):
    nodes = make_nodes(20, docs=2)
    vs = backend.collection("kb_test")
    vs.add(nodes, key="v1")
    vs.publish("doc-0", "v1")
    doc0 = [n for n in nodes if n.ref_doc_id == "doc-0"]
    renamed = [TextNode(id_=str(uuid.uuid5(uuid.NAMESPACE_OID, n.node_id + "v2")), text=n.text, metadata=n.metadata,
                        embedding=n.embedding, relationships=n.relationships) for n in doc0[:4]]
    vs.add(renamed, pending=True, key="v2")
    q = VectorStoreQuery(query_embedding=doc0[0].embedding, query_str=doc0[0].text, similarity_top_k=30,
                         sparse_top_k=30, hybrid_top_k=30, mode=VectorStoreQueryMode.HYBRID)
    assert set(vs.query(q).ids) == {n.node_id for n in nodes}  # the new version is invisible
    assert vs.count() == 20 and vs.count_version("doc-0", "v2", pending=True) == 4
    assert len(vs.document_chunks("doc-0")) == 10
    vs.publish("doc-0", "v2")
    assert vs.count_version("doc-0") == 4 == vs.count_version("doc-0", "v2")
    assert set(vs.query(q).ids) == {n.node_id for n in renamed} | {n.node_id for n in nodes if n.ref_doc_id == "doc-1"}
