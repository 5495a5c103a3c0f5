"""Start here: what the lab compares, and where to go."""

import streamlit as st

from ui.resources import knowledge
from ui.widgets import active_kb_picker

service = knowledge()
kb = active_kb_picker(service)

st.title("🧪 RAG vs Fine-tuning Lab")
st.markdown(
    "**Should your assistant look things up, or learn them by heart?** This lab answers that on *your* "
    "documents: it puts the same question to four set-ups and shows the answers, their sources, their "
    "latency and their token cost side by side."
)

cols = st.columns(4)
ARMS = [
    ("🧊 Base", "The model alone. What a plain LLM knows about your company: usually nothing, and it may invent."),
    ("📖 RAG", "An **open-book exam**: passages are retrieved from the knowledge base and put into the prompt. "
     "Updates instantly, cites sources, costs prompt tokens and time."),
    ("🎓 Fine-tuned", "A **specialist's training**: a LoRA adapter bakes the documents into the weights. "
     "Short prompts and a consistent style, but costly to train and stale when documents change."),
    ("🧬 Hybrid", "The specialist with the open book: the fine-tuned model *and* retrieved passages."),
]
for col, (title, text) in zip(cols, ARMS):
    with col.container(border=True):
        st.markdown(f"#### {title}")
        st.markdown(text)

st.subheader("Your workspace")
if kb is None:
    st.info("No knowledge base yet.")
else:
    docs = service.documents(kb.name)
    c1, c2, c3 = st.columns(3)
    c1.metric("Active knowledge base", kb.name)
    c2.metric("Documents", len(docs))
    c3.metric("Version", service.version(kb.name))

st.subheader("Where to go next")
st.page_link("pages/knowledge_base.py", label="Knowledge base: upload documents and test retrieval", icon="📚")
st.caption(
    "Suggested questions for the demo knowledge base: *How many days do customers have to return an unopened "
    "product?* · *How many paid sick days do employees get?* · *보증 기간은 얼마나 되나요?*"
)
