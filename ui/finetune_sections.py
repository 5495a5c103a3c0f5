"""Sections of the fine-tuning page: training data, the job form, live jobs, adapters."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from core.errors import LabError
from core.finetune.adapters import changed_since_training
from core.finetune.export import FORMATS, GGUF_NOTE, export_adapter
from core.finetune.recipe import TrainingConfig
from core.finetune.run import FinetuneSpec
from core.finetune.service import FinetuneService
from core.markdown import counted
from ui import glossary
from ui.widgets import STATUS_ICONS, cancel_button, dataset_select, md_escape, newly_finished, report_error

RAFT_MAX_LEN = 768  # three 120-token passages, the instruction, question and answer fit
TARGETS = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "…"
    seconds = int(seconds)
    return f"{seconds // 60} min {seconds % 60:02d} s" if seconds >= 60 else f"{seconds} s"


# --- training data ------------------------------------------------------------------------
KINDS = {
    "qa": "Question/answer pairs (deterministic generator)",
    "llm": "Question/answer pairs written by the language model (best with a bigger model than the bundled 135M)",
    "cpt": "Continued pre-training on the raw text",
}


def sentence_yield(info) -> str | None:
    """How many sentences a generated dataset's questions came from, in one plain sentence."""
    if info.sentences is None:
        return None
    return (f"{info.sentences_asked} of {info.sentences} sentences yielded a question; the rest were not declarative "
            "statements the generator can turn into a question.")


def build_from_kb_section(ft: FinetuneService, knowledge, kb) -> None:
    st.markdown(f"**Build a dataset from knowledge base '{md_escape(kb.name)}'**: the same knowledge RAG reads, "
                "so fine-tuning learns what the documents say. The generator needs no LLM: questions come from headings, "
                "FAQ and key-value lines, table rows, and statements in the text (\"How many days…?\", \"When…?\", "
                "\"Who…?\"), each answered by its own sentence.")
    with st.form("build_dataset"):
        name = st.text_input("Dataset name", value=f"{kb.name} Q&A")
        mode = st.radio("Kind", list(KINDS), format_func=KINDS.get)
        c1, c2 = st.columns(2)
        test_fraction = c1.slider("Held-out test share (by document)", 0.05, 0.5, 0.2, 0.05,
                                  help="Documents kept out of training: their questions measure the adapter "
                                       "(the training's held-out loss and the evaluation's test set). At least 5%.")
        unanswerable = c2.number_input("Questions the documents cannot answer (teach 'I don't know')", 0, 200, 10)
        if st.form_submit_button("Build dataset", type="primary"):
            try:
                if mode == "llm":
                    from ui.resources import runtime

                    bar = st.progress(0.0, text="The language model is writing questions…")
                    info = ft.build_with_llm(runtime(), knowledge, kb.name, name, test_fraction, int(unanswerable),
                                             progress=lambda i, n: bar.progress(i / n, text=f"chunk {i} of {n}"))
                else:
                    with st.spinner("Building…"):
                        info = ft.build_from_kb(knowledge, kb.name, name, mode, test_fraction, int(unanswerable))
                st.success(f"Dataset '{md_escape(info.name)}' saved: {info.train_count} training and {info.test_count} held-out rows.")
                if note := sentence_yield(info):
                    st.caption(note)
            except LabError as exc:
                report_error(exc)


def raft_section(ft: FinetuneService, knowledge, kb) -> None:
    """Turn a question/answer dataset into a hybrid-ready one (RAFT)."""
    from core.finetune.raft import RaftConfig

    st.markdown(f"**Make a dataset hybrid-ready (RAFT)**: each pair is also shown with passages retrieved from "
                f"'{md_escape(kb.name)}' (the right passage among distractors, sometimes only distractors with the answer "
                "\"I don't know.\"), so one adapter answers closed book *and* reads passages well in the hybrid arm.",
                help=glossary.RAFT)
    qa = [d for d in ft.datasets.list() if d.origin not in ("cpt", "raft")]
    if not qa:
        st.caption("Build or upload a question/answer dataset first.")
        return
    d = RaftConfig()
    source = dataset_select(qa, "Question/answer dataset", "raft_source")
    with st.form("build_raft"):
        c1, c2, c3 = st.columns(3)
        share = c1.slider("Pairs also shown open book", 0.0, 1.0, d.open_book_share, 0.1)
        gold = c2.slider("…with the right passage", 0.0, 1.0, d.gold_share, 0.05,
                         help="The rest get only distractor passages and learn to answer \"I don't know.\"")
        n = c3.number_input("Passages per example", 1, 8, d.passages, help="Match the compare page's top-k.")
        name = st.text_input("Dataset name", value=f"{ft.datasets.get(source).name} + RAFT")
        if st.form_submit_button("Build RAFT dataset"):
            try:
                with st.spinner("Retrieving passages for every pair…"):
                    info = ft.build_raft(knowledge, kb.name, source, name,
                                         RaftConfig(open_book_share=share, gold_share=gold, passages=int(n)))
                st.success(f"Dataset '{md_escape(info.name)}' saved: {info.train_count} training rows "
                           f"({info.train_count - ft.datasets.get(source).train_count} open-book).")
            except LabError as exc:
                report_error(exc)


def upload_section(ft: FinetuneService, knowledge, kb) -> None:
    from core.finetune import datasets as ds

    st.markdown("**Upload question/answer pairs**: JSONL (`question`/`answer`, `instruction`/`output` or chat "
                "`messages`) or CSV with a column mapping.")
    upload = st.file_uploader("Training data", type=["jsonl", "json", "csv"], key="dataset_upload")
    if upload is None:
        return
    data = upload.getvalue()
    try:
        if upload.name.lower().endswith(".csv"):
            columns = ds.csv_columns(data)
            c1, c2, c3 = st.columns(3)
            q = c1.selectbox("Question column", columns, index=0)
            a = c2.selectbox("Answer column", columns, index=min(1, len(columns) - 1))
            src = c3.selectbox("Source column (optional)", [None, *columns])
            parsed = ds.parse_csv(data, q, a, src)
        else:
            parsed = ds.parse_jsonl(data)
    except LabError as exc:
        report_error(exc)
        return
    st.caption(f"{len(parsed.pairs)} valid rows, {len(parsed.problems)} skipped.")
    if parsed.problems:
        with st.expander(f"⚠️ {len(parsed.problems)} rows skipped", expanded=len(parsed.pairs) == 0):
            st.dataframe(pd.DataFrame([{"row": p.row, "problem": p.message} for p in parsed.problems]),
                         hide_index=True, width="stretch")
    st.dataframe(pd.DataFrame([p.model_dump() for p in parsed.pairs[:20]]),
                 hide_index=True, width="stretch")
    with st.form("save_upload"):
        name = st.text_input("Dataset name", value=upload.name.rsplit(".", 1)[0])
        link = st.checkbox(f"Pin to knowledge base '{md_escape(kb.name)}' (for staleness checks)", value=True) if kb else False
        if st.form_submit_button("Save dataset", type="primary", disabled=not parsed.pairs):
            try:
                info = ft.save_pairs(name, parsed.pairs, kb.name if link else None,
                                     knowledge.version(kb.name) if link else None, "upload")
                st.success(f"Dataset '{md_escape(info.name)}' saved: {info.train_count} training and {info.test_count} held-out rows.")
            except LabError as exc:
                report_error(exc)


def datasets_section(ft: FinetuneService) -> None:
    infos = ft.datasets.list()
    if not infos:
        st.info("No dataset yet: build one from the knowledge base or upload one.")
        return
    st.dataframe(pd.DataFrame([{
        "name": d.name, "kind": d.origin, "train": d.train_count, "held-out": d.test_count,
        "hash": d.hash, "knowledge base": d.kb_name or "", "KB version": d.kb_version or "", "created": d.created_at,
    } for d in infos]), hide_index=True, width="stretch")
    labels = {d.id: d.name for d in infos}
    chosen = st.selectbox("Preview a dataset", list(labels), format_func=labels.get, key="dataset_preview")
    if chosen:
        info = ft.datasets.get(chosen)
        if note := sentence_yield(info):
            st.caption(note)
        if info.origin == "cpt":
            texts = ft.datasets.load_texts(chosen)
            st.dataframe(pd.DataFrame({"text": texts[:20]}), hide_index=True, width="stretch")
        else:
            train, test = ft.datasets.load(chosen)
            def row(split, p):
                r = {"split": split, **p.model_dump(exclude={"passages"})}
                if info.origin == "raft":
                    r["passages"] = " | ".join(("★ " if x.gold else "") + x.doc_name for x in p.passages or []) or "closed book"
                return r

            open_book = [p for p in train if p.passages]
            shown = (train[:8] + open_book[:8]) if open_book else train[:15]
            st.dataframe(pd.DataFrame([row("train", p) for p in shown] + [row("held-out", p) for p in test[:10]]),
                         hide_index=True, width="stretch")
            if open_book:
                st.caption("★ marks the passage the answer comes from; rows without it teach \"I don't know.\"")
        if st.button("Delete this dataset", icon="🗑️", key=f"del_ds_{chosen}"):
            ft.datasets.delete(chosen)
            st.rerun()


# --- the job form -------------------------------------------------------------------------
def job_form(ft: FinetuneService) -> None:
    infos = ft.datasets.list()
    if not infos:
        st.info("Build or upload a dataset first (Training data tab).")
        return
    d = TrainingConfig()
    dataset_id = dataset_select(infos, "Dataset", "train_dataset")
    raft = ft.datasets.get(dataset_id).origin == "raft"
    if raft:
        st.caption("A RAFT dataset: its open-book rows carry passages, so sequences are longer (max length 768).")
    with st.form("train_form", enter_to_submit=False):  # no "Press Enter to submit form" over the inputs
        name = st.text_input("Adapter name", value=f"{ft.datasets.get(dataset_id).name} adapter" if dataset_id else "")
        c1, c2 = st.columns(2)
        epochs = c1.number_input("Epochs", 0.1, 100.0, float(d.epochs), 0.5,
                                 help="How many times training reads every example.")
        max_steps = c2.number_input("Max steps (0 = use epochs)", 0, 100_000, 0,
                                    help="Stop after this many steps, whatever the epochs say: for a quick try.")
        with st.expander("Advanced: LoRA and optimiser settings (the defaults suit the demo)"):
            c1, c2, c3 = st.columns(3)
            rank = c1.number_input("Rank r", 1, 256, d.rank, help=glossary.RANK)
            alpha = c2.number_input("Alpha", 1, 1024, d.alpha, help=glossary.ALPHA)
            dropout = c3.number_input("Dropout", 0.0, 0.9, d.dropout, 0.05, help=glossary.DROPOUT)
            targets = st.multiselect("Target modules", TARGETS, default=TARGETS, help=glossary.TARGET_MODULES)
            c1, c2, c3 = st.columns(3)
            lr = c1.number_input("Learning rate", 1e-6, 1.0, d.learning_rate, format="%.0e", help=glossary.LEARNING_RATE)
            batch = c2.number_input("Batch size", 1, 256, d.batch_size, help=glossary.BATCH)
            accum = c3.number_input("Gradient accumulation", 1, 64, d.grad_accum, help=glossary.GRAD_ACCUM)
            c1, c2 = st.columns(2)
            max_len = c1.number_input("Max sequence length", 16, 8192, RAFT_MAX_LEN if raft else d.max_seq_len,
                                      help=glossary.MAX_LEN)
            seed = c2.number_input("Seed", 0, 2**31 - 1, d.seed, help=glossary.SEED)
        submitted = st.form_submit_button("Start training", type="primary")
    try:
        config = TrainingConfig(rank=rank, alpha=alpha, dropout=dropout, target_modules=targets or "all-linear",
                                learning_rate=lr, epochs=epochs, max_steps=max_steps or None, batch_size=batch,
                                grad_accum=accum, max_seq_len=max_len, seed=seed)
        info = ft.datasets.get(dataset_id)
        seconds = ft.estimate_seconds(info.train_count, config, ft.tokens_per_example(dataset_id))
        st.caption(f"Estimated time: about {_duration(seconds)} for {info.train_count} training rows, on this machine "
                   "when it is otherwise idle (other jobs or evaluations slow it down several times). Once the job "
                   "runs, its time left comes from its own measured steps.")
        if submitted:
            job = ft.start(FinetuneSpec(adapter_name=name, dataset_id=dataset_id, mode="cpt" if info.origin == "cpt" else "qa",
                                        training=config))
            st.success(f"Job '{md_escape(job.name)}' queued: follow it in the Jobs tab.")
    except LabError as exc:
        report_error(exc)
    except ValueError as exc:  # pydantic validation of the form's values
        st.error(f"Those settings are not valid: {exc.errors()[0]['msg'] if hasattr(exc, 'errors') else exc}", icon="⚠️")


# --- live jobs ----------------------------------------------------------------------------
LOSS_HELP = ("Loss is how surprised the model is by the right answer: lower is better. A good curve falls quickly, "
             "then flattens. The dots are the held-out loss, measured about five times per job on rows training never "
             "sees: if they rise while the training loss keeps falling, the adapter is learning its examples by heart "
             "(overfitting): fewer epochs or more data.")
def loss_chart(metrics: list[dict]) -> go.Figure:
    fig = go.Figure()
    steps = [m["step"] for m in metrics]
    fig.add_scatter(x=steps, y=[m["train_loss"] for m in metrics], name="train loss", mode="lines")
    held = [(m["step"], m["eval_loss"]) for m in metrics if m.get("eval_loss") is not None]
    if held:
        fig.add_scatter(x=[s for s, _ in held], y=[v for _, v in held], name="held-out loss", mode="lines+markers")
    fig.update_layout(height=260, margin=dict(l=10, r=10, t=10, b=10), xaxis_title="step", yaxis_title="loss",
                      legend=dict(orientation="h", y=1.1))
    fig.update_xaxes(tick0=0, dtick=max(1, -(-max(steps, default=1) // 8)))  # whole steps, at most ~8 ticks
    return fig


@st.fragment(run_every=2)
def jobs_section(ft: FinetuneService) -> None:
    jobs = ft.list_jobs()
    if not jobs:
        st.info("No training job yet.")
        return
    # A job that finished since this session last looked saved an adapter: rerun the whole page, not only this
    # fragment, so the Adapters tab (and every adapter picker) lists it without leaving the page.
    if newest := newly_finished(jobs, "ft_seen_done"):
        st.toast(f"Adapter of '{md_escape(newest.name)}' saved: see the Adapters tab.", icon="✅")
        st.rerun()
    for job in jobs:
        with st.container(border=True):
            c1, c2 = st.columns([3, 1])
            c1.markdown(f"{STATUS_ICONS.get(job.status, '')} **{md_escape(job.name)}** · {job.status}"
                        f" · dataset {md_escape(job.config.get('dataset_name', ''))}")
            starting = job.status == "running" and not job.total_steps
            if job.status == "queued":
                c1.caption(ft.jobs.waiting_reason(job))
            elif job.message and not starting:
                c1.caption(job.message)
            cancel_button(c2, job, ft.cancel, f"cancel_{job.id}")
            if job.status in ("interrupted", "failed"):
                if c2.button("Resume", key=f"resume_{job.id}", icon="▶️"):
                    ft.resume(job.id)
                    st.rerun(scope="fragment")
            if starting:  # a bar and the stage from the first second, before any step has a time
                st.progress(0.0, text=job.message or "Starting the training process…")
            elif job.total_steps:
                eta = job.eta_s
                st.progress(job.progress, text=f"step {job.step} / {job.total_steps}"
                            + (f" · about {_duration(eta)} left" if eta is not None else ""))
            metrics = ft.jobs.metrics(job.id)
            if metrics:
                st.plotly_chart(loss_chart(metrics), width="stretch", key=f"loss_{job.id}_{len(metrics)}")
                st.caption(LOSS_HELP)
            with st.expander("Log"):
                st.code(ft.jobs.read_log(job.id) or "(empty)", language=None)


# --- adapters -----------------------------------------------------------------------------
def adapters_section(ft: FinetuneService, knowledge, settings) -> None:
    adapters = ft.adapters.list()
    if not adapters:
        st.info("No adapter yet: every finished job adds one here.")
        return
    for a in adapters:
        lin = a.lineage
        stale = changed_since_training(knowledge, lin)
        with st.container(border=True):
            badge = "" if stale is None else (
                f" · ⏳ stale: {counted(len(stale), 'document')} changed since its dataset was built" if stale
                else " · ⏳ stale: the knowledge base changed since its dataset was built")
            st.markdown(f"**{md_escape(a.name)}** `{a.fingerprint}`{badge}", help=glossary.FINGERPRINT)
            st.caption(
                f"base {lin.base_model} (`{lin.base_fingerprint}`, {lin.base_dtype}) · dataset {md_escape(lin.dataset_name or '?')} "
                f"(`{lin.dataset_hash or '?'}`) · knowledge base {md_escape(lin.kb_name or '—')} `{lin.kb_version or '—'}` · "
                f"train loss {lin.final_train_loss if lin.final_train_loss is None else round(lin.final_train_loss, 3)} · "
                f"held-out loss {lin.final_eval_loss if lin.final_eval_loss is None else round(lin.final_eval_loss, 3)} · "
                f"{_duration(lin.training_seconds)} · {a.size_bytes / 1e6:.1f} MB"
            )
            c1, c2 = st.columns([3, 1])
            with c1.popover("Rename"):
                new = st.text_input("New name", value=a.name, key=f"rn_{a.id}")
                if st.button("Save name", key=f"rn_save_{a.id}"):
                    try:
                        ft.adapters.rename(a.id, new)
                        st.rerun()
                    except LabError as exc:
                        report_error(exc)
            with c2.popover("Delete"):
                st.write("Delete this adapter? Comparisons that used it keep their answers.")
                if st.button("Yes, delete", key=f"del_{a.id}", type="primary"):
                    ft.adapters.delete(a.id)
                    st.rerun()
            export_control(a, settings)


def export_control(a, settings) -> None:
    """One adapter out of the lab: a format, an Export button, then the zip to download.

    The export runs in this session's script thread (a merged one takes seconds to a minute on 2 cores)
    on a private copy of the base model, so other sessions' answers do not wait for it."""
    with st.expander("Export", icon="📦"):
        fmt = st.selectbox("Format", list(FORMATS), format_func=FORMATS.get, key=f"exp_fmt_{a.id}")
        st.caption(GGUF_NOTE)
        done_key = f"exp_done_{a.id}"
        if st.button("Export", key=f"exp_{a.id}", icon="📦"):
            st.session_state.pop(done_key, None)
            try:
                with st.status(f"Exporting '{md_escape(a.name)}': {FORMATS[fmt]}…") as status:
                    path = export_adapter(a, fmt, settings, settings.data_dir / "exports" / f"{a.id}-{fmt}.zip")
                    status.update(label=f"Exported: {path.name}, {path.stat().st_size / 1e6:.1f} MB", state="complete")
                st.session_state[done_key] = str(path)
            except LabError as exc:
                report_error(exc)
        done = Path(st.session_state.get(done_key, ""))
        if done.name.endswith(f"-{fmt}.zip") and done.is_file():
            # Read on click (Streamlit's deferred data), not on every rerun of the page: a merged export
            # is hundreds of MB, which the session would otherwise hold in memory from the moment it shows.
            st.download_button(f"Download {done.name}", done.read_bytes, done.name, "application/zip",
                               key=f"exp_dl_{a.id}", icon="⬇️", on_click="ignore")
            st.caption("It holds lab_export.json: the adapter, the base model, their fingerprints and the lineage.")
