"""Process-wide resources, built once and shared by all browser sessions."""

from __future__ import annotations

import logging

import streamlit as st

from core.config import Settings, load_settings
from core.errors import LabError
from core.knowledge.service import KnowledgeService
from core.seed import seed_demo


@st.cache_resource(show_spinner=False)
def settings() -> Settings:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    return load_settings()


@st.cache_resource(show_spinner="Loading the embedding model and the knowledge base…")
def _knowledge() -> KnowledgeService:
    service = KnowledgeService(settings())
    if settings().demo_seed:
        seed_demo(service)
    return service


def knowledge() -> KnowledgeService:
    """The one KnowledgeService (and so the one vector store) of this process. A store that cannot
    be opened (another process holds it, or it is damaged) stops the page with its one sentence;
    nothing is cached, so the next run tries again."""
    try:
        return _knowledge()
    except LabError as exc:
        st.error(str(exc))
        st.stop()


@st.cache_resource(show_spinner="Loading the language model…")
def runtime():
    """The one base model of this process; adapters are loaded onto it by name."""
    from core.models.runtime import ModelRuntime

    return ModelRuntime(settings())


@st.cache_resource(show_spinner=False)
def adapters():
    from core.finetune.adapters import AdapterRegistry

    return AdapterRegistry(settings().adapters_dir)


def compare_engine():
    from core.compare.engine import CompareEngine

    return CompareEngine(runtime(), knowledge(), adapters(), settings())


@st.cache_resource(show_spinner=False)
def finetune():
    from core.finetune.service import FinetuneService
    from core.seed import seed_demo_dataset

    service = FinetuneService(settings())
    if settings().demo_seed:
        seed_demo_dataset(service.datasets, knowledge())
    return service


@st.cache_resource(show_spinner="Loading the language model…")
def evals():
    """The evaluation service; its runs use this process's one engine (model, adapters, knowledge base)."""
    from core.eval.service import EvalService

    engine = compare_engine()
    return EvalService(settings(), lambda: engine)
