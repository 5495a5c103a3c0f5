"""Shared fixtures: every test gets its own data folder; the real embedder is loaded once."""

from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import pytest

from core.config import load_settings
from core.knowledge.embeddings import load_embedder
from core.knowledge.service import KnowledgeService


@pytest.fixture(scope="session")
def embedder():
    return load_embedder(load_settings())


@pytest.fixture
def settings(tmp_path):
    return load_settings(data_dir=tmp_path / "data", demo_seed=False)


@pytest.fixture
def service(settings, embedder):
    svc = KnowledgeService(settings, embedder=embedder)
    yield svc
    svc.client.close()


@pytest.fixture
def kb(service):
    return service.create_kb("test").name
