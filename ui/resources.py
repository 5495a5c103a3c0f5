"""Process-wide resources, built once and shared by all browser sessions."""

from __future__ import annotations

import logging

import streamlit as st

from core.config import Settings, apply_model_choice, load_settings
from core.errors import LabError
from core.jobs.store import JobStore
from core.knowledge.ingestion import bulk
from core.knowledge.service import KnowledgeService


@st.cache_resource(show_spinner=False)
def settings() -> Settings:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    return apply_model_choice(load_settings())  # with the model picked on the Models page, if any


@st.cache_resource(show_spinner="Loading the embedding model and the knowledge base…")
def _knowledge() -> KnowledgeService:
    from core import demo_adapter

    service = KnowledgeService(settings())
    service.recover()  # the app owns the data folder: repair what a kill left, switch in uploads done while it was down
    demo_adapter.start_up(settings(), service)  # a fresh workspace: the demo, its adapter's training and evaluation
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


@st.cache_resource(show_spinner=False)
def models():
    """The model this process answers with; the Models page switches it without a restart."""
    from core.models.active import ActiveModel

    return ActiveModel(settings())


def runtime():
    """The current base model of this process; adapters are loaded onto it by name."""
    active = models()
    if active.loaded:
        return active.runtime()
    with st.spinner("Loading the language model…"):
        return active.runtime()


@st.cache_resource(show_spinner=False)
def hub_downloads():
    from core.models.hub import HubDownloads

    return HubDownloads(settings())


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


@st.cache_resource(show_spinner=False)
def evals():
    """The evaluation service: it queues runs and probes for the job runner (each runs in a worker
    process with the model and settings in use when it was queued, and a snapshot of its knowledge
    base), and reads their results."""
    from core.eval.service import EvalService

    service = EvalService(settings(), knowledge=knowledge())
    service.reconcile()  # start-up: interrupted runs marked, queued ones get the runner
    return service


@st.cache_resource(show_spinner=False)
def votes():
    """The stakeholders' votes: one store shared by every viewer's session (it owns its lock)."""
    from core.votes.store import VoteStore

    return VoteStore(settings().votes_path)


@st.cache_resource(show_spinner=False)
def job_store():
    """The job records of every kind (training, evaluation, freshness probe, upload), read by the sidebar."""
    return JobStore(settings().data_dir)


def switch_in_uploads(jobs: JobStore | None = None) -> list[str]:
    """Switch in the background uploads and re-indexes that have finished (a folder rename and one
    catalog transaction each); the knowledge bases changed. When none has finished (one query),
    the knowledge service is not even asked for."""
    jobs = jobs or job_store()
    return bulk.switch_in_finished(knowledge(), jobs) if bulk.finished(jobs) else []
