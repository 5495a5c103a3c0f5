"""What the fine-tuning page does, without Streamlit: datasets, jobs, adapters."""

from __future__ import annotations

from core.config import Settings
from core.errors import LabError
from core.finetune.adapters import AdapterRegistry
from core.finetune.recipe import TrainingConfig, planned_steps, wants_checkpointing
from core.finetune.run import FinetuneSpec
from core.jobs import supervisor
from core.jobs.store import Job, JobStore

KIND = "finetune"
# Measured on 2 CPU cores with the default model (bench/train.py): trained tokens per second,
# and the fixed cost of starting a job (process start, model load, dataset encoding).
TOKENS_PER_S = 250.0
STARTUP_S = 15.0
TOKENS_PER_EXAMPLE = 60  # demo-sized question/answer pairs with the chat template


class FinetuneService:
    def __init__(self, settings: Settings):
        from core.finetune.datasets import DatasetStore

        self.settings = settings
        self.datasets = DatasetStore(settings.data_dir / "datasets")
        self.jobs = JobStore(settings.data_dir)
        self.adapters = AdapterRegistry(settings.adapters_dir)
        self.reconcile()

    def reconcile(self) -> None:
        """What the app does at start-up: jobs whose process died become interrupted (resumable),
        and queued jobs get a supervisor. Listing jobs never does this."""
        supervisor.ensure_running(self.jobs)

    # --- jobs ------------------------------------------------------------------------------
    def estimate_seconds(self, n_examples: int, config: TrainingConfig, tokens_per_example: float = TOKENS_PER_EXAMPLE) -> float:
        steps = planned_steps(n_examples, config)
        tokens = steps * config.grad_accum * min(config.batch_size, max(n_examples, 1)) * tokens_per_example
        recompute = 1.15 if wants_checkpointing(config) else 1.0  # measured: 38.6 vs 33.7 s a step
        return STARTUP_S + tokens / TOKENS_PER_S * recompute

    def tokens_per_example(self, dataset_id: str) -> float:
        """Rough mean length of a training example of this dataset (4 characters a token, plus
        the chat template): RAFT examples with passages are ten times longer than bare pairs."""
        info = self.datasets.get(dataset_id)
        if info.origin == "cpt":
            rows = self.datasets.load_texts(dataset_id)
            chars = [len(t) for t in rows]
        else:
            pairs = self.datasets.load(dataset_id)[0]
            chars = [len(p.question) + len(p.answer) + sum(len(x.text) + 60 for x in p.passages or []) for p in pairs]
        return 40 + sum(chars) / max(len(chars), 1) / 4

    def submit(self, spec: FinetuneSpec, run_by: int | None = None) -> Job:
        """The job record of a training run (checked first: a missing dataset or a taken adapter name
        is one sentence); queued for the supervisor, or running in process ``run_by`` (the command line)."""
        info = self.datasets.get(spec.dataset_id)  # raises a plain error for a missing dataset
        if spec.adapter_name.strip() in {a.name for a in self.adapters.list()}:
            raise LabError(f"An adapter named '{spec.adapter_name}' already exists; pick another name.")
        spec = spec.model_copy(update={"base_model": spec.base_model or self.settings.models.llm})  # the model in use now
        return self.jobs.submit(KIND, spec.adapter_name.strip(), {**spec.model_dump(), "dataset_name": info.name}, run_by)

    def start(self, spec: FinetuneSpec) -> Job:
        job = self.submit(spec)
        supervisor.ensure_running(self.jobs)
        return job

    def list_jobs(self) -> list[Job]:
        """The training jobs, newest first: a read, nothing else (no process started, no new connection)."""
        return self.jobs.list(KIND)

    def cancel(self, job_id: str) -> None:
        self.jobs.request_cancel(job_id)

    def resume(self, job_id: str) -> Job:
        job = self.jobs.requeue(job_id)
        supervisor.ensure_running(self.jobs)
        return job

    # --- datasets --------------------------------------------------------------------------
    def build_from_kb(self, knowledge, kb: str, name: str, mode: str = "qa", test_fraction: float = 0.2,
                      unanswerable: int = 10, seed: int = 0):
        """A dataset built from the knowledge base's own documents (no LLM needed), split by
        document into train and held-out test, with leaked test answers removed; its info says how
        many prose sentences yielded a question."""
        from core.finetune.dataset_gen import generate, raw_chunks_for_cpt, unanswerable_pairs

        docs = [(d.name, knowledge.document_text(kb, d.doc_id)) for d in knowledge.documents(kb)]
        if not docs:
            raise LabError(f"Knowledge base '{kb}' has no documents to build a dataset from.")
        version = knowledge.version(kb)
        if mode == "cpt":
            return self.datasets.save_texts(name, raw_chunks_for_cpt(docs), kb, version)
        generated = generate(docs)
        if not generated.pairs:
            raise LabError("No question/answer pairs could be generated from these documents.")
        return self.save_pairs(name, generated.pairs + unanswerable_pairs(unanswerable, seed), kb, version,
                               "generated", test_fraction, seed, (generated.sentences, len(generated.written)))

    def build_with_llm(self, runtime, knowledge, kb: str, name: str, test_fraction: float = 0.2,
                       unanswerable: int = 10, seed: int = 0, max_chunks: int = 200, progress=None):
        """Like build_from_kb, with the configured LLM writing one question per chunk."""
        from core.finetune.dataset_gen import unanswerable_pairs
        from core.finetune.llm_questions import write_pairs

        chunks = [(d.name, c["text"]) for d in knowledge.documents(kb) for c in knowledge.chunks(kb, d.doc_id)]
        if not chunks:
            raise LabError(f"Knowledge base '{kb}' has no documents to build a dataset from.")
        pairs = write_pairs(runtime, chunks[:max_chunks], progress=progress)
        if not pairs:
            raise LabError("The language model wrote no usable question/answer pair; try the deterministic generator.")
        return self.save_pairs(name, pairs + unanswerable_pairs(unanswerable, seed), kb, knowledge.version(kb),
                               "llm", test_fraction, seed)

    def build_raft(self, knowledge, kb: str, dataset_id: str, name: str, config=None):
        """A hybrid-ready copy of a question/answer dataset: its pairs plus RAFT open-book
        examples (gold passage among distractors, sometimes only distractors and "I don't know.")
        retrieved from ``kb``. The held-out test split is kept as it is."""
        from core.finetune.raft import RaftConfig, raft_pairs

        info = self.datasets.get(dataset_id)
        if info.origin in ("cpt", "raft"):
            raise LabError("Pick a question/answer dataset: RAFT examples are built from question/answer pairs.")
        train, test = self.datasets.load(dataset_id)
        if not knowledge.documents(kb):
            raise LabError(f"Knowledge base '{kb}' has no documents to take passages from.")
        pairs = raft_pairs(knowledge, kb, train, config or RaftConfig())
        if len(pairs) == len(train):
            raise LabError("No passage of the knowledge base matches these pairs' source documents; "
                           "build the dataset from this knowledge base first.")
        return self.datasets.save(name, pairs, test, kb, knowledge.version(kb), "raft")

    def save_pairs(self, name: str, pairs, kb: str | None, kb_version: str | None, origin: str,
                   test_fraction: float = 0.2, seed: int = 0, sentences: tuple[int, int] | None = None):
        from core.finetune import datasets as ds

        train_pairs, test_pairs = ds.split_by_document(pairs, test_fraction=test_fraction, seed=seed)
        test_pairs = ds.remove_leaks(train_pairs, test_pairs)
        return self.datasets.save(name, train_pairs, test_pairs, kb, kb_version, origin, sentences)
