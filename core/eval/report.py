"""One evaluation run as a self-contained HTML page for stakeholders: opens offline, no CDN.

plotly.js is inlined once in the head; every question, answer, source and name is escaped.
"""

from __future__ import annotations

import html
import json

import plotly.graph_objects as go
from plotly.offline import get_plotlyjs

from core.compare.arms import ARMS_BY_NAME, HYBRID, RAG, label
from core.eval import charts, triage
from core.eval.decision import NEED_QUESTIONS, Needs, Recommendation, pct, usd
from core.eval.economics import Economics
from core.eval.run import EvalRun, QuestionResult
from core.eval.agreement import scorer_check
from core.eval.summary import METRIC_LABELS
from core.eval.votes import MIN_VOTES, VoteSummary

CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,sans-serif;color:#111827;max-width:1100px;margin:2rem auto;
padding:0 1rem}
h1{font-size:1.6rem}h2{font-size:1.2rem;margin-top:2rem;border-bottom:1px solid #e5e7eb;padding-bottom:.3rem}
.headline{background:#eef2ff;border-radius:8px;padding:1rem 1.25rem}.headline strong{font-size:1.3rem}
.verdict{background:#fef2f2;border-left:4px solid #b91c1c;padding:.5rem .75rem}.verdict strong{font-size:1.05rem}
.pins{font-size:.85rem;color:#4b5563}code{background:#f3f4f6;padding:0 3px;border-radius:3px}
table{border-collapse:collapse;margin:.5rem 0}
td,th{border-bottom:1px solid #e5e7eb;padding:4px 10px;text-align:right}td:first-child,th:first-child{text-align:left}
.example{border:1px solid #e5e7eb;border-radius:8px;padding:.5rem 1rem;margin:.75rem 0}
.example table{width:100%}.answer{white-space:pre-wrap}
.right{color:#15803d}.wrong{color:#b91c1c}.muted{color:#6b7280;font-size:.85rem}
"""
EXAMPLES = 3  # wins and losses shown each


def _e(text: object) -> str:
    return html.escape(str(text), quote=True)


def wins_and_losses(run: EvalRun, arm: str, limit: int = EXAMPLES) -> tuple[list[QuestionResult], list[QuestionResult]]:
    """Questions ``arm`` got right while other arms got them wrong (most others wrong first), and the
    reverse. The oracle is a ceiling, not a rival, so it is left out of the comparison."""
    def others(r: QuestionResult, right: bool) -> int:
        return sum(triage.is_right(r.item, s) == right for a, s in r.arms.items() if a != arm and not ARMS_BY_NAME[a].reads_gold)

    present = [r for r in run.results if arm in r.arms]
    wins = [r for r in present if triage.is_right(r.item, r.arms[arm]) and others(r, False)]
    losses = [r for r in present if not triage.is_right(r.item, r.arms[arm]) and others(r, True)]
    wins.sort(key=lambda r: -others(r, False))
    losses.sort(key=lambda r: -others(r, True))
    return wins[:limit], losses[:limit]


def _headline(rec: Recommendation, needs: Needs | None) -> str:
    reasons = "".join(f"<li>{_e(r)}</li>" for r in rec.reasons)
    caveats = "".join(f"<li>{_e(c)}</li>" for c in rec.caveats)
    points = " · ".join(f"{_e(ARMS_BY_NAME[a].approach)} {p:+g}" for a, p in rec.points.items())
    verdict = f"<p class='verdict'><strong>{_e(rec.verdict)}</strong></p>" if rec.verdict else ""
    title = "Among these set-ups, by your answers" if rec.verdict else "Recommendation"
    out = (f"<div class='headline'>{verdict}<strong>{title}: {_e(rec.arm.approach)}</strong><p>{_e(rec.basis)}</p>"
           f"<ul>{reasons}</ul>{f'<p>Caveats:</p><ul>{caveats}</ul>' if caveats else ''}"
           f"<p class='muted'>Points: {points}</p></div>")
    if needs:
        def shown(v) -> str:
            return "not answered" if v is None else ("yes" if v else "no") if isinstance(v, bool) else f"{v:,}"

        rows = "".join(f"<tr><td>{_e(q)}</td><td>{_e(shown(getattr(needs, name)))}</td></tr>"
                       for name, q in NEED_QUESTIONS.items())
        out += f"<h2>Your situation</h2><table>{rows}</table>"
    return out


def _pins(run: EvalRun) -> str:
    adapter = run.adapter_name or run.adapter_id
    pins = {
        "run": " ".join(x for x in (run.name or run.id, run.created) if x) or "—",
        "model": run.model_fingerprint,
        "adapter": f"{adapter} ({run.adapter_fingerprint})" if adapter else "none",
        "knowledge base": f"{run.kb} v{run.kb_version}",
        "test set": f"{run.test_set_name or '—'} ({len(run.results)} questions, hash {run.test_set_hash or '—'})",
        "prompt hash": run.prompt_hash or "—",
        "decoding": f"{json.dumps(run.decoding, sort_keys=True)}, top-k {run.top_k}",
    }
    return "<p class='pins'>" + " · ".join(f"{_e(k)} <code>{_e(v)}</code>" for k, v in pins.items()) + "</p>"


def _cell(label: str, value) -> str:
    if value is None:
        return "—"
    if isinstance(value, tuple):
        return f"{pct(value[0])} <span class='muted'>[{pct(value[1])}–{pct(value[2])}]</span>"
    return f"{value:.2f} s" if label.startswith("latency") else f"{value:,.0f}"


def _metrics_table(summary: dict) -> str:
    arms = list(summary)
    head = "".join(f"<th>{_e(label(a))}</th>" for a in arms)
    rows = "".join(f"<tr><td>{_e(label)}</td>" + "".join(f"<td>{_cell(label, getattr(summary[a], field))}</td>" for a in arms)
                   + "</tr>" for field, label in METRIC_LABELS.items())
    return (f"<table><tr><th>metric (95% interval)</th>{head}</tr>{rows}</table>"
            "<p class='muted'>Intervals are bootstrap 95% intervals over the questions.</p>"
            f"<p class='muted'>{_e(scorer_check())}</p>")


def _figure(fig: go.Figure) -> str:
    height = f"{fig.layout.height or 420}px"
    return fig.to_html(full_html=False, include_plotlyjs=False, default_height=height,
                       config={"displaylogo": False, "responsive": True})


def _example(r: QuestionResult, arms: list[str]) -> str:
    rows = []
    for arm in arms:
        s = r.arms.get(arm)
        if s is None:
            continue
        ok = triage.is_right(r.item, s)
        verdict = "right" if ok else triage.label(arm, r.item, s) or "wrong"
        sources = ", ".join(_e(d) for d in dict.fromkeys(s.sources))
        rows.append(f"<tr><td>{_e(label(arm))}</td><td class='{'right' if ok else 'wrong'}'>"
                    f"{_e(verdict)}</td><td class='answer' style='text-align:left'>{_e(s.text)}"
                    f"{f'<div class=muted>withheld, no source sentence supports it: {_e(s.withheld)}</div>' if s.withheld else ''}"
                    f"{f'<div class=muted>sources: {sources}</div>' if sources else ''}</td></tr>")
    gold = f" · source <code>{_e(r.item.source)}</code>" if r.item.source else ""
    expected = _e(r.item.answer) if r.item.answerable else "(the documents cannot answer this)"
    return (f"<div class='example'><p><b>{_e(r.item.question)}</b><br><span class='muted'>expected: {expected}{gold}"
            f"</span></p><table>{''.join(rows)}</table></div>")


def _examples(run: EvalRun, rec: Recommendation) -> str:
    arm = next((a for a in (rec.choice, HYBRID.name, RAG.name) if a in run.arms), None)
    if arm is None:
        return ""
    wins, losses = wins_and_losses(run, arm)
    name = _e(label(arm))
    win_html = "".join(_example(r, run.arms) for r in wins) or "<p class='muted'>None.</p>"
    loss_html = "".join(_example(r, run.arms) for r in losses) or "<p class='muted'>None.</p>"
    return (f"<h2>Where {name} wins</h2>{win_html}<h2>Where {name} loses</h2>{loss_html}")


def _costs(econ: Economics) -> str:
    rows = "".join(f"<tr><td>{_e(label(a))}</td><td>{usd(c)}</td><td>{usd(econ.upfront.get(a, 0.0))}"
                   f"</td></tr>" for a, c in econ.per_question.items())
    p = econ.prices
    if econ.training_cost is None:
        even = "The adapter's training time is unknown, so the break-even was not computed."
    elif econ.break_even is None:
        even = "A fine-tuned answer is not cheaper than a RAG answer: the training never pays back."
    else:
        even = f"Fine-tuning's {usd(econ.training_cost)} of training pays back after {econ.break_even:,.0f} questions."
    return (f"<h2>Costs</h2><table><tr><th>arm</th><th>per question</th><th>up front (training)</th></tr>{rows}"
            f"</table><p>{_e(even)}</p><p class='muted'>Prices: {usd(p.usd_per_1k_prompt_tokens)} per 1,000 prompt "
            f"tokens, {usd(p.usd_per_1k_completion_tokens)} per 1,000 answer tokens, {usd(p.usd_per_training_hour)} "
            "per training hour.</p>")


def _arm_names(arms: list[str]) -> str:
    return ", ".join(_e(label(a)) for a in arms)


def votes_html(votes: VoteSummary) -> str:
    """The "Stakeholder votes" section: win rate per arm with its interval, the counts, and where
    the room and the key-fact scorer disagree."""
    if not votes.votes:
        return ("<h2>Stakeholder votes</h2><p class='muted'>No blind votes on this knowledge base yet: "
                "blind mode on the Compare page records them.</p>")
    rows = "".join(f"<tr><td>{_arm_names([s.arm])}</td><td>{_cell('', (s.win_rate, s.low, s.high))}</td>"
                   f"<td>{s.strength:.2f}</td><td>{s.best} of {s.shown}</td></tr>" for s in votes.standings)
    counts = (f"{votes.votes} vote{'s' * (votes.votes != 1)} from {votes.voters} voter{'s' * (votes.voters != 1)}"
              f"; {votes.all_bad} marked every answer bad"
              + (f"; cast on {votes.setups} different set-ups (model, precision or adapter)" if votes.setups > 1 else "") + "."
              + ("" if votes.enough else f" Fewer than {MIN_VOTES} votes: read the ranking as a first impression."))
    a = votes.agreement
    if a.covered:
        agree = (f"<p>On the {a.covered} voted question{'s' * (a.covered != 1)} that an evaluation also scored, the "
                 f"room agreed with the key-fact scores {a.agreed} time{'s' * (a.agreed != 1)} ({pct(a.rate)}).</p>")
        items = "".join(f"<li>{_e(d.question)}: voted best {_arm_names(d.voted_best) or 'none (all bad)'}; scored "
                        f"right {_arm_names(d.scored_right) or 'none'} <span class='muted'>({_e(d.run)})</span></li>"
                        for d in a.disagreements)
        agree += f"<p>Where they disagree:</p><ul>{items}</ul>" if items else ""
    else:
        agree = ("<p class='muted'>No voted question is in a saved evaluation of this knowledge base, so the votes "
                 "and the key-fact scores cannot be set side by side.</p>")
    return (f"<h2>Stakeholder votes</h2><p>{_e(counts)}</p>"
            "<table><tr><th>arm</th><th>win rate (95% interval)</th><th>strength</th><th>voted best</th></tr>"
            f"{rows}</table><p class='muted'>Win rate: the chance to be preferred to another set-up drawn at random, "
            "from a Bradley-Terry fit to the pairwise outcomes the votes imply (a tie counts as half a win each way); "
            f"intervals are bootstrap 95% intervals over the votes.</p>{agree}")


def html_report(run: EvalRun, summary: dict, recommendation: Recommendation, econ: Economics | None = None,
                title: str = "RAG vs fine-tuning: evaluation report", needs: Needs | None = None,
                votes: VoteSummary | None = None) -> str:
    """The whole report as one HTML string (a few MB: plotly.js is inside); with ``votes``, a
    "Stakeholder votes" section after the metrics."""
    figures = [charts.metric_bars(summary), charts.quality_vs_cost(summary), charts.question_grid(run),
               charts.triage_bars(triage.counts(run)), charts.latency_distribution(run), charts.token_distribution(run)]
    if econ is not None:
        figures.append(charts.break_even_chart(econ))
    help_items = "".join(f"<li><b>{_e(k)}</b>: {_e(v)}</li>" for k, v in triage.TRIAGE_HELP.items())
    body = "".join([
        f"<h1>{_e(title)}</h1>", _pins(run), _headline(recommendation, needs),
        "<h2>Metrics</h2>", _metrics_table(summary), votes_html(votes) if votes is not None else "",
        "<h2>Charts</h2>", "".join(_figure(f) for f in figures),
        f"<p class='muted'>Why answers went wrong:</p><ul class='muted'>{help_items}</ul>",
        _examples(run, recommendation), _costs(econ) if econ is not None else "",
    ])
    return (f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>{_e(title)}</title>"
            f"<style>{CSS}</style><script type='text/javascript'>{get_plotlyjs()}</script></head>"
            f"<body>{body}</body></html>")
