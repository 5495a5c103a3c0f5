"""What a comparison produces, and its export as JSON or Markdown."""

from __future__ import annotations

import json
import uuid
from datetime import datetime, timezone

from pydantic import BaseModel, Field

from core.compare.arms import ARM_TABLE
from core.markdown import md_escape
from core.models.abstention import is_abstention

# Derived from the one table of arms (core.compare.arms), for the modules that want plain names.
EVAL_ARMS = tuple(a.name for a in ARM_TABLE)
ARMS = tuple(a.name for a in ARM_TABLE if not a.reads_gold)  # the oracle needs each question's source: evaluation only
OPEN_BOOK = tuple(a.name for a in ARM_TABLE if a.open_book)
ARM_LABELS = {a.name: a.label for a in ARM_TABLE}
ARM_HELP = {a.name: a.help for a in ARM_TABLE}


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
    repeated: bool = False  # the model looped; the text is cut before the first repeat (core.models.prompts.cut_repetition)
    withheld: str | None = None  # the model's answer, replaced by "I don't know." because no source sentence supports it
    unavailable: str | None = None
    sources: list[Source] = Field(default_factory=list)
    citations: list[int] = Field(default_factory=list)
    warnings: list[str] = Field(default_factory=list)

    @property
    def unsupported(self) -> bool:
        """An open-book answer shown as the model gave it although no sentence of its sources supports
        it (withholding off): the pane flags it "not found in the sources"."""
        return (bool(self.sources) and self.withheld is None and not self.abstained and bool(self.text.strip())
                and not is_abstention(self.text) and not any(s.supporting for s in self.sources))


class Fairness(BaseModel):
    model: str
    model_fingerprint: str
    dtype: str = "fp32"  # the base weights' precision (comparisons saved before it was recorded: fp32, the only one then)
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
    id: str = Field(default_factory=lambda: uuid.uuid4().hex[:12])  # names the question's widgets and its vote
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
                  f"*{c.asked_at} · model {e(f.model)} ({f.model_fingerprint}, {f.dtype}) · knowledge base {e(f.kb)} v{f.kb_version}"
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
            elif a.unsupported:
                lines.append("- not found in the sources: no sentence of the passages supports this answer")
            for s in a.sources:
                support = "; ".join(s.supporting)
                lines.append(f"- source [{s.rank}] {e(s.doc_name)} chunk {s.chunk_index} · {s.relevance_text}"
                             + (f": \"{e(support)}\"" if support else ""))
            for w in a.warnings:
                lines.append(f"- warning: {e(w)}")
            lines.append("")
    return "\n".join(lines)
