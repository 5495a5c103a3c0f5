"""The comparison engine on the real model, a real knowledge base and a real adapter."""

import threading

import pytest

from core.compare.engine import CompareEngine
from core.compare.results import ARMS, history_json, history_markdown
from core.errors import LabError
from core.finetune.adapters import AdapterRegistry
from core.models.generation import Decoding, Request, generate_sequential
from tests.conftest import SECRET_QUESTION

POLICY = ("Refund policy.\nUnopened products can be returned within 14 days of purchase for a full refund.\n"
          "Call the customer centre at 1234-5678 for help.\n").encode()
LEAVE = "Leave.\nEmployees get 15 days of annual leave after one year of service.\n".encode()
SHORT = Decoding(max_new_tokens=24)


@pytest.fixture
def engine(service, kb, runtime, tiny_adapter, settings):
    service.ingest_files(kb, [("policy.md", POLICY), ("leave.md", LEAVE)])
    return CompareEngine(runtime, service, AdapterRegistry(tiny_adapter.path.parent), settings)


def test_four_arms_answer_with_their_own_prompts_and_sources(engine, kb, tiny_adapter):
    c = engine.answer("How many days do I have to return an unopened product?", kb, list(ARMS), tiny_adapter.id, SHORT)
    base, rag, tuned, hybrid = (c.arms[a] for a in ARMS)
    assert all(a.text and a.completion_tokens > 0 for a in (base, rag, tuned, hybrid))
    assert base.prompt == tuned.prompt and rag.prompt == hybrid.prompt
    assert "Unopened products can be returned within 14 days" in rag.prompt
    assert "14 days" not in base.prompt
    assert rag.prompt_tokens > base.prompt_tokens + 20  # the article's trade-off: RAG pays in prompt tokens
    assert not base.sources and not tuned.sources
    assert rag.sources and rag.sources[0].doc_name == "policy.md"
    assert rag.retrieval_s > 0 and base.retrieval_s == 0
    assert all(a.wall_s >= a.ttft_s > 0 for a in c.arms.values())
    assert c.fairness.adapter_fingerprint == tiny_adapter.fingerprint
    assert c.fairness.kb_version == engine.knowledge.version(kb)
    assert c.fairness.dtype == engine.runtime.dtype == "fp32"  # the strip says what precision answered


def test_fine_tuned_arm_uses_the_adapter_and_base_arm_does_not(engine, kb, tiny_adapter):
    c = engine.answer(SECRET_QUESTION, kb, ["base", "finetuned"], tiny_adapter.id, SHORT)
    assert "Zebra-42" in c.arms["finetuned"].text
    assert "Zebra" not in c.arms["base"].text


def test_without_an_adapter_the_fine_tuned_arms_explain_and_the_others_answer(engine, kb):
    c = engine.answer("How many days of annual leave do employees get?", kb, list(ARMS), None, SHORT)
    assert "Fine-tuning page" in c.arms["finetuned"].unavailable and c.arms["hybrid"].unavailable
    assert c.arms["base"].text and c.arms["rag"].text and c.arms["rag"].sources


def test_off_topic_question_makes_the_rag_arms_abstain(engine, kb, tiny_adapter):
    c = engine.answer("What is the boiling point of liquid nitrogen on Neptune?", kb, list(ARMS), tiny_adapter.id, SHORT)
    for arm in ("rag", "hybrid"):
        assert c.arms[arm].abstained and c.arms[arm].text == "I don't know."
        assert "relevance threshold" in c.arms[arm].warnings[0]
    assert not c.arms["base"].abstained


def test_stale_adapter_is_reported_with_the_changed_documents(engine, kb, tiny_adapter, service):
    lineage = tiny_adapter.path / "lineage.json"
    original = lineage.read_text()
    try:
        engine.adapters.rename(tiny_adapter.id, "tiny secret")  # rewrite, then pin to the current version
        import json
        data = json.loads(lineage.read_text())
        data.update(kb_name=kb, kb_version=service.version(kb))
        lineage.write_text(json.dumps(data))
        assert engine.fairness(kb, tiny_adapter.id, SHORT, 3).notes == []
        service.ingest_files(kb, [("policy.md", POLICY.replace(b"14 days", b"30 days"))])
        f = engine.fairness(kb, tiny_adapter.id, SHORT, 3)
        assert f.notes == ["Adapter is stale: 1 document changed since training."]
        assert f.stale_documents == ["policy.md"]
    finally:
        lineage.write_text(original)


def test_truncation_is_warned(engine, kb, settings):
    question, decoding = "How many days do I have to return an unopened product?", Decoding(max_new_tokens=8)
    full = engine.answer(question, kb, ["rag"], None, decoding).arms["rag"]
    assert not any("context window" in w for w in full.warnings)
    limit = full.prompt_tokens + 8 - 10
    engine.settings = settings.model_copy(update={"generation": settings.generation.model_copy(update={"max_prompt_tokens": limit})})
    cut = engine.answer(question, kb, ["rag"], None, decoding).arms["rag"]
    assert cut.prompt_tokens <= limit - 8
    assert any("context window" in w for w in cut.warnings)
    engine.settings = settings.model_copy(update={"generation": settings.generation.model_copy(update={"max_prompt_tokens": 64})})
    with pytest.raises(LabError, match="context window"):
        engine.answer(question, kb, ["rag"], None, decoding)


def test_bad_questions_get_plain_messages(engine, kb):
    with pytest.raises(LabError, match="Type a question"):
        engine.answer("   ", kb, list(ARMS))
    with pytest.raises(LabError, match="limit is"):
        engine.answer("x" * 5000, kb, list(ARMS))
    with pytest.raises(LabError, match="at least one arm"):
        engine.answer("Hi?", kb, [])


def test_concurrent_sessions_each_get_their_own_arms_answers(engine, kb, tiny_adapter, runtime):
    results = {}

    def session(name, arms, adapter):
        results[name] = engine.answer(SECRET_QUESTION, kb, arms, adapter, SHORT)

    threads = [threading.Thread(target=session, args=("tuned", ["finetuned"], tiny_adapter.id)),
               threading.Thread(target=session, args=("plain", ["base"], None))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    prompt = runtime.encode(results["plain"].arms["base"].prompt)
    key = runtime.adapter_key(tiny_adapter.fingerprint)
    ref_base, ref_tuned = generate_sequential(runtime, [Request(prompt), Request(prompt, key)], SHORT)
    assert results["plain"].arms["base"].text == ref_base.text.strip()
    assert results["tuned"].arms["finetuned"].text == ref_tuned.text.strip()
    assert "Zebra-42" in results["tuned"].arms["finetuned"].text


def test_history_exports_carry_question_answers_sources_and_numbers(engine, kb, tiny_adapter):
    c = engine.answer("How many days do I have to return an unopened product?", kb, list(ARMS), tiny_adapter.id, SHORT)
    md = history_markdown([c])
    assert "How many days do I have to return" in md and "### RAG" in md and "policy.md" in md and "prompt" in md
    data = history_json([c])
    assert '"question": "How many days do I have to return an unopened product?"' in data
    assert '"prompt_tokens"' in data and '"sources"' in data


def test_staleness_is_none_when_untied_or_current_and_lists_changed_documents(service, kb):
    from core.finetune.adapters import Lineage, changed_since_training

    service.ingest_files(kb, [("policy.md", POLICY)])
    pinned = Lineage(name="a", base_model="m", base_fingerprint="f", kb_name=kb, kb_version=service.version(kb))
    assert changed_since_training(service, pinned.model_copy(update={"kb_version": None})) is None
    assert changed_since_training(service, pinned.model_copy(update={"kb_name": "gone"})) is None
    assert changed_since_training(service, pinned) is None
    service.ingest_files(kb, [("leave.md", LEAVE)])
    assert changed_since_training(service, pinned) == ["leave.md"]


def test_an_open_book_answer_no_source_sentence_supports_is_withheld(engine, kb):
    from core.compare.results import ArmAnswer, Comparison, Source
    from core.eval.run import TestItem, score

    def comparison(require_support: bool) -> Comparison:
        c = Comparison(question="How many days do I have to return an unopened product?",
                       fairness=engine.fairness(kb, None, SHORT, 3, require_support))
        passage = Source(rank=1, doc_name="policy.md", chunk_index=0, score=0.5, text=POLICY.decode())
        c.arms["base"] = ArmAnswer(arm="base", text="Penguins live in Antarctica.")
        c.arms["rag"] = ArmAnswer(arm="rag", text="Penguins live in Antarctica.", sources=[passage])
        c.arms["hybrid"] = ArmAnswer(arm="hybrid", text="Within 14 days of purchase.", sources=[passage.model_copy()])
        engine._explain(c, c.fairness.require_support)
        return c

    c = comparison(True)
    rag, hybrid, base = c.arms["rag"], c.arms["hybrid"], c.arms["base"]
    assert rag.text == "I don't know." and rag.withheld == "Penguins live in Antarctica."
    assert "No sentence of the sources supports" in rag.warnings[0] and not rag.sources[0].supporting
    assert hybrid.withheld is None and hybrid.text == "Within 14 days of purchase."
    assert hybrid.sources[0].supporting == ["Unopened products can be returned within 14 days of purchase for a full refund."]
    assert base.withheld is None and base.text == "Penguins live in Antarctica."  # no sources to check a closed book against
    assert 'withheld answer (no sentence of the sources supports it): "Penguins live in Antarctica."' in history_markdown([c])
    scored = score(engine, kb, TestItem(question=c.question, answer="14 days", key_facts=["14 days"]), rag, 3)
    assert scored.abstained and scored.wrong_refusal == 1.0 and scored.withheld == "Penguins live in Antarctica."

    c = comparison(False)  # switched off: every answer as the model wrote it, still visibly unsupported
    assert c.arms["rag"].text == "Penguins live in Antarctica." and c.arms["rag"].withheld is None
    assert not c.arms["rag"].warnings and not c.fairness.require_support
    assert engine.fairness(kb, None, SHORT, 3).require_support  # on by default


def test_two_fresh_workspaces_send_identical_prompts_and_get_identical_answers(tmp_path, embedder, runtime, tiny_adapter):
    from core.config import load_settings
    from core.knowledge.service import KnowledgeService

    results = []
    for name in ("one", "two"):
        settings = load_settings(data_dir=tmp_path / name, demo_seed=False)
        service = KnowledgeService(settings, embedder=embedder)
        try:
            kb = service.create_kb("docs").name
            service.ingest_files(kb, [("policy.md", POLICY), ("leave.md", LEAVE)])
            engine = CompareEngine(runtime, service, AdapterRegistry(tiny_adapter.path.parent), settings)
            results.append(engine.answer("How many days do I have to return an unopened product?", kb,
                                         list(ARMS), tiny_adapter.id, SHORT))
        finally:
            service.close()
    one, two = results
    for arm in ARMS:
        assert one.arms[arm].prompt == two.arms[arm].prompt
        assert one.arms[arm].text == two.arms[arm].text
    assert "<ref>" in one.arms["rag"].prompt
