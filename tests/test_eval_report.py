"""Triage, economics, the recommendation, the charts and the HTML report, on hand-made runs."""

import html
from html.parser import HTMLParser

import plotly.graph_objects as go
import pytest
from plotly.offline import get_plotlyjs

from core.compare.arms import ARMS_BY_NAME
from core.eval import charts, triage
from core.eval.decision import NEED_QUESTIONS, Needs, recommend
from core.eval.economics import (
    Prices,
    break_even_questions,
    cost_per_question,
    cumulative_costs,
    price_run,
    training_cost,
)
from core.eval.report import html_report, wins_and_losses
from core.eval.run import ArmScore, EvalRun, QuestionResult, TestItem
from core.eval.summary import ArmSummary, summarize

HOSTILE = "<script>alert(1)</script>"
RETURNS = TestItem(question="Within how many days can unopened products be returned?", answer="Within 14 days.",
                   source="policy.md", key_facts=["14 days"])
PHONE = TestItem(question="What is the phone number of the customer centre?", answer="1234-5678", source="policy.md")
PETS = TestItem(question="What is the policy on pet insurance?", answer="I don't know.", answerable=False)
ARMS = ["base", "rag", "finetuned", "hybrid", "oracle"]


def scored(text: str, kf: float | None = None, f1: float | None = None, abstained: bool = False,
           hit: float | None = None, wall: float = 1.0, prompt: int = 100, completion: int = 20,
           sources: tuple = ()) -> ArmScore:
    return ArmScore(text=text, key_fact_hit=kf, f1=f1, abstained=abstained, hit=hit, wall_s=wall,
                    prompt_tokens=prompt, completion_tokens=completion, sources=list(sources))


def make_run(kb: str = "handbook") -> EvalRun:
    results = [
        QuestionResult(item=RETURNS, arms={
            "base": scored("Within 30 days.", kf=0.0, f1=0.5, wall=0.5, prompt=50),
            "rag": scored("Within 14 days.", kf=1.0, f1=1.0, hit=1.0, wall=1.5, prompt=900, sources=("policy.md",)),
            "finetuned": scored("I don't know.", kf=0.0, f1=0.0, abstained=True, wall=0.6, prompt=60),
            "hybrid": scored("Within 30 days.", kf=0.0, f1=0.5, hit=0.0, wall=1.7, prompt=950, sources=("faq.md",)),
            "oracle": scored("Within 7 days.", kf=0.0, f1=0.5, wall=1.2, prompt=700, sources=("policy.md",)),
        }),
        QuestionResult(item=PHONE, arms={
            "base": scored("Call 555-0000.", f1=0.2, wall=0.4),
            "rag": scored("Call us at the number.", f1=0.3, hit=1.0, wall=1.4, sources=("policy.md",)),
            "finetuned": scored("1234-5678, any day.", f1=0.6, wall=0.7),
            "hybrid": scored("The number is 1234-5678.", f1=0.8, hit=1.0, wall=1.8, sources=("policy.md",)),
            "oracle": scored("1234-5678", f1=1.0, wall=1.1, sources=("policy.md",)),
        }),
        QuestionResult(item=PETS, arms={
            "base": scored(HOSTILE, wall=0.3),
            "rag": scored("The documents do not mention it.", abstained=True, wall=1.3, sources=("faq.md",)),
            "finetuned": scored("Pets are covered up to 500 euros.", wall=0.8),
            "hybrid": scored("I don't know.", abstained=True, wall=1.9, sources=("faq.md",)).model_copy(
                update={"withheld": "Pets <b>are</b> covered."}),  # what the model said, unsupported by its sources
        }),  # the oracle needs a gold source: not run on this one
    ]
    return EvalRun(kb=kb, kb_version="3", model_fingerprint="smollm2-abc123", adapter_id="a1",
                   adapter_fingerprint="ad-77", decoding={"temperature": 0.0, "max_new_tokens": 64}, top_k=4,
                   arms=ARMS, results=results, id="run-1", created="2025-01-01T00:00:00", test_set_name="demo",
                   test_set_hash="ts-42", prompt_hash="ph-9", adapter_name="policy-lora", training_seconds=1800.0)


def row(acc, latency, prompt, completion, hit=None) -> ArmSummary:
    return ArmSummary(key_fact_hit=acc, hit=hit, latency_p50_s=latency, latency_p95_s=2 * latency,
                      prompt_tokens=prompt, completion_tokens=completion)


RAG_CLEARLY_BEST = {
    "base": row((0.10, 0.00, 0.20), 0.5, 60.0, 30.0),
    "rag": row((0.62, 0.55, 0.70), 1.4, 900.0, 40.0, hit=(0.8, 0.7, 0.9)),
    "finetuned": row((0.15, 0.08, 0.22), 0.6, 80.0, 30.0),
    "hybrid": row((0.40, 0.32, 0.48), 1.6, 920.0, 35.0, hit=(0.8, 0.7, 0.9)),
}
CLOSE = {**RAG_CLEARLY_BEST, "rag": row((0.32, 0.20, 0.44), 1.4, 1000.0, 200.0),
         "finetuned": row((0.30, 0.18, 0.42), 0.6, 200.0, 200.0), "hybrid": row((0.35, 0.22, 0.48), 1.6, 1000.0, 200.0)}
HYBRID_CLEARLY_BEST = {**CLOSE, "hybrid": row((0.80, 0.70, 0.90), 1.6, 1000.0, 200.0)}
# the article's internal-documents Q&A bot, every situation question answered
ARTICLE = Needs(knowledge_changes_often=True, must_cite_sources=True, tone_and_style_matter=False, realtime_latency=False,
                stable_training_data=False, tight_budget=False)
PRICES = Prices(usd_per_1k_prompt_tokens=0.001, usd_per_1k_completion_tokens=0.002, usd_per_training_hour=2.0)


# --- triage ------------------------------------------------------------------------------------
def test_each_kind_of_failure_gets_its_label():
    q1, q2, q3 = make_run().results
    assert triage.label("rag", q1.item, q1.arms["rag"]) is None  # every key fact present
    assert triage.label("base", q1.item, q1.arms["base"]) == triage.HALLUCINATION  # closed book, wrong
    assert triage.label("finetuned", q1.item, q1.arms["finetuned"]) == triage.WRONG_REFUSAL
    assert triage.label("hybrid", q1.item, q1.arms["hybrid"]) == triage.RETRIEVAL_MISS
    assert triage.label("oracle", q1.item, q1.arms["oracle"]) == triage.PASSAGE_IGNORED  # handed the gold passage
    assert triage.label("rag", q2.item, q2.arms["rag"]) == triage.PASSAGE_IGNORED  # gold found, F1 0.3
    assert triage.label("finetuned", q2.item, q2.arms["finetuned"]) is None  # no key facts: F1 0.6 >= 0.5
    assert triage.label("rag", q3.item, q3.arms["rag"]) is None  # abstained on what the documents cannot answer
    assert triage.label("finetuned", q3.item, q3.arms["finetuned"]) == triage.HALLUCINATION
    no_gold = TestItem(question="q", answer="a b", key_facts=["b"])
    assert triage.label("rag", no_gold, scored("c", kf=0.0, f1=0.0)) == triage.HALLUCINATION  # cause unknown
    assert set(triage.TRIAGE_HELP) == set(triage.LABELS)


def test_counts_tally_every_label_per_arm():
    counts = triage.counts(make_run())
    assert counts["base"] == {"wrong refusal": 0, "retrieval miss": 0, "passage ignored": 0, "hallucination": 3}
    assert counts["rag"] == {"wrong refusal": 0, "retrieval miss": 0, "passage ignored": 1, "hallucination": 0}
    assert counts["finetuned"] == {"wrong refusal": 1, "retrieval miss": 0, "passage ignored": 0, "hallucination": 1}
    assert counts["hybrid"] == {"wrong refusal": 0, "retrieval miss": 1, "passage ignored": 0, "hallucination": 0}
    assert counts["oracle"]["passage ignored"] == 1 and sum(counts["oracle"].values()) == 1


# --- economics ---------------------------------------------------------------------------------
def test_costs_and_break_even_by_hand():
    rag = cost_per_question(1000, 200, PRICES)  # 1000 * 0.001/1k + 200 * 0.002/1k = 0.001 + 0.0004
    ft = cost_per_question(200, 200, PRICES)  # 0.0002 + 0.0004
    assert rag == pytest.approx(0.0014) and ft == pytest.approx(0.0006)
    assert training_cost(1800, PRICES) == pytest.approx(1.0)  # half an hour at 2 USD an hour
    assert break_even_questions(1.0, rag, ft) == pytest.approx(1250)  # 1.0 / 0.0008
    assert break_even_questions(0.0, rag, ft) == 0.0
    assert break_even_questions(1.0, ft, rag) is None  # fine-tuned answers cost more: never pays back
    assert break_even_questions(1.0, rag, rag) is None
    curves = cumulative_costs([0, 1000, 1250, 2000], {"rag": rag, "finetuned": ft}, {"finetuned": 1.0})
    assert curves["rag"] == pytest.approx([0.0, 1.4, 1.75, 2.8])
    assert curves["finetuned"] == pytest.approx([1.0, 1.6, 1.75, 2.2])  # the curves cross at the break-even


def test_price_run_reads_the_summary_tokens():
    econ = price_run(CLOSE, PRICES, training_seconds=1800)
    assert econ.per_question["rag"] == pytest.approx(0.0014) and econ.per_question["finetuned"] == pytest.approx(0.0006)
    assert econ.per_question["base"] == pytest.approx((60 * 0.001 + 30 * 0.002) / 1000)
    assert econ.upfront == {"base": 0.0, "rag": 0.0, "finetuned": 1.0, "hybrid": 1.0}
    assert econ.break_even == pytest.approx(1250)
    unknown = price_run(CLOSE, PRICES, training_seconds=None)
    assert unknown.training_cost is None and unknown.break_even is None and set(unknown.upfront.values()) == {0.0}
    with pytest.raises(ValueError):
        Prices(usd_per_training_hour=-1)


# --- the recommendation ------------------------------------------------------------------------
def test_changing_documents_that_need_sources_get_rag_with_the_measured_accuracy():
    rec = recommend(ARTICLE, RAG_CLEARLY_BEST)
    assert rec.choice == "rag" and rec.arm.approach == "RAG"  # keyed by arm name; the label is for the text
    assert rec.points == {"rag": 7.0, "hybrid": 2.0, "finetuned": -5.0}
    assert rec.reasons[0] == ("RAG answered 62% of questions correctly against 40% for the hybrid and 15% for the "
                              "fine-tuned model; its 95% interval (55%–70%) lies clearly above the others'.")
    assert any("RAG retrieved the right document for 80% of questions." in r for r in rec.reasons)


def test_stable_styled_fast_and_cheap_gets_fine_tuning_and_cites_latency_and_break_even():
    needs = Needs(knowledge_changes_often=False, must_cite_sources=False, tone_and_style_matter=True,
                  realtime_latency=True, stable_training_data=True, tight_budget=True, expected_questions=100_000)
    rec = recommend(needs, CLOSE, price_run(CLOSE, PRICES, training_seconds=1800))
    assert rec.choice == "finetuned" and rec.arm.approach == "Fine-tuning"
    assert rec.points == {"rag": 0.0, "hybrid": 3.0, "finetuned": 8.0}
    assert ("Answers must be fast: the fine-tuned model answered in 0.60 s (median) against 1.40 s for RAG and "
            "1.60 s for the hybrid.") in rec.reasons
    assert any("$1.00 of training pays back after 1,250 questions, within the 100,000 you expect" in r
               for r in rec.reasons)
    assert any("the 95% intervals overlap" in c for c in rec.caveats)  # 32% vs 30% vs 35% decides nothing


def test_the_same_needs_with_few_questions_expected_turn_to_rag():
    needs = Needs(knowledge_changes_often=False, must_cite_sources=False, tight_budget=True, expected_questions=500)
    rec = recommend(needs, CLOSE, price_run(CLOSE, PRICES, training_seconds=1800))
    assert rec.choice == "rag"
    assert any("pays back only after 1,250 questions, more than the 500 you expect" in r for r in rec.reasons)


def test_fresh_facts_in_house_style_get_hybrid_when_it_measures_best():
    needs = Needs(tone_and_style_matter=True, stable_training_data=True)
    rec = recommend(needs, HYBRID_CLEARLY_BEST)
    assert rec.choice == "hybrid"
    assert rec.reasons[0].startswith("The hybrid answered 80% of questions correctly against 32% for RAG and 30% for")


def test_unmeasured_arms_are_named_in_the_caveats():
    rec = recommend(Needs(), {"base": CLOSE["base"], "rag": CLOSE["rag"]})
    assert rec.choice == "rag"
    assert any("Not evaluated: the fine-tuned model, the hybrid." in c for c in rec.caveats)
    assert all(q.endswith("?") for q in NEED_QUESTIONS.values())


# --- charts ------------------------------------------------------------------------------------
def test_metric_bars_have_one_bar_series_per_arm_with_interval_whiskers():
    fig = charts.metric_bars(RAG_CLEARLY_BEST, ["key_fact_hit", "hit"])
    assert isinstance(fig, go.Figure) and [t.name for t in fig.data] == ["Base", "RAG", "Fine-tuned", "Hybrid"]
    assert list(fig.data[0].x) == ["key-fact accuracy", "retrieval hit rate"]  # people read the labels
    rag = fig.data[1]
    assert list(rag.y) == [0.62, 0.8] and rag.marker.color == ARMS_BY_NAME["rag"].color
    assert list(rag.error_y.array) == pytest.approx([0.08, 0.1])
    assert list(rag.error_y.arrayminus) == pytest.approx([0.07, 0.1])
    assert fig.data[0].y[1] is None  # the base model retrieves nothing
    assert fig.layout.yaxis.tickformat == ".0%"


def test_distributions_have_one_box_per_arm_with_every_question():
    run = make_run()
    latency = charts.latency_distribution(run)
    assert [t.type for t in latency.data] == ["box"] * 5
    assert list(latency.data[0].y) == [0.5, 0.4, 0.3] and latency.data[4].name == "Oracle (gold passage)"
    assert list(latency.data[4].y) == [1.2, 1.1]
    tokens = charts.token_distribution(run)
    assert list(tokens.data[1].y) == [920, 120, 120]


def test_quality_vs_cost_places_each_arm_at_its_tokens_and_accuracy():
    fig = charts.quality_vs_cost(RAG_CLEARLY_BEST)
    points = {t.name: (t.x[0], t.y[0]) for t in fig.data}
    assert points == {"Base": (90.0, 0.10), "RAG": (940.0, 0.62), "Fine-tuned": (110.0, 0.15), "Hybrid": (955.0, 0.40)}
    by_latency = charts.quality_vs_cost(RAG_CLEARLY_BEST, x="latency")
    assert by_latency.data[1].x[0] == 1.4


def test_question_grid_marks_right_abstained_and_wrong_and_escapes_answers():
    fig = charts.question_grid(make_run())
    grid = fig.data[0]
    assert grid.type == "heatmap" and list(grid.y) == ["Q1", "Q2", "Q3"]
    assert [list(r) for r in grid.z] == [[0, 2, 1, 0, 0], [0, 0, 2, 2, 2], [0, 2, 0, 2, None]]
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in grid.text[2][0] and HOSTILE not in grid.text[2][0]


def test_break_even_and_triage_charts():
    econ = price_run(CLOSE, PRICES, training_seconds=1800)
    fig = charts.break_even_chart(econ)
    assert [t.name for t in fig.data] == ["Base", "RAG", "Fine-tuned", "Hybrid"]
    assert fig.data[2].y[0] == pytest.approx(1.0) and fig.data[2].x[-1] == 2500  # twice the break-even
    assert fig.layout.shapes[0].x0 == pytest.approx(1250)
    bars = charts.triage_bars(triage.counts(make_run()))
    assert [t.name for t in bars.data] == list(triage.LABELS)
    assert list(bars.data[3].y) == [3, 0, 1, 0, 0]  # hallucinations per arm


# --- the report --------------------------------------------------------------------------------
class TagBalance(HTMLParser):
    VOID = {"meta", "br", "img", "input", "link", "hr"}

    def __init__(self):
        super().__init__()
        self.open: list[str] = []

    def handle_starttag(self, tag, attrs):
        if tag not in self.VOID:
            self.open.append(tag)

    def handle_endtag(self, tag):
        assert self.open and self.open[-1] == tag, f"</{tag}> closes <{self.open[-1] if self.open else None}>"
        self.open.pop()


def test_wins_and_losses_leave_the_oracle_out():
    wins, losses = wins_and_losses(make_run(), "rag")
    assert [r.item for r in wins] == [RETURNS, PETS]  # 3 rivals wrong on the first, 2 on the second
    assert [r.item for r in losses] == [PHONE]


def test_html_report_is_self_contained_escaped_and_well_formed():
    run = make_run(kb='kb"><img src=x onerror=alert(2)>')
    econ = price_run(CLOSE, PRICES, training_seconds=run.training_seconds)
    rec = recommend(ARTICLE, RAG_CLEARLY_BEST, econ)
    page = html_report(run, RAG_CLEARLY_BEST, rec, econ, title="Q3 <review>", needs=ARTICLE)
    assert "Recommendation: RAG" in page and html.escape(rec.reasons[0]) in page
    assert "Points: RAG +7 · Hybrid +2 · Fine-tuning -5" in page  # arm names inside, the approaches' names on the page
    assert page.count(get_plotlyjs()) == 1  # plotly.js inline, once
    ours = page.replace(get_plotlyjs(), "")
    assert "<script src" not in ours and "https://" not in ours and "cdn.plot.ly" not in ours
    assert ours.count("Plotly.newPlot") == 7  # six charts and the break-even
    assert HOSTILE not in page and html.escape(HOSTILE) in page  # the base model's answer, in the examples
    assert "withheld, no source sentence supports it: Pets &lt;b&gt;are&lt;/b&gt; covered." in page
    assert "<img src=x" not in page and "<title>Q3 &lt;review&gt;</title>" in page
    pins = ("smollm2-abc123", "policy-lora (ad-77)", "ts-42", "ph-9", "&quot;max_new_tokens&quot;: 64")
    assert all(pin in page for pin in pins)
    assert "1,250 questions" in page
    parser = TagBalance()
    parser.feed(page)
    parser.close()
    assert parser.open == []


def test_report_takes_the_summary_summarize_computes_and_needs_no_economics():
    run = make_run()
    summary = summarize(run)
    rec = recommend(ARTICLE, summary)
    # Only the returns question has key facts: RAG right on 1 of 1 and the others on 0 of 1 is no clear win (the
    # intervals of all-right and all-wrong are Wilson's, 21-100% and 0-79%, not the points 100% and 0%).
    assert rec.choice == "rag" and rec.points["rag"] == 4.0
    assert any(c.startswith("RAG answered 100% of questions correctly against 0% for the fine-tuned model")
               and "the 95% intervals overlap" in c for c in rec.caveats)
    page = html_report(run, summary, rec)
    assert page.count("Plotly.newPlot") == 6 and "<h2>Costs</h2>" not in page
    assert "Where RAG wins" in page and "retrieval hit rate" in page
