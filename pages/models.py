"""Models: the model in use, switching to a bigger one, and which adapters still fit."""

import streamlit as st

from core.errors import LabError
from ui import models_sections as sections
from ui.resources import adapters, hub_downloads, models, runtime, settings
from ui.widgets import report_error, sidebar_jobs

st.title("🧠 Models")
sidebar_jobs()
st.caption("Every arm answers with the same base model. The bundled 135M model reads passages poorly; "
           "a 0.5-3B instruction-tuned model is where RAG reads well.")
if switched := st.session_state.pop("models_switched", None):
    st.success(f"Now answering with {switched}.", icon="✅")

try:
    current = runtime()
except LabError as exc:  # e.g. the workspace's model folder was removed: say so, and offer the switch
    report_error(exc)
    current = None
if current is not None:
    sections.model_in_use(current, settings())
sections.switcher(models(), hub_downloads(), current.model_id if current else None)
sections.suggestions(current)
if current is not None:
    sections.adapters_fit(adapters(), current)
