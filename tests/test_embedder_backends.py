"""The int8 ONNX embedder (the CPU default) against fp32 torch, and knowledge bases built with
either: each keeps the embedder it was built with until it is re-indexed; versions stay rebuildable."""

from pathlib import Path

import numpy as np
import pytest

from core.config import BUNDLED_EMBEDDER, load_settings
from core.errors import ConfigError
from core.knowledge.embedding.embeddings import INT8, TORCH, default_backend, identity, load_embedder, parse_identity
from core.knowledge.embedding.onnx_embedder import OnnxEmbedding, cache_path
from core.knowledge.retrieval.search import search
from core.knowledge.service import KnowledgeService

INT8_ID = identity(BUNDLED_EMBEDDER, INT8)
DOCS = [
    ("kettle.md", b"# Kettle\n\nThe BrewSense Kettle holds 1.7 litres and switches off 30 seconds after boiling."),
    ("purifier.md", b"# Purifier\n\nReplace the AeroPure 300 filter every 6 months, or when the light turns red."),
    ("returns.md", b"# Returns\n\nCustomers may return a product within 30 days with the receipt."),
]


@pytest.fixture(scope="session")
def int8_embedder():
    """One export per machine (cached under models.cache_dir), one load per test session."""
    return load_embedder(load_settings(), INT8_ID)


@pytest.fixture
def int8_service(settings, int8_embedder, embedder):
    settings.models.embedder_backend = INT8
    svc = KnowledgeService(settings, embedder=int8_embedder)
    svc._embedders[BUNDLED_EMBEDDER] = embedder  # the session's fp32 model, instead of loading another
    yield svc
    svc.close()


def test_identities_round_trip_and_the_default_is_int8_on_cpu():
    assert parse_identity(INT8_ID) == (BUNDLED_EMBEDDER, INT8)
    assert parse_identity(BUNDLED_EMBEDDER) == (BUNDLED_EMBEDDER, TORCH)  # what older catalogs recorded
    settings = load_settings(models={"embedder_backend": "auto", "device": "cpu"})
    assert default_backend(settings) == INT8


def test_auto_falls_back_to_torch_where_int8_cannot_run_and_a_forced_int8_says_why(tmp_path):
    hub = load_settings(models={"embedder_backend": "auto", "device": "cpu", "embedder": "org/some-hub-model"})
    assert default_backend(hub) == TORCH
    forced = load_settings(models={"embedder_backend": INT8, "embedder": str(tmp_path / "missing")})
    with pytest.raises(ConfigError, match="local model folder"):
        load_embedder(forced)


def test_int8_embeddings_stay_close_to_fp32(int8_embedder, embedder):
    texts = [d.decode() for _, d in DOCS] + ["How long is the return window?", "보증 기간은 2년입니다."]
    fast = np.array(int8_embedder.get_text_embedding_batch(texts))
    exact = np.array(embedder.get_text_embedding_batch(texts))
    assert np.allclose(np.linalg.norm(fast, axis=1), 1.0, atol=1e-5)
    cosines = (fast * exact).sum(axis=1)
    assert cosines.min() > 0.95, cosines


def test_export_is_cached_and_reused(int8_embedder):
    settings = load_settings()
    model_dir = Path(int8_embedder.model_name)
    path = cache_path(model_dir, settings.models.cache_dir)
    # int8 layers; the word-embedding table stays fp32 (quantizing its lookups was not needed for speed)
    assert path.is_file() and path.stat().st_size < 0.7 * (model_dir / "model.safetensors").stat().st_size
    again = load_embedder(settings, INT8_ID)
    assert isinstance(again, OnnxEmbedding) and again.identity == INT8_ID


def test_new_knowledge_base_records_int8_and_searches_with_it(int8_service):
    info = int8_service.create_kb("fast")
    assert info.embedder == INT8_ID
    assert [r.status for r in int8_service.ingest_files("fast", DOCS)] == ["added"] * 3
    hits = search(int8_service, "fast", "How often should the purifier filter be replaced?", top_k=1)
    assert hits[0].doc_name == "purifier.md"


def test_knowledge_base_built_with_fp32_keeps_it_until_reindexed(settings, embedder, int8_embedder):
    # A knowledge base made by the previous version (fp32 torch, the only embedder then) ...
    old = KnowledgeService(settings, embedder=embedder)
    old.create_kb("legacy")
    old.ingest_files("legacy", DOCS)
    version_before = old.version("legacy")
    old.close()
    # ... opened by this version, whose default is int8.
    settings.models.embedder_backend = INT8
    new = KnowledgeService(settings, embedder=int8_embedder)
    new._embedders[BUNDLED_EMBEDDER] = embedder
    try:
        assert new.get_kb("legacy").embedder == BUNDLED_EMBEDDER
        assert new.embedder_for("legacy") is embedder
        assert new.version("legacy") == version_before  # nothing changed, so the version did not
        assert search(new, "legacy", "return window for a product", top_k=1)[0].doc_name == "returns.md"
        new.ingest_files("legacy", [("extra.md", b"# Extra\n\nThe warranty lasts two years.")])
        assert new.get_kb("legacy").embedder == BUNDLED_EMBEDDER  # adding files does not switch embedders
        with_extra = new.version("legacy")
        # Re-indexing moves it to the current embedder: a new version, with the same documents.
        new.reindex("legacy")
        assert new.get_kb("legacy").embedder == INT8_ID and new.embedder_for("legacy") is int8_embedder
        assert new.version("legacy") != with_extra and new.changes_since("legacy", with_extra) == []
        assert search(new, "legacy", "How long is the warranty?", top_k=1)[0].doc_name == "extra.md"
        # The fp32 versions are still rebuildable, with the embedder they were made with.
        copy = new.version_copy("legacy", with_extra)
        assert new.get_kb(copy).embedder == BUNDLED_EMBEDDER and new.version(copy) == with_extra
    finally:
        new.close()
