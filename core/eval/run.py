"""Run the arms over a test set and score every answer with the deterministic metrics."""

from __future__ import annotations

import hashlib
import json
import time
from typing import Callable

import numpy as np
from pydantic import BaseModel, Field

from core.compare.arms import ARMS_BY_NAME, known
from core.compare.engine import CompareEngine
from core.compare.results import Source
from core.eval.items import TestItem
from core.eval import metrics as m
from core.compare import support
from core.knowledge.embedding.embeddings import BatchMemo
from core.knowledge.retrieval.search import search
from core.knowledge.retrieval.sentences import FLOOR, split_sentences
from core.models.abstention import is_abstention
from core.models.generation import Decoding

class ArmScore(BaseModel):
    text: str
    f1: float | None = None
    key_fact_recall: float | None = None
    key_fact_hit: float | None = None  # 1 when every key fact is in an answer that neither denies it nor abstains
    contradicts_itself: bool = False  # a bare "Yes"/"No" to a question that is not a yes/no question (metrics)
    similarity: float | None = None
    grounded: float | None = None
    abstained: bool = False
    correct_abstention: float | None = None  # on questions the documents cannot answer
    wrong_refusal: float | None = None  # on questions they can answer
    reciprocal_rank: float | None = None
    hit: float | None = None
    wall_s: float = 0.0
    ttft_s: float = 0.0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    sources: list[str] = Field(default_factory=list)
    passages: list[Source] = Field(default_factory=list)  # what an open-book arm read, with the supporting sentences
    withheld: str | None = None  # the model's answer when no source sentence supported it (the arm said "I don't know.")


class QuestionResult(BaseModel):
    item: TestItem
    arms: dict[str, ArmScore]


class EvalRun(BaseModel):
    id: str = ""
    name: str = ""
    created: str = ""
    test_set_name: str = ""
    test_set_hash: str = ""  # of the questions and references, so two runs on the same set can be matched
    prompt_hash: str = ""  # of every instruction the model sees (core.models.prompts)
    adapter_name: str | None = None
    training_seconds: float | None = None  # the adapter's training time, for the economics
    kb: str
    kb_version: str
    model_fingerprint: str
    model: str = ""  # the models.llm it ran on (runs saved before it was recorded: empty)
    dtype: str = "fp32"  # the precision of the base weights (runs saved before it was recorded: fp32, the only one then)
    adapter_id: str | None
    adapter_fingerprint: str | None
    decoding: dict
    top_k: int
    require_support: bool = False  # unsupported open-book answers withheld (runs saved before the setting: no)
    arms: list[str]
    results: list[QuestionResult] = Field(default_factory=list)
    seconds: float = 0.0
    stopped: bool = False
    spec: dict = Field(default_factory=dict)  # what started the run, to re-run it exactly


def test_set_hash(items: list[TestItem]) -> str:
    """First 12 hex digits of the sha256 of the questions and references, in order."""
    blob = json.dumps([i.model_dump() for i in items], sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()[:12]


def prompt_hash() -> str:
    """First 12 hex digits of the sha256 of every instruction the arms' prompts carry."""
    from core.models import prompts

    blob = "\x00".join([prompts.SYSTEM_PROMPT, prompts.RAG_INSTRUCTION, prompts.ABSTAIN])
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()[:12]


def _grounded(embedder, answer: str, passages: list[str], question: str = "") -> float | None:
    """Share of the answer's sentences that some passage sentence supports (the one support
    check of ``core.compare.support``, as on the compare page)."""
    sentences = [s.strip() for s in split_sentences(answer) if len(s.strip()) > 2]
    passage_sentences = [s.strip() for p in passages for s in split_sentences(p) if s.strip()]
    if not sentences or not passage_sentences:
        return None if not sentences else 0.0
    supported = 0
    for sentence in sentences:
        scores = support.supporting(embedder, sentence, passage_sentences, question)
        supported += any(sc is not None and sc >= FLOOR for sc in scores)
    return supported / len(sentences)


def score(engine: CompareEngine, kb: str, item: TestItem, arm, top_k: int, embedder=None) -> ArmScore:
    """``embedder``: the knowledge base's, or a ``BatchMemo`` over it shared by a question's arms."""
    embedder = embedder or engine.knowledge.embedder
    s = ArmScore(text=arm.text, wall_s=arm.wall_s, ttft_s=arm.ttft_s, prompt_tokens=arm.prompt_tokens,
                 completion_tokens=arm.completion_tokens, sources=[src.doc_name for src in arm.sources],
                 passages=arm.sources, withheld=arm.withheld)
    s.abstained = arm.abstained or is_abstention(arm.text)
    if item.answerable:
        s.f1 = m.token_f1(arm.text, item.answer)
        s.key_fact_recall = m.key_fact_recall(arm.text, item.key_facts)
        s.contradicts_itself = m.contradicts_itself(item.question, arm.text)
        # Right = every key fact stated, without denying it ("No. … 14 days") or saying it does not know.
        verdict = m.judge(item.question, True, item.key_facts, arm.text, item.answer)
        s.key_fact_hit = None if verdict is None else float(verdict == "right" and not s.abstained)
        ref, ans = np.array(embedder.get_text_embedding_batch([item.answer, arm.text or " "]))
        s.similarity = float(m.cosine_matrix(ref[None], ans[None])[0, 0])
        s.wrong_refusal = float(s.abstained)
        if ARMS_BY_NAME[arm.arm].retrieves and item.source and not arm.unavailable:
            s.reciprocal_rank = m.reciprocal_rank(s.sources, item.source)
            s.hit = float(bool(s.reciprocal_rank))
    else:
        s.correct_abstention = float(s.abstained)
    if not s.abstained and arm.text:
        passages = [src.text for src in arm.sources] if ARMS_BY_NAME[arm.arm].open_book else \
            [h.text for h in search(engine.knowledge, kb, arm.text, top_k=top_k)]  # checked after the fact
        s.grounded = _grounded(embedder, arm.text, passages, item.question)
    return s


def run_eval(engine: CompareEngine, kb: str, items: list[TestItem], arms: list[str], adapter_id: str | None = None,
             decoding: Decoding | None = None, top_k: int | None = None,
             progress: Callable[[int, int], None] | None = None,
             should_stop: Callable[[], bool] | None = None, require_support: bool | None = None) -> EvalRun:
    """Ask every question of ``items`` with ``arms`` and score the answers. ``should_stop`` is
    checked between questions; a stopped run holds the questions answered so far."""
    decoding = decoding or engine.decoding()
    top_k = top_k or engine.settings.retrieval.top_k
    arms = known(arms)
    if require_support is None:
        require_support = engine.settings.retrieval.require_support
    adapter = engine.adapters.get(adapter_id) if adapter_id else None
    run = EvalRun(kb=kb, kb_version=engine.knowledge.version(kb), model_fingerprint=engine.runtime.fingerprint,
                  model=engine.runtime.model_id, dtype=engine.runtime.dtype, adapter_id=adapter_id, adapter_fingerprint=adapter.fingerprint if adapter else None,
                  adapter_name=adapter.name if adapter else None,
                  training_seconds=adapter.lineage.training_seconds if adapter else None,
                  test_set_hash=test_set_hash(items), prompt_hash=prompt_hash(),
                  decoding=decoding.model_dump(), top_k=top_k, require_support=require_support, arms=arms)
    started = time.perf_counter()
    for i, item in enumerate(items):
        if should_stop is not None and should_stop():
            run.stopped = True
            break
        comparison = engine.answer(item.question, kb, arms, adapter_id, decoding, top_k, gold_source=item.source,
                                   require_support=require_support)
        embedder = BatchMemo(engine.knowledge.embedder)  # one question's arms: the same passages, scored once
        run.results.append(QuestionResult(item=item, arms={
            a: score(engine, kb, item, comparison.arms[a], top_k, embedder)
            for a in arms if not comparison.arms[a].unavailable}))
        if progress:
            progress(i + 1, len(items))
    run.seconds = time.perf_counter() - started
    return run
