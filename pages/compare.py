"""Compare: one question, base / RAG / fine-tuned / hybrid answers side by side."""

import time

import streamlit as st

from core import demo_adapter
from core.compare.results import ARM_LABELS, ARMS, history_json, history_markdown
from core.errors import LabError
from ui import blind_view, compare_view, votes_section
from ui.resources import adapters, compare_engine, finetune, knowledge, settings, votes
from ui.widgets import active_kb_picker, adapter_labels, report_error

HISTORY = "compare_history"
PENDING = "compare_pending"

service = knowledge()
st.title("⚖️ Compare answers")
st.caption("Ask once: the same model answers four ways, with the same decoding settings. "
           "Sources, latency and token cost sit under each answer.")
kb = active_kb_picker(service)
if kb is None:
    st.stop()

ft = finetune()
demo = demo_adapter.status(ft)
demo_wait = (lambda: demo_adapter.status(ft)) if demo is not None and demo.training else None
with st.sidebar:
    labels = adapter_labels(adapters())
    demo_selected = compare_view.select_adapter(labels, demo)
    adapter_id = st.selectbox("Adapter for fine-tuned and hybrid", list(labels), format_func=labels.get,
                              index=0 if labels else None, placeholder="No adapter trained yet",
                              key=compare_view.ADAPTER_KEY, on_change=compare_view.mark_adapter_picked)
    arms = st.pills("Arms shown", list(ARMS), default=list(ARMS), selection_mode="multi",
                    format_func=ARM_LABELS.get, key="compare_arms") or []
    st.markdown("**Decoding: one setting for all arms**")
    g = settings().generation
    temperature = st.slider("Temperature", 0.0, 1.5, float(g.temperature), 0.1,
                            help="0 = greedy: the same question always gets the same answer.")
    max_new = st.slider("Max new tokens", 16, 512, int(g.max_new_tokens), 16)
    top_k = st.slider("Passages (top-k)", 1, 10, int(settings().retrieval.top_k))
    require_support = st.toggle(
        "Withhold unsupported answers", value=settings().retrieval.require_support, key="compare_require_support",
        help="RAG and hybrid answer \"I don't know.\" when no sentence of their passages supports what the model "
             "wrote (the model's answer is still shown, as withheld). Off: every answer as the model wrote it.")
    blind = blind_view.switch()

engine = compare_engine()
decoding = engine.decoding(max_new_tokens=max_new, temperature=temperature)
finetune_page = "pages/finetune.py"
if blind:  # the set-up strip would name the arms
    blind_view.notice()
else:
    try:
        compare_view.fairness_strip(engine.fairness(kb.name, adapter_id, decoding, top_k, require_support), arms)
    except LabError as exc:
        report_error(exc)

history = st.session_state.setdefault(HISTORY, [])
with st.sidebar:
    st.markdown("**Conversation**")
    if not history:
        st.caption("Questions you ask appear here for download.")
    elif blind_view.unvoted(history):  # the exports name the arms
        st.caption("The conversation can be downloaded once every blind question has its vote.")
    else:
        c1, c2 = st.columns(2)
        c1.download_button("JSON", history_json(history), "comparisons.json", "application/json", icon="⬇️")
        c2.download_button("Markdown", history_markdown(history), "comparisons.md", "text/markdown", icon="⬇️")
    if history and st.button("Clear conversation", icon="🧹"):
        history.clear()
        st.rerun()
    st.markdown("**Stakeholder votes**")
    votes_section.downloads(votes())

if demo_selected and adapter_id:
    try:
        with st.spinner("The demo adapter is ready: the fine-tuned and hybrid panes are answering…"):
            compare_view.answer_waiting_panes(engine, history, adapter_id)
    except LabError as exc:
        report_error(exc)

records = compare_view.arm_records(kb.name, adapter_id)
if not blind and arms and not any(a in records for a in arms):
    st.caption("📊 How often is each arm right? This knowledge base has no evaluation yet: run one on the "
               "Evaluate page, and each answer below shows its arm's measured record.")
for past in history:  # each answer with the record of the set-up that gave it
    blind_view.show(past, arms, finetune_page, compare_view.arm_records(past.fairness.kb, past.fairness.adapter_id),
                    demo_wait, blind)

if not history and demo_wait is not None and adapter_id is None:
    compare_view.demo_adapter_progress(demo_wait, "Until it is ready, blind questions are answered without it." if blind
                                       else "The fine-tuned and hybrid panes answer as soon as it is ready; "
                                       "base and RAG answer now.")
if not history and (suggested := compare_view.suggested_questions(kb.name, service.version(kb.name))):
    st.markdown("**Try one of these:**")
    for col, s in zip(st.columns(len(suggested)), suggested):
        if col.button(s.question, width="stretch", key=f"suggest-{s.question}"):
            st.session_state[PENDING] = s.question
            st.rerun()
        if not blind:  # what a question shows names the arms
            col.caption(s.shows)

question = st.chat_input("Ask a question about your documents") or st.session_state.pop(PENDING, None)
if question and not arms:
    st.warning("Pick at least one arm in the sidebar.")
elif question:
    with st.chat_message("user"):
        st.text(question)
    order = blind_view.draw_order(arms) if blind else None  # a new random order for every question
    boxes = blind_view.answer_boxes(order) if blind else compare_view.answer_boxes(arms, records)
    last = [0.0]

    def show_partial(partial: dict[str, str]) -> None:
        if time.perf_counter() - last[0] < 0.15:  # a screen update per ~150 ms is smooth enough
            return
        last[0] = time.perf_counter()
        for arm, text in partial.items():
            boxes[arm].html(blind_view.partial_html(text) if blind else compare_view.answer_html(text, cursor=True))

    try:
        with st.spinner("Retrieving passages and generating…"):
            result = engine.answer(question, kb.name, arms, adapter_id, decoding, top_k, on_update=show_partial,
                                   require_support=require_support)
    except LabError as exc:
        report_error(exc)
    else:
        if blind:
            blind_view.remember(result, order)
        history.append(result)
        st.rerun()
