"""Plotly figures of an evaluation run, one colour per arm throughout, for the page and the report.

Figures take what a run gives, keyed by arm name; each arm's label and colour come from the arms
table (``core.compare.arms``).

Text from questions and answers is HTML-escaped before it goes into a figure: plotly renders a
few tags in labels and hover text, and an answer must never be able to inject markup.
"""

from __future__ import annotations

import html
import textwrap

import plotly.graph_objects as go

from core.compare.arms import ARMS_BY_NAME, label
from core.eval.economics import Economics, cumulative_costs
from core.eval.run import EvalRun
from core.eval.summary import METRIC_LABELS
from core.eval.triage import LABELS, is_right

TRIAGE_COLORS = {"wrong refusal": "#facc15", "retrieval miss": "#fb923c", "passage ignored": "#f472b6",
                 "hallucination": "#dc2626"}
OUTCOMES = ("wrong", "abstained", "right")  # question_grid's cell values 0, 1, 2
OUTCOME_COLORS = ("#fca5a5", "#e5e7eb", "#86efac")
DEFAULT_METRICS = ["key_fact_hit", "f1", "grounded", "correct_abstention", "wrong_refusal"]  # ArmSummary fields
_LAYOUT = dict(template="plotly_white", margin=dict(l=10, r=10, t=50, b=10), legend=dict(orientation="h", y=-0.15))


def _color(arm: str) -> str | None:
    return ARMS_BY_NAME[arm].color if arm in ARMS_BY_NAME else None


def _hover(text: str, width: int = 60, limit: int = 300) -> str:
    """Escaped, shortened and wrapped for a hover box."""
    short = text if len(text) <= limit else text[:limit] + "…"
    return "<br>".join(html.escape(line) for line in textwrap.wrap(short, width) or [""])


def metric_bars(summary: dict, metrics: list[str] | None = None) -> go.Figure:
    """Grouped bars: one group per metric, one bar per arm, whiskers at the 95% interval."""
    metrics = metrics or DEFAULT_METRICS
    fig = go.Figure()
    for arm, row in summary.items():
        cis = [getattr(row, m) for m in metrics]
        means = [ci[0] if ci else None for ci in cis]
        fig.add_bar(name=label(arm), x=[METRIC_LABELS[m] for m in metrics], y=means, marker_color=_color(arm),
                    error_y=dict(type="data", array=[ci[2] - ci[0] if ci else 0 for ci in cis],
                                 arrayminus=[ci[0] - ci[1] if ci else 0 for ci in cis]),
                    customdata=[[ci[1], ci[2]] if ci else [None, None] for ci in cis],
                    hovertemplate="%{x}: %{y:.0%} (95% CI %{customdata[0]:.0%}–%{customdata[1]:.0%})"
                                  "<extra>%{fullData.name}</extra>")
    fig.update_layout(title="Answer quality by arm (95% intervals)", barmode="group", **_LAYOUT)
    fig.update_yaxes(tickformat=".0%", range=[0, 1.05], title="share of questions")
    return fig


def _per_arm_box(run: EvalRun, value, title: str, y_title: str) -> go.Figure:
    fig = go.Figure()
    for arm in run.arms:
        ys = [value(r.arms[arm]) for r in run.results if arm in r.arms]
        fig.add_box(name=label(arm), y=ys, marker_color=_color(arm), boxpoints="all", jitter=0.4, pointpos=0)
    fig.update_layout(title=title, showlegend=False, **_LAYOUT)
    fig.update_yaxes(title=y_title, rangemode="tozero")
    return fig


def latency_distribution(run: EvalRun) -> go.Figure:
    return _per_arm_box(run, lambda s: s.wall_s, "Time to answer, per question", "seconds")


def token_distribution(run: EvalRun) -> go.Figure:
    return _per_arm_box(run, lambda s: s.prompt_tokens + s.completion_tokens,
                        "Tokens per question (prompt + answer)", "tokens")


def quality_vs_cost(summary: dict, x: str = "tokens") -> go.Figure:
    """One labelled point per arm: key-fact accuracy against mean tokens (x='tokens') or median
    latency (x='latency')."""
    fig = go.Figure()
    for arm, row in summary.items():
        acc = row.key_fact_hit
        if not acc:
            continue
        cost = row.prompt_tokens + row.completion_tokens if x == "tokens" else row.latency_p50_s
        fig.add_scatter(name=label(arm), x=[cost], y=[acc[0]], mode="markers+text", text=[label(arm)],
                        textposition="top center", marker=dict(size=14, color=_color(arm)),
                        error_y=dict(type="data", array=[acc[2] - acc[0]], arrayminus=[acc[0] - acc[1]]))
    x_title = "mean tokens per question" if x == "tokens" else "median seconds per answer"
    fig.update_layout(title="Quality against cost: up and to the left is better", showlegend=False, **_LAYOUT)
    fig.update_xaxes(title=x_title, rangemode="tozero")
    fig.update_yaxes(title="key-fact accuracy", tickformat=".0%", range=[0, 1.1])
    return fig


def question_grid(run: EvalRun) -> go.Figure:
    """Rows are questions, columns arms; each cell right, abstained or wrong, the answer on hover."""
    rows = [f"Q{i}" for i in range(1, len(run.results) + 1)]
    z, hover = [], []
    for r in run.results:
        z_row, h_row = [], []
        for arm in run.arms:
            s = r.arms.get(arm)
            if s is None:
                z_row.append(None)
                h_row.append("not run")
                continue
            outcome = 2 if is_right(r.item, s) else 1 if s.abstained else 0
            z_row.append(outcome)
            h_row.append(f"<b>{_hover(r.item.question)}</b><br>{OUTCOMES[outcome]}<br><br>{_hover(s.text)}")
        z.append(z_row)
        hover.append(h_row)
    scale = []  # one flat band of colour per outcome
    for i, color in enumerate(OUTCOME_COLORS):
        scale += [[i / 3, color], [(i + 1) / 3, color]]
    fig = go.Figure(go.Heatmap(z=z, x=[label(a) for a in run.arms], y=rows, text=hover, zmin=-0.5, zmax=2.5,
                               hovertemplate="%{text}<extra>%{x}</extra>", colorscale=scale, xgap=2, ygap=2,
                               colorbar=dict(tickvals=[0, 1, 2], ticktext=list(OUTCOMES), title="")))
    fig.update_layout(title="Every question, every arm", height=max(300, 22 * len(rows) + 120), **_LAYOUT)
    fig.update_yaxes(autorange="reversed", title="question")
    return fig


def break_even_chart(econ: Economics, max_questions: int | None = None) -> go.Figure:
    """Cumulative cost per arm (training up front, then tokens per question), with the break-even marked."""
    if max_questions is None:
        max_questions = max(100, int(2 * econ.break_even)) if econ.break_even else 10_000
    volumes = [round(max_questions * i / 50) for i in range(51)]
    fig = go.Figure()
    for arm, costs in cumulative_costs(volumes, econ.per_question, econ.upfront).items():
        fig.add_scatter(name=label(arm), x=volumes, y=costs, mode="lines",
                        line=dict(color=_color(arm), width=3))
    if econ.break_even is not None:
        fig.add_vline(x=econ.break_even, line_dash="dash", line_color="#374151",
                      annotation_text=f"fine-tuning pays back after {econ.break_even:,.0f} questions")
    fig.update_layout(title="Total cost as questions add up", **_LAYOUT)
    fig.update_xaxes(title="questions answered", rangemode="tozero")
    fig.update_yaxes(title="total cost (USD)", tickprefix="$", rangemode="tozero")
    return fig


def triage_bars(counts: dict[str, dict[str, int]]) -> go.Figure:
    """Stacked bars: why each arm's wrong answers went wrong (see ``core.eval.triage``)."""
    arms = list(counts)
    fig = go.Figure()
    for kind in LABELS:
        fig.add_bar(name=kind, x=[label(a) for a in arms], y=[counts[a].get(kind, 0) for a in arms],
                    marker_color=TRIAGE_COLORS[kind])
    most = max((sum(c.values()) for c in counts.values()), default=0)
    fig.update_layout(title="Why answers went wrong", barmode="stack", legend_traceorder="normal", **_LAYOUT)
    fig.update_yaxes(title="wrong answers", rangemode="tozero", dtick=max(1, -(-most // 6)))  # whole answers only
    return fig
