"""Knowledge base: upload documents, inspect chunks, tune chunking, test retrieval."""

import streamlit as st

from core.errors import LabError
from ui import kb_sections
from ui.resources import knowledge
from ui.widgets import KB_CREATED, active_kb_picker, md_escape, report_error, switch_session_kb

service = knowledge()
st.title("📚 Knowledge base")
st.caption("The documents RAG reads at question time, and the source that fine-tuning datasets are built from.")

with st.sidebar.expander("➕ New knowledge base"):
    with st.form("new_kb", clear_on_submit=True):
        name = st.text_input("Name")
        if st.form_submit_button("Create"):
            try:
                switch_session_kb(service.create_kb(name).name, created=True)
                st.rerun()
            except LabError as exc:
                report_error(exc)

kb = active_kb_picker(service)
with st.sidebar:
    kb_sections.demo_reset_section(service)
if kb is None:
    st.stop()
if st.session_state.get(KB_CREATED) == kb.name:
    st.success(f"Created the knowledge base '{md_escape(kb.name)}': it is now the active one in this browser tab. "
               "Add documents below.", icon="✅")

c1, c2, c3 = st.columns(3)
c1.metric("Documents", service.documents_page(kb.name, 0, 1)[1])
c2.metric("Chunks", service.point_count(kb.name))
c3.metric("Retrieval", kb.mode, help="hybrid = meaning (dense vectors) + keywords (BM25), fused by rank")
st.caption(
    f"Knowledge-base version `{service.version(kb.name)}` · chunks of {kb.chunk_size} tokens, "
    f"overlap {kb.chunk_overlap}. The version changes whenever documents or chunking change; "
    "comparisons and adapters are pinned to it."
)

kb_sections.background_section(service, kb)
upload_tab, docs_tab, search_tab, settings_tab = st.tabs(["Add documents", "Documents", "Test retrieval", "Settings"])
with upload_tab:
    kb_sections.upload_section(service, kb)
with docs_tab:
    kb_sections.documents_section(service, kb)
    kb_sections.versions_section(service, kb)
with search_tab:
    kb_sections.retrieval_test_section(service, kb)
with settings_tab:
    kb_sections.settings_section(service, kb)
    st.divider()
    with st.popover(f"🗑️ Delete knowledge base '{md_escape(kb.name)}'"):
        st.write("This removes its documents and vectors. It cannot be undone.")
        if st.button("Yes, delete it", type="primary"):
            try:
                service.delete_kb(kb.name)
            except LabError as exc:
                report_error(exc)
            else:
                st.rerun()
