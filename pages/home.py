"""Start here: what the lab compares, and where to go."""

import streamlit as st

from core.compare.arms import ARMS_BY_NAME
from ui.compare_view import suggested_questions
from ui.resources import knowledge
from ui.widgets import active_kb_picker

service = knowledge()
kb = active_kb_picker(service)

st.title("🧪 RAG vs Fine-tuning Lab")
st.markdown(
    "**Should your assistant look things up, or learn them by heart?** This lab is built to answer that on "
    "*your* documents, by comparing four set-ups of the same small model:"
)

ARMS = [  # what each arm is, for a newcomer; names, icons and labels come from the one table of arms
    ("base", "The model alone. What a plain LLM knows about your company: usually nothing, and it may invent."),
    ("rag", "An **open-book exam**: passages are retrieved from the knowledge base and put into the prompt. "
     "Updates instantly, cites sources, costs prompt tokens and time."),
    ("finetuned", "A **specialist's training**: a LoRA adapter bakes the documents into the weights. "
     "Short prompts and a consistent style, but costly to train and stale when documents change."),
    ("hybrid", "The specialist with the open book: the fine-tuned model *and* retrieved passages."),
]
for row in (ARMS[:2], ARMS[2:]):
    for col, (name, text) in zip(st.columns(2), row):
        with col.container(border=True):
            st.markdown(f"#### {ARMS_BY_NAME[name].icon} {ARMS_BY_NAME[name].label}")
            st.markdown(text)

st.subheader("Your workspace")
if kb is None:
    st.info("No knowledge base yet.")
else:
    docs = service.documents(kb.name)
    c1, c2 = st.columns(2)
    c1.metric("Active knowledge base", kb.name)
    c2.metric("Documents", len(docs))

st.subheader("A five-minute demo")
st.markdown("**1. Ask.** Click a question: it opens on the comparison page, answered four ways side by side.")
suggested = suggested_questions(kb.name, service.version(kb.name)) if kb else []
for col, s in zip(st.columns(max(len(suggested), 1)), suggested):
    with col.container(border=True):
        if st.button(s.question, key=f"suggest_{s.question}", width="stretch"):
            st.session_state["compare_pending"] = s.question
            st.switch_page("pages/compare.py")
        st.caption(s.shows)
st.markdown("**2. Train.** A fresh demo workspace trains a demo adapter by itself, in the background (about 1.5 "
            "minutes on an idle 2-core CPU), and the fine-tuned and hybrid panes answer as soon as it is saved. Train "
            "your own on the fine-tuning page: the RAFT variant, which also teaches the adapter to read passages and "
            "to say \"I don't know\", takes longer.")
st.page_link("pages/finetune.py", label="Fine-tuning", icon="🎓")
st.markdown("**3. Decide.** Run the demo test set through every arm and read the recommendation, with confidence "
            "intervals, failure causes, latency, token cost, a break-even chart and a freshness probe.")
st.page_link("pages/evaluate.py", label="Evaluate", icon="📊")
st.markdown("**Your own documents:** upload them on the knowledge-base page and everything above runs on them.")
st.page_link("pages/knowledge_base.py", label="Knowledge base", icon="📚")
