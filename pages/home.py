"""Start here: what the lab compares, and where to go."""

import streamlit as st

from ui.resources import knowledge
from ui.widgets import active_kb_picker

service = knowledge()
kb = active_kb_picker(service)

st.title("🧪 RAG vs Fine-tuning Lab")
st.markdown(
    "**Should your assistant look things up, or learn them by heart?** This lab is built to answer that on "
    "*your* documents, by comparing four set-ups of the same small model:"
)

ARMS = [
    ("🧊 Base", "The model alone. What a plain LLM knows about your company: usually nothing, and it may invent."),
    ("📖 RAG", "An **open-book exam**: passages are retrieved from the knowledge base and put into the prompt. "
     "Updates instantly, cites sources, costs prompt tokens and time."),
    ("🎓 Fine-tuned", "A **specialist's training**: a LoRA adapter bakes the documents into the weights. "
     "Short prompts and a consistent style, but costly to train and stale when documents change."),
    ("🧬 Hybrid", "The specialist with the open book: the fine-tuned model *and* retrieved passages."),
]
for row in (ARMS[:2], ARMS[2:]):
    for col, (title, text) in zip(st.columns(2), row):
        with col.container(border=True):
            st.markdown(f"#### {title}")
            st.markdown(text)

st.subheader("Your workspace")
if kb is None:
    st.info("No knowledge base yet.")
else:
    docs = service.documents(kb.name)
    c1, c2 = st.columns(2)
    c1.metric("Active knowledge base", kb.name)
    c2.metric("Documents", len(docs))

st.subheader("Where to go next")
st.page_link("pages/compare.py", label="Compare answers: ask once, see base, RAG, fine-tuned and hybrid side by side", icon="⚖️")
st.markdown(
    "Questions that show the difference on the demo documents: *How many days do customers have to return an "
    "unopened product?* (RAG reads the policy; the base model guesses) · *How many paid sick days do employees "
    "get?* · *What is the company's policy on pet insurance?* (not in the documents: a good arm says it does not know)."
)
st.page_link("pages/finetune.py", label="Fine-tuning: train an adapter on the demo dataset (a few minutes on a CPU)", icon="🎓")
st.page_link("pages/knowledge_base.py", label="Knowledge base: upload your own documents and see what RAG retrieves", icon="📚")
st.info(
    "Built so far: the knowledge base, the side-by-side comparison with sources, latency and token cost, and "
    "LoRA fine-tuning jobs. Next: the evaluation lab and the decision report.",
    icon="🛠️",
)
