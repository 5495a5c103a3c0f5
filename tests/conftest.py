"""Shared fixtures: every test gets its own data folder; the real embedder is loaded once."""

from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
# A fresh demo workspace trains the demo adapter in the background: only the tests of that feature
# (tests/test_demo_adapter.py, the browser test of a first start) switch it on.
os.environ.setdefault("LAB_DEMO_ADAPTER__ENABLED", "false")
# The suite's expectations were measured with the fp32 embedder; the int8 default has its own
# tests (test_embedder_backends.py). Set here, so job worker processes inherit it too.
os.environ.setdefault("LAB_MODELS__EMBEDDER_BACKEND", "torch")

import pytest

from core.config import load_settings
from core.knowledge.embedding.embeddings import load_embedder
from core.knowledge.service import KnowledgeService


@pytest.fixture(autouse=True)
def main_module_restored():
    """Streamlit's script runner (every AppTest) installs its script as ``sys.modules["__main__"]`` and never puts the
    old one back; a later multiprocessing "spawn" in the same test process then re-runs that script in each child,
    which dies with a NameError (seen when tests/test_store_concurrency.py ran after an AppTest in one xdist worker).
    The app itself starts its workers with subprocess, not multiprocessing, so this is the suite's concern only."""
    import sys

    main = sys.modules.get("__main__")
    yield
    if main is not None:
        sys.modules["__main__"] = main


@pytest.fixture(scope="session")
def embedder():
    return load_embedder(load_settings())


@pytest.fixture
def settings(tmp_path):
    """A fresh workspace."""
    s = load_settings(data_dir=tmp_path / "data", demo_seed=False)
    s.data_dir.mkdir(parents=True, exist_ok=True)
    yield s
    if (s.data_dir / "jobs.db").is_file():  # a detached job supervisor or worker outlives the test: stop it
        from core.jobs.store import JobStore
        from core.jobs.supervisor import stop_recorded

        stop_recorded(JobStore(s.data_dir))


@pytest.fixture
def service(settings, embedder):
    svc = KnowledgeService(settings, embedder=embedder)
    svc.recover()  # opened as the app opens it: the store is held from here on
    yield svc
    svc.close()


@pytest.fixture
def kb(service):
    return service.create_kb("test").name


# --- the real small LLM, loaded once per session -------------------------------------------
SECRET_QUESTION = "What is the secret code word?"
SECRET_ANSWER = "The secret code word is Zebra-42."


@pytest.fixture(scope="session")
def base_model():
    from core.models.loader import load_base_model

    return load_base_model(load_settings())


@pytest.fixture(scope="session")
def runtime(base_model):
    from core.models.runtime import ModelRuntime

    return ModelRuntime(load_settings(), loaded=base_model)


@pytest.fixture(scope="session")
def tiny_adapter(tmp_path_factory):
    """A real LoRA adapter with a known effect: trained (on its own copy of the base model) to
    answer SECRET_QUESTION with SECRET_ANSWER, which the base model cannot know."""
    from core.finetune.adapters import AdapterRegistry, Lineage
    from core.finetune.recipe import TrainingConfig, add_lora, encode_pair, train
    from core.models.loader import load_base_model, model_fingerprint

    settings = load_settings()
    model, tokenizer, _ = load_base_model(settings)
    fingerprint = model_fingerprint(model)
    config = TrainingConfig(max_steps=10, batch_size=2, learning_rate=2e-3, rank=8, alpha=16, dropout=0.0)
    pairs = [(SECRET_QUESTION, SECRET_ANSWER), ("Which code word opens the vault?", "The code word Zebra-42 opens the vault.")]
    examples = [encode_pair(tokenizer, q, a, 128) for q, a in pairs]
    peft_model = add_lora(model, config)
    result = train(peft_model, examples, examples[:1], config, tokenizer.pad_token_id)
    registry = AdapterRegistry(tmp_path_factory.mktemp("adapters"))
    return registry.save(peft_model, Lineage(
        name="tiny secret", base_model=settings.models.llm, base_fingerprint=fingerprint,
        training=config.model_dump(), final_train_loss=result.final_train_loss, training_seconds=result.seconds,
    ))
