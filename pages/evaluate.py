"""Evaluate: which approach wins on these documents, by how much, at what cost."""

import streamlit as st

from ui import eval_sections as sections
from ui.freshness_section import freshness_section
from ui.resources import adapters, evals, finetune, knowledge
from ui.widgets import active_kb_picker

service = knowledge()
st.title("📊 Evaluate")
st.caption("Run a test set through every arm, with the same model and decoding settings, and get the numbers "
           "for the decision: accuracy with confidence intervals, why answers fail, latency, token cost and a "
           "recommendation you can hand to stakeholders.")
kb = active_kb_picker(service)
if kb is None:
    st.stop()
ev = evals()

run_tab, results_tab, diff_tab, fresh_tab = st.tabs(["Run", "Results", "Compare runs", "Freshness probe"])
with run_tab:
    sections.run_section(ev, finetune(), adapters(), kb, service)
    sections.jobs_section(ev)
with results_tab:
    sections.results_section(ev)
with diff_tab:
    sections.diff_section(ev)
with fresh_tab:
    freshness_section(ev, service, adapters(), kb)
