"""The router: every page lives in pages/."""

import streamlit as st

st.set_page_config(page_title="RAG vs Fine-tuning Lab", page_icon="🧪", layout="wide")

st.navigation(
    {
        "Lab": [
            st.Page("pages/home.py", title="Start here", icon="🏠", default=True),
            st.Page("pages/knowledge_base.py", title="Knowledge base", icon="📚"),
            st.Page("pages/compare.py", title="Compare answers", icon="⚖️"),
            st.Page("pages/finetune.py", title="Fine-tuning", icon="🎓"),
            st.Page("pages/evaluate.py", title="Evaluate", icon="📊"),
            st.Page("pages/models.py", title="Models", icon="🧠"),
        ],
    }
).run()
