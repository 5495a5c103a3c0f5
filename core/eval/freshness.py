"""The freshness probe: change a fact in one document, re-ask the questions it affects, and see
which arms pick up the change without retraining.

The changed knowledge base is a scratch copy of the original (the original is never touched):
the other documents are re-ingested from their stored text, the changed one from its new file.
RAG and hybrid read the copy, so they can pick up the change; base and fine-tuned read no
documents, so their answers cannot move. They are asked anyway: that is the point made honestly.
"""

from __future__ import annotations

import hashlib
import html
import json
import time
from typing import Callable

from pydantic import BaseModel, Field, computed_field

from core.compare.engine import CompareEngine
from core.compare.arms import ARMS_BY_NAME, known
from core.compare.results import Source
from core.demo import CORPUS_V2_DIR, DATASETS_DIR
from core.errors import LabError, RejectedFile
from core.eval.metrics import key_fact_recall
from core.knowledge.ingestion.readers import TEXT_KINDS, extract_text, kind_for_name
from core.knowledge.service import KnowledgeService, Progress, no_progress
from core.models.generation import Decoding

PROBE_SUFFIX = " - freshness probe"  # KB names allow only letters, digits, spaces, '.', '-', '_'
PROBE_MARK = "freshness-probe:"  # catalog meta key prefix: marks a knowledge base this module may replace
DEMO_DOCUMENT = "customer_service_policy.md"


class ProbeQuestion(BaseModel):
    """A question whose answer the change affects: the facts it had before and should have after."""

    question: str
    old_facts: list[str] = Field(default_factory=list)
    new_facts: list[str] = Field(default_factory=list)
    source: str | None = None


class ArmChange(BaseModel):
    """One arm's answer to one question, before and after the change."""

    before: str = ""
    after: str = ""
    sources_before: list[Source] = Field(default_factory=list)
    sources_after: list[Source] = Field(default_factory=list)
    has_old_fact: bool | None = None  # in the answer after the change; None when no facts are given
    has_new_fact: bool | None = None
    picked_up: bool | None = None  # the answer after has the new fact and not the old one
    unavailable: str | None = None


class QuestionChange(BaseModel):
    question: ProbeQuestion
    arms: dict[str, ArmChange]


class ProbeSpec(BaseModel):
    """A probe to run in the background: the change (its bytes are stored by ``data_sha256``) and what to ask."""

    kb: str
    doc_name: str
    new_name: str | None = None  # the new version's file name, when it differs from the document's
    data_sha256: str
    questions: list[ProbeQuestion] = Field(min_length=1)
    arms: list[str] = Field(min_length=1)
    adapter_id: str | None = None
    top_k: int | None = Field(None, ge=1, le=50)
    max_new_tokens: int | None = Field(None, ge=1, le=1024)

    @property
    def name(self) -> str:
        n = len(self.questions)
        return f"Freshness probe · {self.doc_name} · {n} question{'s' * (n != 1)}"


class FreshnessResult(BaseModel):
    id: str = ""  # the job that produced it (set when saved)
    created: str = ""
    kb: str
    probe_kb: str
    doc_name: str
    kb_version_before: str
    kb_version_after: str
    adapter_id: str | None = None
    adapter_fingerprint: str | None = None
    arms: list[str]
    decoding: dict
    top_k: int
    questions: list[QuestionChange] = Field(default_factory=list)
    seconds: float = 0.0

    @computed_field
    @property
    def picked_up_share(self) -> dict[str, float | None]:
        """Per arm: the share of questions (with facts to check) whose answer picked up the change."""
        out = {}
        for arm in self.arms:
            flags = [q.arms[arm].picked_up for q in self.questions if q.arms[arm].picked_up is not None]
            out[arm] = sum(flags) / len(flags) if flags else None
        return out

    def table(self) -> list[dict]:
        """One row per question and arm, for a dataframe."""
        return [{"question": q.question.question, "arm": ARMS_BY_NAME[arm].label,
                 "before": c.unavailable or c.before, "after": c.unavailable or c.after, "picked up": c.picked_up}
                for q in self.questions for arm, c in q.arms.items()]


def demo_probe_questions() -> list[ProbeQuestion]:
    """The demo test set's questions whose answer changes in the v2 customer-service policy."""
    rows = [json.loads(line) for line in (DATASETS_DIR / "test.jsonl").read_text(encoding="utf-8").splitlines() if line.strip()]
    return [ProbeQuestion(question=r["question"], old_facts=r.get("key_facts") or [],
                          new_facts=r.get("key_facts_v2") or [], source=r.get("source") or None)
            for r in rows if r.get("changes_in_v2")]


def demo_new_version() -> tuple[str, bytes]:
    """The v2 customer-service policy (refund window, phone number and damage deadline changed)."""
    return DEMO_DOCUMENT, (CORPUS_V2_DIR / DEMO_DOCUMENT).read_bytes()


def probe_kb_name(kb: str) -> str:
    return kb[: 48 - len(PROBE_SUFFIX)] + PROBE_SUFFIX


def text_version(name: str, text: str) -> tuple[str, bytes]:
    """A file that ingests as exactly ``text``: under ``name`` when its reader gives the text back
    unchanged (Markdown, plain text, most HTML), else as ``<name>.txt`` (PDF, Word, CSV)."""
    data = text.encode("utf-8")
    try:
        kind = kind_for_name(name)
        # HTML folds source line breaks into spaces: write the paragraphs and lines as markup.
        markup = _as_html(text) if kind == "html" else data
        if kind in TEXT_KINDS and extract_text(name, markup)[1] == text:
            return name, markup
    except RejectedFile:
        pass
    return f"{name}.txt", data


def _as_html(text: str) -> bytes:
    paragraphs = ("<br>".join(html.escape(line) for line in p.split("\n")) for p in text.split("\n\n"))
    return "".join(f"<p>{p}</p>\n" for p in paragraphs).encode("utf-8")


def check_change(knowledge: KnowledgeService, kb: str, doc_name: str, new_bytes: bytes, new_name: str | None = None):
    """The document the change replaces, or one plain sentence (LabError) on why the change cannot be probed."""
    docs = knowledge.documents(kb)
    changed = next((d for d in docs if d.name == doc_name), None)
    if changed is None:
        raise LabError(f"There is no document named '{doc_name}' in '{kb}'.")
    if not new_bytes:
        raise LabError(f"The new version of '{doc_name}' is empty.")
    if hashlib.sha256(new_bytes).hexdigest() == changed.content_hash:
        raise LabError(f"The new version of '{doc_name}' is the same as the current one: change a fact first.")
    new_name = new_name or doc_name
    if any(d.name.lower() == new_name.lower() for d in docs if d.doc_id != changed.doc_id):
        raise LabError(f"'{new_name}' is another document of '{kb}': give the new version a different name.")
    probe = probe_kb_name(kb)
    existing = knowledge.catalog.kb(probe)
    if probe == kb or (existing and knowledge.catalog.get_meta(PROBE_MARK + probe) != existing.created_at):
        raise LabError(f"A knowledge base named '{probe}' already exists and is not a freshness probe: rename it first.")
    return changed


def build_probe_kb(knowledge: KnowledgeService, kb: str, doc_name: str, new_bytes: bytes,
                   new_name: str | None = None, progress: Progress = no_progress) -> str:
    """(Re)create the scratch copy of ``kb`` with ``doc_name`` replaced by ``new_bytes`` (read as
    ``new_name``, default ``doc_name``); same chunking and retrieval mode. Returns its name."""
    info = knowledge.get_kb(kb)
    docs = knowledge.documents(kb)
    changed = check_change(knowledge, kb, doc_name, new_bytes, new_name)
    new_name = new_name or doc_name
    probe = probe_kb_name(kb)
    existing = knowledge.catalog.kb(probe)
    if existing:
        _drop(knowledge, probe)
    created = knowledge.create_kb(probe, info.chunk_size, info.chunk_overlap, info.mode, copy_of=kb)
    knowledge.catalog.set_meta(PROBE_MARK + probe, created.created_at)
    try:
        progress(0.0, f"Reading the new version of {doc_name}")
        [result] = knowledge.ingest_files(probe, [(new_name, new_bytes)])
        if result.status == "rejected":
            raise LabError(f"The new version of '{doc_name}' could not be read: {result.reason}")
        copies = [text_version(d.name, knowledge.document_text(kb, d.doc_id)) for d in docs if d.doc_id != changed.doc_id]
        for r in knowledge.ingest_files(probe, copies, lambda f, m: progress(0.1 + 0.9 * f, m)):
            if r.status == "rejected":
                raise LabError(f"Copying '{r.name}' into the probe failed: {r.reason}")
    except Exception:  # leave no half-built probe behind
        _drop(knowledge, probe)
        raise
    return probe


def _drop(knowledge: KnowledgeService, probe: str) -> None:
    knowledge.delete_kb(probe)
    knowledge.catalog.set_meta(PROBE_MARK + probe, "")  # a later knowledge base of that name is someone's own


def _copied_names(knowledge: KnowledgeService, kb: str, probe: str) -> dict[str, str]:
    """Probe document name -> original name, for documents copied as ``<name>.txt``."""
    originals = {d.name for d in knowledge.documents(kb)}
    return {d.name: d.name[:-4] for d in knowledge.documents(probe)
            if d.name.endswith(".txt") and d.name not in originals and d.name[:-4] in originals}


def _has(text: str, facts: list[str]) -> bool | None:
    recall = key_fact_recall(text, facts)
    return None if recall is None else recall == 1.0


def run_probe(engine: CompareEngine, kb: str, questions: list[ProbeQuestion], doc_name: str, new_bytes: bytes,
              arms: list[str], adapter_id: str | None = None, decoding: Decoding | None = None,
              top_k: int | None = None, progress: Progress | None = None, new_name: str | None = None,
              should_stop: Callable[[], bool] = lambda: False) -> FreshnessResult | None:
    """Build the probe copy, then ask every question on ``kb`` (before) and on the copy (after).
    Returns None when ``should_stop`` said so between questions."""
    if not questions:
        raise LabError("Add at least one question to re-ask.")
    arms = known(arms)
    if not arms:
        raise LabError("Pick at least one arm to compare.")
    progress = progress or no_progress
    decoding = decoding or engine.decoding()
    top_k = top_k or engine.settings.retrieval.top_k
    started = time.perf_counter()
    knowledge = engine.knowledge
    probe = build_probe_kb(knowledge, kb, doc_name, new_bytes, new_name, lambda f, m: progress(0.3 * f, m))
    originals = _copied_names(knowledge, kb, probe)
    in_probe = {v: k for k, v in originals.items()} | {doc_name: new_name or doc_name}
    adapter = engine.adapters.get(adapter_id) if adapter_id else None
    result = FreshnessResult(
        kb=kb, probe_kb=probe, doc_name=doc_name, kb_version_before=knowledge.version(kb),
        kb_version_after=knowledge.version(probe), adapter_id=adapter_id,
        adapter_fingerprint=adapter.fingerprint if adapter else None, arms=arms,
        decoding=decoding.model_dump(), top_k=top_k)
    for i, q in enumerate(questions):
        if should_stop():
            return None
        progress(0.3 + 0.7 * i / len(questions), f"Asking question {i + 1} of {len(questions)}")
        before = engine.answer(q.question, kb, arms, adapter_id, decoding, top_k, gold_source=q.source)
        after = engine.answer(q.question, probe, arms, adapter_id, decoding, top_k,
                              gold_source=in_probe.get(q.source, q.source) if q.source else None)
        changes = {}
        for arm in arms:
            b, a = before.arms[arm], after.arms[arm]
            for s in a.sources:
                s.doc_name = originals.get(s.doc_name, s.doc_name)
            c = ArmChange(before=b.text, after=a.text, sources_before=b.sources, sources_after=a.sources,
                          unavailable=b.unavailable or a.unavailable)
            if not c.unavailable:
                c.has_old_fact, c.has_new_fact = _has(a.text, q.old_facts), _has(a.text, q.new_facts)
                if c.has_new_fact is not None:
                    c.picked_up = c.has_new_fact and not c.has_old_fact
            changes[arm] = c
        result.questions.append(QuestionChange(question=q, arms=changes))
    result.seconds = time.perf_counter() - started
    progress(1.0, "Done")
    return result
