"""Sections of the evaluation page: start a run, read its results, compare two runs."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from core.compare.arms import ARM_TABLE, using_adapter, label as arm_label
from core.compare.results import ARM_HELP, EVAL_ARMS, ArmAnswer
from core.demo import DEMO_KB
from core.errors import LabError
from core.eval import charts, triage
from core.eval.decision import NEED_QUESTIONS, Needs, no_reliable_arm, recommend
from core.eval.economics import Prices, price_run
from core.eval.report import html_report
from core.eval.run import EvalRun
from core.eval.summary import COST, METRIC_LABELS, summarize
from core.eval.runs import diff_runs
from core.eval.service import EvalService, EvalSpec
from core.eval.agreement import scorer_check
from core.eval.items import parse_test_set
from core.eval.testsets import TestSet, dataset_set, demo_set
from core.eval.votes import summarize_votes
from ui import glossary
from ui.compare_view import answer_html, sources_list, support_line
from ui.resources import votes as vote_store
from ui.votes_section import votes_section
from ui.widgets import STATUS_ICONS, kb_adapter_choices, cancel_button, md_escape, newly_finished, report_error

RUN_KEY = "eval_run"
SECONDS_PER_ARM_QUESTION = 2.0  # before any run is saved; afterwards the saved runs' own pace is used


def _pct(v) -> str:
    return "—" if v is None else f"{v[0]:.0%} [{v[1]:.0%}, {v[2]:.0%}]" if isinstance(v, tuple) else f"{v:,.1f}"


def _run_label(r: EvalRun) -> str:
    return f"{r.name or r.id} · {r.created[:16].replace('T', ' ')} · {len(r.results)} questions"


def _pace(evals: EvalService) -> float:
    """Seconds per question and arm, from the saved runs on this machine."""
    runs = [r for r in evals.runs.list()[:5] if r.results and r.seconds]
    if not runs:
        return SECONDS_PER_ARM_QUESTION
    return sum(r.seconds for r in runs) / sum(len(r.results) * len(r.arms) for r in runs)


# --- starting a run -----------------------------------------------------------------------
UPLOAD_KB = "eval_upload_kb"  # uploaded file -> the knowledge base active when it was uploaded
KINDS = {"demo": "Demo test set", "dataset": "Held-out split of a dataset", "upload": "Upload JSONL or CSV"}


def _test_set(ft, kb) -> TestSet | None:
    """The test set picker. Its default belongs to the active knowledge base: the demo set on the demo,
    else the held-out split of a dataset built from it, else an upload."""
    infos = sorted((d for d in ft.datasets.list() if d.origin != "cpt" and d.test_count), key=lambda d: d.kb_name != kb.name)
    default = "demo" if kb.name == DEMO_KB else "dataset" if infos and infos[0].kb_name == kb.name else "upload"
    kind = st.radio("Test set", list(KINDS), index=list(KINDS).index(default), horizontal=True,
                    format_func=KINDS.get, key=f"eval_test_kind:{kb.name}")
    if kind == "demo":
        test_set = demo_set()
        st.caption(f"{len(test_set.items)} questions about the Lumora demo documents, "
                   f"{sum(not i.answerable for i in test_set.items)} of them not answerable from the documents.")
        return test_set
    if kind == "dataset":
        if not infos:
            st.info("No dataset with a held-out split yet: build one on the Fine-tuning page.")
            return None
        labels = {d.id: f"{d.name} ({d.test_count} held-out" + ("" if d.kb_name == kb.name else
                  f", built from '{d.kb_name}'" if d.kb_name else ", no knowledge base recorded") + ")" for d in infos}
        chosen = st.selectbox("Dataset", list(labels), format_func=labels.get, key=f"eval_dataset:{kb.name}")
        return dataset_set(ft.datasets, chosen)
    st.caption("One row per question: `question`, `answer` (the reference), optional `source` (document name), "
               "`key_facts` (list, or `;`-separated in CSV) and `not_answerable` (true for questions the documents "
               "cannot answer). The test set belongs to the knowledge base active when you upload it.")
    upload = st.file_uploader("Test set", type=["jsonl", "csv"], key="eval_upload")
    if upload is None:
        return None
    owner = st.session_state.setdefault(UPLOAD_KB, {}).setdefault(upload.file_id, kb.name)
    items, problems = parse_test_set(upload.getvalue(), upload.name)
    st.caption(f"{len(items)} questions read, {len(problems)} rows skipped.")
    if problems:
        with st.expander(f"⚠️ {len(problems)} rows skipped"):
            st.dataframe(pd.DataFrame([p.model_dump() for p in problems]), hide_index=True, width="stretch")
    return TestSet(upload.name, items, owner)


def _version_picker(knowledge, kb) -> tuple[str | None, str]:
    """Pick which recorded version of the knowledge base RAG reads: (None for the current one, problem)."""
    versions = [v for v in knowledge.versions(kb.name) if v.current or v.documents]  # an empty one answers nothing
    versions.sort(key=lambda v: not v.current)  # the default is the current one, also after a return to an earlier state
    labels = {
        v.version: f"{v.version[:8]} · {v.created_at[:16].replace('T', ' ')} · {v.documents} documents · "
        + ("current" if v.current else f"{len(v.changes)} changed since" if v.changes else "same documents, other settings")
        + ("" if v.restorable else " · cannot be rebuilt")
        for v in versions
    }
    chosen = st.selectbox("Knowledge-base version", list(labels), format_func=labels.get, key="eval_kb_version",
                          help="An older version is rebuilt from the document texts it held, in a hidden copy, "
                          "so RAG, hybrid and the oracle read exactly what they read then.")
    picked = next(v for v in versions if v.version == chosen)
    if picked.current:
        return None, ""
    if picked.problem:
        st.warning(f"Version {picked.version[:8]} cannot be rebuilt: {picked.problem}", icon="⚠️")
        return None, picked.problem
    st.caption("Changed since then: " + ", ".join(md_escape(n) for n in picked.changes[:8])
               + (" …" if len(picked.changes) > 8 else ""))
    return picked.version, ""


def run_section(evals: EvalService, ft, adapters, kb, knowledge) -> None:
    try:
        test_set = _test_set(ft, kb)
    except LabError as exc:
        report_error(exc)
        return
    if test_set is None:
        return
    test_name, items = test_set.name, test_set.items
    if warning := test_set.mismatch(kb.name):
        st.warning(md_escape(warning), icon="⚠️")
    labels, own_adapter = kb_adapter_choices(adapters, kb)
    c1, c2 = st.columns([3, 2])
    default = list(EVAL_ARMS) if own_adapter else [a.name for a in ARM_TABLE if not a.uses_adapter]
    arms = c1.pills("Arms", list(EVAL_ARMS), default=default, selection_mode="multi", format_func=arm_label,
                    key=f"eval_arms:{kb.name}", help=f"Oracle: {glossary.ORACLE}") or []
    adapter_id = c2.selectbox("Adapter (fine-tuned and hybrid)", list(labels), format_func=labels.get,
                              index=list(labels).index(own_adapter) if own_adapter else None, key=f"eval_adapter:{kb.name}",
                              help=f"Shown as name (fingerprint). {glossary.FINGERPRINT}",
                              placeholder="No adapter of this knowledge base: pick one" if labels else "No adapter trained yet")
    kb_version, version_problem = _version_picker(knowledge, kb)
    c1, c2, c3 = st.columns(3)
    g = evals.settings.generation
    max_new = c1.number_input("Max new tokens", 8, 512, g.max_new_tokens, 8)
    top_k = c2.number_input("Passages (top-k)", 1, 20, evals.settings.retrieval.top_k)
    limit = c3.number_input("Questions (0 = all)", 0, len(items), 0)
    items = items[: limit or None]
    require_support = st.toggle(
        "Withhold unsupported answers", value=evals.settings.retrieval.require_support, key="eval_require_support",
        help="RAG, hybrid and oracle answer \"I don't know.\" when no sentence of their passages supports what the "
             "model wrote (the withheld answer is kept in the run). Off: the answers as the model wrote them.")
    name = st.text_input("Run name", value=f"{test_name} · {kb.name}")  # the run list adds the time
    minutes = _pace(evals) * len(items) * max(len(arms), 1) / 60
    st.caption(f"{len(items)} questions × {len(arms)} arms on knowledge base '{md_escape(kb.name)}': about "
               f"{max(minutes, 0.1):.1f} min on this machine"
               + (", plus rebuilding the older version first" if kb_version else "")
               + ". Greedy decoding, so a re-run gives the same answers.")
    if st.button("Run evaluation", type="primary", icon="▶️", disabled=bool(version_problem)):
        try:
            job = evals.start(EvalSpec(name=name.strip() or "evaluation", kb=kb.name, kb_version=kb_version, arms=list(arms),
                                       adapter_id=adapter_id if using_adapter(arms) else None,
                                       test_set_name=test_name, items=items, max_new_tokens=int(max_new), top_k=int(top_k),
                                       require_support=require_support))
            st.success(f"Evaluation '{md_escape(job.name)}' started: follow it below; the results open when it is done.")
        except LabError as exc:
            report_error(exc)
        except ValueError as exc:
            st.error(f"Those settings are not valid: {exc}", icon="⚠️")


@st.fragment(run_every=2)
def jobs_section(evals: EvalService) -> None:
    jobs = evals.list_jobs()[:8]
    if not jobs:
        return
    # A run that finished since this session last looked: rerun the whole page so the Results tab shows it.
    if newest := newly_finished(jobs, "eval_seen_done"):
        st.session_state[RUN_KEY] = newest.result.get("run_id") if newest.result else None
        st.toast(f"Evaluation '{md_escape(newest.name)}' finished: see the Results tab.", icon="✅")
        st.rerun()
    st.markdown("**Evaluation runs**")
    for job in jobs:
        with st.container(border=True):
            c1, c2 = st.columns([4, 1])
            c1.markdown(f"{STATUS_ICONS.get(job.status, '')} **{md_escape(job.name)}** · {job.status}")
            if job.status == "running" and job.total_steps:
                eta = job.elapsed_s / job.step * (job.total_steps - job.step) if job.step else None
                c1.progress(job.progress, text=f"question {job.step} of {job.total_steps}"
                            + (f" · about {eta:.0f} s left" if eta is not None else ""))
            elif job.status == "queued":
                c1.caption(evals.jobs.waiting_reason(job))
            elif job.message:
                c1.caption(job.message)
            cancel_button(c2, job, evals.cancel, f"eval_cancel_{job.id}")
            if job.result and job.result.get("run_id") and c2.button("Show", key=f"eval_open_{job.id}", icon="📊",
                                                                    help="Show this run in the Results tab."):
                st.session_state[RUN_KEY] = job.result["run_id"]
                st.rerun()


# --- reading a run ------------------------------------------------------------------------
SITUATION = "eval_situation"  # this session's answers to the decision guide's questions


def _needs() -> Needs:
    """The situation questions, unanswered until the user answers them (kept for this browser session)."""
    saved = st.session_state.setdefault(SITUATION, {})
    st.markdown("**Your situation.** The recommendation weighs your answers with the measured numbers; "
                "nothing is assumed for a question you leave open.")
    values: dict = {}
    cols = st.columns(2)
    asked = [n for n in NEED_QUESTIONS if n != "expected_questions"]
    for i, name in enumerate(asked):
        known = saved.get(name)
        choice = cols[i % 2].radio(NEED_QUESTIONS[name], ["yes", "no"], index=None if known is None else int(not known),
                                   horizontal=True, key=f"need_{name}")
        values[name] = None if choice is None else choice == "yes"
    if values["tight_budget"]:
        values["expected_questions"] = st.number_input(
            NEED_QUESTIONS["expected_questions"], 0, 10**9, saved.get("expected_questions"), 1000,
            key="need_expected_questions", placeholder="for example 10000")
    saved.update(values)
    return Needs(**values)


def _recommendation(rec) -> None:
    """The choice, once every situation question is answered (the measured verdict is shown above the questions)."""
    if rec.unanswered:
        st.info(f"Answer the {len(rec.unanswered)} open question{'s' * (len(rec.unanswered) > 1)} above to see the "
                "recommendation.", icon="🧭")
        return
    title = "Among these set-ups, by your answers" if rec.verdict else "Recommendation"
    st.success(f"**{title}: {rec.arm.approach}**\n\n{md_escape(rec.basis)}\n\n"
               + "\n".join(f"- {md_escape(r)}" for r in rec.reasons), icon="🧭")
    if rec.caveats:
        st.warning("\n".join(f"- {md_escape(c)}" for c in rec.caveats), icon="⚠️")


def _prices() -> Prices:
    d = Prices()
    with st.expander("Prices for the economics", expanded=False):
        c1, c2, c3 = st.columns(3)
        return Prices(
            usd_per_1k_prompt_tokens=c1.number_input("$ per 1,000 prompt tokens", 0.0, 1.0, d.usd_per_1k_prompt_tokens, 0.0001, format="%.4f"),
            usd_per_1k_completion_tokens=c2.number_input("$ per 1,000 answer tokens", 0.0, 1.0, d.usd_per_1k_completion_tokens, 0.0001, format="%.4f"),
            usd_per_training_hour=c3.number_input("$ per training hour", 0.0, 1000.0, d.usd_per_training_hour, 0.5),
        )


def metrics_frame(summary: dict) -> pd.DataFrame:
    """One column per arm (its label), one row per metric (its label)."""
    def cell(value, field: str) -> str:
        return _pct(value) if field not in COST else ("—" if value is None else f"{value:,.2f}")

    return pd.DataFrame({arm_label(a): [cell(getattr(row, f), f) for f in METRIC_LABELS]
                         for a, row in summary.items()}, index=list(METRIC_LABELS.values()))


def _question_detail(run: EvalRun) -> None:
    labels = {i: f"{i + 1}. {r.item.question}" for i, r in enumerate(run.results)}
    i = st.selectbox("Open a question", list(labels), format_func=labels.get, key=f"q_{run.id}")
    r = run.results[i]
    st.markdown(f"**Reference:** {md_escape(r.item.answer)}" + (f" · source: {md_escape(r.item.source)}" if r.item.source else "")
                + ("" if r.item.answerable else " · *not answerable from the documents*"))
    cols = st.columns(len(r.arms))
    for col, (arm, s) in zip(cols, r.arms.items()):
        with col:
            verdict = triage.label(arm, r.item, s)
            st.markdown(f"**{arm_label(arm)}** · " + ("✅ right" if verdict is None else f"❌ {verdict}"))
            st.html(answer_html(s.text))
            st.caption(f"{s.wall_s:.2f} s · {s.prompt_tokens} prompt + {s.completion_tokens} answer tokens")
            if s.passages:
                support_line(ArmAnswer(arm=arm, text=s.text, abstained=s.abstained, sources=s.passages, withheld=s.withheld))
                sources_list(s.passages)
            elif s.sources:  # runs saved before passages were kept
                st.caption("Sources: " + ", ".join(md_escape(x) for x in s.sources))


@st.cache_data(max_entries=8, show_spinner="Preparing the report…")
def _cached(key: tuple, _build) -> str:
    """A download's contents, built once per ``key`` (a run id and what else it depends on)."""
    return _build()


def results_section(evals: EvalService) -> None:
    runs = evals.runs.list()
    if not runs:
        st.info("No evaluation yet: start one in the Run tab.")
        return
    ids = [r.id for r in runs]
    current = st.session_state.get(RUN_KEY)
    run_id = st.selectbox("Run", ids, index=ids.index(current) if current in ids else 0,
                          format_func={r.id: _run_label(r) for r in runs}.get)
    run = evals.runs.get(run_id)
    summary = summarize(run)
    adapter = f"adapter {md_escape(run.adapter_name)} `{run.adapter_fingerprint}`" if run.adapter_fingerprint else "no adapter"
    st.caption(f"Model `{run.model_fingerprint}` ({run.dtype}) · {adapter} · knowledge base {md_escape(run.kb)} v`{run.kb_version}` · "
               f"test set {md_escape(run.test_set_name)} `{run.test_set_hash}` · prompts `{run.prompt_hash}` · "
               f"max new tokens {run.decoding.get('max_new_tokens')}, temperature {run.decoding.get('temperature')}, "
               f"top-k {run.top_k}" + (" · unsupported answers withheld" if run.require_support else "")
               + (" · **stopped early**" if run.stopped else ""),
               help=f"Fingerprints: {glossary.FINGERPRINT} Version: {glossary.VERSION} The test-set and prompt hashes "
                    "work the same way for the questions and the prompt templates.")
    if verdict := no_reliable_arm(summary):  # measured, so it comes before any question about the situation
        st.warning(f"**{md_escape(verdict)}**", icon="🛑")  # st.error is kept for what went wrong
    needs, prices = _needs(), _prices()
    econ = price_run(summary, prices, run.training_seconds)
    votes = summarize_votes(vote_store().list(kb=run.kb), runs, kb=run.kb)  # what the room thinks, beside the metrics
    rec = recommend(needs, summary, econ, votes=votes)
    _recommendation(rec)

    c1, c2, c3, c4 = st.columns(4)
    # The files are built before the click, not on it: a file built on click is stored with no element referring to
    # it, and the page's 2-second refreshes delete such files, so a slow first fetch got a 404 (issue 19, item 7).
    report = _cached((run.id, "html", needs.model_dump_json(), prices.model_dump_json(), votes.model_dump_json()),
                     lambda: html_report(run, summary, rec, econ, needs=needs, votes=votes))
    c1.download_button("HTML report", report, f"evaluation-{run.id}.html", "text/html", icon="📄", on_click="ignore",
                       help="Self-contained: charts embedded, opens offline.")
    c2.download_button("Run as JSON", _cached((run.id, "json"), lambda: run.model_dump_json(indent=2)),
                       f"evaluation-{run.id}.json", "application/json", icon="⬇️", on_click="ignore")
    if c3.button("Re-run exactly", icon="🔁", disabled=not run.spec):
        try:
            evals.rerun(run.id)
            st.toast("Re-run started: see the Run tab.")
        except LabError as exc:
            report_error(exc)
    if c4.button("Delete run", icon="🗑️"):
        evals.runs.delete(run.id)
        st.session_state.pop(RUN_KEY, None)
        st.rerun()

    st.subheader("Metrics (95% bootstrap intervals)", help=glossary.METRICS)
    st.dataframe(metrics_frame(summary), width="stretch")
    st.caption(" · ".join(f"**{arm_label(a)}**: {ARM_HELP.get(a, '')}" for a in run.arms))
    st.caption("🧪 " + scorer_check())
    c1, c2 = st.columns(2)
    c1.plotly_chart(charts.metric_bars(summary), width="stretch")
    c2.plotly_chart(charts.quality_vs_cost(summary), width="stretch")
    c1.plotly_chart(charts.latency_distribution(run), width="stretch")
    c2.plotly_chart(charts.token_distribution(run), width="stretch")

    votes_section(votes, vote_store())

    st.subheader("Why answers were wrong")
    counts = triage.counts(run)
    c1, c2 = st.columns([3, 2])
    c1.plotly_chart(charts.triage_bars(counts), width="stretch")
    c2.markdown("\n".join(f"- **{lab}**: {triage.TRIAGE_HELP[lab]}" for lab in triage.LABELS))

    st.subheader("Question by question")
    st.plotly_chart(charts.question_grid(run), width="stretch")
    _question_detail(run)

    st.subheader("Economics")
    st.plotly_chart(charts.break_even_chart(econ), width="stretch")
    if econ.break_even is not None:
        st.caption(f"Fine-tuning's shorter prompts pay back its training cost after about {econ.break_even:,.0f} questions.")
    elif run.training_seconds is None:
        st.caption("The run has no adapter, so there is no training cost to pay back.")
    else:
        st.caption("At these prices fine-tuning never pays back its training cost against RAG.")


def diff_section(evals: EvalService) -> None:
    runs = evals.runs.list()
    if len(runs) < 2:
        st.info("Two saved runs are needed to compare; re-run one with other settings or another adapter.")
        return
    labels = {r.id: _run_label(r) for r in runs}
    c1, c2 = st.columns(2)
    a = c1.selectbox("Before", list(labels), index=1, format_func=labels.get)
    b = c2.selectbox("After", list(labels), index=0, format_func=labels.get)
    d = diff_runs(evals.runs.get(a), evals.runs.get(b))
    st.markdown("**What changed in the set-up:** " + ("; ".join(md_escape(p) for p in d.pins) if d.pins else "nothing"))
    st.dataframe(pd.DataFrame([{"arm": arm_label(m.arm), "metric": m.metric, "before": m.a,
                                "after": m.b, "change": m.delta} for m in d.metrics]), hide_index=True, width="stretch")
    if not d.same_test_set:
        st.caption("The runs used different test sets, so questions are not compared one by one.")
    elif d.questions:
        st.markdown(f"**{len(d.questions)} answers changed verdict**")
        st.dataframe(pd.DataFrame([{"arm": arm_label(q.arm), "change": q.change, "question": q.question,
                                    "before": q.answer_a, "after": q.answer_b} for q in d.questions]),
                     hide_index=True, width="stretch")
    else:
        st.caption("Every question kept its verdict in every arm.")
