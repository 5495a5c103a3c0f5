"""Widgets shared by pages. Everything from users or models is escaped before display."""

from __future__ import annotations

import html

import streamlit as st

from core.errors import LabError
from core.markdown import md_escape  # noqa: F401  (the pages import it from here)
from core.knowledge.storage.catalog import KBInfo
from core.knowledge.service import KnowledgeService
from ui import glossary

PASSAGE_CSS = (
    "font-size:0.9rem;line-height:1.5;white-space:pre-wrap;border-left:3px solid #c7d2fe;"
    "padding:0.25rem 0.75rem;margin:0.25rem 0 0.75rem 0;color:#1f2937"
)


def passage_html(sentences: list[tuple[str, bool]]) -> str:
    """A passage with its matching sentences highlighted; every sentence is HTML-escaped."""
    parts = [
        f"<mark style='background:#fde68a'>{html.escape(s.rstrip())}</mark>{html.escape(s[len(s.rstrip()):])}"
        if hit
        else html.escape(s)
        for s, hit in sentences
    ]
    return f"<div style='{PASSAGE_CSS}'>{''.join(parts)}</div>"


def show_passage(sentences: list[tuple[str, bool]]) -> None:
    st.html(passage_html(sentences))


SESSION_KB = "session_kb"  # this browser session's active knowledge base
KB_CREATED = "kb_created"  # the knowledge base this session just created, for its confirmation line


def session_kb(service: KnowledgeService) -> str | None:
    """This browser session's active knowledge base. A new session (or one whose knowledge base was
    deleted) starts on the workspace's default; switching never touches other sessions."""
    names = [k.name for k in service.list_kbs()]
    if not names:
        return None
    name = st.session_state.get(SESSION_KB)
    if name not in names:
        default = service.active_kb()
        name = default.name if default and default.name in names else names[0]
        st.session_state[SESSION_KB] = name
    return name


def switch_session_kb(name: str, created: bool = False) -> None:
    """Make ``name`` this session's active knowledge base (``created``: with a confirmation line)."""
    st.session_state[SESSION_KB] = name
    if created:
        st.session_state[KB_CREATED] = name
    else:
        st.session_state.pop(KB_CREATED, None)


def _picked(key: str) -> None:
    switch_session_kb(st.session_state[key])


def active_kb_picker(service: KnowledgeService, key: str = "kb_picker") -> KBInfo | None:
    """Sidebar selector of this session's active knowledge base; returns it (None if there is none)."""
    name = session_kb(service)
    if name is None:
        st.sidebar.info("No knowledge base yet: create one on the Knowledge base page.")
        sidebar_jobs()
        return None
    st.session_state[key] = name  # the picker shows the session's choice on every page
    st.sidebar.selectbox("Active knowledge base", [k.name for k in service.list_kbs()], key=key,
                         on_change=_picked, args=(key,),
                         help="For this browser tab only: other people using the lab keep their own choice.")
    info = service.get_kb(name)
    st.sidebar.caption(f"Version `{service.version(name)}` · {info.mode} retrieval", help=glossary.VERSION)
    from core.knowledge.ingestion import bulk
    from ui.resources import job_store

    if (job := bulk.pending(job_store(), name)) is not None:
        st.sidebar.caption(f"⏳ {md_escape(bulk.under_way(job))}: answers, searches and evaluations "
                           "use this version until it is switched in.")
    sidebar_jobs()
    return info


STATUS_ICONS = {"queued": "⏳", "running": "🏃", "done": "✅", "failed": "❌", "cancelled": "🚫", "interrupted": "⏸️"}


def newly_finished(jobs: list, key: str):
    """The newest of ``jobs`` that finished ("done") since this browser session last looked (once), or None."""
    finished = {j.id for j in jobs if j.status == "done"}
    seen = st.session_state.setdefault(key, finished)
    if not finished - seen:
        return None
    st.session_state[key] = finished
    return next(j for j in jobs if j.id in finished - seen)


def cancel_button(container, job, cancel, key: str) -> None:
    """The Cancel button of a queued or running job. Once asked, it says "Cancelling…" until the job
    stops (a running job stops at its next step), rather than offering a button that does nothing; a
    job that ended between the page's refresh and the click gets one sentence, not an exception."""
    if job.status not in ("queued", "running"):
        return
    slot = container.empty()
    if job.cancel_requested:
        slot.caption("⏹️ Cancelling…")
    elif slot.button("Cancel", key=key, icon="⏹️"):
        try:
            cancel(job.id)
            slot.caption("⏹️ Cancelling…")  # replaces the button in this same run
        except LabError as exc:
            slot.error(str(exc), icon="⚠️")


def adapter_labels(adapters) -> dict[str, str]:
    """Adapter id -> "name (fingerprint)", newest first, for the adapter pickers."""
    return {a.id: adapter_label(a) for a in adapters.list()}


def adapter_label(a) -> str:
    return f"{a.name} ({a.fingerprint[:6]})"


def kb_adapter_choices(adapters, kb) -> tuple[dict[str, str], str | None]:
    """Adapter id -> label, this knowledge base's adapters first; and the default: the newest adapter
    trained on this knowledge base, never one of another knowledge base."""
    infos = adapters.list()  # newest first; each listing hashes the weights, so list once
    trained_on = {a.id: a.lineage.kb_name for a in infos}
    order = sorted(trained_on, key=lambda i: trained_on[i] != kb.name)
    names = {a.id: adapter_label(a) for a in infos}
    labels = {i: names[i] + ("" if trained_on[i] == kb.name else f" · trained on '{trained_on[i] or '?'}'")
              for i in order}
    own = next((i for i in order if trained_on.get(i) == kb.name), None)
    return labels, own


def dataset_select(infos, label: str, key: str) -> str:
    """A picker of saved datasets, shown as "name (N rows)"; returns the chosen id."""
    labels = {i.id: f"{i.name} ({i.train_count} rows)" for i in infos}
    return st.selectbox(label, list(labels), format_func=labels.get, key=key)


def report_error(exc: LabError) -> None:
    st.error(str(exc), icon="⚠️")


def sidebar_jobs() -> None:
    """The sidebar's list of background jobs (every page shows it: the pages with a knowledge-base
    picker through it, the Models page directly)."""
    from ui.resources import job_store

    with st.sidebar:
        background_jobs(job_store())


@st.fragment(run_every=5)
def background_jobs(store) -> None:
    """Every background job of every kind in one place, on every page: what uses the model now and
    what waits, oldest first (the order they run in). Also switches in finished background uploads,
    so their documents appear within seconds on every page."""
    from core.jobs.overview import under_way
    from ui.resources import switch_in_uploads

    if switch_in_uploads(store):
        st.rerun()  # the whole page: its counts and versions changed
    lines = under_way(store)
    if not lines:
        return
    st.markdown("**Background jobs**")
    for line in lines:
        text = f"{line.label} '{line.job.name}'" + (f" · {line.detail}" if line.detail else "")
        st.caption(f"{STATUS_ICONS[line.job.status]} {md_escape(text)}")  # the names in it, escaped; it starts with a word
