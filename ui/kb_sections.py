"""The sections of the knowledge-base page."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from core.demo import DEMO_KB
from core.errors import LabError
from core.knowledge.ingestion import bulk
from core.knowledge.storage.catalog import KBInfo
from core.knowledge.retrieval.search import search
from core.knowledge.service import KnowledgeService
from core.markdown import counted
from core.seed import reset_demo
from ui.widgets import md_escape, report_error, show_passage, switch_session_kb

BULK_JOB = "kb_bulk_job"  # this session's background upload or re-index, whose results it shows
STATUS_ICON = {"added": "✅ added", "updated": "🔄 updated", "unchanged": "⏸️ unchanged", "rejected": "❌ rejected"}


def _follow_in_background(job) -> None:
    """A background upload or re-index was queued; the page follows it (``background_section``)."""
    st.session_state[BULK_JOB] = job.id
    st.session_state.pop("last_upload", None)
    st.rerun()


@st.fragment(run_every=3)
def background_section(service: KnowledgeService, kb: KBInfo) -> None:
    """A background upload or re-index of this knowledge base: its progress and a cancel button
    while it runs; once switched in, its result lines in this session."""
    from ui.resources import job_store, switch_in_uploads

    jobs = job_store()
    if switch_in_uploads(jobs):
        st.rerun()
    job = bulk.pending(jobs, kb.name)
    if job is None:
        ended = bulk.outcome(jobs, st.session_state.get(BULK_JOB), kb.name)
        if ended is not None:
            st.session_state.pop(BULK_JOB)
            if ended.done:
                st.session_state["last_upload"] = ended.results
                st.toast(ended.message)
            else:
                st.session_state["bulk_problem"] = ended.message
            st.rerun()
        if problem := st.session_state.pop("bulk_problem", None):
            st.warning(problem)
        return
    eta = f", about {job.eta_s / 60:.0f} min left" if job.eta_s and job.eta_s > 60 else ""
    text = (jobs.waiting_reason(job) or "").capitalize() if job.status == "queued" else (job.message or "Working…")
    st.info(md_escape(bulk.under_way(job)) + ". Searches, comparisons and evaluations use the knowledge base "
            "as it was until it finishes.", icon="⏳")
    left, right = st.columns([4, 1])
    left.progress(job.progress, text=f"{md_escape(text)} ({job.progress:.0%}{eta})")
    if job.status in ("queued", "running") and right.button("Cancel", key="bulk_cancel", width="stretch"):
        jobs.request_cancel(job.id)
        st.rerun()


def upload_section(service: KnowledgeService, kb: KBInfo) -> None:
    st.subheader("Add documents")
    with st.form("upload", clear_on_submit=True):
        files = st.file_uploader(
            "PDF, DOCX, Markdown, TXT, HTML or CSV — many at once",
            accept_multiple_files=True,
            help=f"Up to {service.settings.ingest.max_file_mb:g} MB per file. Re-uploading a file with the "
            "same name replaces the old version; an unchanged file is skipped.",
        )
        submitted = st.form_submit_button("Add to knowledge base", type="primary")
    if submitted and files:
        payload = [(f.name, f.getvalue()) for f in files]
        from ui.resources import job_store

        try:
            bar = st.progress(0.0, text="Starting…")
            added = bulk.add_files(service, job_store(), kb.name, payload, lambda frac, msg: bar.progress(frac, text=msg))
            bar.empty()
            if not isinstance(added, list):  # a large upload: queued as a job
                _follow_in_background(added)
            st.session_state["last_upload"] = added
            if any(r.status in ("added", "updated") for r in added):
                st.rerun()  # so the counts and the version above the tabs include the new documents
        except LabError as exc:
            report_error(exc)
    elif submitted:
        st.warning("Choose one or more files first.")
    results = st.session_state.get("last_upload")
    if results:
        added = sum(r.status in ("added", "updated") for r in results)
        rejected = sum(r.status == "rejected" for r in results)
        summary = f"{counted(added, 'file')} indexed, {rejected} rejected, {len(results) - added - rejected} unchanged."
        (st.warning if rejected else st.success)(summary)
        st.dataframe(
            pd.DataFrame(
                [{"file": r.name, "result": STATUS_ICON[r.status], "chunks": r.chunks, "detail": r.reason} for r in results]
            ),
            hide_index=True,
            width="stretch",
        )


DOCS_PER_PAGE = 50
PREVIEW_CHUNKS = 50


def documents_section(service: KnowledgeService, kb: KBInfo) -> None:
    """One page of documents at a time (a knowledge base may hold thousands), chunks only on request."""
    _, total = service.documents_page(kb.name, 0, 1)
    st.subheader(f"Documents ({total:,})")
    if not total:
        st.info("This knowledge base is empty. Add documents above.")
        return
    pages = -(-total // DOCS_PER_PAGE)
    page = st.number_input(f"Page (of {pages})", 1, pages, 1, key="doc_page") - 1 if pages > 1 else 0
    docs, _ = service.documents_page(kb.name, page, DOCS_PER_PAGE)
    table = pd.DataFrame(
        [
            {
                "name": d.name, "type": d.kind, "size (KB)": round(d.size_bytes / 1024, 1), "chunks": d.chunks,
                "added at": d.added_at.replace("T", " ")[:16], "content hash": d.content_hash[:12],
            }
            for d in docs
        ]
    )
    st.dataframe(table, hide_index=True, width="stretch")
    by_label = {f"{d.name} ({d.chunks} chunks)": d for d in docs}
    left, right = st.columns([3, 1])
    label = left.selectbox("Document", list(by_label), key="doc_pick")
    doc = by_label[label]
    right.write("")
    if right.button("🗑️ Delete document", key="doc_delete", width="stretch"):
        try:
            service.delete_document(kb.name, doc.doc_id)
        except LabError as exc:
            report_error(exc)
        else:
            st.toast(f"Deleted {md_escape(doc.name)} and its {doc.chunks} chunks.")
            st.rerun()
    if st.toggle(f"Show the chunks of {md_escape(doc.name)}", key="doc_chunks"):
        if doc.chunks > PREVIEW_CHUNKS:
            st.caption(f"The first {PREVIEW_CHUNKS} of {doc.chunks:,} chunks.")
        for chunk in service.chunks(kb.name, doc.doc_id, limit=PREVIEW_CHUNKS):
            st.caption(f"Chunk {chunk['chunk_index']}")
            st.text(chunk["text"])


def versions_section(service: KnowledgeService, kb: KBInfo) -> None:
    """Every version the knowledge base has been in: what an evaluation can be run on again."""
    versions = service.versions(kb.name)
    with st.expander(f"Version history ({len(versions)} versions)"):
        st.caption("Each change of documents or chunking is a new version. The Evaluate page can run a test set on "
                   "an older version: it is rebuilt from the document texts it held.")
        st.dataframe(pd.DataFrame([{
            "version": v.version, "recorded": v.created_at.replace("T", " ")[:16], "documents": v.documents,
            "changed since": "current" if v.current else ", ".join(v.changes) or "chunking only",
            "can be rebuilt": "yes" if v.restorable else f"no: {v.problem}",
        } for v in versions]), hide_index=True, width="stretch")
        copies_section(service, kb)


def copies_section(service: KnowledgeService, kb: KBInfo) -> None:
    """The hidden copies evaluations and probes made, and a button to free them."""
    copies = service.copies(kb.name)
    if not copies:
        return
    points = sum(service.point_count(c.name) for c in copies)
    c1, c2 = st.columns([3, 1])
    c1.caption(f"{len(copies)} scratch cop{'ies' if len(copies) > 1 else 'y'} (older versions rebuilt for evaluations, "
               f"the freshness probe's copy) hold {points} chunks in memory. They are rebuilt when needed.")
    if c2.button("Delete scratch copies", icon="🧹", key="kb_delete_copies"):
        from core.eval.service import delete_scratch_copies
        from ui.resources import settings

        try:
            n = delete_scratch_copies(settings(), service, kb.name)
            st.toast(f"Deleted {n} scratch cop{'ies' if n > 1 else 'y'}.")
            st.rerun()
        except LabError as exc:
            report_error(exc)


def settings_section(service: KnowledgeService, kb: KBInfo) -> None:
    st.subheader("Chunking and retrieval settings")
    mode = st.radio(
        "Retrieval mode", ["hybrid", "dense"], index=["hybrid", "dense"].index(kb.mode), horizontal=True,
        help="Hybrid fuses dense vectors with BM25 keywords (reciprocal rank fusion); dense uses vectors only.",
    )
    if mode != kb.mode:
        service.set_mode(kb.name, mode)
        st.rerun()
    c1, c2 = st.columns(2)
    size = c1.number_input("Chunk size (tokens)", 32, 4096, kb.chunk_size, step=16)
    overlap = c2.number_input("Chunk overlap (tokens)", 0, 2048, kb.chunk_overlap, step=4)
    if (size, overlap) != (kb.chunk_size, kb.chunk_overlap):
        st.warning(
            f"Changing chunking re-indexes all {len(service.documents(kb.name))} documents and creates a new "
            "knowledge-base version: adapters trained on the old version will show as stale."
        )
        if st.button("Apply and re-index", type="primary"):
            _reindex(service, kb, int(size), int(overlap))
    elif st.button("Re-index all documents"):
        _reindex(service, kb)


def _reindex(service: KnowledgeService, kb: KBInfo, size: int | None = None, overlap: int | None = None) -> None:
    """Re-index in the page, or as a background job when the knowledge base is large."""
    from ui.resources import job_store

    try:
        bar = st.progress(0.0)
        job = bulk.reindex(service, job_store(), kb.name, size, overlap, lambda f, m: bar.progress(f, text=m))
        if job is not None:  # a large knowledge base: queued as a job
            _follow_in_background(job)
    except LabError as exc:
        report_error(exc)
    else:
        st.toast("Re-indexed.")
        st.rerun()


def retrieval_test_section(service: KnowledgeService, kb: KBInfo) -> None:
    st.subheader("Test retrieval")
    c1, c2, c3 = st.columns([4, 1, 1])
    query = c1.text_input("Query", placeholder="e.g. How long do customers have to return a product?")
    top_k = c2.number_input("Top k", 1, 20, service.settings.retrieval.top_k)
    mode = c3.selectbox("Mode", ["hybrid", "dense"], index=["hybrid", "dense"].index(kb.mode))
    if not query.strip():
        return
    hits = search(service, kb.name, query, top_k=int(top_k), mode=mode)
    if not hits:
        st.info("Nothing found: the knowledge base is empty or nothing matches.")
    for rank, hit in enumerate(hits, 1):
        scores = f"meaning similarity {hit.dense_score:.2f}" if hit.dense_score is not None else "found by keywords only"
        if mode == "hybrid":
            keywords = f"keyword match #{hit.sparse_rank}" if hit.sparse_rank else "no keyword match"
            scores = f"{scores} · {keywords}"
        st.markdown(f"**{rank}. {md_escape(hit.doc_name)}** · chunk {hit.chunk_index}")
        st.caption(scores)
        show_passage(hit.sentences)


def demo_reset_section(service: KnowledgeService) -> None:
    """Restore the shipped demo knowledge base (after a demo changed or deleted it)."""
    with st.popover("↺ Reset demo knowledge base"):
        st.write(f"Deletes '{DEMO_KB}' with any changes made to it and ingests the shipped demo documents again.")
        if st.button("Reset demo", type="primary", key="reset_demo"):
            bar = st.progress(0.0)
            try:
                results = reset_demo(service, lambda f, m: bar.progress(f, text=m))
            except LabError as exc:
                report_error(exc)
                return
            st.session_state["last_upload"] = results
            switch_session_kb(DEMO_KB)
            st.rerun()
