"""Fine-tuning: build training data from the documents, train LoRA adapters in the background."""

import streamlit as st

from ui import finetune_sections as sections
from ui.resources import finetune, knowledge, settings
from ui.widgets import active_kb_picker

service = knowledge()
ft = finetune()
st.title("🎓 Fine-tuning")
st.caption("Bake the documents into a LoRA adapter: a specialist's training. Jobs run in a background process; "
           "closing the browser does not stop them.")
kb = active_kb_picker(service)

data_tab, train_tab, jobs_tab, adapters_tab = st.tabs(["Training data", "Train", "Jobs", "Adapters"])
with data_tab:
    if kb is not None:
        sections.build_from_kb_section(ft, service, kb)
        st.divider()
        sections.raft_section(ft, service, kb)
        st.divider()
    sections.upload_section(ft, service, kb)
    st.divider()
    st.subheader("Datasets")
    sections.datasets_section(ft)
with train_tab:
    sections.job_form(ft)
with jobs_tab:
    sections.jobs_section(ft)
with adapters_tab:
    sections.adapters_section(ft, service, settings())
