"""Rendering of the comparison chat: the fairness strip and the answer panes."""

from __future__ import annotations

import html
import re

import streamlit as st

from core.compare.results import ARM_HELP, ARM_LABELS, ArmAnswer, Comparison, Fairness
from core.models.prompts import ABSTAIN
from ui import glossary
from ui.widgets import md_escape, passage_html

ARM_ICONS = {"base": "🧊", "rag": "📖", "finetuned": "🎓", "hybrid": "🧬"}
ANSWER_CSS = "font-size:1rem;line-height:1.5;white-space:pre-wrap;min-height:2.5rem;color:#111827"
CITE_CSS = "background:#e0e7ff;color:#3730a3;border-radius:4px;padding:0 3px;font-size:0.75rem"
_CITE = re.compile(r"\[(\d{1,2})\]")


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
        c1.markdown(f"**Base model**  \n{f.model}  \n`{f.model_fingerprint}`", help=glossary.FINGERPRINT)
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


def pane(answer: ArmAnswer, finetune_page: str | None) -> None:
    """One arm's finished answer with its numbers, prompt and sources."""
    arm = answer.arm
    st.markdown(f"**{ARM_ICONS[arm]} {ARM_LABELS[arm]}**", help=ARM_HELP[arm])
    if answer.unavailable:
        st.info(answer.unavailable, icon="🎓")
        if finetune_page:
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


def support_line(answer: ArmAnswer) -> None:
    """Under an open-book answer: the source sentence it rests on, or a plain warning that none does,
    so a wrong answer is visibly unsupported."""
    if answer.withheld:
        text = " ".join(answer.withheld.split())  # one line: a rambling answer must not push the sources down
        st.caption(f"🙈 Withheld answer: “{md_escape(text[:200])}{'…' if len(text) > 200 else ''}”")
        return
    if not answer.sources or answer.abstained or not answer.text:
        return
    if ABSTAIN.lower().rstrip(".") in answer.text.lower():
        return
    found = next(((s, text) for s in answer.sources for text, marked in s.sentences if marked), None)
    if found is None:
        st.caption("⚠️ No sentence of the sources supports this answer: check it before trusting it.")
        return
    source, sentence = found
    st.caption(f"📌 Supported by [{source.rank}] {md_escape(source.doc_name)}: “{md_escape(sentence.strip()[:300])}”")


def comparison(c: Comparison, arms: list[str], finetune_page: str | None) -> None:
    with st.chat_message("user"):
        st.text(c.question)
    shown = [a for a in arms if a in c.arms]
    for col, arm in zip(st.columns(len(shown)) if shown else [], shown):
        with col:
            pane(c.arms[arm], finetune_page)

