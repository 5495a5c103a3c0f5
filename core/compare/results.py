"""What a comparison produces, and its export as JSON or Markdown."""

from __future__ import annotations

import json
from datetime import datetime, timezone

from pydantic import BaseModel, Field

from core.markdown import md_escape

ARMS = ("base", "rag", "finetuned", "hybrid")
EVAL_ARMS = ARMS + ("oracle",)  # the oracle needs each question's source document: evaluation only
OPEN_BOOK = ("rag", "hybrid", "oracle")
ARM_LABELS = {"base": "Base", "rag": "RAG", "finetuned": "Fine-tuned", "hybrid": "Hybrid", "oracle": "Oracle"}
ARM_HELP = {
    "base": "The model alone: what it already knows.",
    "rag": "The base model reading passages retrieved from the knowledge base (an open-book exam).",
    "finetuned": "The model with a LoRA adapter trained on the documents (a specialist's training), no passages.",
    "hybrid": "The fine-tuned model reading the retrieved passages too.",
    "oracle": "The base model given the best passages of the right document: RAG with perfect retrieval.",
}


class Source(BaseModel):
    rank: int
    doc_name: str
    chunk_index: int
    score: float
    relevance: float | None = Field(None, description="Embedding cosine to the question.")
    text: str
    sentences: list[tuple[str, bool]] = Field(default_factory=list)
    cited: bool = False

    @classmethod
    def from_hit(cls, hit, rank: int) -> "Source":
        return cls(rank=rank, doc_name=hit.doc_name, chunk_index=hit.chunk_index, score=hit.score,
                   relevance=hit.dense_score, text=hit.text, sentences=hit.sentences or [(hit.text, False)])

    @property
    def relevance_text(self) -> str:
        """The one relevance figure shown for a passage, on the page and in the exports: its meaning
        similarity (embedding cosine) to the question, not the fused rank score."""
        return "relevance —" if self.relevance is None else f"relevance {self.relevance:.2f}"

    @property
    def supporting(self) -> list[str]:
        return [s.strip() for s, marked in self.sentences if marked]


class ArmAnswer(BaseModel):
    arm: str
    text: str = ""
    prompt: str = ""
    prompt_tokens: int = 0
    completion_tokens: int = 0
    retrieval_s: float = 0.0
    ttft_s: float = 0.0
    wall_s: float = 0.0
    stopped: bool = True
    abstained: bool = False  # no passage passed the threshold: the model was not asked
    withheld: str | None = None  # the model's answer, replaced by "I don't know." because no source sentence supports it
    unavailable: str | None = None
    sources: list[Source] = Field(default_factory=list)
    citations: list[int] = Field(default_factory=list)
    warnings: list[str] = Field(default_factory=list)


class Fairness(BaseModel):
    model: str
    model_fingerprint: str
    kb: str
    kb_version: str
    decoding: dict
    top_k: int
    min_score: float
    require_support: bool = False
    adapter: str | None = None
    adapter_id: str | None = None
    adapter_fingerprint: str | None = None
    adapter_kb: str | None = None
    adapter_kb_version: str | None = None
    stale_documents: list[str] = Field(default_factory=list)
    notes: list[str] = Field(default_factory=list)


class Comparison(BaseModel):
    question: str
    fairness: Fairness
    arms: dict[str, ArmAnswer] = Field(default_factory=dict)
    asked_at: str = Field(default_factory=lambda: datetime.now(timezone.utc).isoformat(timespec="seconds"))
    total_s: float = 0.0


def history_json(history: list[Comparison]) -> str:
    return json.dumps([c.model_dump(mode="json") for c in history], indent=2, ensure_ascii=False)


def history_markdown(history: list[Comparison]) -> str:
    """The conversation as Markdown. Questions, answers, passages and names are escaped (core.markdown), so
    an image, link or HTML written into a question or document renders as text wherever the file is opened."""
    e = md_escape
    lines = ["# Comparison history", ""]
    for n, c in enumerate(history, 1):
        f = c.fairness
        lines += [f"## {n}. {e(c.question)}", "",
                  f"*{c.asked_at} · model {e(f.model)} ({f.model_fingerprint}) · knowledge base {e(f.kb)} v{f.kb_version}"
                  + (f" · adapter {e(f.adapter)} ({f.adapter_fingerprint})" if f.adapter else "")
                  + f" · decoding {e(json.dumps(f.decoding))}*", ""]
        for note in f.notes:
            lines.append(f"> {e(note)}")
        for arm, a in c.arms.items():
            lines += [f"### {ARM_LABELS[arm]}", ""]
            if a.unavailable:
                lines += [f"_{e(a.unavailable)}_", ""]
                continue
            lines += [e(a.text) or "_(empty answer)_", "",
                      f"- wall {a.wall_s:.2f} s · first token {a.ttft_s:.2f} s · prompt {a.prompt_tokens} tokens · "
                      f"completion {a.completion_tokens} tokens"]
            if a.withheld:
                lines.append(f"- withheld answer (no sentence of the sources supports it): \"{e(a.withheld)}\"")
            for s in a.sources:
                support = "; ".join(s.supporting)
                lines.append(f"- source [{s.rank}] {e(s.doc_name)} chunk {s.chunk_index} · {s.relevance_text}"
                             + (f": \"{e(support)}\"" if support else ""))
            for w in a.warnings:
                lines.append(f"- warning: {e(w)}")
            lines.append("")
    return "\n".join(lines)
