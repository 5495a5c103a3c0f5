"""Hybrid retrieval (dense + BM25 fused), Korean text, and sentence highlighting."""

import pytest

from core.knowledge.retrieval.search import search
from core.knowledge.embedding.sparse import encode_documents, encode_queries, tokenize

DOCS = [
    ("fan.md", b"When the fan makes a rattling noise, switch the purifier off and check the intake grille for dust."),
    ("filter.md", b"Replace the HEPA filter every six months to keep the air clean and the fan quiet."),
    ("noise.md", b"A loud fan usually means the purifier runs on turbo mode; lower the speed setting."),
    ("parts.md", b"Spare part ZX-4471 is the replacement gasket ring for the kettle lid."),
    ("clean.md", b"Wipe the outer casing with a dry cloth; never spray water into the air outlet."),
    ("warranty_ko.md", "# 보증 정책\n\n무상 보증 기간은 구매일로부터 2년입니다. 배터리는 1년 동안 보증됩니다.".encode()),
]


@pytest.fixture
def filled(service, kb):
    service.ingest_files(kb, DOCS)
    return kb


def names(hits):
    return [h.doc_name for h in hits]


def test_keyword_query_that_dense_misses_is_found_by_hybrid(service, filled):
    query = "fan noise ZX-4471"
    assert "parts.md" not in names(search(service, filled, query, top_k=2, mode="dense"))
    hybrid = search(service, filled, query, top_k=2, mode="hybrid")
    assert "parts.md" in names(hybrid)
    part = next(h for h in hybrid if h.doc_name == "parts.md")
    assert part.sparse_rank == 1


def test_korean_query_finds_the_korean_document(service, filled):
    [hit] = search(service, filled, "배터리 보증 기간", top_k=1, mode="hybrid")
    assert hit.doc_name == "warranty_ko.md"
    assert any(matched and "배터리" in sentence for sentence, matched in hit.sentences)


def test_dense_only_mode_is_selectable_and_per_knowledge_base(service, filled):
    service.set_mode(filled, "dense")
    hits = search(service, filled, "fan noise ZX-4471", top_k=2)
    assert all(h.sparse_rank is None for h in hits)
    assert "parts.md" not in names(hits)


def test_matching_sentence_is_highlighted(service, filled):
    [hit] = search(service, filled, "How often should the HEPA filter be replaced?", top_k=1)
    assert hit.doc_name == "filter.md"
    assert [s for s, matched in hit.sentences if matched] == [hit.sentences[0][0]]


def test_empty_query_and_empty_knowledge_base_return_nothing(service, kb):
    assert search(service, kb, "anything") == []
    service.ingest_files(kb, DOCS[:1])
    assert search(service, kb, "   ") == []


def test_sparse_tokenizer_splits_korean_into_bigrams_and_drops_stopwords():
    assert tokenize("The 보증기간 of ZX-4471") == ["보증", "증기", "기간", "zx", "4471"]


def test_sparse_vectors_are_stable_and_saturate_term_frequency():
    (ids1,), (vals1,) = encode_documents(["kettle kettle kettle lid"])
    (ids2,), _ = encode_documents(["kettle kettle kettle lid"])
    assert ids1 == ids2
    weights = dict(zip(ids1, vals1))
    (qids,), (qvals,) = encode_queries(["kettle"])
    assert qvals == [1.0]
    assert 1.0 < weights[qids[0]] < 3.0  # three occurrences count for less than three times one
