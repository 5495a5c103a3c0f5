"""The comparison engine: one question, up to four arms, one batched generation.

Base      the model alone                       closed-book prompt, no adapter
RAG       the model + retrieved passages        open-book prompt,   no adapter
Fine-tuned  the model + a LoRA adapter          closed-book prompt, adapter
Hybrid    the adapter + retrieved passages      open-book prompt,   adapter

Every arm gets the same decoding settings and the same passages; only what the arm is
defined by differs. Latency is attributed per arm: its retrieval (RAG side), its own prompt
pass, and the decoding steps until its answer ended (steps are shared by the batch).
"""

from __future__ import annotations

import time
from typing import Callable

import numpy as np

from core.models.abstention import is_abstention
from core.models.prompts import ABSTAIN, Passage, build, citations, cut_repetition, strip_markers
from core.compare.arms import ARMS_BY_NAME, known, retrieving, using_adapter
from core.compare.results import ArmAnswer, Comparison, Fairness, Source
from core.compare.support import mark_sentences
from core.config import Settings
from core.errors import LabError
from core.finetune.adapters import AdapterInfo, AdapterRegistry, changed_since_training
from core.knowledge.embedding.embeddings import BatchMemo
from core.knowledge.retrieval.search import Hit, gold_passages, search
from core.knowledge.service import KnowledgeService
from core.markdown import counted
from core.models.generation import Decoding, Request, generate_batch
from core.models.runtime import ModelRuntime

MAX_QUESTION_CHARS = 4000
UpdateCallback = Callable[[dict[str, str]], None]


class CompareEngine:
    def __init__(self, runtime: ModelRuntime, knowledge: KnowledgeService, adapters: AdapterRegistry, settings: Settings):
        self.runtime, self.knowledge, self.adapters, self.settings = runtime, knowledge, adapters, settings

    def decoding(self, **overrides) -> Decoding:
        """Decoding settings from the configuration, with per-request overrides (validated)."""
        g = self.settings.generation
        return Decoding(**{"max_new_tokens": g.max_new_tokens, "temperature": g.temperature, **overrides})

    def fairness(self, kb: str, adapter_id: str | None, decoding: Decoding, top_k: int,
                 require_support: bool | None = None) -> Fairness:
        """What every arm shares, and where the arms' knowledge differs (a stale adapter)."""
        adapter = self.adapters.get(adapter_id) if adapter_id else None
        f = Fairness(
            model=self.runtime.display_name, model_fingerprint=self.runtime.fingerprint, dtype=self.runtime.dtype,
            kb=kb, kb_version=self.knowledge.version(kb), decoding=decoding.model_dump(exclude={"min_new_tokens"}),
            top_k=top_k, min_score=self.settings.retrieval.min_score,
            require_support=self.settings.retrieval.require_support if require_support is None else require_support,
        )
        if adapter is not None:
            lin = adapter.lineage
            f.adapter, f.adapter_id, f.adapter_fingerprint = adapter.name, adapter.id, adapter.fingerprint
            f.adapter_kb, f.adapter_kb_version = lin.kb_name, lin.kb_version
            if lin.kb_name and lin.kb_name != kb:
                f.notes.append(f"The adapter was trained on knowledge base '{lin.kb_name}', RAG reads '{kb}'.")
            elif (changed := changed_since_training(self.knowledge, lin)) is not None:
                f.stale_documents = changed
                f.notes.append(
                    f"Adapter is stale: {counted(len(changed), 'document')} changed since training." if changed
                    else "Adapter is stale: the knowledge base changed since training."
                )
        return f

    def answer(self, question: str, kb: str, arms: list[str], adapter_id: str | None = None,
               decoding: Decoding | None = None, top_k: int | None = None,
               on_update: UpdateCallback | None = None, gold_source: str | None = None,
               require_support: bool | None = None) -> Comparison:
        """Answer ``question`` with each arm in one batched generation. The oracle arm (evaluation
        only) reads the passages of ``gold_source``, the document known to hold the answer. With
        ``require_support`` (default: the ``retrieval.require_support`` setting), an open-book answer
        that no sentence of its passages supports is withheld and the arm answers "I don't know."."""
        question = (question or "").strip()
        if not question:
            raise LabError("Type a question first.")
        if len(question) > MAX_QUESTION_CHARS:
            raise LabError(f"The question is {len(question):,} characters long; the limit is {MAX_QUESTION_CHARS:,}.")
        arms = known(arms)
        if not arms:
            raise LabError("Pick at least one arm to compare.")
        decoding = decoding or self.decoding()
        top_k = top_k or self.settings.retrieval.top_k
        started = time.perf_counter()
        fair = self.fairness(kb, adapter_id, decoding, top_k, require_support)
        result = Comparison(question=question, fairness=fair)

        adapter: AdapterInfo | None = None
        adapter_key = unusable = None
        if adapter_id and using_adapter(arms):
            adapter = self.adapters.get(adapter_id)
            lin = adapter.lineage
            unusable = self.runtime.adapter_unusable(lin.base_model, lin.base_fingerprint, adapter.name)
            if unusable is None:  # an adapter of another base model: its arms say so, the others answer
                adapter_key = self.runtime.ensure_adapter(adapter.path, adapter.fingerprint, lin.base_model,
                                                          lin.base_fingerprint, adapter.name)

        hits, retrieval_s = [], 0.0
        if retrieving(arms):
            t0 = time.perf_counter()
            hits = search(self.knowledge, kb, question, top_k=top_k)
            retrieval_s = time.perf_counter() - t0
        relevant = self._relevant(question, hits)
        wants_gold = gold_source and any(ARMS_BY_NAME[a].reads_gold for a in arms)
        gold = gold_passages(self.knowledge, kb, gold_source, question, top_k) if wants_gold else []

        budget = min(self.runtime.context_window, self.settings.generation.max_prompt_tokens) - decoding.max_new_tokens
        requests, planned = [], []
        for arm in arms:
            answer, spec = ArmAnswer(arm=arm), ARMS_BY_NAME[arm]
            result.arms[arm] = answer
            if spec.uses_adapter and adapter_key is None:
                answer.unavailable = unusable or "No adapter selected: train one on the Fine-tuning page."
                continue
            if spec.reads_gold:
                if not gold:
                    answer.unavailable = "The oracle needs the question's source document, and it is not in the knowledge base."
                    continue
                read = gold
            elif spec.retrieves:
                answer.retrieval_s = retrieval_s
                if not relevant:
                    best = max((h.dense_score or 0.0 for h in hits), default=None)
                    answer.warnings.append(
                        "No passage passed the relevance threshold"
                        + (f" (best {best:.2f} < {self.settings.retrieval.min_score:.2f})" if best is not None else "")
                        + f", so this arm abstains: \"{ABSTAIN}\""
                    )
                    answer.text, answer.abstained = ABSTAIN, True
                    answer.sources = [Source.from_hit(h, rank=i + 1) for i, h in enumerate(hits)]
                    answer.wall_s = answer.ttft_s = retrieval_s
                    continue
                read = relevant
            else:
                read = None
            passages = None if read is None else [Passage(i + 1, h.doc_name, h.text) for i, h in enumerate(read)]
            prompt = build(self.runtime, question, passages, budget)
            answer.prompt, answer.prompt_tokens = prompt.text, len(prompt.ids)
            answer.warnings.extend(prompt.warnings)
            if prompt.passages:
                kept = {p.number for p in prompt.passages}
                answer.sources = [Source.from_hit(h, rank=i + 1) for i, h in enumerate(read) if i + 1 in kept]
            requests.append(Request(prompt.ids, adapter_key if spec.uses_adapter else None))
            planned.append(arm)

        def stream(partial) -> None:
            if on_update is not None:
                on_update({arm: cut_repetition(strip_markers(g.text))[0] for arm, g in zip(planned, partial)})

        generated = generate_batch(self.runtime, requests, decoding, stream) if requests else []
        for arm, g in zip(planned, generated):
            a = result.arms[arm]
            a.text, a.repeated = cut_repetition(strip_markers(g.text))
            a.completion_tokens, a.stopped = len(g.token_ids), g.stopped
            a.ttft_s = a.retrieval_s + g.prefill_s
            a.wall_s = a.ttft_s + g.decode_s
            if a.repeated:
                a.warnings.append("The model repeated itself; the answer was cut at the first repeat.")
            elif not a.stopped:
                a.warnings.append(f"The answer was cut at {decoding.max_new_tokens} new tokens.")
        self._explain(result, fair.require_support)
        result.total_s = time.perf_counter() - started
        return result

    def _relevant(self, question: str, hits: list[Hit]) -> list[Hit]:
        """Hits whose embedding cosine to the question clears the threshold (hybrid hits found
        only by keywords have no dense score yet: compute it)."""
        missing = [h for h in hits if h.dense_score is None]
        if missing:
            vectors = np.array(self.knowledge.embedder.get_text_embedding_batch([question] + [h.text for h in missing]))
            vectors /= np.linalg.norm(vectors, axis=1, keepdims=True) + 1e-9
            for h, cos in zip(missing, vectors[1:] @ vectors[0]):
                h.dense_score = float(cos)
        return [h for h in hits if (h.dense_score or 0.0) >= self.settings.retrieval.min_score]

    def _explain(self, result: Comparison, require_support: bool = False) -> None:
        """Mark, in each open-book arm's sources, the sentences its answer rests on, and which
        passages it cited; with ``require_support``, withhold an answer that rests on none."""
        embedder = BatchMemo(self.knowledge.embedder)  # the arms often read the same passages
        for a in result.arms.values():
            if not ARMS_BY_NAME[a.arm].open_book or not a.sources or a.abstained or a.unavailable:
                continue
            a.citations = citations(a.text, len(a.sources))
            hits = [Hit(doc_id="", doc_name=s.doc_name, chunk_index=s.chunk_index, text=s.text, score=s.score) for s in a.sources]
            if a.text and not is_abstention(a.text):
                mark_sentences(embedder, a.text, hits, question=result.question)
                for s, h in zip(a.sources, hits):
                    s.sentences = h.sentences
                if require_support and not any(marked for s in a.sources for _, marked in s.sentences):
                    # The same check that shows "Supported by …" under the answer: a small model that
                    # does not find the answer in its passages tends to copy a nearby fact instead of
                    # abstaining; measured on the demo test set, this turns such answers into
                    # abstentions without withholding a right one (README, Evaluation).
                    a.withheld, a.text, a.citations = a.text, ABSTAIN, []
                    a.warnings.append("No sentence of the sources supports the model's answer, so this arm "
                                      f"abstains: \"{ABSTAIN}\" (the withheld answer is shown below).")
            else:  # an abstention rests on no sentence
                for s in a.sources:
                    s.sentences = [(text, False) for text, _ in s.sentences]
            for s in a.sources:
                s.cited = s.rank in a.citations
