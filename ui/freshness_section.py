"""The evaluation page's freshness probe: change a fact in one document and see which arms pick it up."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from core.compare.arms import ARMS_BY_NAME, label as arm_label
from core.compare.results import ARMS
from core.errors import LabError
from core.eval.service import EvalService
from ui.widgets import STATUS_ICONS, cancel_button, kb_adapter_choices, md_escape, newly_finished, report_error


# --- the freshness probe ------------------------------------------------------------------
FRESH_KEY = "freshness_result"


def _probe_inputs(knowledge, kb):
    """(document name, new bytes, questions) from the demo's v2 document or the user's edit."""
    from core.eval import freshness as fr

    docs = {d.name: d for d in knowledge.documents(kb.name)}
    demo_ready = fr.DEMO_DOCUMENT in docs
    kind = st.radio("Change", ["demo", "edit", "upload"], horizontal=True, index=0 if demo_ready else 1, format_func={
        "demo": "One click: the demo policy's v2 (refund window, phone number and damage deadline change)",
        "edit": "Edit a document's text myself", "upload": "Upload a new version of a document"}.get,
        key="fresh_kind")
    if kind == "demo":
        if not demo_ready:
            st.info(f"'{fr.DEMO_DOCUMENT}' is not in this knowledge base: pick the demo knowledge base, or edit a document.")
            return None
        name, data = fr.demo_new_version()
        questions = fr.demo_probe_questions()
        st.caption(f"{len(questions)} questions from the demo test set whose answer changes in v2.")
        return name, data, questions, None
    if not docs:
        st.info("This knowledge base has no documents.")
        return None
    name = st.selectbox("Document", list(docs), key="fresh_doc")
    if kind == "edit":
        text = knowledge.document_text(kb.name, docs[name].doc_id)
        edited = st.text_area("Its text: change a fact", value=text, height=220, key=f"fresh_text_{name}")
    else:
        upload = st.file_uploader(f"The new version of {name} (any supported file type)", key="fresh_upload")
    c1, c2 = st.columns(2)
    old = c1.text_input("The fact as it was (e.g. 14 days)", key="fresh_old")
    new = c2.text_input("The fact as it is now (e.g. 30 days)", key="fresh_new")
    asked = st.text_area("Questions to re-ask, one per line", key="fresh_questions",
                         placeholder="How many days do customers have to return an unopened product?")
    questions = [fr.ProbeQuestion(question=q.strip(), old_facts=[old.strip()] if old.strip() else [],
                                  new_facts=[new.strip()] if new.strip() else [], source=name)
                 for q in asked.splitlines() if q.strip()]
    if kind == "upload":
        if upload is None:
            st.caption("Upload the new version to probe.")
            return None
        return name, upload.getvalue(), questions, upload.name if upload.name != name else None
    if edited == text:
        st.caption("Change the text above to probe.")
        return None
    file_name, data = fr.text_version(name, edited)
    return name, data, questions, file_name if file_name != name else None


def freshness_section(evals: EvalService, knowledge, adapters, kb) -> None:
    st.markdown("**Knowledge changes often.** Change a fact in one document, re-ask the questions it affects, and see "
                "which arms pick up the change *without retraining*. The change goes into a scratch copy of the "
                "knowledge base; the original is not touched.")
    inputs = _probe_inputs(knowledge, kb)
    labels, own_adapter = kb_adapter_choices(adapters, kb)  # never another knowledge base's adapter by default
    c1, c2 = st.columns([3, 2])
    arms = c1.pills("Arms", list(ARMS), default=list(ARMS) if own_adapter else [a for a in ARMS if not ARMS_BY_NAME[a].uses_adapter],
                    selection_mode="multi", format_func=arm_label,
                    key=f"fresh_arms:{kb.name}") or []
    adapter_id = c2.selectbox("Adapter", list(labels), format_func=labels.get,
                              index=list(labels).index(own_adapter) if own_adapter else None,
                              placeholder="No adapter of this knowledge base: pick one" if labels else "No adapter trained yet",
                              key=f"fresh_adapter:{kb.name}")
    if st.button("Run the freshness probe", type="primary", icon="🔄", disabled=inputs is None):
        name, data, questions, new_name = inputs
        try:
            evals.start_probe(knowledge, kb.name, name, data, questions, arms, adapter_id, new_name)
            st.success("Probe started in the background: you can leave this page, it keeps running.", icon="🔄")
        except LabError as exc:
            report_error(exc)
    probe_jobs_section(evals)
    probe_result_section(evals, kb)


@st.fragment(run_every=2)
def probe_jobs_section(evals: EvalService) -> None:
    """Probes queued or running, with progress; a probe that finishes opens its result."""
    jobs = evals.list_probe_jobs()[:5]
    if newest := newly_finished(jobs, "fresh_seen_done"):
        st.session_state[FRESH_KEY] = newest.result.get("probe_id") if newest.result else None
        st.toast("The freshness probe finished.", icon="✅")
        st.rerun()
    for i, job in enumerate(jobs):  # what is under way, and the latest probe if it did not finish
        if job.status in ("queued", "running") or (i == 0 and job.status != "done"):
            with st.container(border=True):
                c1, c2 = st.columns([4, 1])
                c1.markdown(f"{STATUS_ICONS.get(job.status, '')} **{md_escape(job.name)}** · {job.status}")
                if job.status == "running":
                    c1.progress(job.progress, text=job.message or "Starting…")
                elif job.status == "queued":
                    c1.caption(evals.jobs.waiting_reason(job))
                elif job.message:
                    c1.caption(job.message)
                cancel_button(c2, job, evals.cancel, f"fresh_cancel_{job.id}")


def _probe_label(r) -> str:
    n = len(r.questions)
    return (f"{r.doc_name} · {n} question{'s' * (n != 1)} · {', '.join(arm_label(a) for a in r.arms)}"
            f" · {r.created[:16].replace('T', ' ')}")


def probe_result_section(evals: EvalService, kb) -> None:
    results = [r for r in evals.probes.list() if r.kb == kb.name]
    if not results:
        return
    ids = [r.id for r in results]
    wanted = st.session_state.get(FRESH_KEY)
    chosen = st.selectbox("Probe result", ids, index=ids.index(wanted) if wanted in ids else 0,
                          format_func={r.id: _probe_label(r) for r in results}.get, key="fresh_result_pick")
    st.session_state[FRESH_KEY] = chosen
    result = next(r for r in results if r.id == chosen)
    if st.button("Delete this probe result", icon="🗑️", key="fresh_delete"):
        try:
            evals.delete_probe(result.id)
            st.session_state.pop(FRESH_KEY, None)
            st.rerun()
        except LabError as exc:
            report_error(exc)
    st.markdown(f"Knowledge base `{result.kb_version_before}` → probe copy `{result.kb_version_after}` "
                f"('{md_escape(result.probe_kb)}') · {len(result.questions)} question{'s' * (len(result.questions) != 1)} · {result.seconds:.0f} s")
    cols = st.columns(len(result.arms))
    for col, arm in zip(cols, result.arms):
        share = result.picked_up_share.get(arm)
        col.metric(f"{arm_label(arm)}: picked up the change", "—" if share is None else f"{share:.0%}",
                   help="Share of questions whose answer after the change states the new fact and not the old one.")
    st.caption("RAG and hybrid read the changed document at once; base and fine-tuned answer from their weights, "
               "so they stay where they were until the adapter is retrained.")
    st.dataframe(pd.DataFrame(result.table()), hide_index=True, width="stretch",
                 column_order=("question", "arm", "picked up", "before", "after"), column_config={
        "question": st.column_config.TextColumn(width="medium"), "arm": st.column_config.TextColumn(width="small"),
        "before": st.column_config.TextColumn(width="large"), "after": st.column_config.TextColumn(width="large"),
        "picked up": st.column_config.CheckboxColumn(width="small")})
