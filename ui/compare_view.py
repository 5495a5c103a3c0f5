"""Rendering of the comparison chat: the fairness strip and the answer panes."""

from __future__ import annotations

import html
import re
from typing import Callable

import streamlit as st

from core.compare.arms import ARM_TABLE, ARMS_BY_NAME
from core.compare.results import ARM_HELP, ARM_LABELS, ArmAnswer, Comparison, Fairness
from core.compare.suggestions import Suggestion, suggestions
from core.demo import DEMO_KB
from core.eval.records import ArmRecord, records_for
from core.eval.runs import RunStore
from core.models.abstention import is_abstention
from core.models.runtime import NOT_USABLE
from ui import glossary
from ui.resources import knowledge
from ui.widgets import md_escape, passage_html

ARM_ICONS = {a.name: a.icon for a in ARM_TABLE}
ANSWER_CSS = "font-size:1rem;line-height:1.5;white-space:pre-wrap;min-height:2.5rem;color:#111827"
CITE_CSS = "background:#e0e7ff;color:#3730a3;border-radius:4px;padding:0 3px;font-size:0.75rem"
_CITE = re.compile(r"\[(\d{1,2})\]")


@st.cache_data(show_spinner=False, max_entries=32)
def suggested_questions(kb: str, version: str) -> list[Suggestion]:
    """Suggestions for the compare page, recomputed when the knowledge base changes version."""
    return suggestions(knowledge(), kb, DEMO_KB)


@st.cache_data(show_spinner=False, max_entries=16, ttl=10)
def arm_records(kb: str, adapter_id: str | None) -> dict[str, ArmRecord]:
    """Each arm's record in the newest evaluation of ``kb`` (re-read at most every 10 s)."""
    from ui.resources import settings

    return records_for(RunStore(settings().data_dir / "evals"), kb, adapter_id)


def record_line(record: ArmRecord | None, kb_version: str) -> None:
    """How often this arm is right, measured: every single answer is read in its light."""
    if record is not None:
        st.caption(f"📊 {record.sentence(kb_version)}",
                   help="Key-fact accuracy with its 95% interval, from the newest evaluation of this knowledge "
                        "base (Evaluate page). One answer can be right or wrong by luck; this is the arm's record.")


def answer_html(text: str, answer: ArmAnswer | None = None, cursor: bool = False) -> str:
    """The model's answer as escaped text; [n] markers that cite a shown source become badges."""
    names = {s.rank: s.doc_name for s in answer.sources} if answer else {}

    def badge(m: re.Match) -> str:
        n = int(m.group(1))
        if n not in names:
            return m.group(0)
        return f"<sup style='{CITE_CSS}' title='{html.escape(names[n], quote=True)}'>[{n}]</sup>"

    body = _CITE.sub(badge, html.escape(text or ""))
    return f"<div style='{ANSWER_CSS}'>{body}{'▌' if cursor else ''}</div>"


def fairness_strip(f: Fairness, arms: list[str]) -> None:
    with st.container(border=True):
        c1, c2, c3, c4 = st.columns(4)
        c1.markdown(f"**Base model**  \n{f.model}  \n`{f.model_fingerprint}` · {f.dtype}", help=glossary.FINGERPRINT)
        if f.adapter:
            trained = f"KB `{f.adapter_kb_version}`" if f.adapter_kb_version else "no knowledge-base version recorded"
            c2.markdown(f"**Adapter**  \n{md_escape(f.adapter)}  \n`{f.adapter_fingerprint}` · trained on {trained}")
        else:
            c2.markdown("**Adapter**  \nnone selected")
        c3.markdown(f"**RAG reads**  \n{md_escape(f.kb)}  \nversion `{f.kb_version}`", help=glossary.VERSION)
        d = f.decoding
        mode = "greedy" if d["temperature"] == 0 else f"temperature {d['temperature']}, seed {d['seed']}"
        c4.markdown(f"**Same for every arm**  \n{mode} · ≤ {d['max_new_tokens']} new tokens  \n"
                    f"top-{f.top_k} passages · relevance ≥ {f.min_score:.2f}"
                    + (" · unsupported answers withheld" if f.require_support else ""))
        for note in f.notes:
            st.warning(note, icon="⏳")


def pane(answer: ArmAnswer, finetune_page: str | None, record: ArmRecord | None = None, kb_version: str = "",
         demo_wait: Callable | None = None, heading: str | None = None) -> None:
    """One arm's finished answer with its record, numbers, prompt and sources. ``demo_wait`` (see
    demo_adapter_progress) stands in for a missing adapter while the demo adapter trains; ``heading``
    replaces the arm's icon and label (the reveal after a blind vote adds the letter and the vote)."""
    arm = answer.arm
    st.markdown(heading or f"**{ARM_ICONS[arm]} {ARM_LABELS[arm]}**", help=ARM_HELP[arm])
    if answer.unavailable and demo_wait is not None and ARMS_BY_NAME[arm].uses_adapter:
        demo_adapter_progress(demo_wait, "This pane answers your question as soon as it is ready.")
        return
    record_line(record, kb_version)
    if answer.unavailable:
        st.info(answer.unavailable, icon="🎓")
        if NOT_USABLE in answer.unavailable:  # an adapter trained on another base model
            st.page_link("pages/models.py", label="Go to the Models page", icon="➡️")
        elif finetune_page:
            st.page_link(finetune_page, label="Go to fine-tuning", icon="➡️")
        return
    st.html(answer_html(answer.text, answer))
    st.caption(
        f"⏱ {answer.wall_s:.2f} s · first token {answer.ttft_s:.2f} s  \n"
        f"🔤 prompt {answer.prompt_tokens:,} · answer {answer.completion_tokens:,} tokens"
        + (f"  \n🔎 retrieval {answer.retrieval_s * 1000:.0f} ms" if answer.retrieval_s else ""),
        help="Latency attributed to this arm: its retrieval, its prompt pass and the decoding steps until its "
             "answer ended. Prompt tokens are what an API would bill as input.",
    )
    for w in answer.warnings:
        st.caption(f"⚠️ {w}")
    support_line(answer)
    if answer.prompt:
        with st.popover("Exact prompt", width="stretch"):
            st.code(answer.prompt, language=None, wrap_lines=True)
    sources_list(answer.sources)


def sources_list(sources) -> None:
    """Each passage an arm read, expandable, with the sentences its answer rests on highlighted."""
    for s in sources:
        supported = any(m for _, m in s.sentences)
        mark = "✅ " if supported else ""
        cite = " · cited" if s.cited else ""
        with st.expander(f"{mark}[{s.rank}] {md_escape(s.doc_name)} · chunk {s.chunk_index} · {s.relevance_text}{cite}"):
            if s.relevance is not None:
                st.caption(f"Relevance to the question (cosine): {s.relevance:.2f}"
                           + (" · highlighted: the sentences the answer rests on" if supported else ""))
            st.html(passage_html(s.sentences or [(s.text, False)]))


NOT_FOUND = ("Not found in the sources: no sentence of the passages supports this answer. It is the model's own "
             "answer, shown as it is; check it before trusting it.")


def support_line(answer: ArmAnswer) -> None:
    """Under an open-book answer: the source sentence it rests on, or a plain warning that none does,
    so a wrong answer is visibly unsupported."""
    if answer.withheld:
        text = " ".join(answer.withheld.split())  # one line: a rambling answer must not push the sources down
        st.caption(f"🙈 Withheld answer: “{md_escape(text[:200])}{'…' if len(text) > 200 else ''}”")
        return
    if not answer.sources or answer.abstained or not answer.text:
        return
    if is_abstention(answer.text):
        return
    if answer.unsupported:
        st.warning(NOT_FOUND, icon="🚩")
        return
    found = next(((s, text) for s in answer.sources for text, marked in s.sentences if marked), None)
    if found is None:
        return
    source, sentence = found
    st.caption(f"📌 Supported by [{source.rank}] {md_escape(source.doc_name)}: “{md_escape(sentence.strip()[:300])}”",
               help=glossary.SUPPORTED)


def answer_boxes(arms: list[str], records: dict[str, ArmRecord]) -> dict:
    """The empty panes, one per arm with its name and record, that the answers stream into."""
    boxes = {}
    for arm, col in zip(arms, st.columns(len(arms))):
        with col:
            st.markdown(f"**{ARM_ICONS[arm]} {ARM_LABELS[arm]}**")
            record_line(records.get(arm), "")
            boxes[arm] = st.empty()
            boxes[arm].caption("waiting for the model…")
    return boxes


def comparison(c: Comparison, arms: list[str], finetune_page: str | None,
               records: dict[str, ArmRecord] | None = None, demo_wait: Callable | None = None) -> None:
    with st.chat_message("user"):
        st.text(c.question)
    shown = [a for a in arms if a in c.arms]
    records = records or {}
    for col, arm in zip(st.columns(len(shown)) if shown else [], shown):
        with col:
            pane(c.arms[arm], finetune_page, records.get(arm), c.fairness.kb_version, demo_wait)


# --- the demo adapter, trained in the background on a fresh workspace (core.demo_adapter) ---
ADAPTER_KEY = "compare_adapter"  # the sidebar's adapter picker
PICKED_KEY = "compare_adapter_picked"  # the user chose an adapter in this session
WAITING_KEY = "compare_demo_waiting"  # this session saw the demo adapter still training


@st.fragment(run_every=2)
def demo_adapter_progress(demo_wait: Callable, then: str) -> None:
    """The demo adapter's progress ("step 12 / 40, about 1 min left"), refreshed every 2 s; once it
    is saved, the whole page runs again to select it and answer with it."""
    status = demo_wait()
    if status is None:
        return
    if status.ready:
        st.rerun()
    st.info(f"{status.message} {then}", icon="⏳")


def select_adapter(labels: dict[str, str], demo) -> bool:
    """Set the adapter picker's value before it is drawn: the demo adapter once it is saved, if this
    session waited for it and the user has not picked another (True then); a deleted choice is
    dropped, so the picker falls back to the newest adapter."""
    if demo is not None and demo.training:
        st.session_state[WAITING_KEY] = True
    if demo is not None and demo.ready and demo.adapter_id in labels and st.session_state.pop(WAITING_KEY, False):
        if not (st.session_state.get(PICKED_KEY) and st.session_state.get(ADAPTER_KEY) in labels):
            st.session_state[ADAPTER_KEY] = demo.adapter_id
            return True
    if st.session_state.get(ADAPTER_KEY) not in labels:
        st.session_state.pop(ADAPTER_KEY, None)
    return False


def mark_adapter_picked() -> None:
    st.session_state[PICKED_KEY] = True


def answer_waiting_panes(engine, history: list[Comparison], adapter_id: str) -> None:
    """The fine-tuned and hybrid panes that waited for an adapter answer their question now, with
    the decoding settings, passages and support rule the other arms of that question had."""
    for past in history:
        waiting = [a for a in past.arms if ARMS_BY_NAME[a].uses_adapter and past.arms[a].unavailable]
        if not waiting:
            continue
        f = past.fairness
        decoding = engine.decoding(**{k: v for k, v in f.decoding.items() if k in ("max_new_tokens", "temperature", "seed")})
        new = engine.answer(past.question, f.kb, waiting, adapter_id, decoding, f.top_k, require_support=f.require_support)
        past.arms.update(new.arms)
        adapter_fields = ("adapter", "adapter_id", "adapter_fingerprint", "adapter_kb", "adapter_kb_version",
                          "stale_documents", "notes")
        past.fairness = f.model_copy(update={k: getattr(new.fairness, k) for k in adapter_fields})

