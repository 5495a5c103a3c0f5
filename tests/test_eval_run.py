"""Evaluation runs on the real model and a real knowledge base: scoring, pinning, reproducibility."""

import pytest

from core.compare.engine import CompareEngine
from core.eval.run import TestItem, _grounded, run_eval
from core.eval.summary import format_table, summarize
from core.finetune.adapters import AdapterRegistry
from core.models.abstention import is_abstention
from core.models.generation import Decoding

POLICY = ("Refund policy.\nUnopened products can be returned within 14 days of purchase for a full refund.\n"
          "Call the customer centre at 1234-5678 for help.\n").encode()
ITEMS = [
    TestItem(question="Within how many days can unopened products be returned?", answer="Within 14 days.",
             source="policy.md", key_facts=["14 days"]),
    TestItem(question="What is the phone number of the customer centre?", answer="1234-5678.",
             source="policy.md", key_facts=["1234-5678"]),
    TestItem(question="What is the company's policy on pet insurance?", answer="I don't know.", answerable=False),
]


@pytest.fixture
def engine(service, kb, runtime, settings, tmp_path):
    service.ingest_files(kb, [("policy.md", POLICY)])
    return CompareEngine(runtime, service, AdapterRegistry(tmp_path / "adapters"), settings)


def test_groundedness_counts_supported_sentences(embedder):
    passages = ["Unopened products can be returned within 14 days of purchase for a full refund."]
    assert _grounded(embedder, "Unopened products can be returned within 14 days. The moon is made of cheese.", passages) == 0.5
    assert _grounded(embedder, "Products can be returned within 14 days of purchase.", passages) == 1.0
    # the one support check: a sentence that does not state the answer's number does not support it
    assert _grounded(embedder, "Products can be returned within 30 days of purchase.", passages,
                     "How long can products be returned?") == 0.0


def test_run_scores_every_arm_and_is_reproducible(engine, kb):
    decoding = Decoding(max_new_tokens=24)
    first = run_eval(engine, kb, ITEMS, ["base", "rag"], decoding=decoding)
    assert first.kb_version == engine.knowledge.version(kb) and first.model_fingerprint == engine.runtime.fingerprint
    assert first.dtype == engine.runtime.dtype == "fp32"  # the bundled model under auto
    rag = [r.arms["rag"] for r in first.results]
    assert rag[0].hit == 1.0 and rag[0].reciprocal_rank == 1.0 and rag[0].sources[0] == "policy.md"
    assert first.results[0].arms["base"].hit is None  # closed-book arms have no retrieval
    # not answerable: abstention is scored (1 when the answer is an abstention), the answer metrics are not
    assert rag[2].f1 is None and rag[2].wrong_refusal is None
    assert rag[2].correct_abstention == (1.0 if is_abstention(rag[2].text) else 0.0)
    assert rag[0].correct_abstention is None and rag[0].wrong_refusal == (1.0 if is_abstention(rag[0].text) else 0.0)
    assert all(s.f1 is not None and s.similarity is not None for s in rag[:2])
    summary = summarize(first)
    assert set(summary) == {"base", "rag"}
    assert summary["rag"].hit[0] == 1.0
    assert summary["rag"].prompt_tokens > summary["base"].prompt_tokens
    assert "key-fact accuracy" in format_table(summary)
    again = run_eval(engine, kb, ITEMS, ["base", "rag"], decoding=decoding)
    strip = lambda run: [{a: s.model_dump(exclude={"wall_s", "ttft_s"}) for a, s in r.arms.items()} for r in run.results]  # noqa: E731
    assert strip(again) == strip(first)
    assert summarize(again)["rag"].model_dump(exclude={"latency_p50_s", "latency_p95_s"}) == \
        summary["rag"].model_dump(exclude={"latency_p50_s", "latency_p95_s"})


def test_headless_command_prints_the_metric_table_and_writes_the_run(tmp_path, monkeypatch, capsys):
    from core.eval.__main__ import main

    monkeypatch.setenv("LAB_DATA_DIR", str(tmp_path / "data"))
    out, report = tmp_path / "run.json", tmp_path / "report.html"
    assert main(["--arms", "base,rag", "--limit", "2", "--max-new-tokens", "16", "--out", str(out),
                 "--report", str(report), "--save"]) == 0
    printed = capsys.readouterr().out
    assert "key-fact accuracy" in printed and "correct abstention" in printed and "rag" in printed
    assert "recommendation: " in printed
    assert '"results"' in out.read_text()
    page = report.read_text()
    # a recommendation, or first the verdict that no set-up answers reliably (likely with 2 questions and 16 tokens)
    assert "Recommendation:" in page or ("No set-up answers reliably" in page and "Among these set-ups" in page)
    assert "<script src=" not in page and page.count("Plotly.newPlot") >= 4
    from core.eval.runs import RunStore

    assert len(RunStore(tmp_path / "data" / "evals").list()) == 1
    from core.jobs.store import JobStore

    (job,) = JobStore(tmp_path / "data").list("eval")  # a job record like a run queued from the page
    assert job.status == "done" and job.result["run_id"] == RunStore(tmp_path / "data" / "evals").list()[0].id
    assert job.step == job.total_steps == 2 and f"saved run {job.id} (job {job.id})" in printed
    assert main(["--adapter", "no such adapter", "--limit", "1"]) == 2
    assert main(["--kb-version", "zz", "--limit", "1"]) == 2
    assert "names no version" in capsys.readouterr().err


def test_headless_command_runs_on_an_older_knowledge_base_version(tmp_path, monkeypatch, capsys):
    from core.config import load_settings
    from core.demo import DEMO_KB
    from core.eval.__main__ import main
    from core.knowledge.service import KnowledgeService
    from core.seed import seed_demo

    monkeypatch.setenv("LAB_DATA_DIR", str(tmp_path / "data"))
    knowledge = KnowledgeService(load_settings())
    seed_demo(knowledge)
    old = knowledge.version(DEMO_KB)
    knowledge.ingest_files(DEMO_KB, [("extra.md", b"The Lumora kettle boils 1.7 litres in 4 minutes.")])
    knowledge.close()
    assert main(["--kb-version", old[:6], "--arms", "rag", "--limit", "1", "--max-new-tokens", "8"]) == 0
    assert f"knowledge base {DEMO_KB} v{old}" in capsys.readouterr().out


def test_a_batch_embedded_once_per_question_changes_no_score_and_no_marked_sentence(engine, kb, monkeypatch):
    """The support check and the scorer ask for the same batches again (the question beside the same
    passage sentences, per answer sentence and per arm): a question's ``BatchMemo`` embeds each once.
    The run is the same, to the last sentence marked, as with every batch embedded each time."""
    import core.compare.engine
    import core.eval.run
    from core.knowledge.embedding.embeddings import BatchMemo

    memos: list[BatchMemo] = []

    class Counted(BatchMemo):
        def __init__(self, embedder):
            super().__init__(embedder)
            memos.append(self)

    class EveryTime(BatchMemo):  # what the code did before: every batch embedded
        def get_text_embedding_batch(self, texts, **kwargs):
            return self.embedder.get_text_embedding_batch(list(texts), **kwargs)

    decoding = Decoding(max_new_tokens=16)
    for module in (core.compare.engine, core.eval.run):
        monkeypatch.setattr(module, "BatchMemo", Counted)
    once = run_eval(engine, kb, ITEMS[:2], ["rag", "oracle"], decoding=decoding)
    for module in (core.compare.engine, core.eval.run):
        monkeypatch.setattr(module, "BatchMemo", EveryTime)
    every = run_eval(engine, kb, ITEMS[:2], ["rag", "oracle"], decoding=decoding)
    strip = lambda run: [{a: s.model_dump(exclude={"wall_s", "ttft_s"}) for a, s in r.arms.items()} for r in run.results]  # noqa: E731
    assert strip(once) == strip(every)
    assert sum(m.asked for m in memos) > sum(m.embedded for m in memos) > 0  # batches were asked for again, and saved
